// One persistingd node: the CLI over --server, metrics and health, access control, TLS, and bad
// requests that must get clear errors while the node keeps serving.
#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <fstream>
#include <future>
#include <set>
#include <sstream>

#include "net/node_process.h"
#include "net/slow_relay.h"
#include "persisting/client.h"
#include "persisting/codec.h"
#include "persisting/v1/queue.grpc.pb.h"
#include "queue/partitioning.h"
#include "util/run_process.h"

namespace persisting {
namespace {

using testing::Cluster;
using testing::run_process;

std::unique_ptr<Client> client(const std::string& address, ClientOptions o = {}) {
  o.server = address;
  auto c = Client::connect(o);
  EXPECT_TRUE(c.ok()) << c.status().to_string();
  return std::move(c).value();
}

// A put and a read-back through a fresh client: the node still serves.
void expect_serving(const std::string& address, ClientOptions o = {}) {
  auto c = client(address, o);
  auto w = c->writer({.topic = "alive", .bucket_column = "id", .num_buckets = 2});
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  ASSERT_TRUE((*w)->put(Record{{"id", "x"}}).ok());
  auto st = c->stats("alive");
  ASSERT_TRUE(st.ok()) << st.status().to_string();
  EXPECT_GE(st->find("total_count")->as_int(), 1);
}

TEST(Node, CliPutGetTopicsStatsAndClusterStatusOverServer) {
  Cluster cluster(2);
  ASSERT_TRUE(cluster.start_all());
  std::string server = cluster.address(0);
  auto put = run_process({PERSISTING_BIN, "put", "--server", server, "--topic", "cli", "--num-buckets", "4"},
                         "{\"id\":1,\"v\":\"a\"}\n{\"id\":2,\"v\":\"b\"}\n{\"id\":3,\"v\":\"c\"}\n");
  ASSERT_EQ(put.exit_code, 0) << put.err;
  auto get = run_process({PERSISTING_BIN, "get", "--server", cluster.address(1), "--topic", "cli", "--from-beginning"});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  for (const char* v : {"\"a\"", "\"b\"", "\"c\""}) EXPECT_NE(get.out.find(v), std::string::npos) << get.out;
  auto topics = run_process({PERSISTING_BIN, "topics", "--server", server});
  ASSERT_EQ(topics.exit_code, 0) << topics.err;
  EXPECT_NE(topics.out.find("\"cli\""), std::string::npos);
  auto stats = run_process({PERSISTING_BIN, "stats", "--server", server, "--topic", "cli"});
  ASSERT_EQ(stats.exit_code, 0) << stats.err;
  EXPECT_NE(stats.out.find("\"total_count\":3"), std::string::npos) << stats.out;
  auto status = run_process({PERSISTING_BIN, "cluster", "status", "--server", server, "--topic", "cli"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("\"n2\""), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("\"alive\":true"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("\"ownership\""), std::string::npos) << status.out;
  // --data-dir and --server together is a usage error.
  auto both = run_process({PERSISTING_BIN, "topics", "--server", server, "--data-dir", cluster.dir()});
  EXPECT_EQ(both.exit_code, 2);
}

TEST(Node, MetricsPassPromtoolAndHealthAnswers) {
  int mport = testing::free_port();
  Cluster cluster(1, {"--metrics", "127.0.0.1:" + std::to_string(mport)});
  ASSERT_TRUE(cluster.start_all());
  expect_serving(cluster.address(0));
  auto c = client(cluster.address(0));
  auto w = c->writer({.topic = "flushed", .bucket_column = "id", .num_buckets = 2, .backend = "lance"});
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  ASSERT_TRUE((*w)->put(Record{{"id", "a"}, {"n", int64_t(1)}}).ok());
  ASSERT_TRUE((*w)->flush().ok());
  auto durable = c->writer({.topic = "durable", .num_buckets = 1, .backend = "persisting"});
  ASSERT_TRUE(durable.ok()) << durable.status().to_string();
  ASSERT_TRUE((*durable)->put(Record{{"id", "b"}}).ok());
  httplib::Client http("127.0.0.1", mport);
  auto health = http.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto m = http.Get("/metrics");
  ASSERT_TRUE(m);
  ASSERT_EQ(m->status, 200);
  for (const char* name : {"persisting_records_total{topic=\"alive\",bucket=", "persisting_buffer_size{",
                           "persisting_wal_size_bytes{", "persisting_flush_duration_seconds_bucket{topic=\"flushed\"",
                           "persisting_rpc_requests_total{", "persisting_rpc_duration_seconds_bucket{",
                           "persisting_background_errors_total{topic=\"durable\",bucket=\"0\"} 0",
                           "persisting_background_error{topic=\"durable\",bucket=\"0\"} 0"})
    EXPECT_NE(m->body.find(name), std::string::npos) << name << "\n" << m->body;
  // The lance bucket's flush was observed once.
  bool flushed_once = false;
  std::istringstream lines(m->body);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("persisting_flush_duration_seconds_count{topic=\"flushed\"", 0) == 0 &&
        line.substr(line.size() - 2) == " 1")
      flushed_once = true;
  EXPECT_TRUE(flushed_once) << m->body;
  // The persisting bucket's share of the node log: its record, not yet flushed.
  double wal_bytes = 0;
  std::istringstream wal_lines(m->body);
  for (std::string line; std::getline(wal_lines, line);)
    if (line.rfind("persisting_wal_size_bytes{topic=\"durable\"", 0) == 0)
      wal_bytes = std::stod(line.substr(line.rfind(' ') + 1));
  EXPECT_GT(wal_bytes, 0) << m->body;
  auto check = run_process({PROMTOOL_BIN, "check", "metrics"}, m->body);
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
}

// grpc.health.v1.Health/Check with an empty HealthCheckRequest; SERVING encodes as 08 01.
TEST(Node, GrpcHealthCheckSaysServing) {
  Cluster cluster(1);
  ASSERT_TRUE(cluster.start_all());
  grpc::GenericStub stub(grpc::CreateChannel(cluster.address(0), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Slice empty(std::string(""));
  grpc::ByteBuffer req(&empty, 1), resp;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &req, &resp,
                 [&done](grpc::Status s) { done.set_value(std::move(s)); });
  auto s = done.get_future().get();
  ASSERT_TRUE(s.ok()) << s.error_message();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(resp.Dump(&slices).ok());
  std::string bytes;
  for (const auto& sl : slices) bytes.append(reinterpret_cast<const char*>(sl.begin()), sl.size());
  EXPECT_EQ(bytes, std::string("\x08\x01", 2));
}

// Every flag can come from a config file instead.
// A connection whose handshake takes longer than gRPC's default-free minimum (a loaded machine,
// a slow link, TLS) still connects: the client gives a connection attempt seconds, not 100 ms.
// (GRPC_ARG_MIN_RECONNECT_BACKOFF_MS is also gRPC's minimum connect timeout; at 100 ms such a
// client failed with "connection attempt timed out before receiving SETTINGS frame".)
TEST(Node, ClientConnectsThroughASlowHandshake) {
  Cluster cluster(1);
  ASSERT_TRUE(cluster.start_all());
  int port = std::stoi(cluster.address(0).substr(cluster.address(0).rfind(':') + 1));
  testing::SlowRelay relay(port, std::chrono::milliseconds(600));
  ASSERT_NE(relay.port(), 0);
  expect_serving("127.0.0.1:" + std::to_string(relay.port()));
}

// The node's count of Get RPCs answered OK, from /metrics.
int64_t get_rpcs(int metrics_port) {
  httplib::Client http("127.0.0.1", metrics_port);
  auto m = http.Get("/metrics");
  if (!m || m->status != 200) return -1;
  const std::string key = "persisting_rpc_requests_total{method=\"Get\",code=\"OK\"} ";
  auto at = m->body.find(key);
  return at == std::string::npos ? 0 : std::stoll(m->body.substr(at + key.size()));
}

// A reader whose buckets all live on one node waits with a single Get: answered at once when
// records are there, parked until a put otherwise (not a no-wait Get and then a waiting one).
TEST(Node, BlockingGetFromOneOwnerIsOneRpc) {
  int mport = testing::free_port();
  Cluster cluster(1, {"--metrics", "127.0.0.1:" + std::to_string(mport)});
  ASSERT_TRUE(cluster.start_all());
  auto c = client(cluster.address(0));
  auto w = c->writer({.topic = "one", .bucket_column = "id", .num_buckets = 2});
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  auto r = c->reader({.topic = "one"});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  ASSERT_TRUE((*w)->put(Record{{"id", "a"}}).ok());
  int64_t before = get_rpcs(mport);
  ASSERT_GE(before, 0);
  auto got = (*r)->get(10, /*wait=*/true, std::chrono::seconds(10));  // records there: at once
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  EXPECT_EQ(got->size(), 1u);
  EXPECT_EQ(get_rpcs(mport), before + 1);
  std::thread late([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_TRUE((*w)->put(Record{{"id", "b"}}).ok());
  });
  got = (*r)->get(10, /*wait=*/true, std::chrono::seconds(30));  // caught up: parks until the put
  late.join();
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].record.find("id")->as_string(), "b");
  EXPECT_EQ(get_rpcs(mport), before + 2);
  got = (*r)->get(10, /*wait=*/true, std::chrono::milliseconds(100));  // nothing comes: empty
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  EXPECT_TRUE(got->empty());
}

// A reader reads ahead (ReaderOptions.read_ahead): small gets are served from one Get's answer,
// every record once and in order per bucket; set_offset drops what is ahead; read_ahead 0 asks for
// exactly each get's limit; a read_ahead above a node's largest get is refused.
TEST(Node, ReadAheadServesSmallGetsFromOneRpc) {
  int mport = testing::free_port();
  Cluster cluster(1, {"--metrics", "127.0.0.1:" + std::to_string(mport)});
  ASSERT_TRUE(cluster.start_all());
  auto c = client(cluster.address(0));
  auto w = c->writer({.topic = "ahead", .bucket_column = "id", .num_buckets = 4});
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  std::vector<Record> batch;
  for (int i = 0; i < 400; ++i) batch.push_back(Record{{"id", "k" + std::to_string(i)}, {"i", int64_t(i)}});
  ASSERT_TRUE((*w)->put(batch).ok());
  // Reads every record with gets of 10; returns the Get RPCs it cost.
  auto read_all = [&](ClientReader& r) {
    int64_t before = get_rpcs(mport);
    std::map<uint32_t, uint64_t> next;  // bucket -> the offset the next record must have
    std::set<int64_t> seen;
    for (int g = 0; g < 200 && seen.size() < 400; ++g) {
      auto got = r.get(10, /*wait=*/false, std::chrono::milliseconds(0));
      EXPECT_TRUE(got.ok()) << got.status().to_string();
      if (!got.ok()) break;
      EXPECT_LE(got->size(), 10u);
      for (const auto& m : *got) {
        EXPECT_EQ(m.offset.value(), next[m.bucket.value()]) << "bucket " << m.bucket.value();
        next[m.bucket.value()] = m.offset.value() + 1;
        EXPECT_TRUE(seen.insert(m.record.find("i")->as_int()).second) << "twice: " << m.record.find("i")->as_int();
      }
    }
    EXPECT_EQ(seen.size(), 400u);
    auto rest = r.get(10, /*wait=*/false, std::chrono::milliseconds(0));
    EXPECT_TRUE(rest.ok() && rest->empty());
    return get_rpcs(mport) - before;
  };
  auto exact = c->reader({.topic = "ahead", .read_ahead = 0});
  ASSERT_TRUE(exact.ok()) << exact.status().to_string();
  EXPECT_EQ(read_all(**exact), 41);  // 40 gets of 10, and the empty one
  auto r = c->reader({.topic = "ahead"});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  // One Get brings all 400; a bucket is asked again only once fewer than 3 (10 / 4) are ahead.
  EXPECT_LE(read_all(**r), 10);

  // A seek drops what is ahead: the next records of bucket 0 start at the new offset.
  auto again = c->reader({.topic = "ahead", .buckets = {0}});
  ASSERT_TRUE(again.ok());
  auto first = (*again)->get(5, false, std::chrono::milliseconds(0));
  ASSERT_TRUE(first.ok() && first->size() == 5u);
  ASSERT_TRUE((*again)->set_offset(Offset(2), BucketId(0)).ok());
  auto after = (*again)->get(3, false, std::chrono::milliseconds(0));
  ASSERT_TRUE(after.ok()) << after.status().to_string();
  ASSERT_EQ(after->size(), 3u);
  EXPECT_EQ((*after)[0].offset.value(), 2u);
  EXPECT_EQ((*after)[0].record.find("i")->as_int(), (*first)[2].record.find("i")->as_int());

  // Records put after everything ahead was returned reach a waiting get.
  std::thread late([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_TRUE((*w)->put(Record{{"id", "late"}, {"i", int64_t(400)}}).ok());
  });
  auto woken = (*r)->get(10, /*wait=*/true, std::chrono::seconds(30));
  late.join();
  ASSERT_TRUE(woken.ok()) << woken.status().to_string();
  ASSERT_EQ(woken->size(), 1u);
  EXPECT_EQ((*woken)[0].record.find("i")->as_int(), 400);

  auto too_far = c->reader({.topic = "ahead", .read_ahead = 100001});
  ASSERT_FALSE(too_far.ok());
  EXPECT_EQ(too_far.status().code(), Code::kInvalidArgument);
  EXPECT_NE(too_far.status().message().find("read_ahead"), std::string::npos) << too_far.status().to_string();
}

TEST(Node, StartsFromAConfigFile) {
  testing::TempDir dir;
  int port = testing::free_port();
  std::string addr = "127.0.0.1:" + std::to_string(port);
  std::ofstream(dir.path() + "/node.toml") << "id = \"c1\"\nlisten = \"" << addr << "\"\nmembers = \"c1=" << addr
                                          << "\"\ndata-dir = \"" << dir.path() << "/data\"\n";
  testing::Process p;
  ASSERT_TRUE(p.start({PERSISTINGD_BIN, "--config", dir.path() + "/node.toml"}, dir.path() + "/log"));
  ASSERT_TRUE(testing::wait_for_port(port, p)) << p.log();
  expect_serving(addr);
  auto st = client(addr)->cluster_status();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->find("self")->as_string(), "c1");
  EXPECT_EQ(p.kill(SIGTERM), 0) << p.log();
}

TEST(Node, WrongOrMissingTokenIsUnauthenticatedAndChangesNothing) {
  Cluster cluster(1, {"--token", "s3cret"});
  ASSERT_TRUE(cluster.start_all());
  for (std::string token : {"", "wrong"}) {
    ClientOptions o;
    o.token = token;
    auto c = client(cluster.address(0), o);
    auto w = c->writer({.topic = "guarded", .bucket_column = "id", .num_buckets = 2});
    ASSERT_FALSE(w.ok());
    EXPECT_EQ(w.status().code(), Code::kUnauthenticated) << w.status().to_string();
    auto t = c->topics();
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.status().code(), Code::kUnauthenticated);
  }
  ClientOptions good;
  good.token = "s3cret";
  auto c = client(cluster.address(0), good);
  auto t = c->topics();
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  EXPECT_TRUE(t->empty()) << "a refused CreateTopic created a topic";
  expect_serving(cluster.address(0), good);
  // The CLI passes the token too.
  auto bad = run_process({PERSISTING_BIN, "topics", "--server", cluster.address(0), "--token", "nope"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("Unauthenticated"), std::string::npos) << bad.err;
}

TEST(Node, TlsWithThrowawayCa) {
  testing::TempDir pki;
  std::string d = pki.path();
  auto sh = [&](const std::string& cmd) {
    auto r = run_process({"/bin/sh", "-c", cmd});
    ASSERT_EQ(r.exit_code, 0) << cmd << "\n" << r.err;
  };
  sh("cd " + d + " && " + OPENSSL_BIN +
     " req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=test-ca -keyout ca.key -out ca.pem 2>/dev/null");
  sh("cd " + d + " && " + OPENSSL_BIN +
     " req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout node.key -out node.csr 2>/dev/null");
  sh("cd " + d + " && printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > ext && " + OPENSSL_BIN +
     " x509 -req -in node.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -extfile ext -out node.pem 2>/dev/null");
  // Two nodes with TLS and a token: the topic is forwarded node to node over TLS with the token.
  Cluster cluster(2, {"--tls-cert", d + "/node.pem", "--tls-key", d + "/node.key", "--tls-ca", d + "/ca.pem",
                      "--token", "tok"});
  ASSERT_TRUE(cluster.start_all()) << cluster.log(0);
  ClientOptions o;
  o.tls_ca_file = d + "/ca.pem";
  o.token = "tok";
  expect_serving(cluster.address(0), o);
  auto st = client(cluster.address(1), o)->stats("alive");
  ASSERT_TRUE(st.ok()) << st.status().to_string();
  EXPECT_EQ(st->find("total_count")->as_int(), 1);
  // Plaintext against the TLS port fails: nothing is served in the clear.
  auto plain = client(cluster.address(0));
  auto t = plain->topics();
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), Code::kUnavailable) << t.status().to_string();
  auto cli = run_process(
      {PERSISTING_BIN, "topics", "--server", cluster.address(0), "--tls-ca", d + "/ca.pem", "--token", "tok"});
  EXPECT_EQ(cli.exit_code, 0) << cli.err;
}

