// Three persistingd processes on loopback, static membership: producers through one node write
// to buckets owned by all three; rank/world_size consumers read every record exactly once, in
// per-bucket order; a SIGKILLed node's buckets are unavailable while the others keep working.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <thread>

#include "net/node_process.h"
#include "net/connect_to.h"
#include "persisting/client.h"
#include "persisting/json.h"
#include "queue/partitioning.h"

namespace persisting {
namespace {

using testing::Cluster;

using testing::connect_to;

// bucket -> owner id, from cluster status.
std::map<uint32_t, std::string> ownership(Client& c, const std::string& topic) {
  auto st = c.cluster_status(topic);
  EXPECT_TRUE(st.ok()) << st.status().to_string();
  std::map<uint32_t, std::string> out;
  if (!st.ok()) return out;
  for (const auto& [k, v] : st->find("ownership")->as_object()) out[std::stoul(k)] = v.as_string();
  return out;
}

TEST(Cluster, ThreeNodesProducersAndRankedConsumersExactlyOnceInBucketOrder) {
  Cluster cluster(3);
  ASSERT_TRUE(cluster.start_all()) << cluster.log(0) << cluster.log(1) << cluster.log(2);
  constexpr uint32_t kBuckets = 12;
  constexpr int kProducers = 2, kConsumers = 3, kPerProducer = 3000, kBatch = 100;

  auto admin = connect_to(cluster.address(0));
  auto w = admin->writer({.topic = "events", .bucket_column = "id", .num_buckets = kBuckets});
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  auto owners = ownership(*admin, "events");
  ASSERT_EQ(owners.size(), kBuckets);
  std::set<std::string> owning_nodes;
  for (const auto& [b, n] : owners) owning_nodes.insert(n);
  ASSERT_EQ(owning_nodes.size(), 3u) << "the test needs buckets on every node";

  // Producers all talk to node 1; the client sends each bucket's part to its owner.
  std::vector<std::thread> producers;
  std::vector<Status> producer_status(kProducers);
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      auto c = connect_to(cluster.address(0));
      auto pw = c->writer({.topic = "events", .bucket_column = "id", .num_buckets = kBuckets});
      if (!pw.ok()) {
        producer_status[p] = pw.status();
        return;
      }
      for (int i = 0; i < kPerProducer; i += kBatch) {
        std::vector<Record> batch;
        for (int k = i; k < i + kBatch; ++k)
          batch.push_back(Record{{"id", "p" + std::to_string(p) + "-" + std::to_string(k)},
                                 {"p", int64_t(p)}, {"i", int64_t(k)}});
        Status s = (*pw)->put(batch);
        if (!s.ok()) {
          producer_status[p] = s;
          return;
        }
      }
    });
  }

  // Consumers, each connected to a different node, run while the producers write.
  struct Got {
    uint32_t bucket;
    uint64_t offset;
    int64_t p, i;
  };
  std::vector<std::vector<Got>> got(kConsumers);
  std::vector<Status> consumer_status(kConsumers);
  std::vector<std::thread> consumers;
  const size_t total = size_t(kProducers) * kPerProducer;
  std::atomic<size_t> received{0};
  for (int r = 0; r < kConsumers; ++r) {
    consumers.emplace_back([&, r] {
      auto c = connect_to(cluster.address(r));
      auto reader = c->reader({.topic = "events", .rank = uint32_t(r), .world_size = kConsumers});
      if (!reader.ok()) {
        consumer_status[r] = reader.status();
        return;
      }
      int idle = 0;
      while (received.load() < total && idle < 20) {  // bounded: 20 empty waits of 1 s
        auto msgs = (*reader)->get(500, /*wait=*/true, std::chrono::seconds(1));
        if (!msgs.ok()) {
          consumer_status[r] = msgs.status();
          return;
        }
        idle = msgs->empty() ? idle + 1 : 0;
        for (const auto& m : *msgs)
          got[r].push_back({m.bucket.value(), m.offset.value(), m.record.find("p")->as_int(),
                            m.record.find("i")->as_int()});
        received += msgs->size();
      }
    });
  }
  for (auto& t : producers) t.join();
  for (auto& t : consumers) t.join();
  for (const auto& s : producer_status) ASSERT_TRUE(s.ok()) << s.to_string();
  for (const auto& s : consumer_status) ASSERT_TRUE(s.ok()) << s.to_string();

  std::set<std::pair<int64_t, int64_t>> seen;
  std::map<uint32_t, uint64_t> next_offset;
  std::map<std::pair<uint32_t, int64_t>, int64_t> last_i;  // (bucket, producer) -> last i
  for (int r = 0; r < kConsumers; ++r) {
    for (const auto& g : got[r]) {
      EXPECT_EQ(g.bucket % kConsumers, uint32_t(r)) << "rank " << r << " read bucket " << g.bucket;
      EXPECT_TRUE(seen.insert({g.p, g.i}).second) << "duplicate p" << g.p << "-" << g.i;
      EXPECT_EQ(g.offset, next_offset[g.bucket]++) << "bucket " << g.bucket << " out of order";
      auto key = std::make_pair(g.bucket, g.p);
      if (last_i.count(key)) {
        EXPECT_GT(g.i, last_i[key]);
      }
      last_i[key] = g.i;
    }
  }
  EXPECT_EQ(seen.size(), total);

  auto stats = admin->stats("events");
  ASSERT_TRUE(stats.ok()) << stats.status().to_string();
  EXPECT_EQ(stats->find("total_count")->as_int(), int64_t(total));
}

