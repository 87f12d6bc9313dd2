// The Kafka listener in a cluster: three persistingd processes on loopback, each with a Kafka
// port and static membership. kcat (librdkafka), bootstrapped from one node, produces to every
// partition and reads everything back through another; each partition's records land on the
// node that owns its bucket; a node answers requests for a partition it does not own with
// NOT_LEADER_OR_FOLLOWER and names the owner as the leader in Metadata.
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "kafka/broker/cluster.h"
#include "kafka/kafka_socket.h"
#include "kafka/protocol/record_batch.h"
#include "net/etcd_process.h"
#include "net/group_wire.h"
#include "net/node_process.h"
#include "persisting/client.h"
#include "persisting/v1/queue.grpc.pb.h"
#include "runtime/placement.h"
#include "util/run_process.h"

namespace persisting {
namespace {

using testing::Cluster;
using testing::free_port;

// Runs a shell command (bounded by `timeout`); its stdout, or the exit status in *rc.
std::string run(const std::string& cmd, int* rc) {
  std::string out;
  FILE* f = ::popen(("timeout 60 " + cmd).c_str(), "r");
  if (!f) {
    *rc = -1;
    return out;
  }
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  *rc = ::pclose(f);
  return out;
}

bool write_file(const std::string& path, const std::string& text) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) return false;
  bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  return std::fclose(f) == 0 && ok;
}

struct KafkaCluster {
  explicit KafkaCluster(int n) : nodes(n) {
    for (int i = 0; i < n; ++i) kafka_ports.push_back(free_port());
    use_members(n);
  }
  // With etcd membership (cluster_args holds --etcd): each node registers its own listener.
  KafkaCluster(int n, std::vector<std::string> cluster_args) : nodes(n, std::move(cluster_args)) {
    for (int i = 0; i < n; ++i) {
      kafka_ports.push_back(free_port());
      nodes.set_node_args(i, {"--kafka-listen", kafka_address(i), "--kafka-partitions", "6"});
    }
  }
  // Nodes started from now on have the first k nodes as members (gRPC and Kafka).
  void use_members(int k) {
    nodes.use_members(k);
    std::string members;
    for (int i = 0; i < k; ++i) members += (i ? "," : "") + nodes.id(i) + "=" + kafka_address(i);
    for (size_t i = 0; i < kafka_ports.size(); ++i)
      nodes.set_node_args(static_cast<int>(i), {"--kafka-listen", kafka_address(static_cast<int>(i)),
                                                "--kafka-members", members, "--kafka-partitions", "6"});
  }
  std::string kafka_address(int i) const { return "127.0.0.1:" + std::to_string(kafka_ports[i]); }
  bool start_all() {
    if (!nodes.start_all()) return false;
    for (size_t i = 0; i < kafka_ports.size(); ++i)
      if (!testing::port_open(kafka_ports[i])) return false;  // bound before the gRPC port
    return true;
  }
  std::string logs() const {
    std::string out;
    for (size_t i = 0; i < kafka_ports.size(); ++i) out += nodes.log(static_cast<int>(i));
    return out;
  }
  Cluster nodes;
  std::vector<int> kafka_ports;
};

// kcat, bootstrapped from bootstrap, produces count keyed records "<tag><i>:<tag>-v<i>" to
// partition p (acks=all); kcat's exit code.
int kcat_produce(const KafkaCluster& kc, const std::string& bootstrap, const std::string& topic, int p,
                 const std::string& tag, int count, std::string* out) {
  std::string lines;
  for (int k = 0; k < count; ++k) lines += tag + std::to_string(k) + ":" + tag + "-v" + std::to_string(k) + "\n";
  std::string in = kc.nodes.dir() + "/in-" + topic + "-" + std::to_string(p) + "-" + tag + ".txt";
  if (!write_file(in, lines)) return -1;
  int rc = 0;
  *out = run("kcat -b " + bootstrap + " -P -t " + topic + " -p " + std::to_string(p) +
                 " -K: -X request.required.acks=-1 < " + in + " 2>&1",
             &rc);
  return rc;
}

// kcat, bootstrapped from bootstrap, reads the whole topic: partition -> "key:value" in order.
std::map<int, std::vector<std::string>> kcat_consume(const std::string& bootstrap, const std::string& topic,
                                                     std::string* raw) {
  int rc = 0;
  *raw = run("kcat -b " + bootstrap + " -C -t " + topic + " -e -q -f '%p %k %s\\n' 2>&1", &rc);
  std::map<int, std::vector<std::string>> out;
  if (rc != 0) return out;
  std::istringstream lines(*raw);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream f(line);
    int p = -1;
    std::string k, v;
    f >> p >> k >> v;
    out[p].push_back(k + ":" + v);
  }
  return out;
}

