// Replication, the leader's side (issue 18, docs/cluster.md "Replication"): the in-sync set fed
// by the followers' Replicate reports, the high watermark readers are limited to, and acks=all
// puts. Separate persistingd processes on loopback; every wait is bounded and waits for a
// condition (cluster status), never for time.
#include <gtest/gtest.h>

#include <future>
#include <map>
#include <set>
#include <thread>

#include "net/node_process.h"
#include "net/connect_to.h"
#include "net/leader_view.h"
#include "net/replicated_topic.h"
#include "persisting/client.h"
#include "persisting/json.h"
#include "util/run_process.h"

namespace persisting {
namespace {

using testing::Cluster;
using testing::run_process;

using testing::connect_to;
using testing::read_all;
using testing::records;
using testing::replicated;

using LeaderView = testing::View;

// Bucket 0's view through its leader, asked through the nodes `via` (default: all, to learn
// who leads; a node that is stopped would hold each question for the call's timeout).
std::optional<LeaderView> leader_view(Cluster& cluster, const std::string& topic, std::vector<int> via = {0, 1, 2}) {
  for (int i : via)
    if (auto v = testing::led_by(cluster, i, topic)) return v;
  return std::nullopt;
}

// Polls the leader's view (bounded: 30 s) until pred holds; the last view seen.
template <typename Pred>
std::optional<LeaderView> wait_view(Cluster& cluster, const std::string& topic, Pred pred,
                                    std::vector<int> via = {0, 1, 2}) {
  std::optional<LeaderView> v;
  for (int i = 0; i < 300; ++i) {
    v = leader_view(cluster, topic, via);
    if (v && pred(*v)) return v;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return v;
}

TEST(InSync, AStoppedFollowerLeavesTheSetAndRejoinsOnceCaughtUpAfterARestart) {
  Cluster cluster(3, {"--replica-lag-max-ms", "1000"});
  ASSERT_TRUE(cluster.start_all()) << cluster.log(0);
  auto c = connect_to(cluster.address(0));
  auto w = c->writer(replicated("isr"));
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  ASSERT_TRUE((*w)->put(records(0, 10)).ok());
  auto v = wait_view(cluster, "isr", [](const LeaderView& v) { return v.in_sync.size() == 3 && v.high_watermark == 10; });
  ASSERT_TRUE(v && v->in_sync.size() == 3 && v->high_watermark == 10);
  const std::string follower = v->replicas[2];
  const int fi = cluster.index_of(follower);

  // Killed, the follower stops reporting: once it lags past replica_lag_max_ms it leaves the
  // set, and acks=all puts go on with the two left (min_insync_replicas 2).
  ASSERT_EQ(cluster.kill(fi, SIGKILL), -1);
  std::vector<int> live;
  for (int i = 0; i < 3; ++i)
    if (i != fi) live.push_back(i);
  Status put = (*w)->put(records(10, 20));
  ASSERT_TRUE(put.ok()) << put.to_string();
  v = wait_view(cluster, "isr", [&](const LeaderView& v) { return !v.in_sync.count(follower); }, live);
  ASSERT_TRUE(v && !v->in_sync.count(follower));
  EXPECT_EQ(v->in_sync.size(), 2u);
  EXPECT_EQ(v->high_watermark, 20) << "the smallest log end in sync: the follower no longer holds it back";
  EXPECT_LE(v->log_ends[follower], 10);

  // Restarted, it pulls what it missed from its own log end and rejoins.
  ASSERT_TRUE(cluster.start(fi)) << cluster.log(fi);
  ASSERT_TRUE((*w)->put(records(20, 30)).ok());
  v = wait_view(cluster, "isr", [&](const LeaderView& v) { return v.in_sync.size() == 3 && v.end_of(follower) == 30; });
  ASSERT_TRUE(v && v->in_sync.size() == 3) << "the restarted follower rejoined";
  EXPECT_EQ(v->high_watermark, 30);
  EXPECT_EQ(read_all(cluster.address(1), "isr").size(), 30u);
}

TEST(InSync, ReadersSeeUpToTheHighWatermarkAndAcksAllWaitsForTheFollowers) {
  // A long lag limit: stopped followers stay in the set for the whole test.
  Cluster cluster(3, {"--replica-lag-max-ms", "600000"});
  ASSERT_TRUE(cluster.start_all()) << cluster.log(0);
  auto c = connect_to(cluster.address(0));
  auto w = c->writer(replicated("hw"));
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  ASSERT_TRUE((*w)->put(records(0, 10)).ok()) << "acks=all with every follower up";
  auto v = wait_view(cluster, "hw", [](const LeaderView& v) { return v.high_watermark == 10; });
  ASSERT_TRUE(v && v->high_watermark == 10);
  EXPECT_EQ(read_all(cluster.address(0), "hw").size(), 10u);

  // Both followers frozen: an acks=leader put is acknowledged by the leader alone, but readers
  // do not see it while the followers have not got it.
  std::vector<int> followers{cluster.index_of(v->replicas[1]), cluster.index_of(v->replicas[2])};
  for (int f : followers) cluster.signal(f, SIGSTOP);
  int leader = cluster.index_of(v->leader);
  auto lc = connect_to(cluster.address(leader));
  auto wl = lc->writer(replicated("hw", Acks::kLeader));
  ASSERT_TRUE(wl.ok()) << wl.status().to_string();
  ASSERT_TRUE((*wl)->put(records(10, 15)).ok());
  v = leader_view(cluster, "hw", {leader});
  ASSERT_TRUE(v);
  EXPECT_EQ(v->log_ends[v->leader], 15);
  EXPECT_EQ(v->high_watermark, 10);
  EXPECT_EQ(read_all(cluster.address(leader), "hw").size(), 10u) << "records past the high watermark are hidden";
  {
    // A waiting reader at the high watermark is parked (it does not spin on the hidden
    // records) and answers empty when its wait ends.
    auto r = lc->reader({.topic = "hw"});
    ASSERT_TRUE(r.ok());
    auto first = (*r)->get(100);
    ASSERT_TRUE(first.ok());
    EXPECT_EQ(first->size(), 10u);
    auto more = (*r)->get(100, /*wait=*/true, std::chrono::milliseconds(300));
    ASSERT_TRUE(more.ok()) << more.status().to_string();
    EXPECT_TRUE(more->empty());
  }

  // An acks=all put is appended by the leader but not acknowledged while the followers are
  // frozen; it is once they report.
  auto pending = std::async(std::launch::async, [&] { return (*w)->put(records(15, 16)); });
  v = wait_view(cluster, "hw", [](const LeaderView& v) { return v.end_of(v.leader) == 16; }, {leader});
  ASSERT_TRUE(v && v->log_ends[v->leader] == 16) << "the leader appended it";
  EXPECT_EQ(pending.wait_for(std::chrono::seconds(0)), std::future_status::timeout)
      << "acknowledged before any follower had it";
  for (int f : followers) cluster.signal(f, SIGCONT);
  ASSERT_EQ(pending.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  Status s = pending.get();
  EXPECT_TRUE(s.ok()) << s.to_string();
  v = leader_view(cluster, "hw", {leader});
  ASSERT_TRUE(v);
  EXPECT_EQ(v->high_watermark, 16) << "answered once every in-sync replica had it";
  std::vector<int64_t> ids = read_all(cluster.address(leader), "hw");
  EXPECT_EQ(ids.size(), 16u);
  std::set<int64_t> distinct(ids.begin(), ids.end());
  EXPECT_EQ(distinct.size(), 16u);
}

TEST(InSync, TooFewInSyncFailsAcksAllWithNotEnoughReplicasAndAcksLeaderGoesOn) {
  Cluster cluster(3, {"--replica-lag-max-ms", "1000"});
  ASSERT_TRUE(cluster.start_all()) << cluster.log(0);
  auto c = connect_to(cluster.address(0));
  auto w = c->writer(replicated("few"));
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  ASSERT_TRUE((*w)->put(records(0, 5)).ok());
  auto v = wait_view(cluster, "few", [](const LeaderView& v) { return v.in_sync.size() == 3; });
  ASSERT_TRUE(v && v->in_sync.size() == 3);
  const int leader = cluster.index_of(v->leader);
  for (size_t i = 1; i < 3; ++i) ASSERT_EQ(cluster.kill(cluster.index_of(v->replicas[i]), SIGKILL), -1);
  v = wait_view(cluster, "few", [](const LeaderView& v) { return v.in_sync.size() == 1; }, {leader});
  ASSERT_TRUE(v && v->in_sync.size() == 1) << "both followers left the set";

  auto lc = connect_to(cluster.address(leader));
  auto wa = lc->writer(replicated("few", Acks::kAll));
  ASSERT_TRUE(wa.ok());
  Status refused = (*wa)->put(records(5, 6));
  EXPECT_EQ(refused.code(), Code::kUnavailable) << refused.to_string();
  EXPECT_NE(refused.message().find("not enough in-sync replicas for acks=all (1 in sync, min_insync_replicas is 2)"),
            std::string::npos)
      << refused.message();
  v = leader_view(cluster, "few", {leader});
  ASSERT_TRUE(v);
  EXPECT_EQ(v->log_ends[v->leader], 5) << "a refused put appends nothing";

  // The CLI says the same; with --acks leader the put is taken.
  auto cli = run_process({PERSISTING_BIN, "put", "--server", cluster.address(leader), "--topic", "few"},
                         "{\"id\": 6, \"k\": 0}\n");
  EXPECT_NE(cli.exit_code, 0);
  EXPECT_NE(cli.err.find("not enough in-sync replicas"), std::string::npos) << cli.err;
  cli = run_process({PERSISTING_BIN, "put", "--server", cluster.address(leader), "--topic", "few", "--acks", "leader"},
                    "{\"id\": 6, \"k\": 0}\n");
  EXPECT_EQ(cli.exit_code, 0) << cli.err;
  auto wl = lc->writer(replicated("few", Acks::kLeader));
  ASSERT_TRUE(wl.ok());
  EXPECT_TRUE((*wl)->put(records(7, 8)).ok());
  v = leader_view(cluster, "few", {leader});
  ASSERT_TRUE(v);
  EXPECT_EQ(v->log_ends[v->leader], 7);
  EXPECT_EQ(v->high_watermark, 7) << "the leader alone is the set: its end is the high watermark";
  auto bad = run_process({PERSISTING_BIN, "put", "--server", cluster.address(leader), "--topic", "few", "--acks", "two"},
                         "{\"id\": 9, \"k\": 0}\n");
  EXPECT_NE(bad.exit_code, 0);
}

}  // namespace
}  // namespace persisting