// Raw persisting.v1 calls, for requests the Client would never send.
class BadRequests : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = std::make_unique<Cluster>(1, std::vector<std::string>{"--max-message-bytes", "65536"});
    ASSERT_TRUE(cluster_->start_all());
    stub_ = v1::QueueService::NewStub(
        grpc::CreateChannel(cluster_->address(0), grpc::InsecureChannelCredentials()));
    auto c = client(cluster_->address(0));
    ASSERT_TRUE(c->writer({.topic = "t", .bucket_column = "id", .num_buckets = 4}).ok());
  }
  grpc::Status put(const v1::PutRequest& req, v1::PutResponse* resp) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return stub_->Put(&ctx, req, resp);
  }
  // A well-formed put of one record {"id": id} to bucket.
  v1::PutRequest good_put(uint32_t bucket, const std::string& record_bytes) {
    v1::PutRequest req;
    req.set_topic("t");
    auto* br = req.add_buckets();
    br->set_bucket(bucket);
    br->mutable_run()->set_records(record_bytes);
    br->mutable_run()->add_ends(static_cast<uint32_t>(record_bytes.size()));
    return req;
  }
  std::unique_ptr<Cluster> cluster_;
  std::unique_ptr<v1::QueueService::Stub> stub_;
};

TEST_F(BadRequests, UnknownTopic) {
  auto c = client(cluster_->address(0));
  auto r = c->reader({.topic = "no-such-topic"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_NE(r.status().message().find("no-such-topic"), std::string::npos) << r.status().to_string();
  v1::PutResponse resp;
  auto req = good_put(0, encode_record(Record{{"id", "a"}}));
  req.set_topic("no-such-topic");
  auto s = put(req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
  expect_serving(cluster_->address(0));
}

TEST_F(BadRequests, MalformedRecord) {
  v1::PutResponse resp;
  auto s = put(good_put(0, "\x07garbage-not-a-record"), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("malformed"), std::string::npos) << s.error_message();
  // Ends that point outside the bytes.
  auto req = good_put(0, encode_record(Record{{"id", "a"}}));
  req.mutable_buckets(0)->mutable_run()->set_ends(0, 100000);
  s = put(req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  // Well framed but not a valid record: a duplicate key (nested), a record without the bucket
  // column, and a bucket column of a type that cannot be a key.
  for (uint32_t b = 0; b < 4; ++b) {
    s = put(good_put(b, std::string("\x01\x02\x02id\x05\x01" "a\x01o\x09\x02\x01k\x00\x01k\x00", 18)), &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
    EXPECT_NE(s.error_message().find("duplicate field 'k'"), std::string::npos) << s.error_message();
  }
  s = put(good_put(0, encode_record(Record{{"other", 1}})), &resp);
  EXPECT_NE(s.error_message().find("no value in bucket column 'id'"), std::string::npos) << s.error_message();
  s = put(good_put(0, encode_record(Record{{"id", List{1}}})), &resp);
  EXPECT_NE(s.error_message().find("cannot be a bucket key"), std::string::npos) << s.error_message();
  // A valid record sent to a bucket it does not hash to.
  Record r{{"id", "a"}};
  for (uint32_t b = 0; b < 4; ++b) {
    s = put(good_put(b, encode_record(r)), &resp);
    if (!s.ok()) {
      EXPECT_NE(s.error_message().find("belongs to bucket"), std::string::npos) << s.error_message();
    }
  }
  auto c = client(cluster_->address(0));
  auto st = c->stats("t");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->find("total_count")->as_int(), 1) << "only the correctly routed put may land";
  expect_serving(cluster_->address(0));
}

// The owner applies each (producer, bucket, sequence) once: a retried put never appears twice.
TEST_F(BadRequests, RetriedPutIsAppliedOnceAndAStaleOneIsRefused) {
  Record r{{"id", "dedup"}};
  TopicInfo info;
  info.topic = "t";
  info.bucket_column = "id";
  info.num_buckets = 4;
  auto bucket = queue::bucket_of(info, r);
  ASSERT_TRUE(bucket.ok());
  auto req = good_put(*bucket, encode_record(r));
  req.set_producer_id(77);
  req.mutable_buckets(0)->set_sequence(5);
  v1::PutResponse first, again;
  ASSERT_TRUE(put(req, &first).ok());
  ASSERT_TRUE(put(req, &again).ok());
  EXPECT_FALSE(first.buckets(0).duplicate());
  EXPECT_TRUE(again.buckets(0).duplicate());
  EXPECT_EQ(again.buckets(0).first_offset(), first.buckets(0).first_offset());
  req.mutable_buckets(0)->set_sequence(4);
  auto stale = put(req, &again);
  EXPECT_EQ(stale.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << stale.error_message();
  req.mutable_buckets(0)->set_sequence(6);
  ASSERT_TRUE(put(req, &again).ok());
  EXPECT_FALSE(again.buckets(0).duplicate());
  auto st = client(cluster_->address(0))->stats("t");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->find("total_count")->as_int(), 2);
}

// A put naming several buckets is checked whole before anything is applied.
TEST_F(BadRequests, OneBadRunRefusesTheWholePut) {
  TopicInfo info;
  info.topic = "t";
  info.bucket_column = "id";
  info.num_buckets = 4;
  v1::PutRequest req;
  req.set_topic("t");
  std::set<uint32_t> used;
  for (int k = 0; used.size() < 2; ++k) {
    Record r{{"id", int64_t(k)}};
    uint32_t b = *queue::bucket_of(info, r);
    if (!used.insert(b).second) continue;
    auto* br = req.add_buckets();
    br->set_bucket(b);
    std::string bytes = encode_record(r);
    br->mutable_run()->set_records(bytes);
    br->mutable_run()->add_ends(uint32_t(bytes.size()));
  }
  req.mutable_buckets(1)->mutable_run()->set_records("\x01broken");
  req.mutable_buckets(1)->mutable_run()->set_ends(0, 7);
  v1::PutResponse resp;
  auto s = put(req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  auto st = client(cluster_->address(0))->stats("t");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->find("total_count")->as_int(), 0);
}

TEST_F(BadRequests, MessageOverTheSizeLimit) {
  auto c = client(cluster_->address(0));
  auto w = c->writer({.topic = "t", .bucket_column = "id", .num_buckets = 4});
  ASSERT_TRUE(w.ok());
  auto big = (*w)->put(Record{{"id", "big"}, {"blob", std::string(200000, 'x')}});
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().code(), Code::kResourceExhausted) << big.status().to_string();
  auto st = c->stats("t");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->find("total_count")->as_int(), 0);
  expect_serving(cluster_->address(0));
}

TEST_F(BadRequests, BucketOutOfRange) {
  v1::PutResponse resp;
  auto s = put(good_put(99, encode_record(Record{{"id", "a"}})), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("bucket 99 is out of range"), std::string::npos) << s.error_message();
  grpc::ClientContext ctx;
  v1::GetBucketRequest req;
  req.set_topic("t");
  req.set_bucket(4);
  v1::GetBucketResponse gb;
  s = stub_->GetBucket(&ctx, req, &gb);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  auto c = client(cluster_->address(0));
  auto r = c->reader({.topic = "t", .buckets = {7}});
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  expect_serving(cluster_->address(0));
}

TEST_F(BadRequests, WrongTokenOnATokenNode) {
  Cluster guarded(1, {"--token", "right"});
  ASSERT_TRUE(guarded.start_all());
  ClientOptions o;
  o.token = "wrong";
  auto t = client(guarded.address(0), o)->topics();
  EXPECT_EQ(t.status().code(), Code::kUnauthenticated);
  o.token = "right";
  expect_serving(guarded.address(0), o);
}

TEST_F(BadRequests, GarbageFrameOnThePort) {
  int port = std::stoi(cluster_->address(0).substr(cluster_->address(0).rfind(':') + 1));
  for (int round = 0; round < 3; ++round) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    std::string junk = round == 0 ? "GET / HTTP/1.1\r\nHost: x\r\n\r\n" : std::string(4096, char(0xA5 + round));
    ASSERT_GT(::write(fd, junk.data(), junk.size()), 0);
    char buf[256];
    (void)::read(fd, buf, sizeof buf);  // the node answers with a GOAWAY or closes
    ::close(fd);
  }
  expect_serving(cluster_->address(0));
}

}  // namespace
}  // namespace persisting