// ListOffsets (latest) of partitions [0, n) through the Kafka port: partition -> (error, offset).
std::map<int, std::pair<int16_t, int64_t>> latest_offsets(int port, const std::string& topic, int n) {
  std::map<int, std::pair<int16_t, int64_t>> out;
  kafka::Client c(port);
  EXPECT_TRUE(c.connected());
  kafka::ListOffsetsRequest lo;
  lo.topics.push_back({topic, {}});
  for (int p = 0; p < n; ++p) lo.topics[0].partitions.push_back({p, -1, kafka::kListOffsetsLatest, 1});
  EXPECT_TRUE(c.send(kafka::frame(kafka::ApiKey::kListOffsets, 5, 2, lo)));
  auto lr = c.receive();
  EXPECT_TRUE(lr);
  if (!lr) return out;
  int32_t corr;
  auto offsets = kafka::decode_body<kafka::ListOffsetsResponse>(kafka::ApiKey::kListOffsets, 5, *lr, &corr);
  for (const auto& t : offsets.topics)
    for (const auto& op : t.partitions) out[op.partition_index] = {op.error_code, op.offset};
  return out;
}

// Metadata through the Kafka port: of these topics, or of every topic (nullopt).
kafka::MetadataResponse metadata(int port, std::optional<std::vector<std::string>> topics) {
  kafka::Client c(port);
  EXPECT_TRUE(c.connected());
  kafka::MetadataRequest m;
  m.topics = std::move(topics);
  EXPECT_TRUE(c.send(kafka::frame(kafka::ApiKey::kMetadata, 4, 1, m)));
  auto r = c.receive();
  EXPECT_TRUE(r);
  if (!r) return {};
  int32_t corr;
  return kafka::decode_body<kafka::MetadataResponse>(kafka::ApiKey::kMetadata, 4, *r, &corr);
}

// Each partition's leader in Metadata through the Kafka port.
std::map<int, int32_t> leaders(int port, const std::string& topic) {
  std::map<int, int32_t> out;
  for (const auto& t : metadata(port, std::vector<std::string>{topic}).topics)
    for (const auto& p : t.partitions) out[p.partition_index] = p.leader_id;
  return out;
}

// Metadata for all topics: partition count per topic, through the Kafka port.
std::map<std::string, size_t> all_topics(int port) {
  std::map<std::string, size_t> out;
  for (const auto& t : metadata(port, std::nullopt).topics)
    if (t.error_code == 0) out[t.name] = t.partitions.size();
  return out;
}

// bucket -> owner id, from cluster status through the node at address.
std::map<uint32_t, std::string> ownership(const std::string& address, const std::string& topic) {
  auto c = Client::connect({.server = address});
  EXPECT_TRUE(c.ok()) << c.status().to_string();
  std::map<uint32_t, std::string> out;
  if (!c.ok()) return out;
  auto st = (*c)->cluster_status(topic);
  EXPECT_TRUE(st.ok()) << st.status().to_string();
  if (!st.ok()) return out;
  for (const auto& [k, v] : st->find("ownership")->as_object()) out[std::stoul(k)] = v.as_string();
  return out;
}

