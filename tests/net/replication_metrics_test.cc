// The replication gauges of /metrics (docs/cluster.md, "Replication"): a bucket whose follower
// left the in-sync set is counted as under-replicated by its leader, with that follower's lag.
// Three persistingd processes on loopback with metrics endpoints; a follower SIGSTOPped.
#include <gtest/gtest.h>

#include <csignal>
#include <thread>

#include "net/connect_to.h"
#include "net/leader_view.h"
#include "net/metrics_sample.h"
#include "net/node_process.h"
#include "net/replicated_topic.h"

namespace persisting {
namespace {

using testing::Cluster;
using testing::connect_to;
using testing::View;
using testing::records;
using testing::replicated;
using testing::sample;
using testing::wait_led;

TEST(ReplicationMetrics, AFollowerThatLeftTheSetMakesItsBucketUnderReplicated) {
  std::vector<int> mports{testing::free_port(), testing::free_port(), testing::free_port()};
  Cluster cluster(3, {"--replica-lag-max-ms", "1500"});
  for (int i = 0; i < 3; ++i) cluster.set_node_args(i, {"--metrics", "127.0.0.1:" + std::to_string(mports[i])});
  ASSERT_TRUE(cluster.start_all()) << cluster.log(0);
  auto c = connect_to(cluster.address(0));
  auto w = c->writer(replicated("rm"));
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  ASSERT_TRUE((*w)->put(records(0, 10)).ok());
  const int leader = testing::leader_index(cluster, 3, "rm");
  ASSERT_GE(leader, 0);
  auto v = wait_led(cluster, leader, "rm", [](const View& v) { return v.in_sync.size() == 3 && v.high_watermark == 10; });
  ASSERT_TRUE(v && v->in_sync.size() == 3);
  EXPECT_EQ(sample(mports[leader], "persisting_under_replicated_buckets"), 0);
  const int follower = leader == 0 ? 1 : 0;
  const std::string lag = "persisting_replica_lag_records{topic=\"rm\",bucket=\"0\",follower=\"" + cluster.id(follower) + "\"}";
  EXPECT_EQ(sample(mports[leader], lag), 0);

  // The follower stops: it leaves the set, the bucket is under-replicated and it lags the
  // records put since (acks=leader: the other follower is enough, but do not wait for it).
  cluster.signal(follower, SIGSTOP);
  v = wait_led(cluster, leader, "rm", [](const View& v) { return v.in_sync.size() == 2; });
  ASSERT_TRUE(v && v->in_sync.size() == 2);
  auto through_leader = connect_to(cluster.address(leader));  // the stopped one may be node 0
  auto wl = through_leader->writer(replicated("rm", Acks::kLeader));
  ASSERT_TRUE(wl.ok()) << wl.status().to_string();
  ASSERT_TRUE((*wl)->put(records(10, 15)).ok());
  EXPECT_EQ(sample(mports[leader], "persisting_under_replicated_buckets"), 1);
  EXPECT_EQ(sample(mports[leader], lag), 5);
  const std::string last = "persisting_replica_last_fetch_ms{topic=\"rm\",bucket=\"0\",follower=\"" + cluster.id(follower) + "\"}";
  EXPECT_GE(sample(mports[leader], last), 1500) << "it left the set after the lag limit without fetching";

  // Back: it catches up and rejoins; nothing is under-replicated.
  cluster.signal(follower, SIGCONT);
  const std::string fid = cluster.id(follower);
  v = wait_led(cluster, leader, "rm", [&](const View& v) { return v.in_sync.size() == 3 && v.end_of(fid) == 15; });
  ASSERT_TRUE(v && v->in_sync.size() == 3 && v->end_of(fid) == 15);
  EXPECT_EQ(sample(mports[leader], "persisting_under_replicated_buckets"), 0);
  EXPECT_EQ(sample(mports[leader], lag), 0);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(cluster.kill(i, SIGTERM), 0) << cluster.log(i);
}

}  // namespace
}  // namespace persisting
