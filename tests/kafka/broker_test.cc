// The Kafka listener in process: a kafka::Server on a memory QueueCore, driven over loopback
// sockets with frames the protocol library encodes. Framing (oversized and malformed frames
// close only their connection), pipelining, ApiVersions negotiation, the SASL gate, and a Fetch
// parked until a Produce from another connection.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <string>
#include <thread>
#include <tuple>

#include <filesystem>

#include "core/status_macros.h"
#include "kafka/broker/server.h"
#include "kafka/kafka_socket.h"
#include "kafka/protocol/record_batch.h"
#include "kafka/protocol/request.h"
#include "lance/lance_test_util.h"
#include "queue/queue_core.h"
#include "storage/lance/format.h"
#include "util/manual_scheduler.h"
#include "util/temp_dir.h"

namespace persisting::kafka {
namespace {

// Produces batch to one partition (Produce v8, acks all) and returns the answer (empty when
// the connection failed, which is reported).
ProduceResponse produce(Client& c, const std::string& topic, int32_t partition, const RecordBatch& batch,
                        int32_t correlation) {
  ProduceRequest p;
  p.acks = -1;
  p.timeout_ms = 5000;
  p.topics.push_back({topic, {{partition, {}}}});
  EXPECT_TRUE(encode_record_batch(batch, Compression::kNone, &p.topics[0].partitions[0].records).ok());
  EXPECT_TRUE(c.send(frame(ApiKey::kProduce, 8, correlation, p)));
  auto answer = c.receive();
  EXPECT_TRUE(answer) << "no Produce answer";
  int32_t corr;
  return answer ? decode_body<ProduceResponse>(ApiKey::kProduce, 8, *answer, &corr) : ProduceResponse{};
}

class BrokerTest : public ::testing::Test {
 protected:
  void start(std::string token = "", bool auto_create = true, std::string data_dir = "") {
    QueueOptions qo;
    qo.threads = 2;
    qo.data_dir = std::move(data_dir);
    qo.scheduler = scheduler_;
    auto core = detail::make_queue_core(qo, NodeId("n1"), {{NodeId("n1"), ""}});
    ASSERT_TRUE(core.ok()) << core.status().to_string();
    core_ = *core;
    ServerConfig sc;
    sc.listener.listen = "127.0.0.1:0";
    sc.listener.limits.max_frame_bytes = 1 << 20;
    sc.broker.auto_create_topics = auto_create;
    sc.broker.default_partitions = 2;
    sc.dispatcher.token = std::move(token);
    sc.cluster = cluster_;
    if (cluster_) sc.dispatcher.node_id = cluster_->self_id();
    auto s = Server::start(core_, sc);
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    server_ = std::move(s).value();
  }
  void TearDown() override {
    server_.reset();
    if (core_) (void)core_->manager->close_all();
  }
  int port() const { return server_->port(); }

  // Metadata v4 for one topic over c; the answer's topic entry.
  MetadataResponse metadata(Client& c, const std::string& topic, int32_t correlation = 7) {
    MetadataRequest m;
    m.topics = std::vector<std::string>{topic};
    EXPECT_TRUE(c.send(frame(ApiKey::kMetadata, 4, correlation, m)));
    auto r = c.receive();
    EXPECT_TRUE(r.has_value());
    int32_t got = 0;
    auto resp = decode_body<MetadataResponse>(ApiKey::kMetadata, 4, r.value_or(""), &got);
    EXPECT_EQ(got, correlation);
    return resp;
  }

