#include "groups/group_state.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <set>

#include "fake_clock.h"
#include "util/temp_dir.h"

namespace persisting::groups {
namespace {

using namespace std::chrono_literals;
using testing::FakeClock;

JoinRequest dynamic_join(uint32_t num_buckets = 8, std::chrono::milliseconds timeout = 10s) {
  JoinRequest r;
  r.topic = "t";
  r.group = "g";
  r.num_buckets = num_buckets;
  r.session_timeout = timeout;
  return r;
}

JoinRequest static_join(std::vector<uint32_t> buckets, uint32_t num_buckets = 8) {
  JoinRequest r = dynamic_join(num_buckets);
  for (uint32_t b : buckets) r.static_buckets.emplace_back(b);
  r.instance_id = static_instance_id(r.static_buckets);
  return r;
}

// Every bucket has exactly one owner among the listed members (or none when allow_unowned).
void expect_one_owner_each(GroupTable& t, uint32_t num_buckets) {
  auto d = t.describe("t", "g");
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  std::map<uint32_t, int> owners;
  for (const auto& m : d->members)
    for (BucketId b : m.buckets) owners[b.value()]++;
  for (uint32_t b = 0; b < num_buckets; ++b) EXPECT_EQ(owners[b], 1) << "bucket " << b;
  EXPECT_EQ(owners.size(), num_buckets);
}

TEST(GroupTable, DynamicMembersJoiningOneByOneShareEveryBucketOnce) {
  FakeClock clock;
  GroupTable t(nullptr, clock.fn());
  uint64_t last_generation = 0;
  std::vector<Assignment> joined;
  for (int i = 0; i < 3; ++i) {
    auto a = t.join(dynamic_join());
    ASSERT_TRUE(a.ok()) << a.status().to_string();
    EXPECT_GT(a->generation, last_generation);
    last_generation = a->generation;
    joined.push_back(*a);
    expect_one_owner_each(t, 8);
  }
  // Round robin in join order: 8 buckets over 3 members -> 3, 3, 2.
  std::vector<size_t> sizes;
  for (const auto& a : joined) {
    auto h = t.heartbeat("t", "g", a.member_id, a.generation);
    ASSERT_TRUE(h.ok()) << h.status().to_string();
    EXPECT_EQ(h->generation, last_generation);
    sizes.push_back(h->buckets.size());
  }
  EXPECT_EQ(sizes, (std::vector<size_t>{3, 3, 2}));
  // The first member's earlier assignment was all 8 buckets.
  EXPECT_EQ(joined[0].buckets.size(), 8u);
}

TEST(GroupTable, LeaveAndExpiryHandTheBucketsToTheOthers) {
  FakeClock clock;
  GroupTable t(nullptr, clock.fn());
  auto a = t.join(dynamic_join(6, 3s));
  auto b = t.join(dynamic_join(6, 3s));
  auto c = t.join(dynamic_join(6, 3s));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  ASSERT_TRUE(t.leave("t", "g", c->member_id).ok());
  expect_one_owner_each(t, 6);
  EXPECT_EQ(t.leave("t", "g", c->member_id).code(), Code::kNotFound);

  // b keeps heartbeating, a goes silent past its session timeout.
  clock.advance(2s);
  ASSERT_TRUE(t.heartbeat("t", "g", b->member_id, 0).ok());
  clock.advance(2s);
  auto hb = t.heartbeat("t", "g", b->member_id, 0);
  ASSERT_TRUE(hb.ok()) << hb.status().to_string();
  EXPECT_EQ(hb->buckets.size(), 6u);
  auto gone = t.heartbeat("t", "g", a->member_id, a->generation);
  EXPECT_EQ(gone.status().code(), Code::kNotFound);
  EXPECT_NE(gone.status().message().find("rejoin"), std::string::npos) << gone.status().to_string();
  expect_one_owner_each(t, 6);
}

TEST(GroupTable, ExpireDropsSilentMembersWithoutAnyOtherCall) {
  FakeClock clock;
  GroupTable t(nullptr, clock.fn());
  ASSERT_TRUE(t.join(dynamic_join(4, 1s)).ok());
  EXPECT_EQ(t.expire(), 0u);
  clock.advance(1001ms);
  EXPECT_EQ(t.expire(), 1u);
  // No members and no commits: the group is forgotten.
  EXPECT_EQ(t.describe("t", "g").status().code(), Code::kNotFound);
}

TEST(GroupTable, StaticMembersKeepTheirBucketsAndDynamicOnesShareTheRest) {
  FakeClock clock;
  GroupTable t(nullptr, clock.fn());
  auto d = t.join(dynamic_join());
  auto s = t.join(static_join({0, 2, 4}));
  ASSERT_TRUE(d.ok() && s.ok()) << s.status().to_string();
  EXPECT_EQ(s->buckets, (std::vector<BucketId>{BucketId(0), BucketId(2), BucketId(4)}));
  auto hd = t.heartbeat("t", "g", d->member_id, d->generation);
  ASSERT_TRUE(hd.ok());
  EXPECT_EQ(hd->buckets, (std::vector<BucketId>{BucketId(1), BucketId(3), BucketId(5), BucketId(6), BucketId(7)}));
  expect_one_owner_each(t, 8);

  auto overlap = t.join(static_join({4, 5}));
  EXPECT_EQ(overlap.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(overlap.status().message().find("bucket 4"), std::string::npos) << overlap.status().to_string();
}

TEST(GroupTable, ARestartedStaticMemberReplacesAndFencesTheOldOne) {
  FakeClock clock;
  GroupTable t(nullptr, clock.fn());
  auto old_member = t.join(static_join({1, 3}));
  ASSERT_TRUE(old_member.ok());
  ASSERT_TRUE(t.commit("t", "g", old_member->member_id, old_member->generation, {{BucketId(1), Offset(5)}}).ok());
  auto fresh = t.join(static_join({3, 1}));  // same set, other order: the same instance
  ASSERT_TRUE(fresh.ok()) << fresh.status().to_string();
  EXPECT_NE(fresh->member_id, old_member->member_id);
  auto d = t.describe("t", "g");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->members.size(), 1u);

  auto hb = t.heartbeat("t", "g", old_member->member_id, old_member->generation);
  EXPECT_TRUE(is_fenced(hb.status())) << hb.status().to_string();
  Status c = t.commit("t", "g", old_member->member_id, fresh->generation, {{BucketId(1), Offset(1)}});
  EXPECT_TRUE(is_fenced(c)) << c.to_string();
  EXPECT_EQ(t.committed("t", "g")->at(BucketId(1)), Offset(5));
}

TEST(GroupTable, ACommitWithAStaleGenerationIsRefusedAndChangesNothing) {
  FakeClock clock;
  GroupTable t(nullptr, clock.fn());
  auto a = t.join(dynamic_join(2));
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(t.commit("t", "g", a->member_id, a->generation, {{BucketId(0), Offset(10)}, {BucketId(1), Offset(7)}}).ok());
  auto b = t.join(dynamic_join(2));  // generation moves on
  ASSERT_TRUE(b.ok());
  Status s = t.commit("t", "g", a->member_id, a->generation, {{BucketId(0), Offset(3)}});
  EXPECT_EQ(s.code(), Code::kFailedPrecondition);
  EXPECT_TRUE(is_fenced(s)) << s.to_string();
  EXPECT_NE(s.message().find("generation " + std::to_string(a->generation)), std::string::npos) << s.to_string();
  auto c = t.committed("t", "g");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, (Committed{{BucketId(0), Offset(10)}, {BucketId(1), Offset(7)}}));