TEST(KafkaCluster, KcatProducesToEveryPartitionThroughOneNodeAndReadsAllBackThroughAnother) {
  KafkaCluster kc(3);
  ASSERT_TRUE(kc.start_all()) << kc.logs();
  constexpr int kPartitions = 6, kPerPartition = 50;
  // A topic name whose 6 partitions fall on all three nodes (placement is by name).
  std::string topic;
  for (int n = 0; topic.empty() && n < 100; ++n) {
    std::vector<runtime::Member> members{{NodeId("n1"), ""}, {NodeId("n2"), ""}, {NodeId("n3"), ""}};
    std::set<std::string> used;
    for (int p = 0; p < kPartitions; ++p)
      used.insert(runtime::rendezvous_owner(members, "kc" + std::to_string(n), BucketId(p)).id.str());
    if (used.size() == 3) topic = "kc" + std::to_string(n);
  }
  ASSERT_FALSE(topic.empty());
  int rc = 0;

  // Metadata through n1 creates the topic (6 partitions) and names all three brokers.
  std::string meta = run("kcat -b " + kc.kafka_address(0) + " -L -t " + topic + " 2>&1", &rc);
  ASSERT_EQ(rc, 0) << meta;
  EXPECT_NE(meta.find("3 brokers"), std::string::npos) << meta;
  for (int i = 0; i < 3; ++i) EXPECT_NE(meta.find(kc.kafka_address(i)), std::string::npos) << meta;

  // Owners by gRPC (the cluster's own view); the test needs partitions on every node.
  auto owners = ownership(kc.nodes.address(1), topic);
  ASSERT_EQ(owners.size(), static_cast<size_t>(kPartitions));
  std::set<std::string> owning;
  for (const auto& [b, n] : owners) owning.insert(n);
  ASSERT_EQ(owning.size(), 3u) << "6 partitions over 3 nodes should use every node";

  // Metadata names each partition's owner as its leader, through any node.
  for (int i = 0; i < 3; ++i) {
    auto md = metadata(kc.kafka_ports[i], std::vector<std::string>{topic});
    ASSERT_EQ(md.brokers.size(), 3u);
    ASSERT_EQ(md.topics.size(), 1u);
    ASSERT_EQ(md.topics[0].partitions.size(), static_cast<size_t>(kPartitions));
    for (const auto& p : md.topics[0].partitions)
      EXPECT_EQ(p.leader_id, kafka::broker_id_for(owners[p.partition_index]))
          << "via " << kc.nodes.id(i) << " partition " << p.partition_index;
  }

  // kcat bootstrapped from n1 produces 50 keyed records to each partition (librdkafka sends each
  // to the partition's leader).
  for (int p = 0; p < kPartitions; ++p) {
    std::string lines;
    for (int k = 0; k < kPerPartition; ++k)
      lines += "k" + std::to_string(p) + "-" + std::to_string(k) + ":v" + std::to_string(p) + "-" + std::to_string(k) + "\n";
    std::string in = kc.nodes.dir() + "/in" + std::to_string(p) + ".txt";
    ASSERT_TRUE(write_file(in, lines));
    std::string out = run("kcat -b " + kc.kafka_address(0) + " -P -t " + topic + " -p " + std::to_string(p) +
                              " -K: -X request.required.acks=-1 < " + in + " 2>&1",
                          &rc);
    ASSERT_EQ(rc, 0) << out << kc.logs();
  }

  // kcat bootstrapped from n2 reads everything back, in order per partition.
  std::string got = run("kcat -b " + kc.kafka_address(1) + " -C -t " + topic + " -e -q -f '%p %k %s\\n' 2>&1", &rc);
  ASSERT_EQ(rc, 0) << got << kc.logs();
  std::map<int, std::vector<std::string>> per_partition;
  std::istringstream lines(got);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream f(line);
    int p;
    std::string k, v;
    f >> p >> k >> v;
    per_partition[p].push_back(k + ":" + v);
  }
  ASSERT_EQ(per_partition.size(), static_cast<size_t>(kPartitions)) << got;
  for (int p = 0; p < kPartitions; ++p) {
    ASSERT_EQ(per_partition[p].size(), static_cast<size_t>(kPerPartition)) << "partition " << p << "\n" << got.substr(0, 2000);
    for (int k = 0; k < kPerPartition; ++k)
      EXPECT_EQ(per_partition[p][k], "k" + std::to_string(p) + "-" + std::to_string(k) + ":v" + std::to_string(p) +
                                         "-" + std::to_string(k));
  }

  // Each partition's records live on its owner only (in its log, and in its bucket directory
  // once flushed): no other node has the bucket's directory.
  for (int p = 0; p < kPartitions; ++p)
    for (int i = 0; i < 3; ++i) {
      const std::string bucket = kc.nodes.dir() + "/" + kc.nodes.id(i) + "/" + topic + "/bucket_" + std::to_string(p);
      if (kc.nodes.id(i) != owners[p]) {
        EXPECT_FALSE(std::filesystem::exists(bucket)) << bucket;
      }
    }

  // Every node answers ListOffsets and Produce for the partitions it owns only: the others get
  // NOT_LEADER_OR_FOLLOWER and nothing is appended.
  for (int i = 0; i < 3; ++i) {
    kafka::Client c(kc.kafka_ports[i]);
    ASSERT_TRUE(c.connected());
    kafka::ListOffsetsRequest lo;
    lo.topics.push_back({topic, {}});
    for (int p = 0; p < kPartitions; ++p) lo.topics[0].partitions.push_back({p, -1, kafka::kListOffsetsLatest, 1});
    ASSERT_TRUE(c.send(kafka::frame(kafka::ApiKey::kListOffsets, 5, 2, lo)));
    auto lr = c.receive();
    ASSERT_TRUE(lr);
    int32_t corr;
    auto offsets = kafka::decode_body<kafka::ListOffsetsResponse>(kafka::ApiKey::kListOffsets, 5, *lr, &corr);
    ASSERT_EQ(offsets.topics.size(), 1u);
    ASSERT_EQ(offsets.topics[0].partitions.size(), static_cast<size_t>(kPartitions));
    for (const auto& op : offsets.topics[0].partitions) {
      const bool owned = owners[op.partition_index] == kc.nodes.id(i);
      EXPECT_EQ(op.error_code, owned ? 0 : 6) << kc.nodes.id(i) << " partition " << op.partition_index;
      if (owned) {
        EXPECT_EQ(op.offset, kPerPartition);
      }
    }

    kafka::RecordBatch b;
    kafka::Record r;
    r.key = "stray";
    r.value = "x";
    b.records.push_back(r);
    kafka::ProduceRequest pr;
    pr.acks = -1;
    pr.timeout_ms = 5000;
    pr.topics.push_back({topic, {}});
    for (int p = 0; p < kPartitions; ++p)
      if (owners[p] != kc.nodes.id(i)) {
        pr.topics[0].partitions.push_back({p, {}});
        ASSERT_TRUE(kafka::encode_record_batch(b, kafka::Compression::kNone, &pr.topics[0].partitions.back().records).ok());
      }
    ASSERT_TRUE(c.send(kafka::frame(kafka::ApiKey::kProduce, 8, 3, pr)));
    auto presp = c.receive();
    ASSERT_TRUE(presp);
    auto produced = kafka::decode_body<kafka::ProduceResponse>(kafka::ApiKey::kProduce, 8, *presp, &corr);
    ASSERT_EQ(produced.responses.size(), 1u);
    for (const auto& pp : produced.responses[0].partitions)
      EXPECT_EQ(pp.error_code, 6) << kc.nodes.id(i) << " partition " << pp.index;
  }
  // Nothing stray was appended: kcat through n3 still reads exactly 50 per partition.
  got = run("kcat -b " + kc.kafka_address(2) + " -C -t " + topic + " -e -q -f '%p\\n' 2>&1", &rc);
  ASSERT_EQ(rc, 0) << got;
  std::map<std::string, int> counts;
  std::istringstream again(got);
  while (std::getline(again, line)) ++counts[line];
  for (int p = 0; p < kPartitions; ++p) EXPECT_EQ(counts[std::to_string(p)], kPerPartition) << p;

  // DeleteTopics through n3 deletes every member's copy.
  {
    kafka::Client c(kc.kafka_ports[2]);
    kafka::DeleteTopicsRequest d;
    d.topic_names = {topic};
    d.timeout_ms = 10000;
    ASSERT_TRUE(c.send(kafka::frame(kafka::ApiKey::kDeleteTopics, 3, 9, d)));
    auto dr = c.receive();
    ASSERT_TRUE(dr);
    int32_t corr;
    auto deleted = kafka::decode_body<kafka::DeleteTopicsResponse>(kafka::ApiKey::kDeleteTopics, 3, *dr, &corr);
    ASSERT_EQ(deleted.responses.size(), 1u);
    EXPECT_EQ(deleted.responses[0].error_code, 0);
  }
  for (int i = 0; i < 3; ++i)
    EXPECT_FALSE(std::filesystem::exists(kc.nodes.dir() + "/" + kc.nodes.id(i) + "/" + topic)) << kc.nodes.id(i);
}

