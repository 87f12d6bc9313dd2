// etcd membership: three nodes register under leases in a real etcd (Debian's etcd-server,
// started here on loopback); the exactly-once flow works; a SIGKILLed node's lease expires and it
// is shown as down, its buckets unavailable, the others working; restarted, it is alive again.
#include <gtest/gtest.h>

#include <httplib.h>

#include <map>
#include <set>
#include <thread>

#include "net/etcd_process.h"
#include "net/node_process.h"
#include "net/connect_to.h"
#include "persisting/client.h"
#include "persisting/json.h"

namespace persisting {
namespace {

using testing::Cluster;
using testing::Etcd;
using testing::free_port;
using testing::Process;

using testing::connect_to;

// id -> alive, from a node's cluster status.
std::map<std::string, bool> liveness(Client& c) {
  std::map<std::string, bool> out;
  auto st = c.cluster_status();
  if (!st.ok()) return out;
  for (const auto& m : st->find("members")->as_list())
    out[m.as_object().find("id")->as_string()] = m.as_object().find("alive")->as_bool();
  return out;
}

// Polls (bounded: 20 s) until c reports exactly `want`.
bool wait_liveness(Client& c, const std::map<std::string, bool>& want) {
  for (int i = 0; i < 200; ++i) {
    if (liveness(c) == want) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

TEST(Etcd, MembershipLeasesExactlyOnceAndAnExpiredNodeShownDown) {
  Etcd etcd;
  ASSERT_TRUE(etcd.start()) << etcd.log();
  Cluster cluster(3, {"--etcd", etcd.url(), "--etcd-ttl", "2", "--etcd-prefix", "/test"});
  ASSERT_TRUE(cluster.start_all()) << cluster.log(0);
  auto c = connect_to(cluster.address(0));
  ASSERT_TRUE(wait_liveness(*c, {{"n1", true}, {"n2", true}, {"n3", true}})) << to_json(*c->cluster_status());

  constexpr uint32_t kBuckets = 12;
  auto w = c->writer({.topic = "e", .bucket_column = "id", .num_buckets = kBuckets});
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  std::vector<Record> batch;
  for (int64_t k = 0; k < 900; ++k) batch.push_back(Record{{"id", k}});
  ASSERT_TRUE((*w)->put(batch).ok());

  std::set<int64_t> seen;
  std::map<uint32_t, uint64_t> next;
  for (uint32_t r = 0; r < 3; ++r) {
    auto rc = connect_to(cluster.address(int(r)));
    auto reader = rc->reader({.topic = "e", .rank = r, .world_size = 3});
    ASSERT_TRUE(reader.ok());
    for (int i = 0; i < 100; ++i) {  // bounded
      auto msgs = (*reader)->get(200);
      ASSERT_TRUE(msgs.ok()) << msgs.status().to_string();
      if (msgs->empty()) break;
      for (const auto& m : *msgs) {
        EXPECT_TRUE(seen.insert(m.record.find("id")->as_int()).second);
        EXPECT_EQ(m.offset.value(), next[m.bucket.value()]++);
      }
    }
  }
  EXPECT_EQ(seen.size(), 900u);

  auto st = c->cluster_status("e");
  ASSERT_TRUE(st.ok());
  uint32_t victim_bucket = kBuckets, other_bucket = kBuckets;
  for (const auto& [b, n] : st->find("ownership")->as_object()) {
    if (n.as_string() == "n3") victim_bucket = uint32_t(std::stoul(b));
    else other_bucket = uint32_t(std::stoul(b));
  }
  ASSERT_LT(victim_bucket, kBuckets);
  ASSERT_LT(other_bucket, kBuckets);

  cluster.kill(2, SIGKILL);
  ASSERT_TRUE(wait_liveness(*c, {{"n1", true}, {"n2", true}, {"n3", false}})) << to_json(*c->cluster_status());
  auto fresh = connect_to(cluster.address(0));  // no cached owners
  auto rv = fresh->reader({.topic = "e", .buckets = {victim_bucket}});
  ASSERT_TRUE(rv.ok());
  auto msgs = (*rv)->get(10);
  ASSERT_FALSE(msgs.ok());
  EXPECT_EQ(msgs.status().code(), Code::kUnavailable);
  EXPECT_NE(msgs.status().message().find("owner n3"), std::string::npos) << msgs.status().to_string();
  auto ro = fresh->reader({.topic = "e", .buckets = {other_bucket}});
  ASSERT_TRUE(ro.ok());
  auto om = (*ro)->get(1000);
  ASSERT_TRUE(om.ok()) << om.status().to_string();
  EXPECT_FALSE(om->empty());

  ASSERT_TRUE(cluster.start(2)) << cluster.log(2);
  EXPECT_TRUE(wait_liveness(*c, {{"n1", true}, {"n2", true}, {"n3", true}}));
  // A clean stop (SIGTERM) leaves at once: the lease is revoked.
  EXPECT_EQ(cluster.kill(1, SIGTERM), 0);
  EXPECT_TRUE(wait_liveness(*c, {{"n1", true}, {"n2", false}, {"n3", true}}));
}

// A node that stopped cleanly (SIGTERM) left the cluster: puts to its buckets say so, not that a
// lease expired (which means a crash or a partition).
TEST(Etcd, Defect11_PutsToACleanlyLeftOwnerSayItLeft) {
  Etcd etcd;
  ASSERT_TRUE(etcd.start()) << etcd.log();
  Cluster cluster(2, {"--etcd", etcd.url(), "--etcd-ttl", "2", "--etcd-prefix", "/left"});
  ASSERT_TRUE(cluster.start_all()) << cluster.log(0);
  auto c = connect_to(cluster.address(0));
  ASSERT_TRUE(wait_liveness(*c, {{"n1", true}, {"n2", true}})) << to_json(*c->cluster_status());
  auto w = c->writer({.topic = "l", .bucket_column = "id", .num_buckets = 8});
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  std::vector<Record> batch;
  for (int64_t k = 0; k < 64; ++k) batch.push_back(Record{{"id", k}});
  ASSERT_TRUE((*w)->put(batch).ok());
  EXPECT_EQ(cluster.kill(1, SIGTERM), 0);
  ASSERT_TRUE(wait_liveness(*c, {{"n1", true}, {"n2", false}}));
  auto fresh = connect_to(cluster.address(0));  // no cached owners
  auto w2 = fresh->writer({.topic = "l", .bucket_column = "id", .num_buckets = 8});
  ASSERT_TRUE(w2.ok()) << w2.status().to_string();
  Status s = (*w2)->put(batch);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kUnavailable);
  EXPECT_NE(s.message().find("owner n2"), std::string::npos) << s.to_string();
  EXPECT_NE(s.message().find("left the cluster"), std::string::npos) << s.to_string();
  EXPECT_EQ(s.message().find("lease has expired"), std::string::npos) << s.to_string();
}

}  // namespace
}  // namespace persisting