  persisting::testing::ManualScheduler manual_;  // declared first: outlives the queue
  std::shared_ptr<detail::QueueCore> core_;
  std::unique_ptr<Server> server_;
  KafkaCluster* cluster_ = nullptr;  // set before start(): a cluster member's broker
  Scheduler* scheduler_ = nullptr;   // set before start(): the queue's (null: the default)
};

TEST_F(BrokerTest, ApiVersionsListsWhatIsHandledAndNegotiatesDown) {
  start();
  Client c(port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send(frame(ApiKey::kApiVersions, 3, 1, ApiVersionsRequest{"t", "1"})));
  auto r = c.receive();
  ASSERT_TRUE(r);
  int32_t corr = 0;
  auto v3 = decode_body<ApiVersionsResponse>(ApiKey::kApiVersions, 3, *r, &corr);
  EXPECT_EQ(corr, 1);
  EXPECT_EQ(v3.error_code, 0);
  bool has_produce = false;
  for (const auto& a : v3.api_keys) {
    EXPECT_TRUE(Dispatcher::handled(static_cast<ApiKey>(a.api_key))) << a.api_key;
    EXPECT_NE(a.api_key, 24);  // AddPartitionsToTxn: transactions are not offered
    has_produce = has_produce || a.api_key == 0;
  }
  EXPECT_TRUE(has_produce);

  // A version beyond ours: UNSUPPORTED_VERSION in a v0 body that still lists the APIs.
  RequestHeader h{static_cast<int16_t>(ApiKey::kApiVersions), 99, 2, std::string("t")};
  std::string f;
  Writer w(&f);
  w.int32(0);
  encode_request_header(h, w);
  w.patch_int32(0, static_cast<int32_t>(f.size() - 4));
  ASSERT_TRUE(c.send(f));
  r = c.receive();
  ASSERT_TRUE(r);
  auto v0 = decode_body<ApiVersionsResponse>(ApiKey::kApiVersions, 0, *r, &corr);
  EXPECT_EQ(corr, 2);
  EXPECT_EQ(v0.error_code, 35);
  EXPECT_EQ(v0.api_keys.size(), v3.api_keys.size());
}

TEST_F(BrokerTest, OversizedFrameClosesOnlyItsConnection) {
  start();
  Client good(port()), bad(port());
  ASSERT_TRUE(good.connected() && bad.connected());
  std::string huge = {'\x7f', '\x00', '\x00', '\x00'};  // 2 GiB announced
  ASSERT_TRUE(bad.send(huge));
  EXPECT_TRUE(bad.closed_by_peer());
  Client negative(port());
  ASSERT_TRUE(negative.send(std::string("\xff\xff\xff\xff", 4)));
  EXPECT_TRUE(negative.closed_by_peer());
  auto m = metadata(good, "still-here");
  ASSERT_EQ(m.topics.size(), 1u);
  EXPECT_EQ(m.topics[0].error_code, 0);
}

TEST_F(BrokerTest, MalformedFrameClosesAndChangesNothing) {
  start();
  // A Metadata v4 frame whose topic array claims more entries than the bytes hold.
  MetadataRequest m;
  m.topics = std::vector<std::string>{"never-made"};
  std::string f = frame(ApiKey::kMetadata, 4, 9, m);
  std::string cut = f.substr(0, f.size() - 3);
  cut[0] = cut[1] = cut[2] = 0;
  cut[3] = static_cast<char>(cut.size() - 4);
  Client bad(port());
  ASSERT_TRUE(bad.send(cut));
  EXPECT_TRUE(bad.closed_by_peer());
  EXPECT_EQ(core_->lookup("never-made").status().code(), Code::kNotFound);
  // An API we do not speak at all (AddPartitionsToTxn) closes too.
  RequestHeader h{24, 0, 3, std::string("t")};
  std::string g;
  Writer w(&g);
  w.int32(0);
  encode_request_header(h, w);
  w.patch_int32(0, static_cast<int32_t>(g.size() - 4));
  Client txn(port());
  ASSERT_TRUE(txn.send(g));
  EXPECT_TRUE(txn.closed_by_peer());
}

TEST_F(BrokerTest, PipelinedRequestsAreAnsweredInOrder) {
  start();
  Client c(port());
  std::string batch;
  MetadataRequest m;
  m.topics = std::vector<std::string>{"p"};
  for (int i = 0; i < 20; ++i)
    batch += i % 2 == 0 ? frame(ApiKey::kMetadata, 4, 100 + i, m)
                        : frame(ApiKey::kApiVersions, 3, 100 + i, ApiVersionsRequest{"t", "1"});
  ASSERT_TRUE(c.send(batch));  // one write: the broker reads them together
  for (int i = 0; i < 20; ++i) {
    auto r = c.receive();
    ASSERT_TRUE(r) << i;
    Reader rd(*r);
    auto corr = rd.int32("correlation_id");
    ASSERT_TRUE(corr.ok());
    EXPECT_EQ(*corr, 100 + i);
  }
}

TEST_F(BrokerTest, TokenRequiresSaslPlainFirst) {
  start("s3cret");
  {
    Client c(port());
    MetadataRequest m;
    ASSERT_TRUE(c.send(frame(ApiKey::kMetadata, 4, 1, m)));
    EXPECT_TRUE(c.closed_by_peer());
  }
  auto handshake = [&](Client& c) {
    ASSERT_TRUE(c.send(frame(ApiKey::kSaslHandshake, 1, 1, SaslHandshakeRequest{"PLAIN"})));
    auto r = c.receive();
    ASSERT_TRUE(r);
    int32_t corr;
    auto h = decode_body<SaslHandshakeResponse>(ApiKey::kSaslHandshake, 1, *r, &corr);
    EXPECT_EQ(h.error_code, 0);
  };
  {
    Client c(port());
    handshake(c);
    ASSERT_TRUE(c.send(frame(ApiKey::kSaslAuthenticate, 1, 2, SaslAuthenticateRequest{std::string("\0u\0wrong", 8)})));
    auto r = c.receive();
    ASSERT_TRUE(r);
    int32_t corr;
    auto a = decode_body<SaslAuthenticateResponse>(ApiKey::kSaslAuthenticate, 1, *r, &corr);
    EXPECT_EQ(a.error_code, 58);
    EXPECT_TRUE(c.closed_by_peer());
  }
  Client c(port());
  handshake(c);
  ASSERT_TRUE(c.send(frame(ApiKey::kSaslAuthenticate, 1, 2, SaslAuthenticateRequest{std::string("\0u\0s3cret", 9)})));
  auto r = c.receive();
  ASSERT_TRUE(r);
  int32_t corr;
  EXPECT_EQ(decode_body<SaslAuthenticateResponse>(ApiKey::kSaslAuthenticate, 1, *r, &corr).error_code, 0);
  auto m = metadata(c, "authed");
  ASSERT_EQ(m.topics.size(), 1u);
  EXPECT_EQ(m.topics[0].error_code, 0);
}

// A Fetch of partition 1 of topic from offset 0 that parks until a record comes (10 s at most).
FetchRequest parked_fetch(const std::string& topic) {
  FetchRequest f;
  f.max_wait_ms = 10000;
  f.min_bytes = 1;
  f.topics.push_back({topic, {{1, -1, 0, -1, 1 << 20}}});
  return f;
}

TEST_F(BrokerTest, ParkedFetchIsAnsweredByAProduceFromAnotherConnection) {
  start();
  Client consumer(port()), producer(port());
  ASSERT_EQ(metadata(consumer, "lp").topics[0].partitions.size(), 2u);
  const FetchRequest f = parked_fetch("lp");
  ASSERT_TRUE(consumer.send(frame(ApiKey::kFetch, 11, 5, f)));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // let it park (not needed to pass)

  RecordBatch b;
  b.base_timestamp = 1700000000000;
  b.max_timestamp = b.base_timestamp;
  Record r;
  r.key = "k";
  r.value = "hello";
  r.headers.push_back({"h", std::string("x")});
  b.records.push_back(r);
  auto produced = produce(producer, "lp", 1, b, 6);
  ASSERT_EQ(produced.responses.size(), 1u);
  EXPECT_EQ(produced.responses[0].partitions[0].error_code, 0);
  EXPECT_EQ(produced.responses[0].partitions[0].base_offset, 0);

  auto fr = consumer.receive();  // bounded by the socket timeout (10 s), well under max_wait
  ASSERT_TRUE(fr);
  int32_t corr;
  auto fetched = decode_body<FetchResponse>(ApiKey::kFetch, 11, *fr, &corr);
  EXPECT_EQ(corr, 5);
  ASSERT_EQ(fetched.responses.size(), 1u);
  const auto& part = fetched.responses[0].partitions[0];
  EXPECT_EQ(part.error_code, 0);
  EXPECT_EQ(part.high_watermark, 1);
  auto batches = decode_record_batches(part.records);
  ASSERT_TRUE(batches.ok()) << batches.status().to_string();
  ASSERT_EQ(batches->size(), 1u);
  EXPECT_EQ((*batches)[0].base_offset, 0);
  EXPECT_EQ((*batches)[0].base_timestamp, b.base_timestamp);
  ASSERT_EQ((*batches)[0].records.size(), 1u);
  EXPECT_EQ((*batches)[0].records[0].key, r.key);
  EXPECT_EQ((*batches)[0].records[0].value, r.value);
  EXPECT_EQ((*batches)[0].records[0].headers, r.headers);
}

// Produces one batch of one record with value v to partition 1 of topic "lp"; its base offset.
int64_t produce_one(Client& producer, int32_t correlation, const std::string& v) {
  RecordBatch b;
  b.base_timestamp = b.max_timestamp = 1700000000000;
  Record r;
  r.key = "k";
  r.value = v;
  b.records.push_back(r);
  ProduceRequest p;
  p.acks = -1;
  p.timeout_ms = 1000;
  p.topics.push_back({"lp", {{1, {}}}});
  EXPECT_TRUE(encode_record_batch(b, Compression::kNone, &p.topics[0].partitions[0].records).ok());
  EXPECT_TRUE(producer.send(frame(ApiKey::kProduce, 8, correlation, p)));
  auto pr = producer.receive();
  if (!pr) return -1;
  int32_t corr;
  auto produced = decode_body<ProduceResponse>(ApiKey::kProduce, 8, *pr, &corr);
  EXPECT_EQ(produced.responses[0].partitions[0].error_code, 0);
  return produced.responses[0].partitions[0].base_offset;
}

// The values a Fetch answer holds for its one partition.
std::vector<std::string> fetched_values(const std::string& frame_bytes) {
  int32_t corr;
  auto fetched = decode_body<FetchResponse>(ApiKey::kFetch, 11, frame_bytes, &corr);
  std::vector<std::string> out;
  EXPECT_EQ(fetched.responses.size(), 1u);
  if (fetched.responses.empty()) return out;
  EXPECT_EQ(fetched.responses[0].partitions[0].error_code, 0);
  auto batches = decode_record_batches(fetched.responses[0].partitions[0].records);
  EXPECT_TRUE(batches.ok()) << batches.status().to_string();
  if (!batches.ok()) return out;
  for (const auto& b : *batches)
    for (const auto& r : b.records) out.push_back(r.value.value_or(""));
  return out;
}

// The woken Fetch is sent by the producer connection's thread (the consumer's is another: round
// robin over two io threads); the answers pipelined behind it still follow it, in order, and
// each request is answered once.
TEST_F(BrokerTest, AnswersPipelinedBehindAWokenFetchFollowItInOrderOnce) {
  start();
  Client consumer(port()), producer(port());
  ASSERT_EQ(metadata(consumer, "lp").topics[0].partitions.size(), 2u);
  const FetchRequest f = parked_fetch("lp");
  MetadataRequest m;
  m.topics = std::vector<std::string>{"lp"};
  ASSERT_TRUE(consumer.send(frame(ApiKey::kFetch, 11, 5, f) + frame(ApiKey::kApiVersions, 3, 6, ApiVersionsRequest{"t", "1"}) +
                            frame(ApiKey::kMetadata, 4, 7, m)));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // let it park (not needed to pass)
  ASSERT_EQ(produce_one(producer, 8, "woken"), 0);

  auto fr = consumer.receive();  // bounded by the socket timeout (10 s), well under max_wait
  ASSERT_TRUE(fr);
  int32_t corr = 0;
  EXPECT_EQ(fetched_values(*fr), std::vector<std::string>{"woken"});
  (void)decode_body<FetchResponse>(ApiKey::kFetch, 11, *fr, &corr);
  EXPECT_EQ(corr, 5);
  for (int32_t want : {6, 7}) {
    auto r = consumer.receive();
    ASSERT_TRUE(r) << want;
    Reader rd(*r);
    auto c = rd.int32("correlation_id");
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(*c, want);
  }
  // Nothing answered twice: the next answer is the next request's.
  ASSERT_TRUE(consumer.send(frame(ApiKey::kApiVersions, 3, 9, ApiVersionsRequest{"t", "1"})));
  auto r = consumer.receive();
  ASSERT_TRUE(r);
  Reader rd(*r);
  auto c = rd.int32("correlation_id");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, 9);
}

TEST_F(BrokerTest, ParkedFetchWaitsForMinBytes) {
  start();
  Client consumer(port()), producer(port());
  ASSERT_EQ(metadata(consumer, "lp").topics[0].partitions.size(), 2u);
  FetchRequest f;
  f.max_wait_ms = 30000;  // past the client's 10 s receive timeout: it must answer before
  f.min_bytes = 1000;     // more than a one-byte value, less than a 10 kB one
  f.topics.push_back({"lp", {{1, -1, 0, -1, 1 << 20}}});
  ASSERT_TRUE(consumer.send(frame(ApiKey::kFetch, 11, 5, f)));
  ASSERT_EQ(produce_one(producer, 6, "a"), 0);
  // A fetch that answered on the first record would hold "a" only.
  const std::string big(10000, 'b');
  ASSERT_EQ(produce_one(producer, 7, big), 1);
  auto fr = consumer.receive();
  ASSERT_TRUE(fr);
  EXPECT_EQ(fetched_values(*fr), (std::vector<std::string>{"a", big}));
}

TEST_F(BrokerTest, FetchBelowMinBytesAnswersWithWhatIsThereAtMaxWait) {
  start();
  Client consumer(port()), producer(port());
  ASSERT_EQ(metadata(consumer, "lp").topics[0].partitions.size(), 2u);
  ASSERT_EQ(produce_one(producer, 6, "only"), 0);
  FetchRequest f;
  f.max_wait_ms = 300;
  f.min_bytes = 1 << 20;
  f.topics.push_back({"lp", {{1, -1, 0, -1, 1 << 20}}});
  const auto sent = std::chrono::steady_clock::now();
  ASSERT_TRUE(consumer.send(frame(ApiKey::kFetch, 11, 5, f)));
  ASSERT_EQ(produce_one(producer, 7, "more"), 1);  // wakes the parked fetch: still too little
  auto fr = consumer.receive();
  ASSERT_TRUE(fr);
  // A long poll below min_bytes answers at max_wait_ms, not at once (a lower bound, which load
  // only makes longer; 10 ms below it for timer granularity), with what there is.
  EXPECT_GE(std::chrono::steady_clock::now() - sent, std::chrono::milliseconds(290));
  EXPECT_EQ(fetched_values(*fr), (std::vector<std::string>{"only", "more"}));
}

TEST_F(BrokerTest, CorruptBatchIsRefusedAndNothingIsAppended) {
  start();
  Client c(port());
  RecordBatch b;
  Record r;
  r.value = "v";
  b.records.push_back(r);
  ProduceRequest p;
  p.acks = 1;
  p.topics.push_back({"crc", {{0, {}}}});
  std::string& bytes = p.topics[0].partitions[0].records;
  ASSERT_TRUE(encode_record_batch(b, Compression::kNone, &bytes).ok());
  bytes.back() ^= 0x55;  // inside the records: the CRC-32C no longer matches
  ASSERT_TRUE(c.send(frame(ApiKey::kProduce, 8, 1, p)));
  auto pr = c.receive();
  ASSERT_TRUE(pr);
  int32_t corr;
  auto produced = decode_body<ProduceResponse>(ApiKey::kProduce, 8, *pr, &corr);
  EXPECT_EQ(produced.responses[0].partitions[0].error_code, 2);  // CORRUPT_MESSAGE
  ListOffsetsRequest lo;
  lo.topics.push_back({"crc", {{0, -1, kListOffsetsLatest, 1}}});
  ASSERT_TRUE(c.send(frame(ApiKey::kListOffsets, 5, 2, lo)));
  auto lr = c.receive();
  ASSERT_TRUE(lr);
  auto offsets = decode_body<ListOffsetsResponse>(ApiKey::kListOffsets, 5, *lr, &corr);
  EXPECT_EQ(offsets.topics[0].partitions[0].offset, 0);
}

// Runs a hook when the Kafka marker of a topic is about to be written (after its topic.json).
class MarkerHookEnv : public EnvWrapper {
 public:
  using EnvWrapper::EnvWrapper;
  std::function<void()> before_marker;
  Status write_file_atomic(const std::string& path, std::string_view data) override {
    if (before_marker && path.ends_with("/kafka.json")) std::exchange(before_marker, nullptr)();
    return EnvWrapper::write_file_atomic(path, data);
  }
};

// A catalog's node with a data dir whose Env runs a hook before a Kafka marker is written.
class TopicCatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    QueueOptions qo;
    qo.threads = 2;
    qo.data_dir = dir.path();
    qo.env = &env;
    auto core = detail::make_queue_core(qo, NodeId("n1"), {{NodeId("n1"), ""}});
    ASSERT_TRUE(core.ok()) << core.status().to_string();
    core_ = *core;
  }
  void TearDown() override {
    if (core_) (void)core_->manager->close_all();
  }

  persisting::testing::TempDir dir;
  MarkerHookEnv env{Env::Default()};
  std::shared_ptr<detail::QueueCore> core_;
};