TEST(KafkaCluster, EveryNodeListsTheTopicsCreatedOnAnyNode) {
  KafkaCluster kc(3);
  ASSERT_TRUE(kc.start_all()) << kc.logs();
  // One topic created over gRPC through n1, one over Kafka through n3 (auto-creation); n2 has
  // used neither.
  {
    auto c = Client::connect({.server = kc.nodes.address(0)});
    ASSERT_TRUE(c.ok()) << c.status().to_string();
    auto w = (*c)->writer({.topic = "grpc-made", .num_buckets = 5});
    ASSERT_TRUE(w.ok()) << w.status().to_string();
    ASSERT_TRUE((*w)->put(Record{{"id", "a"}}).ok());
  }
  int rc = 0;
  std::string meta = run("kcat -b " + kc.kafka_address(2) + " -L -t kafka-made 2>&1", &rc);
  ASSERT_EQ(rc, 0) << meta;

  // Through n2: our ListTopics and Kafka's Metadata for all topics both name both topics.
  auto c = Client::connect({.server = kc.nodes.address(1)});
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  auto listed = (*c)->topics();
  ASSERT_TRUE(listed.ok()) << listed.status().to_string();
  std::map<std::string, uint32_t> names;
  for (const auto& t : *listed) names[t.topic] = t.num_buckets;
  EXPECT_EQ(names, (std::map<std::string, uint32_t>{{"grpc-made", 5}, {"kafka-made", 6}}));
  EXPECT_EQ(all_topics(kc.kafka_ports[1]), (std::map<std::string, size_t>{{"grpc-made", 5}, {"kafka-made", 6}}));
  std::string all = run("kcat -b " + kc.kafka_address(1) + " -L 2>&1", &rc);
  ASSERT_EQ(rc, 0) << all;
  EXPECT_NE(all.find("topic \"grpc-made\" with 5 partitions"), std::string::npos) << all;
  EXPECT_NE(all.find("topic \"kafka-made\" with 6 partitions"), std::string::npos) << all;

  // n3 gone: ListTopics says it could not ask n3 rather than answer without its topics; Kafka's
  // Metadata lists what it can (n1's topic).
  kc.nodes.kill(2, SIGKILL);
  auto partial = (*c)->topics();
  ASSERT_FALSE(partial.ok());
  EXPECT_EQ(partial.status().code(), Code::kUnavailable) << partial.status().to_string();
  EXPECT_NE(partial.status().message().find("n3"), std::string::npos) << partial.status().to_string();
  EXPECT_EQ(all_topics(kc.kafka_ports[1]).count("grpc-made"), 1u);
}