TEST(Cluster, KilledNodeBucketsAreUnavailableOthersKeepWorkingAndItServesAfterRestart) {
  Cluster cluster(3);
  ASSERT_TRUE(cluster.start_all());
  constexpr uint32_t kBuckets = 12;
  auto c = connect_to(cluster.address(0));
  auto w = c->writer({.topic = "t", .bucket_column = "id", .num_buckets = kBuckets});
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  std::vector<Record> batch;
  for (int k = 0; k < 600; ++k) batch.push_back(Record{{"id", int64_t(k)}});
  ASSERT_TRUE((*w)->put(batch).ok());
  auto owners = ownership(*c, "t");

  // Kill the owner of some bucket that is not node 1 (the one the client talks to).
  std::string victim = "n3";
  uint32_t victim_bucket = kBuckets, other_bucket = kBuckets;
  for (const auto& [b, n] : owners) {
    if (n == victim && victim_bucket == kBuckets) victim_bucket = b;
    if (n != victim && other_bucket == kBuckets) other_bucket = b;
  }
  ASSERT_LT(victim_bucket, kBuckets);
  ASSERT_LT(other_bucket, kBuckets);
  int vi = cluster.index_of(victim);
  EXPECT_EQ(cluster.kill(vi, SIGKILL), -1);

  // Reading the victim's bucket: a clear "unavailable" naming the owner.
  auto rv = c->reader({.topic = "t", .buckets = {victim_bucket}});
  ASSERT_TRUE(rv.ok()) << rv.status().to_string();
  auto msgs = (*rv)->get(10);
  ASSERT_FALSE(msgs.ok());
  EXPECT_EQ(msgs.status().code(), Code::kUnavailable) << msgs.status().to_string();
  EXPECT_NE(msgs.status().message().find("n3"), std::string::npos) << msgs.status().to_string();
  EXPECT_NE(msgs.status().message().find("unavailable"), std::string::npos);

  // Writing to it fails the same way (the record is never placed elsewhere); the other buckets'
  // parts of a batch are written.
  Record to_victim, to_other;
  bool have_v = false, have_o = false;
  for (int64_t k = 10000; !(have_v && have_o) && k < 20000; ++k) {
    Record r{{"id", k}};
    auto b = queue::bucket_of((*w)->topic(), r);
    ASSERT_TRUE(b.ok());
    if (*b == victim_bucket && !have_v) to_victim = r, have_v = true;
    if (*b == other_bucket && !have_o) to_other = r, have_o = true;
  }
  ASSERT_TRUE(have_v && have_o);
  auto pv = (*w)->put(to_victim);
  ASSERT_FALSE(pv.ok());
  EXPECT_EQ(pv.status().code(), Code::kUnavailable) << pv.status().to_string();
  EXPECT_NE(pv.status().message().find("owner n3"), std::string::npos) << pv.status().to_string();
  auto po = (*w)->put(to_other);
  ASSERT_TRUE(po.ok()) << po.status().to_string();
  EXPECT_EQ(po->bucket.value(), other_bucket);

  // The other buckets keep working: reads and writes.
  auto ro = c->reader({.topic = "t", .buckets = {other_bucket}});
  ASSERT_TRUE(ro.ok());
  auto om = (*ro)->get(1000);
  ASSERT_TRUE(om.ok()) << om.status().to_string();
  EXPECT_FALSE(om->empty());

  // A client given several entry nodes, the dead one first, goes on with the next.
  auto multi = connect_to(cluster.address(vi) + "," + cluster.address(0));
  auto mr = multi->reader({.topic = "t", .buckets = {other_bucket}});
  ASSERT_TRUE(mr.ok()) << mr.status().to_string();
  auto mm = (*mr)->get(1000);
  ASSERT_TRUE(mm.ok()) << mm.status().to_string();
  EXPECT_FALSE(mm->empty());

  // The cluster status shows the victim down.
  auto st = c->cluster_status();
  ASSERT_TRUE(st.ok()) << st.status().to_string();
  for (const auto& m : st->find("members")->as_list()) {
    const Object& o = m.as_object();
    EXPECT_EQ(o.find("alive")->as_bool(), o.find("id")->as_string() != victim) << to_json(m);
  }

  // Restarted, the node serves its buckets again.
  ASSERT_TRUE(cluster.start(vi)) << cluster.log(vi);
  bool served = false;
  for (int attempt = 0; attempt < 50 && !served; ++attempt) {  // bounded: channel reconnects
    auto again = (*rv)->get(10);
    served = again.ok();
    if (!served) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(served);
}

// Reads every bucket of topic from offset 0 through a fresh client; returns the ids seen, and
// fails on a duplicate or an offset gap.
std::multiset<int64_t> read_all(const std::string& address, const std::string& topic) {
  std::multiset<int64_t> ids;
  auto c = connect_to(address);
  auto r = c->reader({.topic = topic});
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  if (!r.ok()) return ids;
  std::map<uint32_t, uint64_t> next;
  for (int i = 0; i < 1000; ++i) {  // bounded
    auto msgs = (*r)->get(500);
    EXPECT_TRUE(msgs.ok()) << msgs.status().to_string();
    if (!msgs.ok() || msgs->empty()) break;
    for (const auto& m : *msgs) {
      EXPECT_EQ(m.offset.value(), next[m.bucket.value()]++);
      ids.insert(m.record.find("id")->as_int());
    }
  }
  return ids;
}

// With the durable lance backend: what a flush acknowledged survives SIGKILL of its owner, and a
// SIGTERM flushes the buffers before the node exits.
TEST(Cluster, DurableBackendDataIntactAfterSigkillAndRestartAndSigtermFlushes) {
  Cluster cluster(3);
  ASSERT_TRUE(cluster.start_all());
  auto c = connect_to(cluster.address(0));
  auto w = c->writer({.topic = "d", .bucket_column = "id", .num_buckets = 6, .batch_size = 100000,
                      .backend = "lance"});
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  std::vector<Record> batch;
  for (int64_t k = 0; k < 600; ++k) batch.push_back(Record{{"id", k}, {"v", "x" + std::to_string(k)}});
  ASSERT_TRUE((*w)->put(batch).ok());
  ASSERT_TRUE((*w)->flush().ok());

  EXPECT_EQ(cluster.kill(2, SIGKILL), -1);
  ASSERT_TRUE(cluster.start(2)) << cluster.log(2);
  auto ids = read_all(cluster.address(0), "d");
  EXPECT_EQ(ids.size(), 600u);
  EXPECT_EQ(std::set<int64_t>(ids.begin(), ids.end()).size(), 600u);

  // Not flushed by the client: every node's buffer is flushed by its SIGTERM shutdown.
  batch.clear();
  for (int64_t k = 600; k < 900; ++k) batch.push_back(Record{{"id", k}});
  auto w2 = connect_to(cluster.address(1))->writer({.topic = "d", .bucket_column = "id", .num_buckets = 6,
                                                   .batch_size = 100000, .backend = "lance"});
  ASSERT_TRUE(w2.ok()) << w2.status().to_string();
  ASSERT_TRUE((*w2)->put(batch).ok());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(cluster.kill(i, SIGTERM), 0) << cluster.log(i);
  ASSERT_TRUE(cluster.start_all());
  ids = read_all(cluster.address(1), "d");
  EXPECT_EQ(ids.size(), 900u);
  EXPECT_EQ(std::set<int64_t>(ids.begin(), ids.end()).size(), 900u);
}

TEST(Cluster, AddingANodeMovesNoBucketOfAnExistingTopic) {
  Cluster cluster(3);
  cluster.use_members(2);
  ASSERT_TRUE(cluster.start(0) && cluster.start(1));
  constexpr uint32_t kBuckets = 16;
  {
    auto c = connect_to(cluster.address(0));
    ASSERT_TRUE(c->writer({.topic = "old", .bucket_column = "id", .num_buckets = kBuckets}).ok());
  }
  auto before = [&] {
    auto c = connect_to(cluster.address(0));
    return ownership(*c, "old");
  }();
  ASSERT_EQ(before.size(), kBuckets);

  // n3 joins: every node now lists three members.
  cluster.kill(0, SIGTERM);
  cluster.kill(1, SIGTERM);
  cluster.use_members(3);
  ASSERT_TRUE(cluster.start_all());
  for (int via = 0; via < 3; ++via) {
    auto c = connect_to(cluster.address(via));
    EXPECT_EQ(ownership(*c, "old"), before) << "asked node " << cluster.id(via);
  }
  // A topic created now is placed over all three.
  auto c = connect_to(cluster.address(2));
  ASSERT_TRUE(c->writer({.topic = "new", .bucket_column = "id", .num_buckets = kBuckets}).ok());
  std::set<std::string> nodes;
  for (const auto& [b, n] : ownership(*c, "new")) nodes.insert(n);
  EXPECT_EQ(nodes.size(), 3u);
}

}  // namespace
}  // namespace persisting
