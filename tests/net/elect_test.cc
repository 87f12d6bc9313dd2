// Leader epochs and the manual failover (issue 18; docs/cluster.md, "Manual failover"): a
// replicated bucket survives its leader's death by `persisting cluster elect`, the old leader
// comes back as a follower, unsafe elections are refused, and divergent tails are cut.
// Separate persistingd processes on loopback; every wait is bounded and waits for a condition
// (cluster status), never for time.
#include <gtest/gtest.h>

#include <csignal>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include "net/connect_to.h"
#include "net/replicated_topic.h"
#include "net/leader_view.h"
#include "net/node_process.h"
#include "persisting/client.h"
#include "persisting/json.h"
#include "util/run_process.h"

namespace persisting {
namespace {

using testing::Cluster;
using testing::connect_to;
using testing::read_all;
using testing::records;
using testing::replicated;
using testing::run_process;

using testing::View;
using testing::view_of;

// Polls node's view (bounded: 30 s) until pred holds; the last view seen.
template <typename Pred>
std::optional<View> wait_view(Cluster& cluster, int node, const std::string& topic, Pred pred) {
  std::optional<View> v;
  for (int i = 0; i < 300; ++i) {
    v = view_of(cluster, node, topic);
    if (v && pred(*v)) return v;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return v;
}

// The view of the node leading bucket 0 (it shows the in-sync set once it has confirmed its
// epochs with the others, within a scan or two): each of the 3 nodes asked in turn, bounded.
std::optional<View> leader_view(Cluster& cluster, const std::string& topic) {
  std::optional<View> v;
  for (int i = 0; i < 300; ++i) {
    v = view_of(cluster, i % 3, topic);
    if (v && v->leads) return v;
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
  }
  return v;
}

std::vector<int64_t> ids(int64_t from, int64_t to) {
  std::vector<int64_t> out;
  for (int64_t i = from; i < to; ++i) out.push_back(i);
  return out;
}

testing::ProcessResult elect(Cluster& cluster, int via, const std::string& topic, const std::string& node,
                             bool unclean = false) {
  std::vector<std::string> argv{PERSISTING_BIN, "cluster", "elect", "--server", cluster.address(via), "--topic", topic,
                                "--bucket", "0", "--node", node};
  if (unclean) argv.push_back("--allow-unclean");
  // A node restarted a moment ago is reached at once: a call to a peer that gRPC could not send
  // resets the channel's reconnect backoff and goes once more (call_peer, Channels::with_reconnect)
  // rather than answering "cannot be reached".
  return run_process(argv);
}

// replica_lag_max_ms 3 s: long enough for a follower's first fetch on a loaded machine (under
// the sanitizers), short enough for a dead node to leave the set within the waits.
TEST(Elect, AKilledLeaderIsReplacedByAnInSyncFollowerAndComesBackAsItsFollower) {
  Cluster cluster(3, {"--replica-lag-max-ms", "3000"});
  ASSERT_TRUE(cluster.start_all()) << cluster.log(0);
  {
    auto c = connect_to(cluster.address(0));
    auto w = c->writer(replicated("el"));
    ASSERT_TRUE(w.ok()) << w.status().to_string();
    for (int i = 0; i < 5; ++i) {
      Status s = (*w)->put(records(i * 10, i * 10 + 10));
      ASSERT_TRUE(s.ok()) << s.to_string();
    }
  }
  std::optional<View> v = leader_view(cluster, "el");
  ASSERT_TRUE(v && v->leads && v->epoch == 0);
  const int old = cluster.index_of(v->leader);
  v = wait_view(cluster, old, "el", [](const View& v) { return v.in_sync.size() == 3 && v.high_watermark == 50; });
  ASSERT_TRUE(v && v->high_watermark == 50);
  const std::string old_id = v->leader, next_id = v->replicas[1] == old_id ? v->replicas[0] : v->replicas[1];
  const int next = cluster.index_of(next_id);
  int other = 0;
  while (other == old || other == next) ++other;

  // Refused, nothing changed: a node that is not a replica, and an election through a node
  // while its leader is up but the candidate is the leader already.
  auto bad = elect(cluster, next, "el", "n9");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("is not one of its replicas"), std::string::npos) << bad.err;
  bad = elect(cluster, next, "el", old_id);
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("leads it already"), std::string::npos) << bad.err;
  v = view_of(cluster, next, "el");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->leader, old_id);
  EXPECT_EQ(v->epoch, 0);