TEST(KafkaCluster, AfterARebalanceTheNewOwnerLeadsAndTheOldOneAnswersNotLeader) {
  KafkaCluster kc(3);
  constexpr int kPartitions = 6;
  // A topic name of which adding n3 moves some partitions (and leaves others).
  std::string topic;
  for (int n = 0; topic.empty() && n < 100; ++n) {
    std::vector<runtime::Member> members{{NodeId("n1"), ""}, {NodeId("n2"), ""}, {NodeId("n3"), ""}};
    int to_n3 = 0;
    for (int p = 0; p < kPartitions; ++p)
      to_n3 += runtime::rendezvous_owner(members, "rb" + std::to_string(n), BucketId(p)).id.str() == "n3";
    if (to_n3 > 0 && to_n3 < kPartitions) topic = "rb" + std::to_string(n);
  }
  ASSERT_FALSE(topic.empty());

  // Two nodes: kcat writes 20 records to every partition.
  kc.use_members(2);
  ASSERT_TRUE(kc.nodes.start(0) && kc.nodes.start(1)) << kc.nodes.log(0) << kc.nodes.log(1);
  std::string out;
  for (int p = 0; p < kPartitions; ++p)
    ASSERT_EQ(kcat_produce(kc, kc.kafka_address(0), topic, p, "a", 20, &out), 0) << out << kc.nodes.log(0);

  // n3 joins (every node restarted with three members), then the topic is rebalanced.
  EXPECT_EQ(kc.nodes.kill(0, SIGTERM), 0);
  EXPECT_EQ(kc.nodes.kill(1, SIGTERM), 0);
  kc.use_members(3);
  ASSERT_TRUE(kc.start_all()) << kc.logs();
  auto before = ownership(kc.nodes.address(0), topic);
  for (const auto& [b, n] : before) ASSERT_NE(n, "n3");
  auto reb = testing::run_process({PERSISTING_BIN, "cluster", "rebalance", "--server", kc.nodes.address(0), "--topic", topic});
  ASSERT_EQ(reb.exit_code, 0) << reb.out << reb.err;
  auto after = ownership(kc.nodes.address(1), topic);
  std::set<int> moved;
  for (const auto& [b, n] : after)
    if (n == "n3") moved.insert(static_cast<int>(b));
  ASSERT_FALSE(moved.empty());

  // The old owners answer NOT_LEADER_OR_FOLLOWER for the moved partitions; n3 has their 20
  // records; Metadata through every node names n3 the leader.
  for (int p : moved) {
    const int old_owner = kc.nodes.index_of(before[p]);
    EXPECT_EQ(latest_offsets(kc.kafka_ports[old_owner], topic, kPartitions)[p].first, 6) << "partition " << p;
    auto at_n3 = latest_offsets(kc.kafka_ports[2], topic, kPartitions)[p];
    EXPECT_EQ(at_n3.first, 0);
    EXPECT_EQ(at_n3.second, 20);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(leaders(kc.kafka_ports[i], topic)[p], kafka::broker_id_for("n3")) << p;
  }

  // kcat, bootstrapped from n2, writes 10 more to every partition (the moved ones go to n3), and
  // kcat via n1 reads every partition back whole, in order.
  for (int p = 0; p < kPartitions; ++p)
    ASSERT_EQ(kcat_produce(kc, kc.kafka_address(1), topic, p, "b", 10, &out), 0) << out << kc.logs();
  std::string raw;
  auto got = kcat_consume(kc.kafka_address(0), topic, &raw);
  ASSERT_EQ(got.size(), static_cast<size_t>(kPartitions)) << raw;
  for (int p = 0; p < kPartitions; ++p) {
    std::vector<std::string> want;
    for (int k = 0; k < 20; ++k) want.push_back("a" + std::to_string(k) + ":a-v" + std::to_string(k));
    for (int k = 0; k < 10; ++k) want.push_back("b" + std::to_string(k) + ":b-v" + std::to_string(k));
    EXPECT_EQ(got[p], want) << "partition " << p;
  }
  for (int p : moved)
    EXPECT_EQ(latest_offsets(kc.kafka_ports[2], topic, kPartitions)[p].second, 30) << "partition " << p;
}

TEST(KafkaCluster, AGroupHasOneCoordinatorAndResumesFromItsCommitsThroughAnotherNode) {
  KafkaCluster kc(3);
  ASSERT_TRUE(kc.start_all()) << kc.logs();
  constexpr int kPartitions = 6;
  const std::string topic = "grouped";
  std::string out;
  for (int p = 0; p < kPartitions; ++p)
    ASSERT_EQ(kcat_produce(kc, kc.kafka_address(0), topic, p, "a", 20, &out), 0) << out << kc.logs();

  // Every node names the same coordinator for the group.
  std::set<int32_t> coordinators;
  for (int i = 0; i < 3; ++i) {
    kafka::Client c(kc.kafka_ports[i]);
    ASSERT_TRUE(c.connected());
    kafka::FindCoordinatorRequest fc;
    fc.key = "g1";
    ASSERT_TRUE(c.send(kafka::frame(kafka::ApiKey::kFindCoordinator, 2, 1, fc)));
    auto r = c.receive();
    ASSERT_TRUE(r);
    int32_t corr;
    auto coord = kafka::decode_body<kafka::FindCoordinatorResponse>(kafka::ApiKey::kFindCoordinator, 2, *r, &corr);
    EXPECT_EQ(coord.error_code, 0);
    coordinators.insert(coord.node_id);
  }
  ASSERT_EQ(coordinators.size(), 1u);
  bool known = false;
  for (int i = 0; i < 3; ++i) known = known || kafka::broker_id_for(kc.nodes.id(i)) == *coordinators.begin();
  EXPECT_TRUE(known);

  // A group member bootstrapped from n2 reads every record and commits as it closes.
  auto group_read = [&](const std::string& bootstrap, std::map<int, std::vector<std::string>>* got) {
    int rc = 0;
    std::string raw = run("kcat -b " + bootstrap + " -G g1 -X auto.offset.reset=earliest -e -q -f '%p %k %s\\n' " +
                              topic + " 2>&1",
                          &rc);
    std::istringstream lines(raw);
    std::string line;
    while (std::getline(lines, line)) {
      std::istringstream f(line);
      int p = -1;
      std::string k, v;
      f >> p >> k >> v;
      (*got)[p].push_back(k + ":" + v);
    }
    return rc == 0 ? std::string() : raw;
  };
  std::map<int, std::vector<std::string>> first;
  std::string failed = group_read(kc.kafka_address(1), &first);
  ASSERT_TRUE(failed.empty()) << failed << kc.logs();
  ASSERT_EQ(first.size(), static_cast<size_t>(kPartitions));
  for (const auto& [p, records] : first) EXPECT_EQ(records.size(), 20u) << p;

  // Five more per partition; a member bootstrapped from n3 resumes at the group's commits and
  // reads exactly the new ones.
  for (int p = 0; p < kPartitions; ++p)
    ASSERT_EQ(kcat_produce(kc, kc.kafka_address(0), topic, p, "b", 5, &out), 0) << out;
  std::map<int, std::vector<std::string>> second;
  failed = group_read(kc.kafka_address(2), &second);
  ASSERT_TRUE(failed.empty()) << failed << kc.logs();
  ASSERT_EQ(second.size(), static_cast<size_t>(kPartitions));
  for (const auto& [p, records] : second) {
    std::vector<std::string> want;
    for (int k = 0; k < 5; ++k) want.push_back("b" + std::to_string(k) + ":b-v" + std::to_string(k));
    EXPECT_EQ(records, want) << "partition " << p;
  }
}

