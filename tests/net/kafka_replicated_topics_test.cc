// Replicated topics made and described over Kafka (issue 18; docs/kafka.md, "In a cluster"):
// CreateTopics with replication factor 3, Metadata naming a partition's replicas, in-sync set
// and leader epoch, and an idempotent producer's retry answered as a duplicate by the leader
// elected after the old one was SIGKILLed. Three persistingd processes on loopback with Kafka
// listeners, a raw Kafka client (tests/kafka/kafka_socket.h) and kcat; every wait is bounded and
// waits for a condition (cluster status), never for time.
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <set>
#include <thread>

#include "kafka/broker/cluster.h"
#include "kafka/broker/error_codes.h"
#include "kafka/kafka_socket.h"
#include "kafka/protocol/record_batch.h"
#include "net/kafka_nodes.h"
#include "net/leader_view.h"
#include "net/node_process.h"
#include "util/run_process.h"

namespace persisting {
namespace {

using kafka::ErrorCode;
using kafka::error_value;
using testing::KafkaNodes;
using testing::View;
using testing::wait_led;

// One request through the Kafka port and its decoded answer (a default one when none came).
template <class Resp, class Req>
Resp call(int port, kafka::ApiKey key, int16_t version, const Req& req) {
  kafka::Client c(port);
  EXPECT_TRUE(c.connected());
  EXPECT_TRUE(c.send(kafka::frame(key, version, 1, req)));
  auto r = c.receive();
  EXPECT_TRUE(r) << "no answer from port " << port;
  if (!r) return Resp{};
  int32_t corr;
  return kafka::decode_body<Resp>(key, version, *r, &corr);
}

// CreateTopics of one partition at this replication factor: (error code, message).
std::pair<int16_t, std::string> create_topic(int port, const std::string& name, int16_t factor) {
  kafka::CreateTopicsRequest req;
  kafka::CreateTopicsRequest::Topic t;
  t.name = name;
  t.num_partitions = 1;
  t.replication_factor = factor;
  req.topics.push_back(t);
  auto r = call<kafka::CreateTopicsResponse>(port, kafka::ApiKey::kCreateTopics, 4, req);
  if (r.topics.size() != 1) return {-1, "no answer"};
  return {r.topics[0].error_code, r.topics[0].error_message.value_or("")};
}

// Partition 0 of topic in Metadata v8 through port.
kafka::MetadataResponse::Partition partition0(int port, const std::string& topic) {
  kafka::MetadataRequest m;
  m.topics = std::vector<std::string>{topic};
  m.allow_auto_topic_creation = false;
  auto r = call<kafka::MetadataResponse>(port, kafka::ApiKey::kMetadata, 8, m);
  if (r.topics.size() != 1 || r.topics[0].partitions.size() != 1) return {};
  return r.topics[0].partitions[0];
}

// Produces values [from, to) (id_values) as one batch to partition 0 with acks=-1; as producer
// (id, epoch 0, base sequence) when id >= 0. The partition's answer.
kafka::ProduceResponse::Partition produce(int port, const std::string& topic, int from, int to, int64_t id = -1,
                                          int32_t sequence = -1) {
  kafka::RecordBatch b;
  b.producer_id = id;
  b.producer_epoch = id >= 0 ? 0 : -1;
  b.base_sequence = sequence;
  for (int i = from; i < to; ++i) {
    kafka::Record r;
    r.offset_delta = i - from;
    r.value = "{\"id\":" + std::to_string(i) + "}";
    b.records.push_back(r);
  }
  kafka::ProduceRequest pr;
  pr.acks = -1;
  pr.timeout_ms = 20000;
  pr.topics.push_back({topic, {{0, {}}}});
  EXPECT_TRUE(kafka::encode_record_batch(b, kafka::Compression::kNone, &pr.topics[0].partitions[0].records).ok());
  auto r = call<kafka::ProduceResponse>(port, kafka::ApiKey::kProduce, 8, pr);
  if (r.responses.size() != 1 || r.responses[0].partitions.size() != 1) return {};
  return r.responses[0].partitions[0];
}

std::vector<int64_t> ids(int64_t from, int64_t to) {
  std::vector<int64_t> out;
  for (int64_t i = from; i < to; ++i) out.push_back(i);
  return out;
}

// The index of the node leading bucket 0 of topic once its in-sync set exists (the followers
// learn a new topic and fetch within seconds); -1 after 30 s.
int wait_leader(KafkaNodes& kn, const std::string& topic) {
  for (int k = 0; k < 300; ++k) {
    if (int i = testing::leader_index(kn.nodes, 3, topic); i >= 0) return i;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return -1;
}

std::set<int32_t> as_set(const std::vector<int32_t>& v) { return {v.begin(), v.end()}; }

// CreateTopics accepts 1, 3 (as many as the members) and -1 (the default, 1), and refuses the
// others with INVALID_REPLICATION_FACTOR naming why; Metadata then names the replicated
// partition's three replicas through every node, its in-sync set, and epoch 0 before any
// election; kcat -L shows them.
TEST(KafkaReplicatedTopics, CreateTopicsMakesAFactorThreeTopicAndMetadataNamesItsReplicas) {
  KafkaNodes kn({"--replica-lag-max-ms", "600000"});
  ASSERT_TRUE(kn.nodes.start_all()) << kn.nodes.log(0);
  auto made = create_topic(kn.ports[0], "kt", 3);
  ASSERT_EQ(made.first, 0) << made.second;
  auto two = create_topic(kn.ports[0], "kt2", 2);
  EXPECT_EQ(two.first, error_value(ErrorCode::INVALID_REPLICATION_FACTOR));
  EXPECT_NE(two.second.find("replication factor 2 is not supported: 1, 3 or 5"), std::string::npos) << two.second;
  auto five = create_topic(kn.ports[1], "kt5", 5);
  EXPECT_EQ(five.first, error_value(ErrorCode::INVALID_REPLICATION_FACTOR));
  EXPECT_NE(five.second.find("needs at least 5 nodes; the cluster has 3"), std::string::npos) << five.second;
  auto dflt = create_topic(kn.ports[2], "kt1", -1);
  EXPECT_EQ(dflt.first, 0) << dflt.second;

  // Refused topics were not made anywhere.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(partition0(kn.ports[i], "kt2").leader_id, -1);
    EXPECT_EQ(partition0(kn.ports[i], "kt5").leader_id, -1);
  }
  std::set<int32_t> brokers;
  for (int i = 0; i < 3; ++i) brokers.insert(kafka::broker_id_for(kn.nodes.id(i)));

  // The leader's in-sync set holds all three once the followers fetched (records make it move).
  const int leader = wait_leader(kn, "kt");
  ASSERT_GE(leader, 0);
  auto put = produce(kn.ports[leader], "kt", 0, 1);
  ASSERT_EQ(put.error_code, 0) << put.error_message.value_or("");
  auto v = wait_led(kn.nodes, leader, "kt", [](const View& v) { return v.in_sync.size() == 3 && v.high_watermark == 1; });
  ASSERT_TRUE(v && v->in_sync.size() == 3);
  const int32_t leader_broker = kafka::broker_id_for(kn.nodes.id(leader));
  for (int i = 0; i < 3; ++i) {
    // A follower knows the leader and itself once its last fetch's answer said it is in the set.
    const std::set<int32_t> want =
        i == leader ? brokers : std::set<int32_t>{leader_broker, kafka::broker_id_for(kn.nodes.id(i))};
    auto p = partition0(kn.ports[i], "kt");
    for (int k = 0; k < 100 && as_set(p.isr_nodes) != want; ++k) {  // bounded: 10 s
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      p = partition0(kn.ports[i], "kt");
    }
    EXPECT_EQ(p.error_code, 0) << i;
    EXPECT_EQ(p.leader_id, leader_broker) << i;
    EXPECT_EQ(p.leader_epoch, 0) << i;
    EXPECT_EQ(p.replica_nodes.size(), 3u) << i;
    EXPECT_EQ(as_set(p.replica_nodes), brokers) << i;
    ASSERT_FALSE(p.isr_nodes.empty()) << i;
    EXPECT_EQ(p.isr_nodes.front(), leader_broker) << i;
    EXPECT_EQ(as_set(p.isr_nodes), want) << i;
  }
  // Every member names the same cluster (clients warn when brokers of one list differ).
  kafka::MetadataRequest none;
  none.topics = std::vector<std::string>{};
  std::set<std::string> cluster_ids;
  for (int i = 0; i < 3; ++i)
    cluster_ids.insert(
        call<kafka::MetadataResponse>(kn.ports[i], kafka::ApiKey::kMetadata, 8, none).cluster_id.value_or(""));
  EXPECT_EQ(cluster_ids.size(), 1u);
  EXPECT_EQ(*cluster_ids.begin(), "persisting:" + kn.nodes.id(0) + "," + kn.nodes.id(1) + "," + kn.nodes.id(2));
  auto one = partition0(kn.ports[0], "kt1");
  EXPECT_EQ(one.replica_nodes.size(), 1u);
  EXPECT_EQ(one.replica_nodes, one.isr_nodes);

  auto listed = testing::run_process({"/usr/bin/timeout", "30", "kcat", "-b", kn.kafka(leader), "-L", "-t", "kt"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  std::vector<int32_t> sorted(brokers.begin(), brokers.end());
  for (int32_t b : sorted)
    EXPECT_NE(listed.out.find(std::to_string(b)), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find("replicas: "), std::string::npos) << listed.out;
  const auto at = listed.out.find("replicas: ");
  const std::string line = at == std::string::npos ? "" : listed.out.substr(at, listed.out.find('\n', at) - at);
  EXPECT_EQ(std::count(line.begin(), line.end(), ','), 5) << "three replicas, then three in sync: " << line;
  for (int i = 0; i < 3; ++i) EXPECT_EQ(kn.nodes.kill(i, SIGTERM), 0) << kn.nodes.log(i);
}

// An idempotent producer's batch acknowledged by the leader (and so on every in-sync replica),
// whose answer the producer did not get: the leader is SIGKILLed, a follower elected, and the
// producer's retry (same id, epoch, sequence) is answered by the new leader with the batch's
// first offset, not appended again; its next batch follows. Fails without the followers' copy
// of the producer's state: the new leader answers UNKNOWN_PRODUCER_ID (the client then takes a
// new id and appends the batch again).
TEST(KafkaReplicatedTopics, AnIdempotentRetryAfterAnElectionIsAnsweredWithItsFirstOffset) {
  KafkaNodes kn({"--replica-lag-max-ms", "3000"});
  ASSERT_TRUE(kn.nodes.start_all()) << kn.nodes.log(0);
  auto made = create_topic(kn.ports[0], "ki", 3);
  ASSERT_EQ(made.first, 0) << made.second;
  const int old = wait_leader(kn, "ki");
  ASSERT_GE(old, 0);
  const int port = kn.ports[old];
  // Each follower fetches (it learns the new topic within seconds): its Metadata then names it
  // in the set. Before that, a follower could leave the set (3 s lag limit) under a produce.
  for (int i = 0; i < 3; ++i)
    for (int k = 0; i != old && k < 300 && partition0(kn.ports[i], "ki").isr_nodes.size() < 2; ++k)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));

  auto init = call<kafka::InitProducerIdResponse>(port, kafka::ApiKey::kInitProducerId, 1,
                                                  kafka::InitProducerIdRequest{});
  ASSERT_EQ(init.error_code, 0);
  const int64_t pid = init.producer_id;
  auto a = produce(port, "ki", 0, 5, pid, 0);
  ASSERT_EQ(a.error_code, 0) << a.error_message.value_or("");
  EXPECT_EQ(a.base_offset, 0);
  auto b = produce(port, "ki", 5, 10, pid, 5);
  ASSERT_EQ(b.error_code, 0) << b.error_message.value_or("");
  EXPECT_EQ(b.base_offset, 5);
  // A later acks=-1 produce: its records reach each follower after the producer's state of the
  // batch above (recorded when that batch was appended), so once every follower has them the
  // state is installed there too.
  auto later = produce(port, "ki", 10, 15);
  ASSERT_EQ(later.error_code, 0) << later.error_message.value_or("");
  auto v = wait_led(kn.nodes, old, "ki", [](const View& v) { return v.in_sync.size() == 3 && v.high_watermark == 15; });
  ASSERT_TRUE(v && v->in_sync.size() == 3);

  const std::string old_id = kn.nodes.id(old);
  const std::string next_id = v->replicas[1] == old_id ? v->replicas[0] : v->replicas[1];
  const int next = kn.nodes.index_of(next_id);
  ASSERT_EQ(kn.nodes.kill(old, SIGKILL), -1);
  auto elected = testing::run_process({PERSISTING_BIN, "cluster", "elect", "--server", kn.nodes.address(next),
                                       "--topic", "ki", "--bucket", "0", "--node", next_id});
  ASSERT_EQ(elected.exit_code, 0) << elected.err;
  EXPECT_EQ(partition0(kn.ports[next], "ki").leader_id, kafka::broker_id_for(next_id));
  EXPECT_GT(partition0(kn.ports[next], "ki").leader_epoch, 0);

  auto retried = produce(kn.ports[next], "ki", 5, 10, pid, 5);
  EXPECT_EQ(retried.error_code, 0) << retried.error_message.value_or("");
  EXPECT_EQ(retried.base_offset, 5) << "the retry was not answered with its first offset";
  auto after = produce(kn.ports[next], "ki", 15, 20, pid, 10);
  EXPECT_EQ(after.error_code, 0) << after.error_message.value_or("");
  EXPECT_EQ(after.base_offset, 15);
  v = wait_led(kn.nodes, next, "ki", [](const View& v) { return v.high_watermark == 20; });
  ASSERT_TRUE(v && v->high_watermark == 20);
  EXPECT_EQ(testing::consume_ids(kn.kafka(next), "ki"), ids(0, 20));
  for (int i = 0; i < 3; ++i)
    if (i != old) {
      EXPECT_EQ(kn.nodes.kill(i, SIGTERM), 0) << kn.nodes.log(i);
    }
}

}  // namespace
}  // namespace persisting
