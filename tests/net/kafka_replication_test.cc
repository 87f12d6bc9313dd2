// The Kafka listener over replicated buckets (issue 18; docs/kafka.md, "Replication"): kcat
// consumers see records only up to the high watermark, a produce with acks=-1 waits for the
// in-sync replicas and is refused with NOT_ENOUGH_REPLICAS once too few are in sync. Three
// persistingd processes on loopback with Kafka listeners; the followers are SIGSTOPped and
// SIGCONTed. Every wait is bounded and waits for a condition (cluster status, a process's exit).
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>

#include "net/connect_to.h"
#include "net/etcd_process.h"
#include "net/kafka_nodes.h"
#include "net/leader_view.h"
#include "net/node_process.h"
#include "net/replicated_topic.h"
#include "persisting/client.h"
#include "util/run_process.h"

namespace persisting {
namespace {

using testing::Cluster;
using testing::connect_to;
using testing::KafkaNodes;
using testing::View;
using testing::records;
using testing::replicated;
using testing::wait_led;

// JSON values {"id": i, "k": 0} for i in [from, to), one a line (the topic's one bucket).
std::string values(int from, int to) {
  std::string out;
  for (int i = from; i < to; ++i) out += "{\"id\":" + std::to_string(i) + ",\"k\":0}\n";
  return out;
}

// kcat produces the lines of input to partition 0 with acks (no retries: the broker's error is
// kcat's); its exit code and output.
testing::ProcessResult produce(const std::string& broker, const std::string& input, int acks,
                               int timeout_ms = 20000) {
  return testing::run_process({"/usr/bin/timeout", "30", "kcat", "-b", broker, "-P", "-t", "kr", "-p", "0", "-X",
                               "request.required.acks=" + std::to_string(acks), "-X", "retries=0", "-X",
                               "message.timeout.ms=" + std::to_string(timeout_ms)},
                              input);
}

// kcat reads partition 0 of "kr" from the beginning to its end (as the broker says it): the ids.
std::vector<int64_t> consume(const std::string& broker) { return testing::consume_ids(broker, "kr"); }

// kcat's ListOffsets(latest) of partition 0; -1 when it did not answer.
int64_t latest(const std::string& broker) {
  auto r = testing::run_process({"/usr/bin/timeout", "30", "kcat", "-b", broker, "-Q", "-t", "kr:0:-1"});
  auto at = r.out.find("offset ");
  return at == std::string::npos ? -1 : std::stoll(r.out.substr(at + 7));
}

bool write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
  return static_cast<bool>(f);
}

std::vector<int64_t> ids(int64_t from, int64_t to) {
  std::vector<int64_t> out;
  for (int64_t i = from; i < to; ++i) out.push_back(i);
  return out;
}

// A replicated topic "kr" (one bucket, factor 3) with records [0, n), every replica in sync:
// the index of its leader, -1 on failure.
int start_topic(KafkaNodes& kn, int n) {
  if (!kn.nodes.start_all()) return -1;
  auto c = connect_to(kn.nodes.address(0));
  auto w = c->writer(replicated("kr"));
  EXPECT_TRUE(w.ok()) << w.status().to_string();
  if (!w.ok()) return -1;
  Status s = (*w)->put(records(0, n));
  EXPECT_TRUE(s.ok()) << s.to_string();
  if (!s.ok()) return -1;
  const int leader = testing::leader_index(kn.nodes, 3, "kr");
  if (leader < 0) return -1;
  auto v = wait_led(kn.nodes, leader, "kr", [n](const View& v) { return v.in_sync.size() == 3 && v.high_watermark == n; });
  return v && v->in_sync.size() == 3 ? leader : -1;
}

// The followers never leave the set here (a long lag limit): what is not on them stays invisible.
TEST(KafkaReplication, ConsumersStopAtTheHighWatermarkAndAcksAllWaitsForTheFollowers) {
  KafkaNodes kn({"--replica-lag-max-ms", "600000"});
  const int leader = start_topic(kn, 10);
  ASSERT_GE(leader, 0) << kn.nodes.log(0);
  const std::string broker = kn.kafka(leader), leader_id = kn.nodes.id(leader);
  EXPECT_EQ(consume(broker), ids(0, 10));
  EXPECT_EQ(latest(broker), 10);

  std::vector<int> followers;
  for (int i = 0; i < 3; ++i)
    if (i != leader) followers.push_back(i);
  for (int f : followers) kn.nodes.signal(f, SIGSTOP);
  // acks=1: the leader has them, the consumers do not see them.
  auto one = produce(broker, values(10, 15), 1);
  ASSERT_EQ(one.exit_code, 0) << one.out << one.err;
  auto v = wait_led(kn.nodes, leader, "kr", [&](const View& v) { return v.end_of(leader_id) == 15; });
  ASSERT_TRUE(v && v->high_watermark == 10);
  EXPECT_EQ(consume(broker), ids(0, 10)) << "records past the high watermark were served";
  EXPECT_EQ(latest(broker), 10);

  // acks=-1: appended by the leader, not acknowledged while the followers are stopped.
  testing::Process all;
  const std::string in = kn.nodes.dir() + "/all.txt";
  ASSERT_TRUE(write_text(in, values(15, 16)));
  ASSERT_TRUE(all.start({"/bin/sh", "-c",
                         "exec kcat -b " + broker + " -P -t kr -p 0 -X request.required.acks=-1 < " + in},
                        kn.nodes.dir() + "/kcat-all.log"));
  v = wait_led(kn.nodes, leader, "kr", [&](const View& v) { return v.end_of(leader_id) == 16; });
  ASSERT_TRUE(v && v->end_of(leader_id) == 16);
  EXPECT_EQ(all.wait_exit(std::chrono::milliseconds(1000)), -2) << "acknowledged without the followers";
  EXPECT_EQ(consume(broker), ids(0, 10));

  for (int f : followers) kn.nodes.signal(f, SIGCONT);
  EXPECT_EQ(all.wait_exit(std::chrono::seconds(30)), 0) << all.log();
  v = wait_led(kn.nodes, leader, "kr", [](const View& v) { return v.high_watermark == 16; });
  ASSERT_TRUE(v && v->high_watermark == 16);
  EXPECT_EQ(consume(broker), ids(0, 16));
  EXPECT_EQ(latest(broker), 16);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(kn.nodes.kill(i, SIGTERM), 0) << kn.nodes.log(i);
}

// A short lag limit: stopped followers leave the set, and acks=-1 is refused until they are back.
TEST(KafkaReplication, AcksAllIsRefusedWithNotEnoughReplicasOnceFollowersLeftAndGoesOnAfter) {
  KafkaNodes kn({"--replica-lag-max-ms", "2000"});
  const int leader = start_topic(kn, 5);
  ASSERT_GE(leader, 0) << kn.nodes.log(0);
  const std::string broker = kn.kafka(leader), leader_id = kn.nodes.id(leader);
  std::vector<int> followers;
  for (int i = 0; i < 3; ++i)
    if (i != leader) followers.push_back(i);
  for (int f : followers) kn.nodes.signal(f, SIGSTOP);
  auto v = wait_led(kn.nodes, leader, "kr", [](const View& v) { return v.in_sync.size() == 1; });
  ASSERT_TRUE(v && v->in_sync.size() == 1);

  auto refused = produce(broker, values(5, 6), -1);
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE((refused.out + refused.err).find("Not enough in-sync replicas"), std::string::npos)
      << refused.out << refused.err;
  v = wait_led(kn.nodes, leader, "kr", [](const View&) { return true; });
  ASSERT_TRUE(v);
  EXPECT_EQ(v->end_of(leader_id), 5) << "a refused produce appended nothing";
  auto one = produce(broker, values(5, 6), 1);
  EXPECT_EQ(one.exit_code, 0) << one.out << one.err;

  for (int f : followers) kn.nodes.signal(f, SIGCONT);
  v = wait_led(kn.nodes, leader, "kr", [](const View& v) { return v.in_sync.size() == 3; });
  ASSERT_TRUE(v && v->in_sync.size() == 3);
  auto all = produce(broker, values(6, 8), -1);
  EXPECT_EQ(all.exit_code, 0) << all.out << all.err;
  v = wait_led(kn.nodes, leader, "kr", [](const View& v) { return v.high_watermark == 8; });
  ASSERT_TRUE(v && v->high_watermark == 8);
  EXPECT_EQ(consume(broker), ids(0, 8));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(kn.nodes.kill(i, SIGTERM), 0) << kn.nodes.log(i);
}

// With etcd, a leader produces and acknowledges only while its lease holds, as a gRPC Put
// (docs/cluster.md, "Fencing"): etcd gone past the TTL, a produce sent to the leader itself is
// refused NOT_LEADER_OR_FOLLOWER and appends nothing; etcd back, produces go on.
TEST(KafkaReplication, WithEtcdAProduceIsRefusedOnceTheLeadersLeaseMayHaveExpired) {
  testing::Etcd etcd;
  ASSERT_TRUE(etcd.start()) << etcd.log();
  Cluster nodes(3, {"--etcd", etcd.url(), "--etcd-ttl", "2", "--etcd-prefix", "/kfence"});
  std::vector<std::string> kafka;
  for (int i = 0; i < 3; ++i) {
    kafka.push_back("127.0.0.1:" + std::to_string(testing::free_port()));
    nodes.set_node_args(i, {"--kafka-listen", kafka[i]});
  }
  ASSERT_TRUE(nodes.start_all()) << nodes.log(0);
  bool made = false;
  for (int i = 0; i < 200 && !made; ++i) {  // bounded: 20 s, until the three registered
    auto c = connect_to(nodes.address(0));
    auto st = c ? c->cluster_status() : Result<Object>(Unavailable("no client"));
    if (st.ok() && st->find("members")->as_list().size() == 3) {
      auto w = c->writer(replicated("kr"));
      made = w.ok() && (*w)->put(records(0, 5)).ok();
    }
    if (!made) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(made) << nodes.log(0);
  int leader = -1;
  for (int i = 0; i < 100 && leader < 0; ++i) {
    leader = testing::leader_index(nodes, 3, "kr");
    if (leader < 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_GE(leader, 0);
  auto v = wait_led(nodes, leader, "kr", [](const View& v) { return v.in_sync.size() == 3 && v.high_watermark == 5; });
  ASSERT_TRUE(v && v->in_sync.size() == 3);
  auto ok = produce(kafka[leader], values(5, 6), 1);
  ASSERT_EQ(ok.exit_code, 0) << ok.out << ok.err;

  etcd.kill();
  std::this_thread::sleep_for(std::chrono::seconds(3));  // past every lease deadline (TTL 2 s)
  // librdkafka keeps a record refused NOT_LEADER_OR_FOLLOWER queued for the leader metadata
  // names until its timeout.
  auto refused = produce(kafka[leader], values(6, 7), 1, 5000);
  EXPECT_NE(refused.exit_code, 0) << "a leader whose lease may have expired took a produce";
  const std::string said = refused.out + refused.err;
  EXPECT_TRUE(said.find("Not leader") != std::string::npos || said.find("Message timed out") != std::string::npos)
      << said;
  v = wait_led(nodes, leader, "kr", [](const View&) { return true; });
  ASSERT_TRUE(v);
  EXPECT_EQ(v->end_of(nodes.id(leader)), 6) << "the refused produce appended nothing";

  ASSERT_TRUE(etcd.restart()) << etcd.log();
  testing::ProcessResult after;
  for (int i = 0; i < 30; ++i) {  // bounded: until the leases are renewed
    after = produce(kafka[leader], values(7, 8), -1);
    if (after.exit_code == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_EQ(after.exit_code, 0) << after.out << after.err;
  // (A try refused after its append, while the leases came back, may have left a copy of 7.)
  v = wait_led(nodes, leader, "kr", [](const View& v) { return v.high_watermark >= 7; });
  ASSERT_TRUE(v && v->high_watermark >= 7);
  std::vector<int64_t> got = consume(kafka[leader]);
  ASSERT_GE(got.size(), 7u);
  EXPECT_EQ(std::vector<int64_t>(got.begin(), got.begin() + 6), ids(0, 6));
  for (size_t i = 6; i < got.size(); ++i) EXPECT_EQ(got[i], 7) << "the refused 6 is not there";
  for (int i = 0; i < 3; ++i) EXPECT_EQ(nodes.kill(i, SIGTERM), 0) << nodes.log(i);
}

}  // namespace
}  // namespace persisting