// The broker each node's FindCoordinator names for a Kafka group, through the Kafka port.
int32_t kafka_coordinator(int port, const std::string& group) {
  kafka::Client c(port);
  EXPECT_TRUE(c.connected());
  kafka::FindCoordinatorRequest fc;
  fc.key = group;
  EXPECT_TRUE(c.send(kafka::frame(kafka::ApiKey::kFindCoordinator, 2, 1, fc)));
  auto r = c.receive();
  EXPECT_TRUE(r);
  if (!r) return -1;
  int32_t corr;
  auto coord = kafka::decode_body<kafka::FindCoordinatorResponse>(kafka::ApiKey::kFindCoordinator, 2, *r, &corr);
  EXPECT_EQ(coord.error_code, 0);
  return coord.node_id;
}

// A `kcat -G group` member bootstrapped from bootstrap reads everything it is given (from the
// group's commits, else the earliest) and commits as it closes: partition -> "key:value".
std::string kcat_group_read(const std::string& bootstrap, const std::string& group, const std::string& topic,
                            std::map<int, std::vector<std::string>>* got) {
  int rc = 0;
  std::string raw = run("kcat -b " + bootstrap + " -G " + group + " -X auto.offset.reset=earliest -e -q -f '%p %k %s\\n' " +
                            topic + " 2>&1",
                        &rc);
  std::istringstream lines(raw);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream f(line);
    int p = -1;
    std::string k, v;
    f >> p >> k >> v;
    (*got)[p].push_back(k + ":" + v);
  }
  return rc == 0 ? std::string() : raw;
}

