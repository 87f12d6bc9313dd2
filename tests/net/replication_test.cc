// Replication, first slice (issue 18, docs/cluster.md "Replication"): the replication_factor
// topic setting over the cluster and each bucket's replica set (the top of the rendezvous
// ranking spread over zones) as cluster status shows it. Records are not shipped to followers
// yet: these tests check placement and settings, not copies.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "net/etcd_process.h"
#include "net/node_process.h"
#include "net/connect_to.h"
#include "persisting/client.h"
#include "persisting/json.h"
#include "persisting/queue.h"
#include "util/run_process.h"

namespace persisting {
namespace {

using testing::Cluster;
using testing::run_process;

using testing::connect_to;

struct BucketReplicas {
  std::string leader, owner;
  std::vector<std::string> replicas;
};

// bucket -> replicas, leader and owner, from cluster status through c; factor gets the topic's.
std::map<uint32_t, BucketReplicas> replica_sets(Client& c, const std::string& topic, int64_t* factor = nullptr) {
  std::map<uint32_t, BucketReplicas> out;
  auto st = c.cluster_status(topic);
  EXPECT_TRUE(st.ok()) << st.status().to_string();
  if (!st.ok()) return out;
  if (factor) *factor = st->find("replication_factor")->as_int();
  for (const auto& [k, v] : st->find("ownership")->as_object()) out[std::stoul(k)].owner = v.as_string();
  for (const auto& b : st->find("buckets")->as_list()) {
    const Object& o = b.as_object();
    auto& r = out[static_cast<uint32_t>(o.find("bucket")->as_int())];
    r.leader = o.find("leader")->as_string();
    for (const auto& id : o.find("replicas")->as_list()) r.replicas.push_back(id.as_string());
  }
  return out;
}

// id -> zone, from the members of cluster status.
std::map<std::string, std::string> member_zones(Client& c) {
  std::map<std::string, std::string> out;
  auto st = c.cluster_status();
  EXPECT_TRUE(st.ok()) << st.status().to_string();
  if (!st.ok()) return out;
  for (const auto& m : st->find("members")->as_list()) {
    const Value* z = m.as_object().find("zone");
    out[m.as_object().find("id")->as_string()] = z ? z->as_string() : "";
  }
  return out;
}

// Every bucket has `factor` distinct replicas led by its owner and, with zones, one per zone.
void expect_one_replica_per_zone(Client& c, const std::string& topic, uint32_t buckets,
                                 const std::map<std::string, std::string>& zone_of) {
  int64_t factor = 0;
  auto sets = replica_sets(c, topic, &factor);
  EXPECT_EQ(factor, 3);
  ASSERT_EQ(sets.size(), buckets);
  std::set<std::string> leaders;
  for (const auto& [b, r] : sets) {
    ASSERT_EQ(r.replicas.size(), 3u) << "bucket " << b;
    EXPECT_EQ(r.leader, r.replicas[0]) << "bucket " << b;
    EXPECT_EQ(r.leader, r.owner) << "bucket " << b << ": the leader is the owner";
    std::set<std::string> zones, nodes;
    for (const auto& id : r.replicas) {
      nodes.insert(id);
      zones.insert(zone_of.at(id));
    }
    EXPECT_EQ(nodes.size(), 3u) << "bucket " << b;
    EXPECT_EQ(zones, (std::set<std::string>{"za", "zb", "zc"})) << "bucket " << b;
    leaders.insert(r.leader);
  }
  EXPECT_GE(leaders.size(), 2u) << "leadership is spread";
}

TEST(Replication, ThreeZonesFactorThreeOneReplicaPerZoneThroughEveryNodeAndAfterARestart) {
  // Six nodes, two per zone: the zones, not the ranking alone, decide the spread.
  Cluster cluster(6);
  cluster.set_zones({"za", "zb", "zc", "za", "zb", "zc"});
  // n1 also gives its own --zone (it must agree with the list).
  cluster.set_node_args(0, {"--zone", "za"});
  ASSERT_TRUE(cluster.start_all()) << cluster.log(0);
  constexpr uint32_t kBuckets = 24;
  auto c = connect_to(cluster.address(0));
  auto w = c->writer({.topic = "r3", .bucket_column = "id", .num_buckets = kBuckets, .replication_factor = 3});
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  EXPECT_EQ((*w)->topic().replication_factor, 3u);

  auto zone_of = member_zones(*c);
  ASSERT_EQ(zone_of.size(), 6u);
  EXPECT_EQ(zone_of["n1"], "za");
  EXPECT_EQ(zone_of["n6"], "zc");
  for (int i = 0; i < 6; ++i) {
    auto ci = connect_to(cluster.address(i));
    SCOPED_TRACE("through " + cluster.id(i));
    expect_one_replica_per_zone(*ci, "r3", kBuckets, zone_of);
    auto info = ci->topic("r3");
    ASSERT_TRUE(info.ok()) << info.status().to_string();
    EXPECT_EQ(info->replication_factor, 3u);
  }
  auto before = replica_sets(*c, "r3");

  // Records still go to each bucket's owner (the leader) and read back whole.
  std::vector<Record> batch;
  for (int64_t k = 0; k < 240; ++k) batch.push_back(Record{{"id", k}});
  ASSERT_TRUE((*w)->put(batch).ok());
  auto reader = c->reader({.topic = "r3"});
  ASSERT_TRUE(reader.ok()) << reader.status().to_string();
  std::set<int64_t> seen;
  for (int i = 0; i < 50 && seen.size() < 240; ++i) {
    auto msgs = (*reader)->get(100);
    ASSERT_TRUE(msgs.ok()) << msgs.status().to_string();
    for (const auto& m : *msgs) seen.insert(m.record.find("id")->as_int());
  }
  EXPECT_EQ(seen.size(), 240u);

  // The zones are pinned with the topic's placement: a restarted node places alike, also when
  // the member list it is restarted with has lost the zones.
  ASSERT_EQ(cluster.kill(4, SIGKILL), -1);
  cluster.set_zones({});
  ASSERT_TRUE(cluster.start(4)) << cluster.log(4);
  auto c5 = connect_to(cluster.address(4));
  EXPECT_EQ(member_zones(*c5)["n1"], "") << "n5's list has no zones now";
  auto after = replica_sets(*c5, "r3");
  ASSERT_EQ(after.size(), kBuckets);
  for (uint32_t b = 0; b < kBuckets; ++b) EXPECT_EQ(after[b].replicas, before[b].replicas) << "bucket " << b;

  // The CLI shows them.
  auto st = run_process({PERSISTING_BIN, "cluster", "status", "--server", cluster.address(1), "--topic", "r3"});
  ASSERT_EQ(st.exit_code, 0) << st.err;
  auto j = parse_json(st.out);
  ASSERT_TRUE(j.ok()) << st.out;
  EXPECT_EQ(j->as_object().find("replication_factor")->as_int(), 3);
  const auto& buckets = j->as_object().find("buckets")->as_list();
  ASSERT_EQ(buckets.size(), kBuckets);
  EXPECT_EQ(buckets[0].as_object().find("replicas")->as_list().size(), 3u);
  EXPECT_EQ(j->as_object().find("placement")->as_object().find("zones")->as_object().find("n2")->as_string(), "zb");
}

TEST(Replication, FactorOneIsOneReplicaTheOwnerAndTheTopicFilesAreUnchanged) {
  Cluster cluster(3);
  ASSERT_TRUE(cluster.start_all()) << cluster.log(0);
  auto c = connect_to(cluster.address(0));
  auto w = c->writer({.topic = "r1", .bucket_column = "id", .num_buckets = 12, .backend = "persisting"});
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  int64_t factor = 0;
  auto sets = replica_sets(*c, "r1", &factor);
  EXPECT_EQ(factor, 1);
  ASSERT_EQ(sets.size(), 12u);
  for (const auto& [b, r] : sets) {
    EXPECT_EQ(r.replicas, std::vector<std::string>{r.owner}) << "bucket " << b;
    EXPECT_EQ(r.leader, r.owner);
  }
  // No zones, factor 1: topic.json and placement.json as before replication existed.
  for (int i = 0; i < 3; ++i) {
    std::string d = cluster.dir() + "/" + cluster.id(i) + "/r1/";
    EXPECT_EQ(testing::slurp(d + "topic.json").find("replication_factor"), std::string::npos);
    std::string placement = testing::slurp(d + "placement.json");
    EXPECT_NE(placement.find("\"members\""), std::string::npos) << placement;
    EXPECT_EQ(placement.find("zones"), std::string::npos) << placement;
  }
}

TEST(Replication, BadFactorsAreRefusedAndCreateNothing) {
  Cluster cluster(2);
  ASSERT_TRUE(cluster.start_all()) << cluster.log(0);
  auto c = connect_to(cluster.address(0));
  // More replicas than nodes.
  auto w3 = c->writer({.topic = "big", .bucket_column = "id", .num_buckets = 4, .replication_factor = 3});
  ASSERT_EQ(w3.status().code(), Code::kInvalidArgument) << w3.status().to_string();
  EXPECT_NE(w3.status().message().find("replication_factor 3 needs at least 3 nodes; the cluster has 2 (n1, n2)"),
            std::string::npos)
      << w3.status().to_string();
  // Not 1, 3 or 5.
  for (uint32_t bad : {2u, 4u, 9u}) {
    auto w = c->writer({.topic = "big", .bucket_column = "id", .num_buckets = 4, .replication_factor = bad});
    ASSERT_EQ(w.status().code(), Code::kInvalidArgument) << w.status().to_string();
    EXPECT_NE(w.status().message().find("replication_factor must be 1, 3 or 5, got " + std::to_string(bad)),
              std::string::npos)
        << w.status().to_string();
  }
  // Through the CLI.
  for (const char* bad : {"3", "0", "2"}) {
    auto put = run_process({PERSISTING_BIN, "put", "--server", cluster.address(1), "--topic", "big",
                            "--replication-factor", bad},
                           "{\"id\": 1}\n");
    EXPECT_NE(put.exit_code, 0) << bad;
    EXPECT_NE(put.err.find("replication", 0), std::string::npos) << put.err;
  }
  // Nothing was made, on either node.
  for (int i = 0; i < 2; ++i) {
    auto ci = connect_to(cluster.address(i));
    auto topics = ci->topics();
    ASSERT_TRUE(topics.ok()) << topics.status().to_string();
    EXPECT_TRUE(topics->empty());
    EXPECT_FALSE(std::filesystem::exists(cluster.dir() + "/" + cluster.id(i) + "/big"));
  }
  // Factor 1 given explicitly works; the CLI shows the factor only when it is not 1.
  auto put = run_process({PERSISTING_BIN, "put", "--server", cluster.address(1), "--topic", "one",
                          "--replication-factor", "1"},
                         "{\"id\": 1}\n");
  EXPECT_EQ(put.exit_code, 0) << put.err;
}

// bucket -> log ends by replica, from the status of the node that leads each bucket.
std::map<uint32_t, std::map<std::string, int64_t>> log_ends(Cluster& cluster, int nodes, const std::string& topic) {
  std::map<uint32_t, std::map<std::string, int64_t>> out;
  for (int i = 0; i < nodes; ++i) {
    auto c = connect_to(cluster.address(i));
    auto st = c->cluster_status(topic);
    if (!st.ok()) continue;  // a node restarting: asked again next round
    for (const auto& b : st->find("buckets")->as_list()) {
      const Object& o = b.as_object();
      const Value* ends = o.find("log_ends");
      if (!ends) continue;  // not led by node i
      auto& row = out[static_cast<uint32_t>(o.find("bucket")->as_int())];
      for (const auto& [id, v] : ends->as_object()) row[id] = v.as_int();
    }
  }
  return out;
}

// Polls (bounded: 30 s) until every bucket's replicas all report the leader's end, and the ends
// add up to total. Returns whether they did.
bool wait_replicated(Cluster& cluster, int nodes, const std::string& topic, uint32_t buckets, int64_t total) {
  for (int i = 0; i < 300; ++i) {
    auto ends = log_ends(cluster, nodes, topic);
    int64_t sum = 0;
    bool all = ends.size() == buckets;
    for (const auto& [b, row] : ends) {
      all = all && row.size() == 3;
      int64_t first = row.empty() ? -1 : row.begin()->second;
      for (const auto& [id, v] : row) all = all && v == first;
      sum += first;
    }
    if (all && sum == total) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

// (bucket, offset) -> id of every record in the topic, read embedded from a stopped node's dir.
std::map<std::pair<uint32_t, uint64_t>, int64_t> records_on_disk(const std::string& data_dir, const std::string& topic) {
  std::map<std::pair<uint32_t, uint64_t>, int64_t> out;
  auto q = Queue::open({.data_dir = data_dir, .threads = 2});
  EXPECT_TRUE(q.ok()) << q.status().to_string();
  if (!q.ok()) return out;
  auto r = (*q)->reader({.topic = topic});
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  if (!r.ok()) return out;
  for (int i = 0; i < 100; ++i) {  // bounded
    auto msgs = (*r)->get(1000);
    EXPECT_TRUE(msgs.ok()) << msgs.status().to_string();
    if (!msgs.ok() || msgs->empty()) break;
    for (const auto& m : *msgs) out[{m.bucket.value(), m.offset.value()}] = m.record.find("id")->as_int();
  }
  return out;
}

TEST(Replication, FollowersPullEveryBucketFromItsLeaderKeepItOnDiskAndCatchUpAfterARestart) {
  Cluster cluster(3);
  ASSERT_TRUE(cluster.start_all()) << cluster.log(0);
  constexpr uint32_t kBuckets = 6;
  auto c = connect_to(cluster.address(0));
  auto w = c->writer({.topic = "rep", .bucket_column = "id", .num_buckets = kBuckets, .backend = "persisting",
                      .replication_factor = 3});
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  auto one = c->writer({.topic = "solo", .bucket_column = "id", .num_buckets = kBuckets, .backend = "persisting"});
  ASSERT_TRUE(one.ok()) << one.status().to_string();
  auto put = [&](int64_t from, int64_t to) {
    for (int64_t k = from; k < to; k += 50) {
      std::vector<Record> batch;
      for (int64_t i = k; i < k + 50 && i < to; ++i) batch.push_back(Record{{"id", i}});
      ASSERT_TRUE((*w)->put(batch).ok());
      ASSERT_TRUE((*one)->put(batch).ok());
    }
  };
  put(0, 300);
  ASSERT_TRUE(wait_replicated(cluster, 3, "rep", kBuckets, 300));

  // A follower killed and restarted finds its copies on disk and pulls what it missed.
  ASSERT_EQ(cluster.kill(2, SIGKILL), -1);
  ASSERT_TRUE(cluster.start(2)) << cluster.log(2);
  put(300, 600);  // the writers reconnect to the restarted node
  ASSERT_TRUE(wait_replicated(cluster, 3, "rep", kBuckets, 600));

  // Stopped, every node holds the whole replicated topic at the leaders' offsets; the factor-1
  // topic only on its owners.
  for (int i = 0; i < 3; ++i) ASSERT_EQ(cluster.kill(i, SIGTERM), 0) << cluster.log(i);
  std::map<std::pair<uint32_t, uint64_t>, int64_t> first;
  for (int i = 0; i < 3; ++i) {
    auto got = records_on_disk(cluster.dir() + "/" + cluster.id(i), "rep");
    EXPECT_EQ(got.size(), 600u) << cluster.id(i);
    if (i == 0) first = got;
    else EXPECT_EQ(got, first) << cluster.id(i) << " has another log";
  }
  std::set<int64_t> ids;
  for (const auto& [pos, id] : first) ids.insert(id);
  EXPECT_EQ(ids.size(), 600u);
  size_t solo_dirs = 0;
  for (int i = 0; i < 3; ++i)
    for (uint32_t b = 0; b < kBuckets; ++b)
      solo_dirs += std::filesystem::exists(cluster.dir() + "/" + cluster.id(i) + "/solo/bucket_" + std::to_string(b));
  EXPECT_EQ(solo_dirs, kBuckets) << "factor 1: each bucket on its owner only";
}

// Writers racing to create a replicated topic put at once: a leader that learns of the topic
// from a put (not from the creation) compares its leader epochs with the other members first
// and answers "retry shortly" until its next scan; the client waits for that instead of
// failing the put.
TEST(Replication, PutsRightAfterConcurrentCreationsOfAReplicatedTopicSucceed) {
  Cluster cluster(3);
  ASSERT_TRUE(cluster.start_all()) << cluster.log(0);
  constexpr int kWriters = 4;
  for (int round = 0; round < 3; ++round) {
    const std::string topic = "race" + std::to_string(round);
    std::vector<Status> got(kWriters);
    std::vector<std::thread> threads;
    for (int i = 0; i < kWriters; ++i)
      threads.emplace_back([&, i] {
        auto c = connect_to(cluster.address(0));
        auto w = c->writer({.topic = topic, .bucket_column = "id", .num_buckets = 4, .backend = "persisting",
                            .replication_factor = 3});
        if (!w.ok()) {
          got[i] = w.status();
          return;
        }
        std::vector<Record> batch;
        for (int64_t k = 0; k < 20; ++k) batch.push_back(Record{{"id", i * 100 + k}});
        got[i] = (*w)->put(batch);
      });
    for (auto& t : threads) t.join();
    for (int i = 0; i < kWriters; ++i) EXPECT_TRUE(got[i].ok()) << topic << " writer " << i << ": " << got[i].to_string();
  }
}

TEST(Replication, StaticZonesMustBeInTheListAndAgree) {
  Cluster cluster(2);
  // --zone alone with a static list of several nodes: the others would not know it.
  testing::Process p;
  std::string log = cluster.dir() + "/bad.log";
  auto members = cluster.members();
  ASSERT_TRUE(p.start({PERSISTINGD_BIN, "--id", "n1", "--listen", cluster.address(0), "--members", members,
                       "--zone", "za"},
                      log));
  EXPECT_NE(p.wait_exit(std::chrono::seconds(20)), 0);
  EXPECT_NE(testing::slurp(log).find("give every member's zone in the list"), std::string::npos)
      << testing::slurp(log);
  // A list that says otherwise.
  cluster.set_zones({"zb", "za"});
  testing::Process q;
  std::string log2 = cluster.dir() + "/bad2.log";
  ASSERT_TRUE(q.start({PERSISTINGD_BIN, "--id", "n1", "--listen", cluster.address(0), "--members",
                       cluster.members(), "--zone", "za"},
                      log2));
  EXPECT_NE(q.wait_exit(std::chrono::seconds(20)), 0);
  EXPECT_NE(testing::slurp(log2).find("is listed in zone zb but --zone is za"), std::string::npos)
      << testing::slurp(log2);
}

TEST(Replication, WithEtcdEachNodeRegistersItsZone) {
  testing::Etcd etcd;
  ASSERT_TRUE(etcd.start()) << etcd.log();
  Cluster cluster(3, {"--etcd", etcd.url(), "--etcd-ttl", "2", "--etcd-prefix", "/zones-test"});
  const char* zones[] = {"za", "zb", "zc"};
  for (int i = 0; i < 3; ++i) cluster.set_node_args(i, {"--zone", zones[i]});
  ASSERT_TRUE(cluster.start_all()) << cluster.log(0);
  auto c = connect_to(cluster.address(2));
  std::map<std::string, std::string> zone_of;
  for (int i = 0; i < 100 && zone_of.size() < 3; ++i) {  // bounded: until every node registered
    zone_of = member_zones(*c);
    if (zone_of.size() < 3) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(zone_of, (std::map<std::string, std::string>{{"n1", "za"}, {"n2", "zb"}, {"n3", "zc"}}));
  auto w = c->writer({.topic = "e3", .bucket_column = "id", .num_buckets = 12, .replication_factor = 3});
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  for (int i = 0; i < 3; ++i) {
    auto ci = connect_to(cluster.address(i));
    SCOPED_TRACE("through " + cluster.id(i));
    expect_one_replica_per_zone(*ci, "e3", 12, zone_of);
  }
}

}  // namespace
}  // namespace persisting