  // The leader dies; an in-sync follower is elected.
  ASSERT_EQ(cluster.kill(old, SIGKILL), -1);
  auto ok = elect(cluster, other, "el", next_id);
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  auto answer = parse_json(ok.out);
  ASSERT_TRUE(answer.ok()) << ok.out;
  EXPECT_EQ(answer->as_object().find("epoch")->as_int(), 1);
  EXPECT_EQ(answer->as_object().find("leader")->as_string(), next_id);
  EXPECT_EQ(answer->as_object().find("start")->as_int(), 50);
  for (int n : {next, other}) {
    v = view_of(cluster, n, "el");
    ASSERT_TRUE(v);
    EXPECT_EQ(v->leader, next_id) << "through " << cluster.id(n);
    EXPECT_EQ(v->epoch, 1);
  }
  // Once the dead node left the new leader's set, the high watermark covers every
  // acknowledged record: each is readable exactly once, in order, through any live node.
  v = wait_view(cluster, next, "el", [](const View& v) { return v.high_watermark == 50; });
  ASSERT_TRUE(v && v->high_watermark == 50);
  EXPECT_EQ(read_all(cluster.address(next), "el"), ids(0, 50));
  EXPECT_EQ(read_all(cluster.address(other), "el"), ids(0, 50));
  {
    auto c = connect_to(cluster.address(other));
    auto w = c->writer(replicated("el"));
    ASSERT_TRUE(w.ok()) << w.status().to_string();
    Status s = (*w)->put(records(50, 60));
    ASSERT_TRUE(s.ok()) << s.to_string();
  }
  EXPECT_EQ(read_all(cluster.address(other), "el"), ids(0, 60));

  // The old leader comes back: it learns the newer epoch from the others, serves no put of the
  // bucket (a client through it is sent to the new leader), and follows it into the set.
  ASSERT_TRUE(cluster.start(old)) << cluster.log(old);
  v = wait_view(cluster, old, "el", [&](const View& v) { return v.epoch == 1; });
  ASSERT_TRUE(v && v->epoch == 1);
  EXPECT_EQ(v->leader, next_id);
  EXPECT_FALSE(v->leads);
  {
    auto c = connect_to(cluster.address(old));
    auto w = c->writer(replicated("el"));
    ASSERT_TRUE(w.ok()) << w.status().to_string();
    Status s = (*w)->put(records(60, 70));
    ASSERT_TRUE(s.ok()) << s.to_string();
  }
  v = wait_view(cluster, next, "el", [&](const View& v) {
    return v.in_sync.size() == 3 && v.end_of(old_id) == 70 && v.high_watermark == 70;
  });
  ASSERT_TRUE(v && v->in_sync.count(old_id)) << "the old leader rejoined the set";
  EXPECT_EQ(v->log_ends[next_id], 70) << "the put through the old leader went to the new one";
  for (int n : {old, next, other}) EXPECT_EQ(read_all(cluster.address(n), "el"), ids(0, 70)) << cluster.id(n);
  // Every node stops cleanly (under the sanitizers: nothing leaked).
  for (int n : {old, next, other}) EXPECT_EQ(cluster.kill(n, SIGTERM), 0) << cluster.log(n);
}