  // At the current generation a commits its own bucket (0), not b's (1).
  auto now = t.heartbeat("t", "g", a->member_id, a->generation);
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(now->buckets, std::vector<BucketId>{BucketId(0)});
  Status other = t.commit("t", "g", a->member_id, now->generation, {{BucketId(0), Offset(11)}, {BucketId(1), Offset(9)}});
  EXPECT_EQ(other.code(), Code::kFailedPrecondition);
  EXPECT_NE(other.message().find("bucket 1 is not assigned"), std::string::npos) << other.to_string();
  EXPECT_EQ(t.committed("t", "g")->at(BucketId(0)), Offset(10));
  ASSERT_TRUE(t.commit("t", "g", a->member_id, now->generation, {{BucketId(0), Offset(11)}}).ok());
  EXPECT_EQ(t.committed("t", "g")->at(BucketId(0)), Offset(11));
  EXPECT_EQ(t.commits_accepted("t", "g"), 2u);
}

TEST(GroupTable, ResetAndRemoveOnlyWithoutLiveMembers) {
  FakeClock clock;
  GroupTable t(nullptr, clock.fn());
  EXPECT_EQ(t.reset("t", "nope", {}).code(), Code::kNotFound);
  EXPECT_EQ(t.remove("t", "nope").code(), Code::kNotFound);
  auto a = t.join(dynamic_join(2));
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(t.commit("t", "g", a->member_id, a->generation, {{BucketId(0), Offset(4)}}).ok());
  Status r = t.reset("t", "g", {{BucketId(0), Offset(0)}});
  EXPECT_EQ(r.code(), Code::kFailedPrecondition);
  EXPECT_NE(r.message().find(a->member_id), std::string::npos) << r.to_string();
  EXPECT_EQ(t.remove("t", "g").code(), Code::kFailedPrecondition);
  EXPECT_EQ(t.committed("t", "g")->at(BucketId(0)), Offset(4));

  ASSERT_TRUE(t.leave("t", "g", a->member_id).ok());
  ASSERT_TRUE(t.reset("t", "g", {{BucketId(0), Offset(1)}, {BucketId(1), Offset(2)}}).ok());
  EXPECT_EQ(*t.committed("t", "g"), (Committed{{BucketId(0), Offset(1)}, {BucketId(1), Offset(2)}}));
  ASSERT_TRUE(t.remove("t", "g").ok());
  EXPECT_TRUE(t.committed("t", "g")->empty());
  EXPECT_EQ(t.describe("t", "g").status().code(), Code::kNotFound);
  EXPECT_TRUE(t.list("t")->empty());
}

TEST(GroupTable, BadInputIsRefusedWithClearErrors) {
  FakeClock clock;
  GroupTable t(nullptr, clock.fn());
  JoinRequest r = dynamic_join();
  r.group = "../x";
  auto bad = t.join(r);
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("group name '../x'"), std::string::npos) << bad.status().to_string();
  r = dynamic_join();
  r.num_buckets = 0;
  EXPECT_EQ(t.join(r).status().code(), Code::kInvalidArgument);
  r = dynamic_join();
  r.session_timeout = 0ms;
  EXPECT_EQ(t.join(r).status().code(), Code::kInvalidArgument);
  auto out_of_range = t.join(static_join({9}));
  EXPECT_EQ(out_of_range.status().code(), Code::kInvalidArgument);
  EXPECT_NE(out_of_range.status().message().find("bucket 9"), std::string::npos);
  EXPECT_EQ(t.heartbeat("t", "g", "m1", 1).status().code(), Code::kNotFound);
  EXPECT_EQ(t.commit("t", "g", "m1", 1, {}).code(), Code::kNotFound);
  EXPECT_EQ(t.list("no/topic").status().code(), Code::kInvalidArgument);
}