// Four producers' first requests create a topic at once: one creates it, the others find it.
// One that found it between its topic.json and its Kafka marker took it for a topic of JSON
// records for good, and every produce to it was refused with INVALID_RECORD.
TEST_F(TopicCatalogTest, ATopicFoundWhileItIsCreatedIsAKafkaTopic) {
  {
    TopicCatalog catalog(core_, {});
    std::future<Result<std::shared_ptr<CatalogTopic>>> found;
    env.before_marker = [&] {
      found = std::async(std::launch::async, [&] { return catalog.find("t"); });
      // The lookup runs inside the window; give it the time to finish (and go wrong if it would).
      (void)found.wait_for(std::chrono::milliseconds(300));
    };
    auto created = catalog.create("t", 2, 1);
    ASSERT_TRUE(created.ok()) << created.status().to_string();
    EXPECT_EQ((*created)->kind(), TopicKind::kKafka);
    ASSERT_TRUE(found.valid()) << "the marker was never written";
    auto got = found.get();
    ASSERT_TRUE(got.ok()) << got.status().to_string();
    EXPECT_EQ((*got)->kind(), TopicKind::kKafka);
    EXPECT_EQ(got->get(), created->get());
  }
}

// The same window seen from a peer: a node that learns a topic through the creating node's
// GetTopic reads the Kafka kind from the node's probe (is_kafka_topic). Between topic.json and
// the marker the probe said "JSON records", and the peer kept that for good.
TEST_F(TopicCatalogTest, APeerAskingWhileATopicIsCreatedLearnsItIsAKafkaTopic) {
  {
    TopicCatalog catalog(core_, {});
    std::optional<bool> probed;
    bool topic_there = false;
    env.before_marker = [&] {
      topic_there = core_->lookup("t").ok();
      probed = catalog.is_kafka_topic("t");
    };
    auto created = catalog.create("t", 2, 1);
    ASSERT_TRUE(created.ok()) << created.status().to_string();
    ASSERT_TRUE(probed.has_value()) << "the marker was never written";
    EXPECT_TRUE(topic_there) << "the window is after topic.json";
    EXPECT_TRUE(*probed);
    EXPECT_TRUE(catalog.is_kafka_topic("t"));
    EXPECT_FALSE(catalog.is_kafka_topic("other"));
  }
}

