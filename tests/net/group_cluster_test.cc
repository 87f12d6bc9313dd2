// Consumer groups over a 3-node cluster (persistingd processes on loopback): consumers are
// separate processes (group_consumer.cc) that the tests kill with SIGKILL; groups are listed,
// reset and deleted through any node; a node that does not coordinate a group forwards to the
// one that does; commits survive a restart of the coordinator; stale generations are fenced.
#include <gtest/gtest.h>
#include <httplib.h>

#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "net/channels.h"
#include "net/group_wire.h"
#include "net/node_process.h"
#include "net/connect_to.h"
#include "persisting/client.h"
#include "persisting/json.h"
#include "util/run_process.h"

namespace persisting {
namespace {

using testing::Cluster;
using testing::Process;

using testing::connect_to;

// The id of the node that owns bucket b of topic (cluster status through any node).
std::string owner_of(Client& c, const std::string& topic, uint32_t b) {
  auto st = c.cluster_status(topic);
  EXPECT_TRUE(st.ok()) << st.status().to_string();
  if (!st.ok()) return "";
  const Value* v = st->find("ownership")->as_object().find(std::to_string(b));
  return v ? v->as_string() : "";
}

// Puts records {"id": "<prefix><i>"} for i in [from, to), 100 per batch, into the topic that
// options (its settings) created.
void put_range(Client& c, const WriterOptions& options, int from, int to, const std::string& prefix = "r") {
  auto w = c.writer(options);
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  for (int i = from; i < to; i += 100) {
    std::vector<Record> batch;
    for (int k = i; k < std::min(to, i + 100); ++k) batch.push_back(Record{{"id", prefix + std::to_string(k)}});
    ASSERT_TRUE((*w)->put(batch).ok());
  }
}

// What a group_consumer process printed.
struct Rec {
  uint32_t bucket;
  uint64_t offset;
  std::string id;
};
struct ConsumerLog {
  std::vector<std::string> lines;
  std::vector<Rec> records() const {
    std::vector<Rec> out;
    for (const auto& l : lines) {
      std::istringstream in(l);
      std::string tag;
      Rec r;
      if (in >> tag >> r.bucket >> r.offset >> r.id && tag == "rec") out.push_back(r);
    }
    return out;
  }
  bool has(const std::string& line) const { return std::find(lines.begin(), lines.end(), line) != lines.end(); }
  std::string last_assign() const {
    for (auto it = lines.rbegin(); it != lines.rend(); ++it)
      if (it->rfind("assign ", 0) == 0) return it->substr(7);
    return "";
  }
};

class Consumer {
 public:
  Consumer(const std::string& dir, const std::string& name) : log_(dir + "/" + name + ".log") {}
  bool start(std::vector<std::string> args) {
    args.insert(args.begin(), GROUP_CONSUMER_BIN);
    return p_.start(args, log_);
  }
  ConsumerLog read() const {
    ConsumerLog out;
    std::istringstream in(p_.log());
    for (std::string l; std::getline(in, l);) out.lines.push_back(l);
    return out;
  }
  // Waits (bounded: 60 s) until the consumer printed line; false if it did not (or exited).
  bool wait_for(const std::string& line) {
    for (int i = 0; i < 1200; ++i) {
      if (read().has(line)) return true;
      if (!p_.running()) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  Process& process() { return p_; }
  std::string text() const { return p_.log(); }

 private:
  std::string log_;
  Process p_;
};

// A group of topic as any node lists it.
std::optional<GroupInfo> find_group(Client& c, const std::string& topic, const std::string& group) {
  auto gs = c.groups(topic);
  EXPECT_TRUE(gs.ok()) << gs.status().to_string();
  if (!gs.ok()) return std::nullopt;
  for (auto& g : *gs)
    if (g.group == group) return g;
  return std::nullopt;
}

uint64_t committed_or_zero(const GroupInfo& g, uint32_t bucket) {
  for (const auto& b : g.buckets)
    if (b.bucket.value() == bucket) return b.committed ? b.committed->value() : 0;
  return 0;
}

// ---------------------------------------------------------------------------------------------

// A consumer commits 200 records, reads 100 more and is killed with SIGKILL before it commits
// them; a second consumer through another node resumes at the commit: every record after it
// arrives (the 100 again: at-least-once), none before it.
TEST(GroupCluster, CommitKillResumeRedeliversUncommittedAndNothingBefore) {
  Cluster cluster(3);
  ASSERT_TRUE(cluster.start_all()) << cluster.log(0) << cluster.log(1) << cluster.log(2);
  auto admin = connect_to(cluster.address(0));
  const WriterOptions topic{.topic = "events", .num_buckets = 6};
  ASSERT_TRUE(admin->writer(topic).ok());
  put_range(*admin, topic, 0, 600);

  Consumer a(cluster.dir(), "a");
  ASSERT_TRUE(a.start({"--server", cluster.address(0), "--topic", "events", "--group", "g", "--read", "200",
                       "--commit", "--then", "100", "--no-auto-commit", "--session-ms", "2000"}));
  ASSERT_TRUE(a.wait_for("waiting")) << a.text();
  ASSERT_TRUE(a.read().has("committed")) << a.text();
  EXPECT_EQ(a.process().kill(SIGKILL), -1);
  auto got_a = a.read().records();
  ASSERT_EQ(got_a.size(), 300u) << a.text();

  // The commit is the position after the first 200 records, per bucket.
  std::map<uint32_t, uint64_t> position;
  for (size_t i = 0; i < 200; ++i) position[got_a[i].bucket] = got_a[i].offset + 1;
  auto g = find_group(*admin, "events", "g");
  ASSERT_TRUE(g.has_value());
  for (uint32_t b = 0; b < 6; ++b) EXPECT_EQ(committed_or_zero(*g, b), position[b]) << "bucket " << b;

  Consumer b(cluster.dir(), "b");
  ASSERT_TRUE(b.start({"--server", cluster.address(1), "--topic", "events", "--group", "g", "--read", "400", "--exit",
                       "--session-ms", "2000"}));
  ASSERT_EQ(b.process().wait_exit(std::chrono::seconds(90)), 0) << b.text();
  auto got_b = b.read().records();
  ASSERT_EQ(got_b.size(), 400u) << b.text();
  std::set<std::string> before, after;
  for (size_t i = 0; i < 200; ++i) before.insert(got_a[i].id);
  for (const auto& r : got_b) {
    EXPECT_GE(r.offset, position[r.bucket]) << "bucket " << r.bucket << ": " << r.id << " was committed already";
    after.insert(r.id);
  }
  EXPECT_EQ(after.size(), 400u);
  for (size_t i = 200; i < 300; ++i) EXPECT_TRUE(after.count(got_a[i].id)) << got_a[i].id << " was not delivered again";
  for (int i = 0; i < 600; ++i) {
    std::string id = "r" + std::to_string(i);
    EXPECT_EQ(before.count(id) + after.count(id), 1u) << id;
  }
  // Its close committed everything: no lag anywhere.
  g = find_group(*admin, "events", "g");
  ASSERT_TRUE(g.has_value());
  EXPECT_TRUE(g->members.empty());
  for (const auto& bl : g->buckets) EXPECT_EQ(bl.lag, 0u) << "bucket " << bl.bucket.value();
}

// Three dynamic members join one by one while a producer writes, then one is killed with
// SIGKILL: after each change every bucket has exactly one live owner (the coordinator's view and
// the members' own), and the run delivers every record at least once, in bucket order.
TEST(GroupCluster, DynamicMembersJoinOneByOneThenOneIsKilled) {
  Cluster cluster(3);
  ASSERT_TRUE(cluster.start_all()) << cluster.log(0) << cluster.log(1) << cluster.log(2);
  constexpr uint32_t kBuckets = 12;
  auto admin = connect_to(cluster.address(0));
  const WriterOptions topic{.topic = "jobs", .num_buckets = kBuckets};
  ASSERT_TRUE(admin->writer(topic).ok());

  std::atomic<bool> stop{false};
  std::atomic<int> produced{0};
  Status producer_status;
  std::thread producer([&] {
    auto c = connect_to(cluster.address(2));
    auto w = c->writer(topic);
    if (!w.ok()) {
      producer_status = w.status();
      return;
    }
    for (int i = 0; !stop && i < 100000; i += 20) {
      std::vector<Record> batch;
      for (int k = i; k < i + 20; ++k) batch.push_back(Record{{"id", "j" + std::to_string(k)}});
      if (Status s = (*w)->put(batch); !s.ok()) {
        producer_status = s;
        return;
      }
      produced = i + 20;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });

  std::vector<std::unique_ptr<Consumer>> members;
  std::vector<bool> alive;
  // Waits (bounded: 60 s) until the group has exactly the live members, whose buckets partition
  // the topic, and each live process's last assignment is one of them.
  auto settled = [&](size_t live, std::string* why) {
    for (int i = 0; i < 600; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      auto g = find_group(*admin, "jobs", "workers");
      if (!g) {
        *why = "no group";
        continue;
      }
      if (g->members.size() != live) {
        *why = std::to_string(g->members.size()) + " members";
        continue;
      }
      std::multiset<uint32_t> owned;
      std::multiset<std::string> shares;
      for (const auto& m : g->members) {
        std::string s;
        for (BucketId b : m.buckets) {
          owned.insert(b.value());
          s += (s.empty() ? "" : ",") + std::to_string(b.value());
        }
        shares.insert(s.empty() ? "-" : s);
      }
      bool partition = owned.size() == kBuckets;
      for (uint32_t b = 0; b < kBuckets; ++b) partition = partition && owned.count(b) == 1;
      if (!partition) {
        *why = "buckets are not owned once each";
        continue;
      }
      std::multiset<std::string> seen;
      for (size_t k = 0; k < members.size(); ++k)
        if (alive[k]) seen.insert(members[k]->read().last_assign());
      if (seen != shares) {
        *why = "the members have not all taken their shares yet";
        continue;
      }
      return true;
    }
    return false;
  };
  for (int k = 0; k < 3; ++k) {
    members.push_back(std::make_unique<Consumer>(cluster.dir(), "m" + std::to_string(k)));
    alive.push_back(true);
    ASSERT_TRUE(members[k]->start({"--server", cluster.address(k), "--topic", "jobs", "--group", "workers", "--follow",
                                   "--auto-commit-ms", "300", "--session-ms", "3000"}));
    std::string why;
    ASSERT_TRUE(settled(k + 1, &why)) << "after member " << k << " joined: " << why << "\n" << members[k]->text();
  }
  EXPECT_EQ(members[1]->process().kill(SIGKILL), -1);
  alive[1] = false;
  std::string why;
  ASSERT_TRUE(settled(2, &why)) << "after member 1 was killed: " << why;

  stop = true;
  producer.join();
  ASSERT_TRUE(producer_status.ok()) << producer_status.to_string();
  // The survivors catch up and commit everything (bounded: 60 s).
  bool caught_up = false;
  uint64_t total = 0;
  for (int i = 0; i < 600 && !caught_up; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto g = find_group(*admin, "jobs", "workers");
    if (!g) continue;
    caught_up = true;
    total = 0;
    for (const auto& b : g->buckets) {
      caught_up = caught_up && b.lag == 0;
      total += b.end.value();
    }
  }
  ASSERT_TRUE(caught_up);
  ASSERT_GT(produced.load(), 0);
  EXPECT_EQ(total, static_cast<uint64_t>(produced.load()));
  for (size_t k = 0; k < members.size(); ++k)
    if (alive[k]) members[k]->process().kill(SIGKILL);

  // Every record at least once; within each stretch of one assignment, each bucket's records
  // come at consecutive offsets.
  std::map<std::pair<uint32_t, uint64_t>, std::string> seen;
  for (size_t k = 0; k < members.size(); ++k) {
    std::map<uint32_t, uint64_t> next;  // bucket -> offset expected next in this stretch
    for (const auto& line : members[k]->read().lines) {
      if (line.rfind("assign ", 0) == 0) {
        next.clear();
        continue;
      }
      if (line.rfind("error", 0) == 0) ADD_FAILURE() << "member " << k << ": " << line;
      std::istringstream in(line);
      std::string tag, id;
      uint32_t b;
      uint64_t o;
      if (!(in >> tag >> b >> o >> id) || tag != "rec") continue;
      if (auto it = next.find(b); it != next.end()) {
        EXPECT_EQ(o, it->second) << "member " << k << " bucket " << b << " out of order";
      }
      next[b] = o + 1;
      seen[{b, o}] = id;
    }
  }
  std::set<std::string> ids;
  for (const auto& [pos, id] : seen) ids.insert(id);
  EXPECT_EQ(seen.size(), total);
  for (int i = 0; i < produced.load(); ++i) EXPECT_TRUE(ids.count("j" + std::to_string(i))) << "j" << i << " never delivered";
}

// A get that waits longer than the session timeout waits in slices and heartbeats between
// them: the member stays in the group (its buckets are not handed to a newcomer), and its next
// commit is not fenced.
TEST(GroupCluster, AMemberWaitingLongerThanItsSessionStaysInTheGroup) {
  Cluster cluster(3);
  ASSERT_TRUE(cluster.start_all()) << cluster.log(0) << cluster.log(1) << cluster.log(2);
  auto admin = connect_to(cluster.address(0));
  const WriterOptions topic{.topic = "idle", .num_buckets = 4};
  ASSERT_TRUE(admin->writer(topic).ok());
  put_range(*admin, topic, 0, 8);
  auto r = admin->reader({.topic = "idle", .group = "g", .session_timeout = std::chrono::milliseconds(900)});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  auto first = (*r)->get(100, true, std::chrono::milliseconds(500));
  ASSERT_TRUE(first.ok());
  ASSERT_FALSE(first->empty());
  while (true) {  // drain (bounded by the 8 records)
    auto more = (*r)->get(100, false);
    ASSERT_TRUE(more.ok());
    if (more->empty()) break;
  }
  // Nothing arrives for 3 s: three session timeouts.
  std::optional<GroupInfo> during;
  std::thread lister([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    during = find_group(*connect_to(cluster.address(1)), "idle", "g");
  });
  auto waited = (*r)->get(100, true, std::chrono::milliseconds(3000));
  lister.join();
  ASSERT_TRUE(waited.ok()) << waited.status().to_string();
  EXPECT_TRUE(waited->empty());
  ASSERT_TRUE(during.has_value());
  EXPECT_EQ(during->members.size(), 1u) << "the waiting member expired";
  EXPECT_TRUE((*r)->commit().ok());
  EXPECT_TRUE((*r)->close().ok());
  auto g = find_group(*admin, "idle", "g");
  ASSERT_TRUE(g.has_value());
  for (const auto& b : g->buckets) EXPECT_EQ(b.lag, 0u);
}

// A member that was presumed gone (its generation is older than the group's) cannot commit,
// through any node; a forwarded call reaching a node that is not the coordinator is refused
// instead of bouncing; every group call works through every node (raw RPCs).
TEST(GroupCluster, StaleGenerationIsFencedThroughEveryNodeAndChangesNothing) {
  Cluster cluster(3);
  ASSERT_TRUE(cluster.start_all()) << cluster.log(0) << cluster.log(1) << cluster.log(2);
  auto admin = connect_to(cluster.address(0));
  const WriterOptions topic{.topic = "t", .num_buckets = 6};
  ASSERT_TRUE(admin->writer(topic).ok());
  put_range(*admin, topic, 0, 60);
  net::Channels channels({});
  auto call_join = [&](int node) {
    grpc::ClientContext ctx;
    channels.prepare(&ctx, std::chrono::seconds(10));
    v1::JoinGroupRequest req;
    req.set_topic("t");
    req.set_group("g");
    req.set_session_timeout_ms(60000);
    v1::JoinGroupResponse resp;
    auto s = channels.stub(cluster.address(node))->JoinGroup(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.assignment();
  };
  auto commit = [&](int node, const v1::GroupAssignment& a, uint64_t generation, uint32_t bucket, uint64_t offset) {
    grpc::ClientContext ctx;
    channels.prepare(&ctx, std::chrono::seconds(10));
    v1::CommitOffsetsRequest req;
    req.set_topic("t");
    req.set_group("g");
    req.set_member_id(a.member_id());
    req.set_generation(generation);
    auto* c = req.add_offsets();
    c->set_bucket(bucket);
    c->set_offset(offset);
    v1::CommitOffsetsResponse resp;
    return channels.stub(cluster.address(node))->CommitOffsets(&ctx, req, &resp);
  };
  auto fetch = [&](int node) {
    grpc::ClientContext ctx;
    channels.prepare(&ctx, std::chrono::seconds(10));
    v1::FetchOffsetsRequest req;
    req.set_topic("t");
    req.set_group("g");
    v1::FetchOffsetsResponse resp;
    auto s = channels.stub(cluster.address(node))->FetchOffsets(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::map<uint32_t, uint64_t> out;
    for (const auto& c : resp.offsets()) out[c.bucket()] = c.offset();
    return out;
  };

  v1::GroupAssignment first = call_join(0);
  ASSERT_EQ(first.buckets_size(), 6);
  v1::GroupAssignment second = call_join(1);  // the shares move: first's generation is stale
  ASSERT_GT(second.generation(), first.generation());
  ASSERT_EQ(second.buckets_size(), 3);
  for (int node = 0; node < 3; ++node) {
    auto s = commit(node, first, first.generation(), first.buckets(0), 7);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << "via node " << node;
    EXPECT_NE(s.error_message().find("fenced"), std::string::npos) << s.error_message();
    EXPECT_TRUE(fetch(node).empty()) << "via node " << node;
  }
  // The current generation commits, and every node reads it back.
  auto ok = commit(2, second, second.generation(), second.buckets(0), 4);
  ASSERT_TRUE(ok.ok()) << ok.error_message();
  for (int node = 0; node < 3; ++node) {
    auto got = fetch(node);
    ASSERT_EQ(got.size(), 1u) << "via node " << node;
    EXPECT_EQ(got[second.buckets(0)], 4u);
  }
  // A forwarded call that reaches a node which is not the coordinator is refused there.
  std::string coordinator = owner_of(*admin, "t", net::coordinator_bucket("g", 6));
  int other = coordinator == cluster.id(0) ? 1 : 0;
  grpc::ClientContext ctx;
  channels.prepare(&ctx, std::chrono::seconds(10));
  v1::FetchOffsetsRequest req;
  req.set_topic("t");
  req.set_group("g");
  req.set_forwarded(true);
  v1::FetchOffsetsResponse resp;
  auto s = channels.stub(cluster.address(other))->FetchOffsets(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(s.error_message().find("placements disagree"), std::string::npos) << s.error_message();

  // Every other group call through every node (the non-coordinators forward it): heartbeats
  // answer the current assignment, reset and delete are refused while members are live, leave,
  // then delete and list.
  for (int node = 0; node < 3; ++node) {
    grpc::ClientContext hctx;
    channels.prepare(&hctx, std::chrono::seconds(10));
    v1::HeartbeatRequest hreq;
    hreq.set_topic("t");
    hreq.set_group("g");
    hreq.set_member_id(second.member_id());
    hreq.set_generation(second.generation());
    v1::HeartbeatResponse hresp;
    auto hs = channels.stub(cluster.address(node))->Heartbeat(&hctx, hreq, &hresp);
    ASSERT_TRUE(hs.ok()) << "via node " << node << ": " << hs.error_message();
    EXPECT_EQ(hresp.assignment().generation(), second.generation());
    EXPECT_EQ(hresp.assignment().buckets_size(), 3);

    grpc::ClientContext rctx;
    channels.prepare(&rctx, std::chrono::seconds(10));
    v1::ResetGroupRequest rreq;
    rreq.set_topic("t");
    rreq.set_group("g");
    rreq.set_to(v1::ResetGroupRequest::LATEST);
    v1::ResetGroupResponse rresp;
    auto rs = channels.stub(cluster.address(node))->ResetGroup(&rctx, rreq, &rresp);
    EXPECT_EQ(rs.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << "via node " << node;
    EXPECT_NE(rs.error_message().find(second.member_id()), std::string::npos) << rs.error_message();

    grpc::ClientContext dctx;
    channels.prepare(&dctx, std::chrono::seconds(10));
    v1::DeleteGroupRequest dreq;
    dreq.set_topic("t");
    dreq.set_group("g");
    v1::DeleteGroupResponse dresp;
    EXPECT_EQ(channels.stub(cluster.address(node))->DeleteGroup(&dctx, dreq, &dresp).error_code(),
              grpc::StatusCode::FAILED_PRECONDITION)
        << "via node " << node;
  }
  const v1::GroupAssignment* both[] = {&first, &second};
  for (int k = 0; k < 2; ++k) {
    grpc::ClientContext lctx;
    channels.prepare(&lctx, std::chrono::seconds(10));
    v1::LeaveGroupRequest lreq;
    lreq.set_topic("t");
    lreq.set_group("g");
    lreq.set_member_id(both[k]->member_id());
    v1::LeaveGroupResponse lresp;
    auto ls = channels.stub(cluster.address(k + 1))->LeaveGroup(&lctx, lreq, &lresp);
    ASSERT_TRUE(ls.ok()) << ls.error_message();
  }
  auto listed = find_group(*admin, "t", "g");
  ASSERT_TRUE(listed.has_value());
  EXPECT_TRUE(listed->members.empty());
  EXPECT_EQ(committed_or_zero(*listed, second.buckets(0)), 4u);
  for (int node = 0; node < 3; ++node) {
    if (cluster.id(node) == coordinator) continue;
    grpc::ClientContext dctx;
    channels.prepare(&dctx, std::chrono::seconds(10));
    v1::DeleteGroupRequest dreq;
    dreq.set_topic("t");
    dreq.set_group("g");
    v1::DeleteGroupResponse dresp;
    auto ds = channels.stub(cluster.address(node))->DeleteGroup(&dctx, dreq, &dresp);
    ASSERT_TRUE(ds.ok()) << ds.error_message();
    break;
  }
  EXPECT_FALSE(find_group(*admin, "t", "g").has_value());
}

// A group reader whose coordinator is killed goes on reading its share (buckets of the live
// nodes) while its session could still be current, then fails naming the group's coordinator;
// once the coordinator is back, it rejoins and reads on, and every record arrives.
TEST(GroupCluster, AReaderOutlastsItsCoordinatorForASessionThenRejoins) {
  Cluster cluster(3);
  ASSERT_TRUE(cluster.start_all()) << cluster.log(0) << cluster.log(1) << cluster.log(2);
  auto admin = connect_to(cluster.address(0));
  const WriterOptions topic{.topic = "r", .num_buckets = 6, .backend = "persisting"};
  ASSERT_TRUE(admin->writer(topic).ok());
  put_range(*admin, topic, 0, 300);
  std::string coordinator = owner_of(*admin, "r", net::coordinator_bucket("g", 6));
  const int ci = cluster.index_of(coordinator);
  ASSERT_GE(ci, 0);
  // A static member of the buckets the other nodes own, so that only the coordinator is lost.
  std::vector<uint32_t> live;
  uint64_t records = 0;
  auto st = admin->stats("r");
  ASSERT_TRUE(st.ok()) << st.status().to_string();
  for (const auto& b : st->find("buckets")->as_list()) {
    auto bucket = static_cast<uint32_t>(b.as_object().find("bucket")->as_int());
    if (owner_of(*admin, "r", bucket) == coordinator) continue;
    live.push_back(bucket);
    records += static_cast<uint64_t>(b.as_object().find("total_count")->as_int());
  }
  ASSERT_FALSE(live.empty());
  auto c = connect_to(cluster.address((ci + 1) % 3));
  auto r = c->reader({.topic = "r", .buckets = live, .group = "g", .session_timeout = std::chrono::milliseconds(6000)});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  std::set<std::string> ids;
  auto take = [&](const std::vector<Message>& msgs) {
    for (const auto& m : msgs) ids.insert(m.record.find("id")->as_string());
  };
  auto first = (*r)->get(5, true, std::chrono::milliseconds(500));
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  take(*first);
  EXPECT_EQ(cluster.kill(ci, SIGKILL), -1);
  // One heartbeat interval (2 s) later a get has to reach the coordinator, which is down: it
  // still reads its buckets.
  std::this_thread::sleep_for(std::chrono::milliseconds(2200));
  auto during = (*r)->get(5, false);
  ASSERT_TRUE(during.ok()) << during.status().to_string();
  EXPECT_FALSE(during->empty());
  take(*during);
  // Later (bounded: 20 s) it stops, naming the group and its coordinator.
  Status stopped;
  for (int i = 0; i < 200 && stopped.ok(); ++i) {
    auto msgs = (*r)->get(1, true, std::chrono::milliseconds(100));
    if (msgs.ok()) take(*msgs);
    else stopped = msgs.status();
  }
  ASSERT_FALSE(stopped.ok());
  EXPECT_EQ(stopped.code(), Code::kUnavailable) << stopped.to_string();
  EXPECT_NE(stopped.message().find("group 'g'"), std::string::npos) << stopped.to_string();
  EXPECT_NE(stopped.message().find(coordinator), std::string::npos) << stopped.to_string();
  ASSERT_TRUE(cluster.start(ci)) << cluster.log(ci);
  put_range(*admin, topic, 300, 400);
  records = 0;
  st = admin->stats("r");
  ASSERT_TRUE(st.ok()) << st.status().to_string();
  for (const auto& b : st->find("buckets")->as_list())
    if (std::count(live.begin(), live.end(), b.as_object().find("bucket")->as_int()))
      records += static_cast<uint64_t>(b.as_object().find("total_count")->as_int());
  // It rejoins (the client's connection to the restarted node may take a moment: bounded).
  Status last;
  for (int i = 0; i < 200 && ids.size() < records; ++i) {
    auto msgs = (*r)->get(100, true, std::chrono::milliseconds(200));
    if (!msgs.ok()) {
      last = msgs.status();
      ASSERT_EQ(last.code(), Code::kUnavailable) << last.to_string();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    take(*msgs);
  }
  EXPECT_EQ(ids.size(), records) << last.to_string();
  EXPECT_TRUE((*r)->close().ok());
}

// With an access token, group calls without it are refused before anything changes; with it,
// a node forwards them to the coordinator carrying its own token.
TEST(GroupCluster, GroupCallsNeedTheTokenAndAreForwardedWithIt) {
  Cluster cluster(3, {"--token", "s3cret"});
  ASSERT_TRUE(cluster.start_all()) << cluster.log(0) << cluster.log(1) << cluster.log(2);
  auto admin = Client::connect({.server = cluster.address(0), .token = "s3cret"});
  ASSERT_TRUE(admin.ok());
  const WriterOptions topic{.topic = "t", .num_buckets = 6};
  ASSERT_TRUE((*admin)->writer(topic).ok());
  std::string coordinator = owner_of(**admin, "t", net::coordinator_bucket("g", 6));
  int other = coordinator == cluster.id(0) ? 1 : 0;
  auto join = [&](const std::string& token) {
    net::ChannelConfig cc;
    cc.token = token;
    net::Channels channels(cc);
    grpc::ClientContext ctx;
    channels.prepare(&ctx, std::chrono::seconds(10));
    v1::JoinGroupRequest req;
    req.set_topic("t");
    req.set_group("g");
    v1::JoinGroupResponse resp;
    return channels.stub(cluster.address(other))->JoinGroup(&ctx, req, &resp);
  };
  for (std::string token : {"", "wrong"})
    EXPECT_EQ(join(token).error_code(), grpc::StatusCode::UNAUTHENTICATED) << "token '" << token << "'";
  auto none = (*admin)->groups("t");
  ASSERT_TRUE(none.ok()) << none.status().to_string();
  EXPECT_TRUE(none->empty()) << "a refused join made a group";
  auto ok = join("s3cret");
  ASSERT_TRUE(ok.ok()) << ok.error_message();
  auto g = find_group(**admin, "t", "g");
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(g->members.size(), 1u);
}

// Commits are on the coordinator's disk: SIGKILL it and restart it, and the group resumes where
// it committed.
TEST(GroupCluster, CommitsSurviveARestartOfTheCoordinator) {
  Cluster cluster(3);
  ASSERT_TRUE(cluster.start_all()) << cluster.log(0) << cluster.log(1) << cluster.log(2);
  auto admin = connect_to(cluster.address(0));
  const WriterOptions topic{.topic = "d", .num_buckets = 6, .backend = "persisting"};
  ASSERT_TRUE(admin->writer(topic).ok());
  put_range(*admin, topic, 0, 100);
  std::set<std::string> first;
  {
    auto r = admin->reader({.topic = "d", .group = "keep", .auto_commit = false});
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    for (int i = 0; i < 100 && first.size() < 60; ++i) {
      auto msgs = (*r)->get(60 - first.size(), true, std::chrono::milliseconds(500));
      ASSERT_TRUE(msgs.ok()) << msgs.status().to_string();
      for (const auto& m : *msgs) first.insert(m.record.find("id")->as_string());
    }
    ASSERT_EQ(first.size(), 60u);
    ASSERT_TRUE((*r)->commit().ok());
    ASSERT_TRUE((*r)->close().ok());
  }
  auto before = find_group(*admin, "d", "keep");
  ASSERT_TRUE(before.has_value());
  std::string coordinator = owner_of(*admin, "d", net::coordinator_bucket("keep", 6));
  int ci = cluster.index_of(coordinator);
  ASSERT_GE(ci, 0);
  EXPECT_EQ(cluster.kill(ci, SIGKILL), -1);
  // While it is down, its groups are unavailable, naming it.
  auto entry = connect_to(cluster.address((ci + 1) % 3));
  auto down = entry->reader({.topic = "d", .group = "keep"});
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.status().code(), Code::kUnavailable) << down.status().to_string();
  EXPECT_NE(down.status().message().find("group 'keep'"), std::string::npos) << down.status().to_string();
  EXPECT_NE(down.status().message().find(coordinator), std::string::npos) << down.status().to_string();
  ASSERT_TRUE(cluster.start(ci)) << cluster.log(ci);

  // The entry node's channel to the restarted node may back off for up to a second after the
  // failures above: it answers Unavailable until it has reconnected (bounded: 5 s).
  std::optional<GroupInfo> after;
  for (int i = 0; i < 20 && !after; ++i) {
    auto gs = entry->groups("d");
    if (!gs.ok()) {
      ASSERT_EQ(gs.status().code(), Code::kUnavailable) << gs.status().to_string();
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
      continue;
    }
    for (auto& g : *gs)
      if (g.group == "keep") after = g;
    ASSERT_TRUE(after.has_value()) << "group 'keep' is not listed once its coordinator is back";
  }
  ASSERT_TRUE(after.has_value());
  for (uint32_t b = 0; b < 6; ++b) EXPECT_EQ(committed_or_zero(*after, b), committed_or_zero(*before, b)) << b;
  // The client's connection to the restarted node backs off for up to a second after the
  // failures above: the join is sent again until it reconnects.
  auto r = entry->reader({.topic = "d", .group = "keep"});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  std::set<std::string> rest;
  for (int i = 0; i < 100 && rest.size() < 40; ++i) {
    auto msgs = (*r)->get(100, true, std::chrono::milliseconds(500));
    ASSERT_TRUE(msgs.ok()) << msgs.status().to_string();
    for (const auto& m : *msgs) {
      EXPECT_FALSE(first.count(m.record.find("id")->as_string())) << "delivered again after its commit";
      rest.insert(m.record.find("id")->as_string());
    }
  }
  EXPECT_EQ(rest.size(), 40u);
}

// start = latest, reset to earliest / an offset / latest, delete; and bad input: an unknown
// group, a bad group name, an unknown topic, a reset or delete while a member is live.
TEST(GroupCluster, StartLatestResetDeleteAndBadInput) {
  Cluster cluster(3);
  ASSERT_TRUE(cluster.start_all()) << cluster.log(0) << cluster.log(1) << cluster.log(2);
  auto admin = connect_to(cluster.address(0));
  const WriterOptions topic{.topic = "t", .num_buckets = 4};
  ASSERT_TRUE(admin->writer(topic).ok());
  put_range(*admin, topic, 0, 40);
  auto read_all = [](TopicReader& r, size_t want) {
    std::vector<Message> out;
    for (int i = 0; i < 40 && out.size() < want; ++i) {
      auto msgs = r.get(100, true, std::chrono::milliseconds(250));
      EXPECT_TRUE(msgs.ok()) << msgs.status().to_string();
      if (!msgs.ok()) break;
      out.insert(out.end(), msgs->begin(), msgs->end());
    }
    return out;
  };
  {
    auto late = admin->reader({.topic = "t", .group = "late", .start = OffsetReset::kLatest});
    ASSERT_TRUE(late.ok()) << late.status().to_string();
    auto none = (*late)->get(100, true, std::chrono::milliseconds(300));
    ASSERT_TRUE(none.ok());
    EXPECT_TRUE(none->empty()) << "start=latest read an old record";
    put_range(*admin, topic, 40, 48);
    auto got = read_all(**late, 8);
    ASSERT_EQ(got.size(), 8u);
    for (const auto& m : got) EXPECT_GE(std::stoi(m.record.find("id")->as_string().substr(1)), 40);

    // While it is a member, reset and delete are refused, naming it; nothing changes.
    auto live = admin->reset_group("t", "late", {GroupReset::kEarliest});
    EXPECT_EQ(live.code(), Code::kFailedPrecondition) << live.to_string();
    EXPECT_NE(live.message().find("late"), std::string::npos) << live.to_string();
    auto del = admin->delete_group("t", "late");
    EXPECT_EQ(del.code(), Code::kFailedPrecondition) << del.to_string();
    ASSERT_TRUE((*late)->close().ok());  // commits the 8
  }
  auto g = find_group(*admin, "t", "late");
  ASSERT_TRUE(g.has_value());
  for (const auto& b : g->buckets) EXPECT_EQ(b.lag, 0u);

  ASSERT_TRUE(admin->reset_group("t", "late", {GroupReset::kEarliest}).ok());
  g = find_group(*admin, "t", "late");
  ASSERT_TRUE(g.has_value());
  uint64_t lag = 0;
  for (const auto& b : g->buckets) lag += b.lag;
  EXPECT_EQ(lag, 48u);
  {
    auto again = connect_to(cluster.address(2))->reader({.topic = "t", .group = "late"});
    ASSERT_TRUE(again.ok()) << again.status().to_string();
    EXPECT_EQ(read_all(**again, 48).size(), 48u);
  }
  ASSERT_TRUE(admin->reset_group("t", "late", {GroupReset::kOffset, 5}).ok());
  g = find_group(*admin, "t", "late");
  ASSERT_TRUE(g.has_value());
  for (const auto& b : g->buckets) {  // a bucket that ends before 5: its end
    ASSERT_TRUE(b.committed.has_value());
    EXPECT_EQ(b.committed->value(), std::min<uint64_t>(5, b.end.value()));
  }
  ASSERT_TRUE(admin->reset_group("t", "late", {GroupReset::kLatest}).ok());
  g = find_group(*admin, "t", "late");
  ASSERT_TRUE(g.has_value());
  for (const auto& b : g->buckets) EXPECT_EQ(b.lag, 0u);

  // Bad input, through another node.
  auto other = connect_to(cluster.address(1));
  auto unknown = other->reset_group("t", "nosuch", {GroupReset::kEarliest});
  EXPECT_EQ(unknown.code(), Code::kNotFound) << unknown.to_string();
  EXPECT_NE(unknown.message().find("nosuch"), std::string::npos) << unknown.to_string();
  EXPECT_EQ(other->delete_group("t", "nosuch").code(), Code::kNotFound);
  auto bad = other->reset_group("t", "../etc", {GroupReset::kEarliest});
  EXPECT_EQ(bad.code(), Code::kInvalidArgument) << bad.to_string();
  EXPECT_NE(bad.message().find("group"), std::string::npos) << bad.to_string();
  auto bad_reader = other->reader({.topic = "t", .group = "a/b"});
  ASSERT_FALSE(bad_reader.ok());
  EXPECT_EQ(bad_reader.status().code(), Code::kInvalidArgument) << bad_reader.status().to_string();
  auto no_topic = other->groups("nosuchtopic");
  ASSERT_FALSE(no_topic.ok());
  EXPECT_EQ(no_topic.status().code(), Code::kNotFound) << no_topic.status().to_string();
  // A plain reader has no group to commit to.
  auto plain = other->reader({.topic = "t"});
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ((*plain)->commit().code(), Code::kFailedPrecondition);

  ASSERT_TRUE(other->delete_group("t", "late").ok());
  EXPECT_FALSE(find_group(*admin, "t", "late").has_value());
  EXPECT_EQ(admin->delete_group("t", "late").code(), Code::kNotFound);
}

// The coordinator's /metrics has the group's lag per bucket (end offsets from the other owners)
// and its commit count; the other nodes do not export the group.
TEST(GroupCluster, CoordinatorExportsLagAndCommits) {
  Cluster cluster(3);
  std::vector<int> mports;
  for (int i = 0; i < 3; ++i) {
    mports.push_back(testing::free_port());
    cluster.set_node_args(i, {"--metrics", "127.0.0.1:" + std::to_string(mports[i])});
  }
  ASSERT_TRUE(cluster.start_all()) << cluster.log(0) << cluster.log(1) << cluster.log(2);
  auto admin = connect_to(cluster.address(0));
  const WriterOptions topic{.topic = "m", .num_buckets = 6};
  ASSERT_TRUE(admin->writer(topic).ok());
  put_range(*admin, topic, 0, 120);
  {
    auto r = admin->reader({.topic = "m", .buckets = {0, 1, 2}, .group = "watch"});
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    size_t got = 0;
    for (int i = 0; i < 40 && got < 10; ++i) {
      auto msgs = (*r)->get(10 - got, true, std::chrono::milliseconds(250));
      ASSERT_TRUE(msgs.ok());
      got += msgs->size();
    }
    ASSERT_EQ(got, 10u);
    ASSERT_TRUE((*r)->commit().ok());
  }  // the destructor commits again (nothing moved) and leaves
  auto g = find_group(*admin, "m", "watch");
  ASSERT_TRUE(g.has_value());
  const int ci = cluster.index_of(owner_of(*admin, "m", net::coordinator_bucket("watch", 6)));
  ASSERT_GE(ci, 0);
  for (int i = 0; i < 3; ++i) {
    httplib::Client http("127.0.0.1", mports[i]);
    auto m = http.Get("/metrics");
    ASSERT_TRUE(m);
    ASSERT_EQ(m->status, 200);
    if (i != ci) {
      EXPECT_EQ(m->body.find("group=\"watch\""), std::string::npos) << "node " << i << "\n" << m->body;
      continue;
    }
    for (const auto& b : g->buckets) {
      std::string series = "persisting_group_lag{topic=\"m\",group=\"watch\",bucket=\"" +
                           std::to_string(b.bucket.value()) + "\"} " + std::to_string(b.lag) + "\n";
      EXPECT_NE(m->body.find(series), std::string::npos) << series << m->body;
    }
    const std::string commits = "persisting_group_commits_total{topic=\"m\",group=\"watch\"} ";
    auto at = m->body.find(commits);
    ASSERT_NE(at, std::string::npos) << m->body;
    EXPECT_GE(std::stoi(m->body.substr(at + commits.size())), 1) << m->body;
    auto check = testing::run_process({PROMTOOL_BIN, "check", "metrics"}, m->body);
    EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  }
}

// The CLI over --server: `persisting get --group --follow` is SIGKILLed once its auto-commits
// covered the 200 records it printed; after 60 more puts a `--limit` run through another node
// prints exactly those 60 (none before the commit, none skipped); `groups`, `groups reset` and
// `groups delete` work through any node.
TEST(GroupCluster, CliGetGroupsResetDeleteOverServer) {
  Cluster cluster(3);
  ASSERT_TRUE(cluster.start_all()) << cluster.log(0) << cluster.log(1) << cluster.log(2);
  auto admin = connect_to(cluster.address(0));
  const WriterOptions topic{.topic = "c", .num_buckets = 4};
  ASSERT_TRUE(admin->writer(topic).ok());
  put_range(*admin, topic, 0, 200);
  auto cli = [](std::vector<std::string> args) {
    args.insert(args.begin(), PERSISTING_BIN);
    return testing::run_process(args);
  };
  // (bucket, offset) of each record line (`--with-position`) in text.
  auto printed = [](const std::string& text) {
    std::vector<std::pair<int64_t, int64_t>> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("{\"bucket\"", 0) != 0) continue;
      auto v = parse_json(line);
      if (!v.ok()) continue;
      out.emplace_back(v->as_object().find("bucket")->as_int(), v->as_object().find("offset")->as_int());
    }
    return out;
  };
  Process follow;
  ASSERT_TRUE(follow.start({PERSISTING_BIN, "get", "--server", cluster.address(0), "--topic", "c", "--group", "g",
                            "--follow", "--commit-interval", "0.05", "--session-timeout", "2", "--with-position"},
                           cluster.dir() + "/follow.log"));
  for (int i = 0; i < 600 && printed(follow.log()).size() < 200; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_EQ(printed(follow.log()).size(), 200u) << follow.log();
  // Its auto-commits reach the end (bounded: 30 s), then it is killed.
  bool committed = false;
  for (int i = 0; i < 300 && !committed; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto g = find_group(*admin, "c", "g");
    committed = g && std::all_of(g->buckets.begin(), g->buckets.end(), [](const auto& b) { return b.lag == 0; });
  }
  ASSERT_TRUE(committed);
  EXPECT_EQ(follow.kill(SIGKILL), -1);
  // Its session runs out (2 s): the group is left without members (bounded: 30 s).
  bool left = false;
  for (int i = 0; i < 300 && !left; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto g = find_group(*admin, "c", "g");
    left = g && g->members.empty();
  }
  ASSERT_TRUE(left);

  put_range(*admin, topic, 200, 260);
  auto resumed = cli({"get", "--server", cluster.address(1), "--topic", "c", "--group", "g", "--limit", "1000",
                      "--with-position"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  std::set<std::pair<int64_t, int64_t>> before, after;
  for (const auto& p : printed(follow.log())) before.insert(p);
  for (const auto& p : printed(resumed.out)) after.insert(p);
  EXPECT_EQ(after.size(), 60u) << resumed.out;
  for (const auto& p : after) EXPECT_FALSE(before.count(p)) << "bucket " << p.first << " offset " << p.second;

  auto listed = cli({"groups", "--server", cluster.address(2), "--topic", "c"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  auto v = parse_json(listed.out);
  ASSERT_TRUE(v.ok() && v->is_list()) << listed.out;
  ASSERT_EQ(v->as_list().size(), 1u) << listed.out;
  EXPECT_EQ(v->as_list()[0].as_object().find("group")->as_string(), "g");
  EXPECT_EQ(v->as_list()[0].as_object().find("lag")->as_int(), 0) << listed.out;

  auto reset = cli({"groups", "reset", "--server", cluster.address(2), "--topic", "c", "--group", "g", "--to",
                    "earliest"});
  ASSERT_EQ(reset.exit_code, 0) << reset.err;
  auto g = find_group(*admin, "c", "g");
  ASSERT_TRUE(g.has_value());
  uint64_t lag = 0;
  for (const auto& b : g->buckets) lag += b.lag;
  EXPECT_EQ(lag, 260u);
  auto del = cli({"groups", "delete", "--server", cluster.address(1), "--topic", "c", "--group", "g"});
  ASSERT_EQ(del.exit_code, 0) << del.err;
  auto again = cli({"groups", "delete", "--server", cluster.address(0), "--topic", "c", "--group", "g"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("'g'"), std::string::npos) << again.err;
}

}  // namespace
}  // namespace persisting