TEST(GroupTable, CommitsSurviveANewTableOverTheSameStore) {
  testing::TempDir dir;
  FakeClock clock;
  std::string member;
  {
    GroupTable t(std::make_unique<GroupStore>(Env::Default(), dir.path()), clock.fn());
    auto a = t.join(dynamic_join(3));
    ASSERT_TRUE(a.ok());
    member = a->member_id;
    ASSERT_TRUE(t.commit("t", "g", a->member_id, a->generation, {{BucketId(2), Offset(42)}}).ok());
  }
  GroupTable t(std::make_unique<GroupStore>(Env::Default(), dir.path()), clock.fn());
  EXPECT_EQ(*t.committed("t", "g"), (Committed{{BucketId(2), Offset(42)}}));
  // Membership is not durable: the old member must rejoin, and its old id names nobody.
  EXPECT_EQ(t.heartbeat("t", "g", member, 1).status().code(), Code::kNotFound);
  auto a = t.join(dynamic_join(3));
  ASSERT_TRUE(a.ok());
  EXPECT_NE(a->member_id, member);
  auto listed = t.list("t");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].group, "g");
  EXPECT_EQ((*listed)[0].members.size(), 1u);
}

// A cluster node's copier sees every change of a group's commits (commit, reset, delete) before
// the call answers, and its error is the call's; a copy installed from the coordinator is stored
// as the group's commits without being copied on.
TEST(GroupTable, TheCopierSeesEveryChangeAndInstalledCopiesAreStored) {
  testing::TempDir dir;
  FakeClock clock;
  GroupTable t(std::make_unique<GroupStore>(Env::Default(), dir.path()), clock.fn());
  std::vector<std::optional<Committed>> copies;  // nullopt: a delete
  Status answer;
  t.set_copier([&](const std::string& topic, const std::string& group, const Committed* offsets) {
    EXPECT_EQ(topic, "t");
    EXPECT_EQ(group, "g");
    copies.push_back(offsets ? std::optional<Committed>(*offsets) : std::nullopt);
    return answer;
  });
  auto a = t.join(dynamic_join(2));
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(copies.empty()) << "a join changes no commits";
  ASSERT_TRUE(t.commit("t", "g", a->member_id, a->generation, {{BucketId(0), Offset(4)}}).ok());
  ASSERT_TRUE(t.commit("t", "g", a->member_id, a->generation, {{BucketId(0), Offset(4)}}).ok());
  answer = Unavailable("replica n2 down");
  Status failed = t.commit("t", "g", a->member_id, a->generation, {{BucketId(1), Offset(7)}});
  EXPECT_EQ(failed.code(), Code::kUnavailable);
  EXPECT_NE(failed.message().find("replica n2 down"), std::string::npos) << failed.to_string();
  answer = Status::OK();
  ASSERT_TRUE(t.leave("t", "g", a->member_id).ok());
  ASSERT_TRUE(t.reset("t", "g", {{BucketId(0), Offset(1)}}).ok());
  ASSERT_TRUE(t.remove("t", "g").ok());
  const Committed four{{BucketId(0), Offset(4)}};
  const Committed both{{BucketId(0), Offset(4)}, {BucketId(1), Offset(7)}};
  ASSERT_EQ(copies.size(), 5u);
  EXPECT_EQ(copies[0], four);
  EXPECT_EQ(copies[1], four) << "an unchanged commit is copied again (a replica may have missed one)";
  EXPECT_EQ(copies[2], both) << "the commit stays on this node when its copy fails";
  EXPECT_EQ(copies[3], (Committed{{BucketId(0), Offset(1)}}));
  EXPECT_EQ(copies[4], std::nullopt);

  // A copy from another node's coordinator: stored (a new table over the store reads it), not
  // copied on; a deleted copy removes the file.
  copies.clear();
  const Committed in{{BucketId(1), Offset(9)}};
  ASSERT_TRUE(t.install("t", "g", &in).ok());
  EXPECT_EQ(*t.committed("t", "g"), in);
  EXPECT_EQ(*GroupTable(std::make_unique<GroupStore>(Env::Default(), dir.path()), clock.fn()).committed("t", "g"), in);
  ASSERT_TRUE(t.install("t", "g", nullptr).ok());
  EXPECT_TRUE(t.committed("t", "g")->empty());
  EXPECT_TRUE(GroupTable(std::make_unique<GroupStore>(Env::Default(), dir.path()), clock.fn()).list("t")->empty());
  EXPECT_TRUE(copies.empty());
  EXPECT_EQ(t.install("t", "../x", &in).code(), Code::kInvalidArgument);
}