TEST_F(BrokerTest, DeleteTopicsDeletesPerTopicAndARecreatedTopicStartsEmpty) {
  start();
  Client c(port());
  int32_t corr;
  auto produce_one = [&](int32_t correlation) {
    RecordBatch b;
    Record r;
    r.key = "k";
    r.value = "v";
    b.records.push_back(r);
    ProduceRequest p;
    p.acks = 1;
    p.topics.push_back({"gone", {{0, {}}}});
    EXPECT_TRUE(encode_record_batch(b, Compression::kNone, &p.topics[0].partitions[0].records).ok());
    EXPECT_TRUE(c.send(frame(ApiKey::kProduce, 8, correlation, p)));
    auto pr = c.receive();
    EXPECT_TRUE(pr);
    return decode_body<ProduceResponse>(ApiKey::kProduce, 8, pr.value_or(""), &corr).responses[0].partitions[0];
  };
  ASSERT_EQ(metadata(c, "gone").topics[0].error_code, 0);  // auto-created, 2 partitions
  for (int i = 0; i < 3; ++i) ASSERT_EQ(produce_one(10 + i).error_code, 0);
  // A second catalog over the same core caches the topic and its actor: the delete reaches it
  // too (QueueCore tells every catalog).
  TopicCatalog other(core_, {});
  auto held = other.find("gone");
  ASSERT_TRUE(held.ok());
  ASSERT_TRUE((*held)->partition(0).ok());

  for (int16_t version : {int16_t(1), int16_t(3)}) {
    DeleteTopicsRequest d;
    d.topic_names = version == 1 ? std::vector<std::string>{"gone", "never-made"} : std::vector<std::string>{"gone"};
    d.timeout_ms = 1000;
    ASSERT_TRUE(c.send(frame(ApiKey::kDeleteTopics, version, 20 + version, d)));
    auto dr = c.receive();
    ASSERT_TRUE(dr);
    auto deleted = decode_body<DeleteTopicsResponse>(ApiKey::kDeleteTopics, version, *dr, &corr);
    EXPECT_EQ(corr, 20 + version);
    ASSERT_EQ(deleted.responses.size(), d.topic_names.size());
    EXPECT_EQ(deleted.responses[0].name, "gone");
    // v1: deleted; v3: the same topic again, now unknown.
    EXPECT_EQ(deleted.responses[0].error_code, version == 1 ? 0 : 3) << version;
    if (version == 1) {
      EXPECT_EQ(deleted.responses[1].error_code, 3);  // UNKNOWN_TOPIC_OR_PARTITION
    }
  }
  EXPECT_EQ(core_->lookup("gone").status().code(), Code::kNotFound);
  EXPECT_EQ(other.find("gone").status().code(), Code::kNotFound);
  auto stale = (*held)->partition(0);
  ASSERT_TRUE(stale.ok());  // the actor the catalog had: retired, it answers NotFound
  std::promise<Status> flushed;
  (*stale)->flush([&](Status s) { flushed.set_value(s); });
  EXPECT_EQ(flushed.get_future().get().code(), Code::kNotFound);

  // Auto-created again: a new topic, from offset 0.
  ASSERT_EQ(metadata(c, "gone", 30).topics[0].error_code, 0);
  auto again = produce_one(31);
  EXPECT_EQ(again.error_code, 0);
  EXPECT_EQ(again.base_offset, 0);
}