TEST(Elect, AnOutOfSyncReplicaIsRefusedUnlessUncleanAndDivergentTailsAreCut) {
  Cluster cluster(3, {"--replica-lag-max-ms", "3000"});
  ASSERT_TRUE(cluster.start_all()) << cluster.log(0);
  auto c = connect_to(cluster.address(0));
  auto w = c->writer(replicated("un"));
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  ASSERT_TRUE((*w)->put(records(0, 20)).ok());
  std::optional<View> v = leader_view(cluster, "un");
  ASSERT_TRUE(v && v->leads) << "no node showed itself leading the bucket";
  const std::string leader_id = v->leader;
  const int leader = cluster.index_of(leader_id);
  v = wait_view(cluster, leader, "un", [](const View& v) { return v.in_sync.size() == 3 && v.high_watermark == 20; });
  ASSERT_TRUE(v && v->high_watermark == 20);
  const std::string lag_id = v->replicas[2] == leader_id ? v->replicas[0] : v->replicas[2];
  const int lag = cluster.index_of(lag_id);
  int keep = 0;
  while (keep == leader || keep == lag) ++keep;

  // One follower dies; the others go on without it (it leaves the set).
  ASSERT_EQ(cluster.kill(lag, SIGKILL), -1);
  {
    auto lc = connect_to(cluster.address(leader));
    auto lw = lc->writer(replicated("un"));
    ASSERT_TRUE(lw.ok());
    Status s = (*lw)->put(records(20, 30));
    ASSERT_TRUE(s.ok()) << s.to_string();
  }
  v = wait_view(cluster, leader, "un", [&](const View& v) { return !v.in_sync.count(lag_id) && v.high_watermark == 30; });
  ASSERT_TRUE(v && !v->in_sync.count(lag_id));
  // Then the leader dies, and the follower comes back: it missed records and has heard nothing
  // from a leader since it started, so electing it is refused.
  ASSERT_EQ(cluster.kill(leader, SIGKILL), -1);
  ASSERT_TRUE(cluster.start(lag)) << cluster.log(lag);
  auto bad = elect(cluster, keep, "un", lag_id);
  ASSERT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("nothing changed"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("--allow-unclean"), std::string::npos) << bad.err;
  v = view_of(cluster, keep, "un");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->epoch, 0) << "a refused election changes nothing";
  EXPECT_EQ(v->leader, leader_id);

  // Unclean: the lagging node leads from its own log end; the other follower's records past it
  // are cut (its copy fetched again), and so are the old leader's when it comes back.
  auto ok = elect(cluster, keep, "un", lag_id, /*unclean=*/true);
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  auto answer = parse_json(ok.out);
  ASSERT_TRUE(answer.ok()) << ok.out;
  const int64_t start = answer->as_object().find("start")->as_int();
  EXPECT_EQ(start, 20) << "its own log end";
  {
    auto kc = connect_to(cluster.address(keep));
    auto kw = kc->writer(replicated("un"));
    ASSERT_TRUE(kw.ok());
    Status s = (*kw)->put(records(100, 105));
    ASSERT_TRUE(s.ok()) << s.to_string();
  }
  std::vector<int64_t> want = ids(0, start);
  for (int64_t i = 100; i < 105; ++i) want.push_back(i);
  ASSERT_TRUE(cluster.start(leader)) << cluster.log(leader);
  v = wait_view(cluster, lag, "un", [&](const View& v) {
    return v.in_sync.size() == 3 && v.high_watermark == start + 5 && v.end_of(leader_id) == start + 5 &&
           v.end_of(cluster.id(keep)) == start + 5;
  });
  ASSERT_TRUE(v && v->in_sync.size() == 3) << "both followers cut their tails and caught up";
  for (int n : {keep, leader})
    EXPECT_NE(cluster.log(n).find("deleting it to fetch it again"), std::string::npos) << cluster.log(n);
  EXPECT_EQ(cluster.log(lag).find("deleting it to fetch it again"), std::string::npos) << "the new leader keeps its log";
  for (int n : {lag, keep, leader}) EXPECT_EQ(read_all(cluster.address(n), "un"), want) << cluster.id(n);
  for (int n : {lag, keep, leader}) EXPECT_EQ(cluster.kill(n, SIGTERM), 0) << cluster.log(n);
}