TEST(GroupTable, AnotherTableOnTheSameDataDirCannotRunMembersOrResetMeanwhile) {
  // Two tables over one data dir stand for two processes (the lock is per open file).
  testing::TempDir dir;
  FakeClock clock;
  GroupTable mine(std::make_unique<GroupStore>(Env::Default(), dir.path()), clock.fn());
  GroupTable other(std::make_unique<GroupStore>(Env::Default(), dir.path()), clock.fn());
  auto a = mine.join(dynamic_join(2));
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  ASSERT_TRUE(mine.commit("t", "g", a->member_id, a->generation, {{BucketId(0), Offset(3)}}).ok());
  auto b = other.join(dynamic_join(2));
  EXPECT_EQ(b.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(b.status().message().find("another process"), std::string::npos) << b.status().to_string();
  Status r = other.reset("t", "g", {{BucketId(0), Offset(0)}});
  EXPECT_EQ(r.code(), Code::kFailedPrecondition) << r.to_string();
  EXPECT_EQ(other.remove("t", "g").code(), Code::kFailedPrecondition);
  EXPECT_EQ(mine.committed("t", "g")->at(BucketId(0)), Offset(3));
  // Once the last member left, the other may go ahead.
  ASSERT_TRUE(mine.leave("t", "g", a->member_id).ok());
  auto b2 = other.join(dynamic_join(2));
  ASSERT_TRUE(b2.ok()) << b2.status().to_string();
  // And each table sees what the other did while it had no member: a commit, then a delete.
  ASSERT_TRUE(other.commit("t", "g", b2->member_id, b2->generation, {{BucketId(1), Offset(9)}}).ok());
  EXPECT_EQ(mine.committed("t", "g")->at(BucketId(1)), Offset(9));
  ASSERT_TRUE(other.leave("t", "g", b2->member_id).ok());
  ASSERT_TRUE(other.remove("t", "g").ok());
  EXPECT_EQ(mine.describe("t", "g").status().code(), Code::kNotFound);
  EXPECT_EQ(mine.reset("t", "g", {}).code(), Code::kNotFound);
  EXPECT_TRUE(mine.committed("t", "g")->empty());
}

TEST(GroupTable, AnExclusiveMemberKeepsOthersOutAndIsKeptOutByThem) {
  FakeClock clock;
  GroupTable t(nullptr, clock.fn());
  JoinRequest ex = static_join({0, 1, 2, 3, 4, 5, 6, 7});
  ex.instance_id = "kafka-consumer-group";
  ex.exclusive = true;
  auto holder = t.join(ex);
  ASSERT_TRUE(holder.ok()) << holder.status().to_string();
  auto dyn = t.join(dynamic_join());
  ASSERT_EQ(dyn.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(dyn.status().message().find("held exclusively by member " + holder->member_id), std::string::npos)
      << dyn.status().to_string();
  EXPECT_EQ(t.join(static_join({3})).status().code(), Code::kFailedPrecondition);
  // The refused joins changed nothing: the holder commits at its generation.
  ASSERT_TRUE(t.commit("t", "g", holder->member_id, holder->generation, {{BucketId(3), Offset(9)}}).ok());
  // Its own instance replaces it (a restarted holder).
  auto again = t.join(ex);
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  ASSERT_TRUE(t.leave("t", "g", again->member_id).ok());

  // Now a reader holds the group: the exclusive join is refused, naming it.
  auto reader = t.join(dynamic_join());
  ASSERT_TRUE(reader.ok());
  auto refused = t.join(ex);
  ASSERT_EQ(refused.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find(reader->member_id), std::string::npos) << refused.status().to_string();
  auto d = t.describe("t", "g");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->members.size(), 1u);
  EXPECT_EQ(d->committed.at(BucketId(3)), Offset(9));
}

}  // namespace
}  // namespace persisting::groups