// Rows LanceDB deleted from a bucket's dataset are gaps (docs/lance-format.md §10): a Fetch
// leaves their offset deltas out, and every other record keeps its offset, as after compaction.
class BrokerLanceDeletionsTest : public BrokerTest {
 protected:
  void start_on(const std::string& dir) {
    QueueOptions qo;
    qo.threads = 2;
    qo.data_dir = dir;
    auto core = detail::make_queue_core(qo, NodeId("n1"), {{NodeId("n1"), ""}});
    ASSERT_TRUE(core.ok()) << core.status().to_string();
    core_ = *core;
    ServerConfig sc;
    sc.listener.listen = "127.0.0.1:0";
    sc.listener.limits.max_frame_bytes = 1 << 20;
    sc.broker.default_partitions = 2;
    sc.catalog.backend = "lance";
    auto s = Server::start(core_, sc);
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    server_ = std::move(s).value();
  }
  void stop() {  // closing the buckets flushes them to Lance
    server_.reset();
    ASSERT_TRUE(core_->manager->close_all().ok());
    core_.reset();
  }
};

TEST_F(BrokerLanceDeletionsTest, FetchLeavesOutRowsLanceDbDeleted) {
  persisting::testing::TempDir dir;
  start_on(dir.path());
  {
    Client c(port());
    ASSERT_EQ(metadata(c, "lp").topics[0].partitions.size(), 2u);
    RecordBatch b;
    b.base_timestamp = b.max_timestamp = 1700000000000;
    for (int i = 0; i < 100; ++i) {
      Record r;
      r.key = "k";
      r.value = "v" + std::to_string(i);
      r.offset_delta = i;
      b.records.push_back(r);
    }
    b.last_offset_delta = 99;
    auto produced = produce(c, "lp", 1, b, 2);
    ASSERT_EQ(produced.responses.size(), 1u);
    ASSERT_EQ(produced.responses[0].partitions[0].error_code, 0);
  }
  stop();
  // LanceDB deletes rows 0, 7, 17, ..., 97 (tests/lance/data/deleted_small.arrow).
  const std::string ds = dir.path() + "/lp/bucket_1/data.lance";
  std::filesystem::create_directories(ds + "/_deletions");
  std::filesystem::copy_file(std::string(LANCE_TEST_DATA) + "/deleted_small.arrow", ds + "/_deletions/0-1-3.arrow");
  lance::testing::commit_edited_manifest(ds, [](lance::pb::Manifest* m) {
    ASSERT_EQ(m->fragments(0).physical_rows(), 100u);
    m->set_reader_feature_flags(lance::kFlagDeletionFiles);
    auto* d = m->mutable_fragments(0)->mutable_deletion_file();
    d->set_read_version(1);
    d->set_id(3);
    d->set_num_deleted_rows(11);
  });
  start_on(dir.path());
  Client c(port());
  FetchRequest f;
  f.max_wait_ms = 0;
  f.min_bytes = 1;
  f.topics.push_back({"lp", {{1, -1, 0, -1, 1 << 20}}});
  ASSERT_TRUE(c.send(frame(ApiKey::kFetch, 11, 5, f)));
  auto fr = c.receive();
  ASSERT_TRUE(fr);
  int32_t corr;
  auto fetched = decode_body<FetchResponse>(ApiKey::kFetch, 11, *fr, &corr);
  ASSERT_EQ(fetched.responses.size(), 1u);
  const auto& part = fetched.responses[0].partitions[0];
  ASSERT_EQ(part.error_code, 0);
  EXPECT_EQ(part.high_watermark, 100);
  auto batches = decode_record_batches(part.records);
  ASSERT_TRUE(batches.ok()) << batches.status().to_string();
  std::vector<int64_t> offsets;
  for (const auto& b : *batches) {
    for (const auto& r : b.records) {
      const int64_t off = b.base_offset + r.offset_delta;
      EXPECT_EQ(r.value.value_or(""), "v" + std::to_string(off));  // never renumbered
      offsets.push_back(off);
    }
    EXPECT_LE(b.last_offset(), 99);
  }
  ASSERT_EQ(offsets.size(), 89u);
  for (int64_t off : offsets) EXPECT_FALSE(off == 0 || off % 10 == 7) << off;
  EXPECT_EQ(offsets.front(), 1);
  EXPECT_EQ(offsets.back(), 99);
}

