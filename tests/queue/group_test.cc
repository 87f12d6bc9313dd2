// Consumer groups in the embedded Queue (docs/groups.md): commits, resume, start rules,
// dynamic membership, fencing, reset/delete, bad input. Kill -9 tests drive the CLI
// (tests/cli/cli_group_test.cc).
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "persisting/queue.h"
#include "util/temp_dir.h"

using namespace persisting;
using namespace std::chrono_literals;

namespace {

constexpr uint32_t kBuckets = 4;

struct GroupFixture {
  persisting::testing::TempDir dir;
  std::unique_ptr<Queue> q;
  std::unique_ptr<QueueWriter> w;
  int next = 0;

  GroupFixture() { open(); }
  void open() {
    q = std::move(Queue::open({.data_dir = dir.path(), .threads = 2})).value();
    w = std::move(q->writer({.topic = "t", .bucket_column = "id", .num_buckets = kBuckets, .backend = "persisting"}))
            .value();
  }
  // Closes the queue and opens the data dir again (a restart of the process).
  void reopen() {
    w.reset();
    q.reset();
    open();
  }
  void put(int n) {
    std::vector<Record> batch;
    for (int i = 0; i < n; ++i, ++next) batch.push_back(Record{{"id", "k" + std::to_string(next)}, {"n", int64_t(next)}});
    ASSERT_TRUE(w->put(batch).ok());
  }
  std::unique_ptr<QueueReader> reader(ReaderOptions o) {
    o.topic = "t";
    auto r = q->reader(o);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? std::move(r).value() : nullptr;
  }
};

ReaderOptions group(std::string name, bool auto_commit = false) {
  ReaderOptions o;
  o.group = std::move(name);
  o.auto_commit = auto_commit;
  return o;
}

std::vector<int64_t> numbers(const std::vector<Message>& msgs) {
  std::vector<int64_t> out;
  for (const auto& m : msgs) out.push_back(m.record.find("n")->as_int());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<int64_t> range(int64_t from, int64_t to) {
  std::vector<int64_t> out;
  for (int64_t i = from; i < to; ++i) out.push_back(i);
  return out;
}

// Reads everything there is now.
std::vector<Message> drain(QueueReader& r) {
  std::vector<Message> all;
  for (int i = 0; i < 100; ++i) {
    auto got = r.get(1000);
    EXPECT_TRUE(got.ok()) << got.status().to_string();
    if (!got.ok() || got->empty()) break;
    all.insert(all.end(), got->begin(), got->end());
  }
  return all;
}

const GroupInfo* find_group(const std::vector<GroupInfo>& all, const std::string& name) {
  for (const auto& g : all)
    if (g.group == name) return &g;
  return nullptr;
}

TEST(QueueGroups, ACommittedReaderResumesRightAfterItsCommitAcrossARestart) {
  GroupFixture s;
  s.put(40);
  {
    auto r = s.reader(group("g"));
    auto first = r->get(10);
    ASSERT_TRUE(first.ok());
    ASSERT_EQ(first->size(), 10u);
    ASSERT_TRUE(r->commit().ok());
    auto more = r->get(5);  // returned, never committed
    ASSERT_TRUE(more.ok());
    ASSERT_EQ(more->size(), 5u);
    ASSERT_TRUE(r->close().ok());  // auto_commit is off: close commits nothing
  }
  s.reopen();
  auto r = s.reader(group("g"));
  auto rest = drain(*r);
  // Exactly the records after the commit: the 5 uncommitted ones again, none before the commit.
  EXPECT_EQ(rest.size(), 30u);
  std::set<int64_t> first_ten;
  {
    // The committed offsets are what the group lists.
    auto groups = s.q->groups("t");
    ASSERT_TRUE(groups.ok()) << groups.status().to_string();
    const GroupInfo* g = find_group(*groups, "g");
    ASSERT_NE(g, nullptr);
    uint64_t committed = 0;
    for (const auto& b : g->buckets) committed += b.committed ? b.committed->value() : 0;
    EXPECT_EQ(committed, 10u);
  }
  std::set<int64_t> seen;
  for (const auto& m : rest) seen.insert(m.record.find("n")->as_int());
  EXPECT_EQ(seen.size(), 30u);
}

TEST(QueueGroups, AutoCommitOnCloseAndEachReaderOfAGroupContinues) {
  GroupFixture s;
  s.put(20);
  std::vector<int64_t> all;
  for (int round = 0; round < 4; ++round) {
    auto r = s.reader(group("g", /*auto_commit=*/true));
    auto got = r->get(5);
    ASSERT_TRUE(got.ok());
    for (const auto& m : *got) all.push_back(m.record.find("n")->as_int());
    // The destructor closes: auto-commit, leave.
  }
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, range(0, 20));
}

TEST(QueueGroups, StartEarliestOrLatestWhenTheGroupHasNoCommit) {
  GroupFixture s;
  s.put(12);
  ReaderOptions latest = group("late");
  latest.start = OffsetReset::kLatest;
  auto late = s.reader(latest);
  auto early = s.reader(group("early"));
  EXPECT_EQ(drain(*early).size(), 12u);
  EXPECT_TRUE(drain(*late).empty());
  s.put(4);
  EXPECT_EQ(numbers(drain(*late)), range(12, 16));
  // A commit wins over start: a latest reader of a committed group resumes at the commit.
  ASSERT_TRUE(late->commit().ok());
  ASSERT_TRUE(late->close().ok());
  s.put(3);
  auto again = s.reader(latest);
  EXPECT_EQ(numbers(drain(*again)), range(16, 19));
}

TEST(QueueGroups, LatestWithoutRecordsCommitsItsPosition) {
  GroupFixture s;
  s.put(5);
  ReaderOptions latest = group("g");
  latest.start = OffsetReset::kLatest;
  {
    auto r = s.reader(latest);
    EXPECT_TRUE(drain(*r).empty());
    ASSERT_TRUE(r->commit().ok());  // records nothing, but fixes "latest" as it was
  }
  s.put(2);
  auto r = s.reader(latest);
  EXPECT_EQ(numbers(drain(*r)), range(5, 7));
}

TEST(QueueGroups, DynamicMembersShareTheBucketsAndEveryRecordArrivesInBucketOrder) {
  GroupFixture s;
  std::map<uint32_t, std::vector<uint64_t>> delivered;  // bucket -> offsets, in delivery order
  auto take = [&](QueueReader& r) {
    auto got = r.get(7);
    ASSERT_TRUE(got.ok()) << got.status().to_string();
    for (const auto& m : *got) delivered[m.bucket.value()].push_back(m.offset.value());
    Status c = r.commit();  // fenced after a rebalance is fine: the new owner re-reads
    EXPECT_TRUE(c.ok() || c.message().find("fenced") != std::string::npos) << c.to_string();
  };
  auto one_owner_each = [&] {
    auto groups = s.q->groups("t");
    ASSERT_TRUE(groups.ok()) << groups.status().to_string();
    const GroupInfo* g = find_group(*groups, "g");
    ASSERT_NE(g, nullptr);
    std::map<uint32_t, int> owners;
    for (const auto& m : g->members)
      for (BucketId b : m.buckets) owners[b.value()]++;
    for (uint32_t b = 0; b < kBuckets; ++b) EXPECT_EQ(owners[b], 1) << "bucket " << b;
  };
  ReaderOptions o = group("g");
  o.session_timeout = 60s;
  std::vector<std::unique_ptr<QueueReader>> members;
  for (int joined = 0; joined < 3; ++joined) {
    members.push_back(s.reader(o));
    one_owner_each();
    s.put(30);
    for (int round = 0; round < 3; ++round)
      for (auto& m : members) take(*m);
  }
  // One leaves (close hands its buckets over at once).
  ASSERT_TRUE(members[1]->close().ok());
  members.erase(members.begin() + 1);
  one_owner_each();
  s.put(30);
  for (int round = 0; round < 40; ++round)
    for (auto& m : members) take(*m);
  // Every record at least once, and per bucket in order (a redelivery restarts from a commit,
  // so offsets never go back past a point they already passed without covering it again).
  uint64_t total = 0;
  for (auto& [b, offs] : delivered) {
    std::set<uint64_t> unique(offs.begin(), offs.end());
    total += unique.size();
    ASSERT_FALSE(unique.empty());
    EXPECT_EQ(*unique.rbegin() + 1, unique.size()) << "bucket " << b << " has a gap";
    for (size_t i = 1; i < offs.size(); ++i)
      if (offs[i] != offs[i - 1] + 1) {
        EXPECT_LE(offs[i], offs[i - 1]) << "bucket " << b << " skipped from " << offs[i - 1] << " to " << offs[i];
      }
  }
  EXPECT_EQ(total, 120u);
  EXPECT_EQ(members.size(), 2u);
}

TEST(QueueGroups, AMemberThatStopsIsDroppedAndTheOthersTakeOverItsBuckets) {
  GroupFixture s;
  s.put(60);
  ReaderOptions o = group("g");
  // Long enough that a and b, which get in turn, never miss one on a loaded machine.
  o.session_timeout = 1500ms;
  std::map<uint32_t, std::vector<uint64_t>> delivered;
  auto take = [&](QueueReader& r, bool wait) {
    auto got = r.get(5, wait, 50ms);
    ASSERT_TRUE(got.ok()) << got.status().to_string();
    for (const auto& m : *got) delivered[m.bucket.value()].push_back(m.offset.value());
    Status c = r.commit();
    EXPECT_TRUE(c.ok() || c.message().find("fenced") != std::string::npos) << c.to_string();
  };
  auto a = s.reader(o), b = s.reader(o), hung = s.reader(o);
  take(*hung, false);  // reads some of its share, commits, then stops as if killed
  // The others go on (bounded: 400 rounds, about 40 s) until the group has dropped it: two
  // members left, owning every bucket between them.
  auto members = [&] {
    auto groups = s.q->groups("t");
    EXPECT_TRUE(groups.ok());
    const GroupInfo* g = groups.ok() ? find_group(*groups, "g") : nullptr;
    return g ? g->members.size() : size_t{0};
  };
  bool taken_over = false;
  for (int i = 0; i < 400 && !taken_over; ++i) {
    take(*a, true);
    take(*b, true);
    taken_over = a->buckets().size() + b->buckets().size() == kBuckets && members() == 2;
  }
  ASSERT_TRUE(taken_over) << members() << " members";
  s.put(20);
  for (int i = 0; i < 40; ++i) {
    take(*a, false);
    take(*b, false);
  }
  uint64_t total = 0;
  for (auto& [bucket, offs] : delivered) {
    std::set<uint64_t> unique(offs.begin(), offs.end());
    total += unique.size();
    EXPECT_EQ(*unique.rbegin() + 1, unique.size()) << "bucket " << bucket << " has a gap";
  }
  EXPECT_EQ(total, 80u);
  // The stopped reader comes back: it rejoins, but its stale offsets never move the group back.
  auto before = s.q->groups("t");
  ASSERT_TRUE(before.ok());
  for (int i = 0; i < 3; ++i) take(*hung, false);
  auto after = s.q->groups("t");
  ASSERT_TRUE(after.ok());
  const GroupInfo* g0 = find_group(*before, "g");
  const GroupInfo* g1 = find_group(*after, "g");
  ASSERT_TRUE(g0 && g1);
  for (uint32_t b = 0; b < kBuckets; ++b)
    EXPECT_GE(g1->buckets[b].committed.value_or(Offset(0)), g0->buckets[b].committed.value_or(Offset(0))) << b;
}

TEST(QueueGroups, AStaleMembersCommitIsRefusedAndChangesNothing) {
  GroupFixture s;
  s.put(40);
  ReaderOptions o = group("g");
  auto a = s.reader(o);
  ASSERT_EQ(a->buckets().size(), kBuckets);
  ASSERT_TRUE(a->get(8).ok());
  ASSERT_TRUE(a->commit().ok());
  auto before = s.q->groups("t");
  ASSERT_TRUE(a->get(8).ok());  // more progress on every bucket
  auto b = s.reader(o);         // takes half of the buckets at a new generation
  Status c = a->commit();
  EXPECT_EQ(c.code(), Code::kFailedPrecondition);
  EXPECT_NE(c.message().find("fenced"), std::string::npos) << c.to_string();
  // b's buckets keep a's first commit; a's own moved on.
  auto after = s.q->groups("t");
  ASSERT_TRUE(before.ok() && after.ok());
  const GroupInfo* g0 = find_group(*before, "g");
  const GroupInfo* g1 = find_group(*after, "g");
  ASSERT_TRUE(g0 && g1);
  for (BucketId bk : b->buckets()) EXPECT_EQ(g1->buckets[bk.value()].committed, g0->buckets[bk.value()].committed);
  // a's next get picks up its smaller share.
  ASSERT_TRUE(a->get(1).ok());
  EXPECT_EQ(a->buckets().size() + b->buckets().size(), kBuckets);
}

TEST(QueueGroups, ResetAndDeleteOnlyWithoutLiveMembers) {
  GroupFixture s;
  s.put(20);
  auto r = s.reader(group("g"));
  ASSERT_EQ(drain(*r).size(), 20u);
  ASSERT_TRUE(r->commit().ok());
  Status busy = s.q->reset_group("t", "g", {GroupReset::kEarliest});
  EXPECT_EQ(busy.code(), Code::kFailedPrecondition);
  EXPECT_NE(busy.message().find("live members"), std::string::npos) << busy.to_string();
  EXPECT_EQ(s.q->delete_group("t", "g").code(), Code::kFailedPrecondition);
  ASSERT_TRUE(r->close().ok());

  ASSERT_TRUE(s.q->reset_group("t", "g", {GroupReset::kEarliest}).ok());
  EXPECT_EQ(drain(*s.reader(group("g"))).size(), 20u);
  ASSERT_TRUE(s.q->reset_group("t", "g", {GroupReset::kOffset, 2}).ok());
  EXPECT_EQ(drain(*s.reader(group("g"))).size(), 20u - 2 * kBuckets);
  ASSERT_TRUE(s.q->reset_group("t", "g", {GroupReset::kLatest}).ok());
  auto groups = s.q->groups("t");
  ASSERT_TRUE(groups.ok());
  const GroupInfo* g = find_group(*groups, "g");
  ASSERT_NE(g, nullptr);
  for (const auto& b : g->buckets) {
    EXPECT_EQ(b.committed, std::optional<Offset>(b.end));
    EXPECT_EQ(b.lag, 0u);
  }
  EXPECT_TRUE(drain(*s.reader(group("g"))).empty());

  ASSERT_TRUE(s.q->delete_group("t", "g").ok());
  EXPECT_EQ(find_group(*s.q->groups("t"), "g"), nullptr);
  EXPECT_EQ(s.q->delete_group("t", "g").code(), Code::kNotFound);
  // Deleted: a new reader of the name starts by its start rule (earliest).
  EXPECT_EQ(drain(*s.reader(group("g"))).size(), 20u);
}

TEST(QueueGroups, ListsMembersCommitsAndLag) {
  GroupFixture s;
  s.put(16);
  auto r = s.reader(group("g"));
  ASSERT_TRUE(r->get(4).ok());
  ASSERT_TRUE(r->commit().ok());
  auto groups = s.q->groups("t");
  ASSERT_TRUE(groups.ok());
  ASSERT_EQ(groups->size(), 1u);
  const GroupInfo& g = (*groups)[0];
  EXPECT_EQ(g.group, "g");
  ASSERT_EQ(g.members.size(), 1u);
  EXPECT_FALSE(g.members[0].is_static);
  EXPECT_EQ(g.members[0].buckets.size(), kBuckets);
  ASSERT_EQ(g.buckets.size(), kBuckets);
  uint64_t lag = 0, end = 0;
  for (const auto& b : g.buckets) {
    lag += b.lag;
    end += b.end.value();
    ASSERT_TRUE(b.committed.has_value());
    EXPECT_EQ(b.lag, b.end.value() - b.committed->value());
  }
  EXPECT_EQ(end, 16u);
  EXPECT_EQ(lag, 12u);
}

TEST(QueueGroups, StaticMembersCommitForTheirOwnBuckets) {
  GroupFixture s;
  s.put(40);
  ReaderOptions o = group("g");
  o.rank = 0;
  o.world_size = 2;
  {
    auto r = s.reader(o);
    EXPECT_EQ(r->buckets(), (std::vector<BucketId>{BucketId(0), BucketId(2)}));
    drain(*r);
    ASSERT_TRUE(r->commit().ok());
  }
  auto groups = s.q->groups("t");
  ASSERT_TRUE(groups.ok());
  const GroupInfo* g = find_group(*groups, "g");
  ASSERT_NE(g, nullptr);
  EXPECT_TRUE(g->buckets[0].committed && g->buckets[2].committed);
  EXPECT_FALSE(g->buckets[1].committed || g->buckets[3].committed);
  // A restarted static reader replaces its old self at once (no session timeout to wait).
  auto first = s.reader(o);
  s.put(40);
  ASSERT_FALSE(drain(*first).empty());
  auto second = s.reader(o);
  EXPECT_FALSE(drain(*second).empty());  // first's progress was never committed
  Status fenced = first->commit();
  EXPECT_NE(fenced.message().find("fenced"), std::string::npos) << fenced.to_string();
}

TEST(QueueGroups, AWaitingGroupReaderStaysInTheGroup) {
  GroupFixture s;
  ReaderOptions o = group("g");
  o.session_timeout = 300ms;
  auto r = s.reader(o);
  auto got = r->get(10, /*wait=*/true, 1000ms);  // three session timeouts of waiting
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->empty());
  auto groups = s.q->groups("t");
  ASSERT_TRUE(groups.ok());
  const GroupInfo* g = find_group(*groups, "g");
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->members.size(), 1u);
  EXPECT_EQ(g->generation, 1u);  // never expired and rejoined
  // And a record put while it waits comes back.
  std::thread later([&] {
    std::this_thread::sleep_for(150ms);
    s.put(1);
  });
  auto one = r->get(10, true, 5000ms);
  later.join();
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->size(), 1u);
}