// A consumer group's commits on a replicated topic follow its coordinator bucket to the new
// leader (docs/cluster.md, "Consumer groups"): the coordinator copies every change to the
// in-sync followers before it answers, so after the leader is killed and a follower elected, a
// member through another node resumes at the commit, and a deleted group stays deleted.
TEST(Elect, AGroupsCommitsFollowItsCoordinatorBucketToTheElectedLeader) {
  Cluster cluster(3, {"--replica-lag-max-ms", "3000"});
  ASSERT_TRUE(cluster.start_all()) << cluster.log(0);
  auto c = connect_to(cluster.address(0));
  {
    auto w = c->writer(replicated("gc"));
    ASSERT_TRUE(w.ok()) << w.status().to_string();
    Status s = (*w)->put(records(0, 50));
    ASSERT_TRUE(s.ok()) << s.to_string();
  }
  std::optional<View> v = leader_view(cluster, "gc");
  ASSERT_TRUE(v && v->leads);
  const int old = cluster.index_of(v->leader);
  v = wait_view(cluster, old, "gc", [](const View& v) { return v.in_sync.size() == 3 && v.high_watermark == 50; });
  ASSERT_TRUE(v && v->in_sync.size() == 3);
  const std::string old_id = v->leader, next_id = v->replicas[1] == old_id ? v->replicas[0] : v->replicas[1];
  const int next = cluster.index_of(next_id);
  int other = 0;
  while (other == old || other == next) ++other;
  // Group g reads 30 records and commits; group d commits 10 and is deleted.
  auto consume = [&](const std::string& group, size_t n) {
    auto r = c->reader({.topic = "gc", .group = group});
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    auto got = (*r)->get(n);
    ASSERT_TRUE(got.ok()) << got.status().to_string();
    ASSERT_EQ(got->size(), n);
    Status s = (*r)->commit();
    ASSERT_TRUE(s.ok()) << s.to_string();
    ASSERT_TRUE((*r)->close().ok());
  };
  consume("g", 30);
  consume("d", 10);
  Status deleted = c->delete_group("gc", "d");
  ASSERT_TRUE(deleted.ok()) << deleted.to_string();

  ASSERT_EQ(cluster.kill(old, SIGKILL), -1);
  auto ok = elect(cluster, other, "gc", next_id);
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  auto via = connect_to(cluster.address(other));
  auto groups = via->groups("gc");
  ASSERT_TRUE(groups.ok()) << groups.status().to_string();
  ASSERT_EQ(groups->size(), 1u) << "the deleted group came back";
  EXPECT_EQ((*groups)[0].group, "g");
  ASSERT_EQ((*groups)[0].buckets.size(), 1u);
  EXPECT_EQ((*groups)[0].buckets[0].committed, std::optional<Offset>(Offset(30)));
  // Readable once the dead node left the new leader's set (the high watermark covers all 50).
  v = wait_view(cluster, next, "gc", [](const View& v) { return v.high_watermark == 50; });
  ASSERT_TRUE(v && v->high_watermark == 50);
  auto r = via->reader({.topic = "gc", .group = "g"});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  auto rest = (*r)->get(100);
  ASSERT_TRUE(rest.ok()) << rest.status().to_string();
  ASSERT_FALSE(rest->empty());
  EXPECT_EQ(rest->front().record.find("id")->as_int(), 30) << "the member resumed elsewhere than the commit";
  EXPECT_EQ(rest->size(), 20u);
  ASSERT_TRUE((*r)->close().ok());
  for (int n : {next, other}) EXPECT_EQ(cluster.kill(n, SIGTERM), 0) << cluster.log(n);
}

TEST(Elect, AFactorOneTopicHasNoElection) {
  Cluster cluster(1);
  ASSERT_TRUE(cluster.start_all()) << cluster.log(0);
  auto c = connect_to(cluster.address(0));
  auto w = c->writer({.topic = "one", .bucket_column = "k", .num_buckets = 1});
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  ASSERT_TRUE((*w)->put(records(0, 5)).ok());
  auto bad = elect(cluster, 0, "one", "n1");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("is not replicated"), std::string::npos) << bad.err;
  auto v = view_of(cluster, 0, "one");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->leader, "n1");
  EXPECT_EQ(v->epoch, 0);
  EXPECT_EQ(read_all(cluster.address(0), "one"), ids(0, 5));
}

}  // namespace
}  // namespace persisting