TEST_F(BrokerTest, ListOffsetsEarliestIsTheFirstOffsetRetentionLeft) {
  persisting::testing::TempDir dir;
  start("", true, dir.path());
  // A records topic with one bucket, ten fragments of ten, 25 records kept: 70 removed.
  WriterOptions w;
  w.topic = "kept";
  w.num_buckets = 1;
  w.batch_size = 1000;
  w.backend = "lance";
  w.backend_options["flush_interval"] = "0";
  w.retention.records = 25;
  auto info = core_->open_for_write(w);
  ASSERT_TRUE(info.ok()) << info.status().to_string();
  auto actors = core_->actors(*info, {BucketId(0)}, {});
  ASSERT_TRUE(actors.ok()) << actors.status().to_string();
  auto& actor = (*actors)[0];
  for (int f = 0; f < 10; ++f) {
    ::persisting::RecordBatch b;
    for (int i = 0; i < 10; ++i) b.add(::persisting::Record{{"id", "k"}, {"i", f * 10 + i}});
    std::promise<Result<Offset>> put;
    actor->put(std::move(b), [&](Result<Offset> r) { put.set_value(r); });
    ASSERT_TRUE(put.get_future().get().ok());
    std::promise<Status> flushed;
    actor->flush([&](Status s) { flushed.set_value(s); });
    ASSERT_TRUE(flushed.get_future().get().ok());
  }
  Client c(port());
  int32_t corr;
  ListOffsetsRequest lo;
  lo.topics.push_back({"kept", {{0, -1, kListOffsetsEarliest, 1}}});
  ASSERT_TRUE(c.send(frame(ApiKey::kListOffsets, 5, 2, lo)));
  auto lr = c.receive();
  ASSERT_TRUE(lr);
  auto earliest = decode_body<ListOffsetsResponse>(ApiKey::kListOffsets, 5, *lr, &corr);
  ASSERT_EQ(earliest.topics.size(), 1u);
  EXPECT_EQ(earliest.topics[0].partitions[0].error_code, 0);
  EXPECT_EQ(earliest.topics[0].partitions[0].offset, 70);
  lo.topics[0].partitions[0].timestamp = kListOffsetsLatest;
  ASSERT_TRUE(c.send(frame(ApiKey::kListOffsets, 5, 3, lo)));
  lr = c.receive();
  ASSERT_TRUE(lr);
  auto latest = decode_body<ListOffsetsResponse>(ApiKey::kListOffsets, 5, *lr, &corr);
  EXPECT_EQ(latest.topics[0].partitions[0].error_code, 0);
  EXPECT_EQ(latest.topics[0].partitions[0].offset, 100);  // the end probe works below the first offset
}