TEST(QueueGroups, BadInputGetsClearErrors) {
  GroupFixture s;
  s.put(4);
  auto bad = s.q->reader({.topic = "t", .group = "no/slash"});
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("group name 'no/slash'"), std::string::npos) << bad.status().to_string();
  EXPECT_EQ(s.q->reset_group("t", "..", {GroupReset::kEarliest}).code(), Code::kInvalidArgument);
  Status unknown = s.q->reset_group("t", "nobody", {GroupReset::kEarliest});
  EXPECT_EQ(unknown.code(), Code::kNotFound);
  EXPECT_NE(unknown.message().find("nobody"), std::string::npos) << unknown.to_string();
  EXPECT_EQ(s.q->delete_group("t", "nobody").code(), Code::kNotFound);
  EXPECT_EQ(s.q->groups("nosuch").status().code(), Code::kNotFound);
  EXPECT_EQ(s.q->delete_group("nosuch", "g").code(), Code::kNotFound);
  ReaderOptions zero = group("g");
  zero.session_timeout = 0ms;
  zero.topic = "t";
  auto z = s.q->reader(zero);
  EXPECT_EQ(z.status().code(), Code::kInvalidArgument);
  EXPECT_NE(z.status().message().find("session_timeout"), std::string::npos) << z.status().to_string();
  // A plain reader has no group to commit to; closing it is harmless.
  auto plain = s.reader({});
  Status c = plain->commit();
  EXPECT_EQ(c.code(), Code::kFailedPrecondition);
  EXPECT_NE(c.message().find("has no group"), std::string::npos) << c.to_string();
  EXPECT_TRUE(plain->close().ok());
  // A closed group reader refuses to read.
  auto r = s.reader(group("g"));
  ASSERT_TRUE(r->close().ok());
  ASSERT_TRUE(r->close().ok());
  EXPECT_EQ(r->get(1).status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(r->commit().code(), Code::kFailedPrecondition);
}

TEST(QueueGroups, WithoutADataDirCommitsLiveInMemory) {
  auto q = std::move(Queue::open({.threads = 2})).value();
  auto w = std::move(q->writer({.topic = "m", .bucket_column = "id", .num_buckets = 2})).value();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(w->put(Record{{"id", "k" + std::to_string(i)}}).ok());
  {
    auto r = std::move(q->reader({.topic = "m", .group = "g", .auto_commit = false})).value();
    ASSERT_EQ(r->get(4)->size(), 4u);
    ASSERT_TRUE(r->commit().ok());
  }
  auto r = std::move(q->reader({.topic = "m", .group = "g"})).value();
  size_t n = 0;
  for (int i = 0; i < 10; ++i) n += r->get(100)->size();
  EXPECT_EQ(n, 6u);
}

}  // namespace