// A Kafka group's coordinator (one broker per group id) and our gRPC coordinator of the same
// group on a topic (the owner of bucket stable_hash64(group) % num_buckets) are different nodes
// here; still the Kafka group's commits are the ones `persisting groups` shows through any node,
// and a gRPC reset of the group is where the next Kafka member resumes.
TEST(KafkaCluster, AKafkaGroupCommitsToTheTopicsGrpcGroupCoordinator) {
  KafkaCluster kc(3);
  ASSERT_TRUE(kc.start_all()) << kc.logs();
  constexpr int kPartitions = 6;
  const std::string topic = "shared";
  std::string out;
  for (int p = 0; p < kPartitions; ++p)
    ASSERT_EQ(kcat_produce(kc, kc.kafka_address(0), topic, p, "a", 20, &out), 0) << out << kc.logs();

  // A group whose two coordinators differ, or the test would prove nothing.
  auto owners = ownership(kc.nodes.address(0), topic);
  ASSERT_EQ(owners.size(), static_cast<size_t>(kPartitions));
  std::map<int32_t, std::string> node_of;
  for (int i = 0; i < 3; ++i) node_of[kafka::broker_id_for(kc.nodes.id(i))] = kc.nodes.id(i);
  std::string group, kafka_node, grpc_node;
  for (int n = 0; group.empty() && n < 50; ++n) {
    std::string g = "kg" + std::to_string(n);
    std::string k = node_of[kafka_coordinator(kc.kafka_ports[0], g)];
    std::string r = owners[net::coordinator_bucket(g, kPartitions)];
    if (!k.empty() && !r.empty() && k != r) group = g, kafka_node = k, grpc_node = r;
  }
  ASSERT_FALSE(group.empty()) << "no group name among 50 with different Kafka and gRPC coordinators";
  ASSERT_NE(kafka_node, grpc_node);

  // A Kafka member reads everything and commits as it closes.
  std::map<int, std::vector<std::string>> first;
  std::string failed = kcat_group_read(kc.kafka_address(1), group, topic, &first);
  ASSERT_TRUE(failed.empty()) << failed << kc.logs();
  ASSERT_EQ(first.size(), static_cast<size_t>(kPartitions));
  for (const auto& [p, records] : first) EXPECT_EQ(records.size(), 20u) << p;

  // Our API, through every node, shows those commits: 20 (the next offset) in every bucket.
  for (int i = 0; i < 3; ++i) {
    auto c = Client::connect({.server = kc.nodes.address(i)});
    ASSERT_TRUE(c.ok()) << c.status().to_string();
    auto groups = (*c)->groups(topic);
    ASSERT_TRUE(groups.ok()) << groups.status().to_string();
    const GroupInfo* g = nullptr;
    for (const auto& x : *groups)
      if (x.group == group) g = &x;
    ASSERT_NE(g, nullptr) << "group " << group << " (Kafka coordinator " << kafka_node << ", gRPC coordinator "
                          << grpc_node << ") not listed through " << kc.nodes.id(i) << kc.logs();
    ASSERT_EQ(g->buckets.size(), static_cast<size_t>(kPartitions));
    for (const auto& b : g->buckets) {
      ASSERT_TRUE(b.committed.has_value()) << "bucket " << b.bucket.value();
      EXPECT_EQ(b.committed->value(), 20u) << "bucket " << b.bucket.value();
      EXPECT_EQ(b.lag, 0u) << "bucket " << b.bucket.value();
    }
  }

  // A reset through our API (to offset 12) is where the next Kafka member, via n3, resumes. The
  // Kafka group's member in our group leaves once kcat has left; until then a reset is refused.
  auto c = Client::connect({.server = kc.nodes.address(2)});
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  Status reset;
  for (int attempt = 0; attempt < 50; ++attempt) {
    reset = (*c)->reset_group(topic, group, GroupReset{GroupReset::kOffset, 12});
    if (reset.code() != Code::kFailedPrecondition) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(reset.ok()) << reset.to_string();
  std::map<int, std::vector<std::string>> second;
  failed = kcat_group_read(kc.kafka_address(2), group, topic, &second);
  ASSERT_TRUE(failed.empty()) << failed << kc.logs();
  ASSERT_EQ(second.size(), static_cast<size_t>(kPartitions)) << kc.logs();
  for (const auto& [p, records] : second) {
    std::vector<std::string> want;
    for (int k = 12; k < 20; ++k) want.push_back("a" + std::to_string(k) + ":a-v" + std::to_string(k));
    EXPECT_EQ(records, want) << "partition " << p;
  }

  // With the topic's group coordinator gone, the Kafka coordinator (alive) answers OffsetCommit
  // and OffsetFetch of the topic's partitions COORDINATOR_NOT_AVAILABLE (15), which clients retry.
  int grpc_index = -1, kafka_index = -1;
  for (int i = 0; i < 3; ++i) {
    if (kc.nodes.id(i) == grpc_node) grpc_index = i;
    if (kc.nodes.id(i) == kafka_node) kafka_index = i;
  }
  ASSERT_GE(grpc_index, 0);
  ASSERT_GE(kafka_index, 0);
  kc.nodes.kill(grpc_index, SIGKILL);
  kafka::Client k(kc.kafka_ports[kafka_index]);
  ASSERT_TRUE(k.connected());
  kafka::OffsetCommitRequest oc;  // generation -1, no member: a commit without membership
  oc.group_id = group;
  oc.topics.push_back({topic, {}});
  for (int p = 0; p < kPartitions; ++p) oc.topics[0].partitions.push_back({p, 3, -1, -1, std::nullopt});
  ASSERT_TRUE(k.send(kafka::frame(kafka::ApiKey::kOffsetCommit, 2, 7, oc)));
  auto ocr = k.receive();
  ASSERT_TRUE(ocr);
  int32_t corr;
  auto committed = kafka::decode_body<kafka::OffsetCommitResponse>(kafka::ApiKey::kOffsetCommit, 2, *ocr, &corr);
  ASSERT_EQ(committed.topics.size(), 1u);
  ASSERT_EQ(committed.topics[0].partitions.size(), static_cast<size_t>(kPartitions));
  for (const auto& p : committed.topics[0].partitions) EXPECT_EQ(p.error_code, 15) << "partition " << p.partition_index;
  kafka::OffsetFetchRequest of;
  of.group_id = group;
  of.topics.emplace();
  of.topics->push_back({topic, {0, 1}});
  ASSERT_TRUE(k.send(kafka::frame(kafka::ApiKey::kOffsetFetch, 5, 8, of)));
  auto ofr = k.receive();
  ASSERT_TRUE(ofr);
  auto fetched = kafka::decode_body<kafka::OffsetFetchResponse>(kafka::ApiKey::kOffsetFetch, 5, *ofr, &corr);
  ASSERT_EQ(fetched.topics.size(), 1u);
  ASSERT_EQ(fetched.topics[0].partitions.size(), 2u);
  for (const auto& p : fetched.topics[0].partitions) EXPECT_EQ(p.error_code, 15) << "partition " << p.partition_index;
}

TEST(KafkaCluster, WithEtcdEachNodeRegistersItsListenerAndKcatReachesEveryPartition) {
  testing::Etcd etcd;
  ASSERT_TRUE(etcd.start()) << etcd.log();
  KafkaCluster kc(3, {"--etcd", etcd.url(), "--etcd-prefix", "/kafka-test"});
  ASSERT_TRUE(kc.start_all()) << kc.logs();
  // Every node sees the three listeners (etcd's view reaches each node within its watch).
  for (int i = 0; i < 3; ++i) {
    size_t brokers = 0;
    for (int attempt = 0; attempt < 100 && brokers != 3; ++attempt) {  // bounded: 10 s
      kafka::Client c(kc.kafka_ports[i]);
      kafka::MetadataRequest m;
      m.topics = std::vector<std::string>{};
      if (c.send(kafka::frame(kafka::ApiKey::kMetadata, 4, 1, m)))
        if (auto r = c.receive()) {
          int32_t corr;
          brokers = kafka::decode_body<kafka::MetadataResponse>(kafka::ApiKey::kMetadata, 4, *r, &corr).brokers.size();
        }
      if (brokers != 3) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_EQ(brokers, 3u) << kc.nodes.id(i);
  }
  std::string topic;  // 6 partitions on all three nodes
  for (int n = 0; topic.empty() && n < 100; ++n) {
    std::vector<runtime::Member> members{{NodeId("n1"), ""}, {NodeId("n2"), ""}, {NodeId("n3"), ""}};
    std::set<std::string> used;
    for (int p = 0; p < 6; ++p) used.insert(runtime::rendezvous_owner(members, "e" + std::to_string(n), BucketId(p)).id.str());
    if (used.size() == 3) topic = "e" + std::to_string(n);
  }
  std::string out;
  for (int p = 0; p < 6; ++p)
    ASSERT_EQ(kcat_produce(kc, kc.kafka_address(0), topic, p, "a", 10, &out), 0) << out << kc.logs();
  std::string raw;
  auto got = kcat_consume(kc.kafka_address(2), topic, &raw);
  ASSERT_EQ(got.size(), 6u) << raw;
  for (const auto& [p, records] : got) EXPECT_EQ(records.size(), 10u) << p;
  auto owners = ownership(kc.nodes.address(0), topic);
  for (int p = 0; p < 6; ++p)
    EXPECT_EQ(latest_offsets(kc.kafka_ports[kc.nodes.index_of(owners[p])], topic, 6)[p],
              (std::pair<int16_t, int64_t>{0, 10}))
        << p;
}

// Produces one record to partition p through the Kafka port; the partition's error code.
int16_t produce_one(int port, const std::string& topic, int p, const std::string& value) {
  kafka::Client c(port);
  EXPECT_TRUE(c.connected());
  kafka::RecordBatch b;
  kafka::Record r;
  r.key = "k";
  r.value = value;
  b.records.push_back(r);
  kafka::ProduceRequest pr;
  pr.acks = -1;
  pr.timeout_ms = 5000;
  pr.topics.push_back({topic, {{p, {}}}});
  EXPECT_TRUE(kafka::encode_record_batch(b, kafka::Compression::kNone, &pr.topics[0].partitions[0].records).ok());
  EXPECT_TRUE(c.send(kafka::frame(kafka::ApiKey::kProduce, 8, 1, pr)));
  auto resp = c.receive();
  EXPECT_TRUE(resp);
  if (!resp) return -1;
  int32_t corr;
  auto produced = kafka::decode_body<kafka::ProduceResponse>(kafka::ApiKey::kProduce, 8, *resp, &corr);
  return produced.responses.empty() ? -1 : produced.responses[0].partitions[0].error_code;
}

TEST(KafkaCluster, AFencedPartitionRefusesProducesAsNotLeaderAndTakesThemOnceLifted) {
  KafkaCluster kc(2);
  ASSERT_TRUE(kc.start_all()) << kc.logs();
  const std::string topic = "fenced";
  std::string out;
  ASSERT_EQ(kcat_produce(kc, kc.kafka_address(0), topic, 0, "a", 3, &out), 0) << out;
  auto owners = ownership(kc.nodes.address(0), topic);
  const int owner = kc.nodes.index_of(owners[0]);
  auto stub = v1::QueueService::NewStub(grpc::CreateChannel(kc.nodes.address(owner), grpc::InsecureChannelCredentials()));
  auto fence = [&](bool lift) {
    v1::FenceBucketRequest f;
    f.set_topic(topic);
    f.set_bucket(0);
    f.set_target("elsewhere");
    f.set_lift(lift);
    v1::FenceBucketResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    auto st = stub->FenceBucket(&ctx, f, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return resp.records();
  };
  EXPECT_EQ(fence(false), 3u);  // the fence waited for the produces before it: all 3 counted
  // While a rebalance fences the bucket, its owner refuses produces (the client refreshes its
  // metadata and retries) and nothing is appended; reads go on.
  EXPECT_EQ(produce_one(kc.kafka_ports[owner], topic, 0, "during"), 6);
  EXPECT_EQ(latest_offsets(kc.kafka_ports[owner], topic, 1)[0], (std::pair<int16_t, int64_t>{0, 3}));
  fence(true);
  EXPECT_EQ(produce_one(kc.kafka_ports[owner], topic, 0, "after"), 0);
  EXPECT_EQ(latest_offsets(kc.kafka_ports[owner], topic, 1)[0], (std::pair<int16_t, int64_t>{0, 4}));
}

}  // namespace
}  // namespace persisting