// Records of our APIs carry their bucket's append time (docs/records.md): Fetch returns it as
// the Kafka timestamp, ListOffsets by timestamp finds the first offset at or after it, and
// Fetch's log_start_offset is the first offset retention left.
TEST_F(BrokerTest, AppendTimesInFetchListOffsetsByTimestampAndLogStartOffset) {
  persisting::testing::TempDir dir;
  persisting::testing::ManualScheduler& sched = manual_;
  scheduler_ = &sched;
  start("", true, dir.path());
  constexpr int64_t kT0 = persisting::testing::ManualScheduler::kWallStart;
  WriterOptions w;
  w.topic = "aged";
  w.num_buckets = 1;
  w.batch_size = 1000;
  w.backend = "lance";
  w.backend_options["flush_interval"] = "0";
  w.retention.records = 15;  // of three fragments of ten, the first goes after the third flush
  auto info = core_->open_for_write(w);
  ASSERT_TRUE(info.ok()) << info.status().to_string();
  auto actors = core_->actors(*info, {BucketId(0)}, {});
  ASSERT_TRUE(actors.ok()) << actors.status().to_string();
  auto& actor = (*actors)[0];
  for (int f = 0; f < 3; ++f) {  // fragments at T0, T0+10s, T0+20s
    if (f > 0) sched.advance(std::chrono::seconds(10));
    ::persisting::RecordBatch b;
    for (int i = 0; i < 10; ++i) b.add(::persisting::Record{{"id", "k"}, {"i", f * 10 + i}});
    std::promise<Result<Offset>> put;
    actor->put(std::move(b), [&](Result<Offset> r) { put.set_value(r); });
    ASSERT_TRUE(put.get_future().get().ok());
    std::promise<Status> flushed;
    actor->flush([&](Status s) { flushed.set_value(s); });
    ASSERT_TRUE(flushed.get_future().get().ok());
  }
  Client c(port());
  int32_t corr;
  auto list = [&](int64_t ts, int32_t correlation) {
    ListOffsetsRequest lo;
    lo.topics.push_back({"aged", {{0, -1, ts, 1}}});
    EXPECT_TRUE(c.send(frame(ApiKey::kListOffsets, 5, correlation, lo)));
    auto lr = c.receive();
    EXPECT_TRUE(lr);
    auto r = decode_body<ListOffsetsResponse>(ApiKey::kListOffsets, 5, lr.value_or(""), &corr);
    return r.topics.at(0).partitions.at(0);
  };
  // Retention removed offsets 0..9 (T0): 10..19 (T0+10s) and 20..29 (T0+20s) are left.
  auto at = list(kT0 + 5'000, 2);
  EXPECT_EQ(at.error_code, 0);
  EXPECT_EQ(at.offset, 10);
  EXPECT_EQ(at.timestamp, kT0 + 10'000);
  at = list(kT0 + 10'001, 3);
  EXPECT_EQ(at.offset, 20);
  EXPECT_EQ(at.timestamp, kT0 + 20'000);
  at = list(0, 4);  // before everything: the first offset retention left
  EXPECT_EQ(at.offset, 10);
  at = list(kT0 + 20'001, 5);  // after everything: none
  EXPECT_EQ(at.error_code, 0);
  EXPECT_EQ(at.offset, -1);

  FetchRequest f;
  f.max_wait_ms = 0;
  f.min_bytes = 1;
  f.topics.push_back({"aged", {{0, -1, 20, -1, 1 << 20}}});
  ASSERT_TRUE(c.send(frame(ApiKey::kFetch, 11, 6, f)));
  auto fr = c.receive();
  ASSERT_TRUE(fr);
  auto fetched = decode_body<FetchResponse>(ApiKey::kFetch, 11, *fr, &corr);
  const auto& part = fetched.responses.at(0).partitions.at(0);
  ASSERT_EQ(part.error_code, 0);
  EXPECT_EQ(part.log_start_offset, 10);
  EXPECT_EQ(part.high_watermark, 30);
  auto batches = decode_record_batches(part.records);
  ASSERT_TRUE(batches.ok()) << batches.status().to_string();
  ASSERT_FALSE(batches->empty());
  const auto& b = (*batches)[0];
  EXPECT_EQ(b.base_timestamp, kT0 + 20'000);
  EXPECT_EQ(b.max_timestamp, kT0 + 20'000);
}

// A two-node cluster seen from node "self" (broker 5): it owns partition 0 of every topic, node
// "other" (broker 7, at 127.0.0.1:1) owns the rest; it coordinates group "mine" only.
class FakeCluster final : public KafkaCluster {
 public:
  explicit FakeCluster(std::shared_ptr<detail::QueueCore> core) : core_(std::move(core)) {}
  ~FakeCluster() override {
    for (auto& t : blocking_) t.join();
  }
  int32_t self_id() const override { return 5; }
  std::vector<BrokerAddress> brokers() const override {
    return {{5, "self", "127.0.0.1", 9}, {7, "other", "127.0.0.1", 1}};
  }
  Result<ClusterTopic> find_topic(const std::string& name) override {
    auto info = core_->lookup(name);
    if (!info.ok()) return info.status();
    return ClusterTopic{*info, false};
  }
  Status adopt_topic(const TopicInfo&) override {
    ++adopted;
    return Status::OK();
  }
  std::vector<TopicInfo> topics() override {
    if (hold_topics.valid()) hold_topics.wait();  // a member that is slow to answer
    auto all = core_->list_topics();
    return all.ok() ? *all : std::vector<TopicInfo>{};
  }
  int32_t leader(const std::string&, uint32_t partition) override { return partition == 0 ? 5 : 7; }
  // A thread of its own per call (the node's admin pool); joined by the destructor.
  void run_blocking(std::function<void()> work) override {
    std::lock_guard<std::mutex> lock(mu_);
    blocking_.emplace_back(std::move(work));
  }
  Result<std::shared_ptr<runtime::BucketStorage>> local_partition(const std::string& topic, uint32_t p) override {
    if (p != 0) return FailedPrecondition("topic '" + topic + "' bucket " + std::to_string(p) + " is owned by other");
    ASSIGN_OR_RETURN(TopicInfo info, core_->lookup(topic));
    ASSIGN_OR_RETURN(auto actors, core_->actors(info, {BucketId(p)}, {}));
    return actors[0];
  }
  Result<ProduceSlot> begin_produce(const std::string& topic, uint32_t p) override {
    ASSIGN_OR_RETURN(auto actor, local_partition(topic, p));
    ++started;
    return ProduceSlot{std::move(actor), [this] { ++finished; }};
  }
  Status delete_topic(const std::string& name) override { return core_->delete_topic(name).status(); }
  BrokerAddress coordinator(const std::string& group) const override {
    return group == "mine" ? BrokerAddress{5, "self", "127.0.0.1", 9} : BrokerAddress{7, "other", "127.0.0.1", 1};
  }
  std::atomic<int> adopted{0}, started{0}, finished{0};
  std::shared_future<void> hold_topics;  // set: topics() waits for it

 private:
  std::shared_ptr<detail::QueueCore> core_;
  std::mutex mu_;
  std::vector<std::thread> blocking_;
};

TEST_F(BrokerTest, InAClusterOnlyOwnedPartitionsAreServedOthersAreNotLeader) {
  QueueOptions qo;
  qo.threads = 2;
  auto core = detail::make_queue_core(qo, NodeId("self"), {{NodeId("self"), ""}});
  ASSERT_TRUE(core.ok());
  FakeCluster cluster(*core);
  core_ = *core;
  cluster_ = &cluster;
  {
    // start() makes its own core; this test's cluster must see the server's core.
    ServerConfig sc;
    sc.listener.listen = "127.0.0.1:0";
    sc.broker.default_partitions = 2;
    sc.cluster = &cluster;
    sc.dispatcher.node_id = cluster.self_id();
    auto s = Server::start(core_, sc);
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    server_ = std::move(s).value();
  }
  Client c(port());

  // Metadata: every broker of the cluster, each partition's leader its owner.
  MetadataResponse md = metadata(c, "ct");
  ASSERT_EQ(md.brokers.size(), 2u);
  EXPECT_EQ(md.brokers[0].node_id, 5);
  EXPECT_EQ(md.brokers[1].node_id, 7);
  EXPECT_EQ(md.brokers[1].port, 1);
  ASSERT_EQ(md.topics.size(), 1u);
  ASSERT_EQ(md.topics[0].error_code, 0);
  ASSERT_EQ(md.topics[0].partitions.size(), 2u);
  EXPECT_EQ(md.topics[0].partitions[0].leader_id, 5);
  EXPECT_EQ(md.topics[0].partitions[1].leader_id, 7);
  EXPECT_EQ(md.topics[0].partitions[1].replica_nodes, std::vector<int32_t>{7});
  EXPECT_EQ(cluster.adopted.load(), 1);  // the auto-created topic was registered with the cluster

  // Produce to both partitions in one request: the owned one appends, the other is refused.
  RecordBatch b;
  b.base_timestamp = b.max_timestamp = 1700000000000;
  Record r;
  r.key = "k";
  r.value = "v";
  b.records.push_back(r);
  ProduceRequest p;
  p.acks = -1;
  p.timeout_ms = 1000;
  p.topics.push_back({"ct", {{0, {}}, {1, {}}}});
  for (auto& part : p.topics[0].partitions) ASSERT_TRUE(encode_record_batch(b, Compression::kNone, &part.records).ok());
  ASSERT_TRUE(c.send(frame(ApiKey::kProduce, 8, 2, p)));
  auto pr = c.receive();
  ASSERT_TRUE(pr);
  int32_t corr;
  auto produced = decode_body<ProduceResponse>(ApiKey::kProduce, 8, *pr, &corr);
  ASSERT_EQ(produced.responses[0].partitions.size(), 2u);
  EXPECT_EQ(produced.responses[0].partitions[0].error_code, 0);
  EXPECT_EQ(produced.responses[0].partitions[0].base_offset, 0);
  EXPECT_EQ(produced.responses[0].partitions[1].error_code, 6);  // NOT_LEADER_OR_FOLLOWER
  EXPECT_EQ(cluster.started.load(), 1);
  EXPECT_EQ(cluster.finished.load(), 1);  // the produce's slot ended with its answer

  // Fetch: the owned partition's record; NOT_LEADER_OR_FOLLOWER for the other.
  FetchRequest f;
  f.max_wait_ms = 0;
  f.min_bytes = 1;
  f.topics.push_back({"ct", {{0, -1, 0, -1, 1 << 20}, {1, -1, 0, -1, 1 << 20}}});
  ASSERT_TRUE(c.send(frame(ApiKey::kFetch, 11, 3, f)));
  auto fr = c.receive();
  ASSERT_TRUE(fr);
  auto fetched = decode_body<FetchResponse>(ApiKey::kFetch, 11, *fr, &corr);
  ASSERT_EQ(fetched.responses[0].partitions.size(), 2u);
  EXPECT_EQ(fetched.responses[0].partitions[0].error_code, 0);
  EXPECT_EQ(fetched.responses[0].partitions[0].high_watermark, 1);
  EXPECT_EQ(fetched.responses[0].partitions[1].error_code, 6);
  EXPECT_TRUE(fetched.responses[0].partitions[1].records.empty());

  // ListOffsets, latest and earliest: only the owner answers.
  ListOffsetsRequest lo;
  lo.topics.push_back({"ct", {{0, -1, kListOffsetsLatest, 1}, {1, -1, kListOffsetsLatest, 1}, {1, -1, kListOffsetsEarliest, 1}}});
  ASSERT_TRUE(c.send(frame(ApiKey::kListOffsets, 5, 4, lo)));
  auto lr = c.receive();
  ASSERT_TRUE(lr);
  auto offsets = decode_body<ListOffsetsResponse>(ApiKey::kListOffsets, 5, *lr, &corr);
  ASSERT_EQ(offsets.topics[0].partitions.size(), 3u);
  EXPECT_EQ(offsets.topics[0].partitions[0].error_code, 0);
  EXPECT_EQ(offsets.topics[0].partitions[0].offset, 1);
  EXPECT_EQ(offsets.topics[0].partitions[1].error_code, 6);
  EXPECT_EQ(offsets.topics[0].partitions[2].error_code, 6);

  // Groups: FindCoordinator names the group's coordinator; another node answers NOT_COORDINATOR.
  for (const auto& [group, node, port] : {std::tuple{"mine", 5, 9}, std::tuple{"theirs", 7, 1}}) {
    FindCoordinatorRequest fc;
    fc.key = group;
    ASSERT_TRUE(c.send(frame(ApiKey::kFindCoordinator, 2, 5, fc)));
    auto cr = c.receive();
    ASSERT_TRUE(cr);
    auto coord = decode_body<FindCoordinatorResponse>(ApiKey::kFindCoordinator, 2, *cr, &corr);
    EXPECT_EQ(coord.error_code, 0);
    EXPECT_EQ(coord.node_id, node) << group;
    EXPECT_EQ(coord.port, port) << group;
  }
  JoinGroupRequest j;
  j.group_id = "theirs";
  j.session_timeout_ms = 10000;
  j.rebalance_timeout_ms = 10000;
  j.protocol_type = "consumer";
  j.protocols.push_back({"range", ""});
  ASSERT_TRUE(c.send(frame(ApiKey::kJoinGroup, 5, 6, j)));
  auto jr = c.receive();
  ASSERT_TRUE(jr);
  auto joined = decode_body<JoinGroupResponse>(ApiKey::kJoinGroup, 5, *jr, &corr);
  EXPECT_EQ(joined.error_code, 16);  // NOT_COORDINATOR
  OffsetCommitRequest oc;
  oc.group_id = "theirs";
  oc.topics.push_back({"ct", {{0, 1, -1, -1, std::nullopt}}});
  ASSERT_TRUE(c.send(frame(ApiKey::kOffsetCommit, 2, 7, oc)));
  auto ocr = c.receive();
  ASSERT_TRUE(ocr);
  auto committed = decode_body<OffsetCommitResponse>(ApiKey::kOffsetCommit, 2, *ocr, &corr);
  ASSERT_EQ(committed.topics.size(), 1u);
  EXPECT_EQ(committed.topics[0].partitions[0].error_code, 16);
  server_.reset();
}

// In a cluster, Metadata for every topic asks every member. With one io thread, a member slow to
// answer must not stall the listener: another connection's requests are answered meanwhile, and
// the slow Metadata is answered once the member answers.
TEST_F(BrokerTest, InAClusterASlowAllTopicsMetadataDoesNotStallOtherConnections) {
  QueueOptions qo;
  qo.threads = 2;
  auto core = detail::make_queue_core(qo, NodeId("self"), {{NodeId("self"), ""}});
  ASSERT_TRUE(core.ok());
  FakeCluster cluster(*core);
  std::promise<void> member_answers;
  cluster.hold_topics = member_answers.get_future().share();
  core_ = *core;
  {
    ServerConfig sc;
    sc.listener.listen = "127.0.0.1:0";
    sc.listener.io_threads = 1;  // both connections on the same io thread
    sc.broker.default_partitions = 2;
    sc.cluster = &cluster;
    sc.dispatcher.node_id = cluster.self_id();
    auto s = Server::start(core_, sc);
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    server_ = std::move(s).value();
  }
  Client slow(port()), other(port());
  MetadataRequest all;  // no topic list: every topic
  ASSERT_TRUE(slow.send(frame(ApiKey::kMetadata, 4, 1, all)));
  ASSERT_TRUE(other.send(frame(ApiKey::kApiVersions, 3, 2, ApiVersionsRequest{"t", "1"})));
  auto v = other.receive();  // bounded: 10 s
  member_answers.set_value();
  ASSERT_TRUE(v.has_value()) << "ApiVersions waited behind the all-topics Metadata";
  int32_t corr = 0;
  auto versions = decode_body<ApiVersionsResponse>(ApiKey::kApiVersions, 3, *v, &corr);
  EXPECT_EQ(corr, 2);
  EXPECT_EQ(versions.error_code, 0);
  auto m = slow.receive();
  ASSERT_TRUE(m.has_value());
  auto md = decode_body<MetadataResponse>(ApiKey::kMetadata, 4, *m, &corr);
  EXPECT_EQ(corr, 1);
  EXPECT_EQ(md.brokers.size(), 2u);
  server_.reset();  // waits for the Metadata's work before the cluster's threads are joined
}

}  // namespace
}  // namespace persisting::kafka
