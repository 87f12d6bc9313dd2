// Automatic failover through etcd (issue 18; docs/cluster.md, "Failover"): three persistingd
// processes with etcd membership (lease TTL 2 s), one replicated bucket (factor 3), a producer
// putting one record at a time with acks=all. The leader is killed (-9), frozen (SIGSTOP until a
// new leader is elected), or etcd restarts under it: the puts resume on the new leader, and
// every acknowledged record is there exactly once and in order, read through every live node.
//
// Each attempt of the producer puts a record with a fresh id (a failed put is not retried with
// the same record), so an acknowledged id can be counted exactly: an id that was not
// acknowledged may be present (the put reached the log, then its answer failed) and is only
// reported. Every wait is bounded and waits for a condition, never for time.
#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "core/base64.h"
#include "net/connect_to.h"
#include "net/etcd_process.h"
#include "net/leader_view.h"
#include "net/node_process.h"
#include "net/replicated_topic.h"
#include "persisting/client.h"
#include "persisting/json.h"

namespace persisting {
namespace {

using testing::Cluster;
using testing::Etcd;
using testing::read_all;
using testing::replicated;
using Clock = std::chrono::steady_clock;

using testing::View;
using testing::view_of;

// Polls (bounded: 40 s) until some node in `nodes` reports a view satisfying pred.
template <typename Pred>
std::optional<View> wait_view(Cluster& cluster, const std::vector<int>& nodes, const std::string& topic, Pred pred) {
  for (int i = 0; i < 400; ++i) {
    for (int n : nodes)
      if (auto v = view_of(cluster, n, topic); v && pred(*v)) return v;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return std::nullopt;
}

// The elected leader of bucket 0 (etcd epochs are etcd revisions, above 0), reported by itself.
std::optional<View> elected(Cluster& cluster, const std::vector<int>& nodes, const std::string& topic,
                            int64_t above_epoch = 0) {
  return wait_view(cluster, nodes, topic, [&](const View& v) {
    return v.leads && v.epoch > above_epoch && v.in_sync.size() == 3;
  });
}

// Puts {"id": n, "k": 0} one at a time with acks=all through a client of `server`, a fresh id per
// attempt, until stopped or bounded (count, time). Remembers the acknowledged ids in order.
class Producer {
 public:
  Producer(std::string server, std::string topic, int64_t first_id)
      : server_(std::move(server)), topic_(std::move(topic)), next_(first_id) {
    thread_ = std::thread([this] { run(); });
  }
  ~Producer() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  size_t acked_count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return acked_.size();
  }
  std::vector<int64_t> acked() const {
    std::lock_guard<std::mutex> lock(mu_);
    return acked_;
  }
  // The first acknowledgment of a put sent after t (nullopt: none yet).
  std::optional<Clock::time_point> first_ack_sent_after(Clock::time_point t) const {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < ack_times_.size(); ++i)
      if (sent_times_[i] > t) return ack_times_[i];
    return std::nullopt;
  }
  // Polls (bounded: 60 s) until `more` acknowledgments after t.
  bool wait_acks_after(Clock::time_point t, size_t more) const {
    for (int i = 0; i < 600; ++i) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        size_t n = 0;
        for (auto a : ack_times_) n += a > t;
        if (n >= more) return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }
  int64_t next_id() const { return next_; }

 private:
  void run() {
    const auto deadline = Clock::now() + std::chrono::seconds(120);
    std::unique_ptr<ClientWriter> w;
    std::unique_ptr<Client> c;
    for (int attempts = 0; !stop_ && attempts < 20000 && Clock::now() < deadline; ++attempts) {
      if (!w) {
        auto cc = Client::connect({.server = server_, .rpc_timeout = std::chrono::seconds(3), .put_retries = 0});
        if (cc.ok()) {
          auto ww = (*cc)->writer(replicated(topic_, Acks::kAll));
          if (ww.ok()) {
            c = std::move(cc).value();
            w = std::move(ww).value();
          }
        }
        if (!w) {
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
          continue;
        }
      }
      const int64_t id = next_++;
      const auto sent = Clock::now();
      Status s = w->put(std::vector<Record>{Record{{"id", id}, {"k", int64_t{0}}}});
      if (s.ok()) {
        std::lock_guard<std::mutex> lock(mu_);
        acked_.push_back(id);
        ack_times_.push_back(Clock::now());
        sent_times_.push_back(sent);
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
  }

  std::string server_, topic_;
  std::atomic<int64_t> next_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::vector<int64_t> acked_;
  std::vector<Clock::time_point> ack_times_, sent_times_;
  std::thread thread_;
};

// Every acknowledged id exactly once and in order in what `address` serves; returns how many
// unacknowledged ids are present (reported, allowed: their answer was lost, not the record).
int check_exactly_once(const std::string& address, const std::string& topic, const std::vector<int64_t>& acked) {
  std::vector<int64_t> ids = read_all(address, topic);
  std::map<int64_t, int> seen;
  std::map<int64_t, size_t> pos;
  for (size_t i = 0; i < ids.size(); ++i) {
    ++seen[ids[i]];
    pos[ids[i]] = i;
  }
  std::set<int64_t> acked_set(acked.begin(), acked.end());
  size_t last = 0;
  bool first = true;
  for (int64_t id : acked) {
    EXPECT_EQ(seen[id], 1) << "acknowledged record " << id << " read " << seen[id] << " times through " << address;
    if (seen[id] == 1) {
      if (!first) {
        EXPECT_GT(pos[id], last) << "acknowledged record " << id << " out of order through " << address;
      }
      last = pos[id];
      first = false;
    }
  }
  int unacked = 0;
  for (const auto& [id, n] : seen) {
    EXPECT_EQ(n, 1) << "record " << id << " read " << n << " times through " << address;
    if (!acked_set.count(id)) ++unacked;
  }
  return unacked;
}

std::vector<std::string> etcd_args(const Etcd& etcd, const std::string& prefix) {
  return {"--etcd", etcd.url(), "--etcd-ttl", "2", "--etcd-prefix", prefix, "--replica-lag-max-ms", "2000"};
}

std::vector<int> others(int n, int except) {
  std::vector<int> out;
  for (int i = 0; i < n; ++i)
    if (i != except) out.push_back(i);
  return out;
}

// Creates the topic once all three members registered; the leader etcd elected.
std::optional<View> create_topic(Cluster& cluster, const std::string& topic) {
  for (int i = 0; i < 200; ++i) {  // bounded: 20 s, until the three registered
    auto c = testing::connect_to(cluster.address(0));
    if (!c) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    auto st = c->cluster_status();
    if (st.ok() && st->find("members")->as_list().size() == 3) {
      auto w = c->writer(replicated(topic, Acks::kAll));
      EXPECT_TRUE(w.ok()) << w.status().to_string();
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return elected(cluster, {0, 1, 2}, topic);
}

// etcd and 3 nodes that use it (etcd_args(prefix)), with a factor-3 topic whose leader etcd
// elected (v); the leader's index and a follower's. Call start() in ASSERT_NO_FATAL_FAILURE.
struct ElectedTopic {
  Etcd etcd;
  std::unique_ptr<Cluster> cluster;
  std::optional<View> v;
  int leader = -1, via = -1;
  void start(const std::string& prefix, const std::string& topic) {
    ASSERT_TRUE(etcd.start()) << etcd.log();
    cluster = std::make_unique<Cluster>(3, etcd_args(etcd, prefix));
    ASSERT_TRUE(cluster->start_all()) << cluster->log(0);
    v = create_topic(*cluster, topic);
    ASSERT_TRUE(v) << "no leader elected through etcd; " << cluster->log(0);
    leader = cluster->index_of(v->leader);
    ASSERT_GE(leader, 0);
    via = others(3, leader)[0];
  }
};

// How many members the in-sync set of bucket 0 that its leader stored in etcd has
// (<prefix>/isr/<topic>/0, docs/wire-protocol.md "etcd keys of elections"); 0 when unread.
size_t stored_in_sync(const Etcd& etcd, const std::string& prefix, const std::string& topic) {
  std::string key;
  encode_base64(prefix + "/isr/" + topic + "/0", &key);
  httplib::Client c(etcd.url());
  auto r = c.Post("/v3/kv/range", "{\"key\":\"" + key + "\"}", "application/json");
  if (!r || r->status != 200) return 0;
  auto body = parse_json(r->body);
  if (!body.ok() || !body->is_object()) return 0;
  const Value* kvs = body->as_object().find("kvs");
  if (!kvs || !kvs->is_list() || kvs->as_list().empty()) return 0;
  const Value* value = kvs->as_list()[0].as_object().find("value");
  if (!value || !value->is_string()) return 0;
  auto text = decode_base64(value->as_string());
  if (!text.ok()) return 0;
  // The members list, read as text: the value's incarnation is a uint64 that may not fit the
  // JSON library's int64.
  const size_t at = text->find("\"members\":[");
  if (at == std::string::npos) return 0;
  const size_t end = text->find(']', at);
  size_t quotes = 0;
  for (size_t i = at + 11; i < end && i < text->size(); ++i) quotes += (*text)[i] == '"';
  return quotes / 2;
}

// A leader records a follower's return to its in-sync set in etcd at its next scan (500 ms):
// killed before that, it leaves no in-sync candidate alive and the bucket waits for it
// (docs/cluster.md, "Failover with etcd"). Each round waits for the stored set (bounded: 10 s).
bool wait_stored_in_sync(const Etcd& etcd, const std::string& prefix, const std::string& topic, size_t n) {
  for (int i = 0; i < 100; ++i) {
    if (stored_in_sync(etcd, prefix, topic) == n) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

TEST(Failover, KillNineLeaderOfTheBucketInTurnLosesNoAcknowledgedRecord) {
  ElectedTopic t;
  ASSERT_NO_FATAL_FAILURE(t.start("/kill", "f"));
  const Etcd& etcd = t.etcd;
  Cluster& cluster = *t.cluster;
  std::optional<View> v = t.v;  // the leader of each round
  int64_t next_id = 0;
  std::vector<int64_t> acked;
  std::vector<double> failover_ms;
  for (int round = 0; round < 3; ++round) {
    const int leader = cluster.index_of(v->leader);
    ASSERT_GE(leader, 0);
    const int via = others(3, leader)[0];
    Producer p(cluster.address(via), "f", next_id);
    ASSERT_TRUE(p.wait_acks_after(Clock::now(), 20)) << "no puts before the kill; " << cluster.log(leader);
    ASSERT_TRUE(wait_stored_in_sync(etcd, "/kill", "f", 3)) << "the leader did not store its in-sync set in etcd";
    const auto killed_at = Clock::now();
    cluster.kill(leader, SIGKILL);
    ASSERT_TRUE(p.wait_acks_after(killed_at, 20)) << "puts did not resume after leader " << v->leader << " was killed; "
                                                  << cluster.log(via);
    auto first = p.first_ack_sent_after(killed_at);
    ASSERT_TRUE(first) << "no put sent after the kill was acknowledged";
    failover_ms.push_back(std::chrono::duration<double, std::milli>(*first - killed_at).count());
    p.stop();
    next_id = p.next_id();
    auto a = p.acked();
    acked.insert(acked.end(), a.begin(), a.end());
    // The new leader (the killed one is outside its in-sync set until it returns).
    auto nv = wait_view(cluster, others(3, leader), "f", [&](const View& x) { return x.leads && x.epoch > v->epoch; });
    ASSERT_TRUE(nv) << "no new leader; " << cluster.log(via);
    EXPECT_NE(nv->leader, v->leader);
    // The killed node comes back as a follower and rejoins the in-sync set.
    ASSERT_TRUE(cluster.start(leader));
    v = elected(cluster, {0, 1, 2}, "f", v->epoch);
    ASSERT_TRUE(v) << "the restarted node did not rejoin the in-sync set; " << cluster.log(leader);
  }
  for (int n = 0; n < 3; ++n) {
    int unacked = check_exactly_once(cluster.address(n), "f", acked);
    std::printf("through %s: %zu acknowledged, %d unacknowledged present\n", cluster.id(n).c_str(), acked.size(), unacked);
  }
  for (double ms : failover_ms) std::printf("failover (kill -9 to the first acknowledged put): %.0f ms\n", ms);
  // Every node stops cleanly (under the sanitizers: nothing leaked, no error).
  for (int n = 0; n < 3; ++n) EXPECT_EQ(cluster.kill(n, SIGTERM), 0) << cluster.log(n);
}

// A writer with the client's default retries, through a follower: a put sent right after its
// bucket's leader is SIGKILLed is acknowledged once a follower took over, without an error to the
// caller (the client sends it again while the leader is unreachable, as while an election
// settles), and lands once. Before, the put failed with "owner ... unavailable" after its
// put_retries.
TEST(Failover, APutRidesThroughTheKillOfItsLeader) {
  ElectedTopic t;
  ASSERT_NO_FATAL_FAILURE(t.start("/ride", "r"));
  // rpc_timeout well above the failover (TTL 2 s, plus etcd's expiry and the election).
  auto c = Client::connect({.server = t.cluster->address(t.via), .rpc_timeout = std::chrono::seconds(30)});
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  auto w = (*c)->writer(replicated("r", Acks::kAll));
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  auto one = [](int64_t id) { return std::vector<Record>{Record{{"id", id}, {"k", int64_t{0}}}}; };
  Status before = (*w)->put(one(0));
  ASSERT_TRUE(before.ok()) << before.to_string();
  ASSERT_TRUE(wait_stored_in_sync(t.etcd, "/ride", "r", 3)) << "the leader did not store its in-sync set in etcd";
  ASSERT_EQ(t.cluster->kill(t.leader, SIGKILL), -1);
  Status after = (*w)->put(one(1));
  EXPECT_TRUE(after.ok()) << "a put across the failover: " << after.to_string() << "; " << t.cluster->log(t.via);
  auto nv = wait_view(*t.cluster, others(3, t.leader), "r",
                      [&](const View& x) { return x.leads && x.epoch > t.v->epoch; });
  ASSERT_TRUE(nv) << "no new leader; " << t.cluster->log(t.via);
  EXPECT_NE(nv->leader, t.v->leader);
  std::vector<int64_t> acked{0};
  if (after.ok()) acked.push_back(1);
  for (int n : others(3, t.leader)) check_exactly_once(t.cluster->address(n), "r", acked);
  for (int n : others(3, t.leader)) EXPECT_EQ(t.cluster->kill(n, SIGTERM), 0) << t.cluster->log(n);
}

TEST(Failover, FrozenLeaderCannotAcknowledgeAfterItsLeaseExpired) {
  ElectedTopic t;
  ASSERT_NO_FATAL_FAILURE(t.start("/stop", "s"));
  Cluster& cluster = *t.cluster;
  const auto& v = t.v;
  const int leader = t.leader, via = t.via;
  Producer p(cluster.address(via), "s", 0);
  ASSERT_TRUE(p.wait_acks_after(Clock::now(), 20));
  ASSERT_TRUE(wait_stored_in_sync(t.etcd, "/stop", "s", 3)) << "the leader did not store its in-sync set in etcd";
  cluster.signal(leader, SIGSTOP);
  auto nv = wait_view(cluster, others(3, leader), "s", [&](const View& x) { return x.leads && x.epoch > v->epoch; });
  const auto new_leader_at = Clock::now();
  if (!nv) cluster.signal(leader, SIGCONT);
  ASSERT_TRUE(nv) << "no new leader while " << v->leader << " was frozen; " << cluster.log(via);
  ASSERT_TRUE(p.wait_acks_after(new_leader_at, 10)) << cluster.log(via);
  cluster.signal(leader, SIGCONT);
  // At once: puts sent to the resumed node itself (no retry). It refuses them (its lease may
  // have expired) or, once it has seen the new leader, sends them there; it acknowledges none.
  std::vector<int64_t> direct;
  int refused = 0;
  {
    auto c = Client::connect({.server = cluster.address(leader), .rpc_timeout = std::chrono::seconds(3), .put_retries = 0});
    ASSERT_TRUE(c.ok());
    auto w = (*c)->writer(replicated("s", Acks::kAll));
    if (!w.ok()) std::printf("writer through the resumed node: %s\n", w.status().to_string().c_str());
    for (int i = 0; w.ok() && i < 20; ++i) {
      const int64_t id = 1000000 + i;
      Status s = (*w)->put(std::vector<Record>{Record{{"id", id}, {"k", int64_t{0}}}});
      if (s.ok()) direct.push_back(id);
      else if (s.message().find("may no longer lead") != std::string::npos) ++refused;
      if (!s.ok() && i < 3) std::printf("put %d through the resumed node: %s\n", i, s.to_string().c_str());
    }
  }
  // The resumed node follows the new leader.
  auto back = wait_view(cluster, {leader}, "s", [&](const View& x) { return x.epoch >= nv->epoch && !x.leads; });
  EXPECT_TRUE(back) << "the resumed node did not follow the new leader; " << cluster.log(leader);
  ASSERT_TRUE(p.wait_acks_after(Clock::now(), 10));
  p.stop();
  std::vector<int64_t> acked = p.acked();
  // The direct puts went after the producer's: check them separately (same exactly-once rule).
  ASSERT_TRUE(elected(cluster, {0, 1, 2}, "s", v->epoch)) << cluster.log(leader);
  for (int n = 0; n < 3; ++n) {
    std::vector<int64_t> ids = read_all(cluster.address(n), "s");
    std::map<int64_t, int> seen;
    for (int64_t id : ids) ++seen[id];
    for (int64_t id : acked) EXPECT_EQ(seen[id], 1) << "acknowledged record " << id << " through " << cluster.id(n);
    for (int64_t id : direct) EXPECT_EQ(seen[id], 1) << "acknowledged direct record " << id << " through " << cluster.id(n);
    for (const auto& [id, k] : seen) EXPECT_EQ(k, 1) << "record " << id << " through " << cluster.id(n);
  }
  std::printf("resumed old leader: %d puts refused with \"may no longer lead\", %zu acknowledged (forwarded to the new "
              "leader)\n", refused, direct.size());
  for (int n = 0; n < 3; ++n) EXPECT_EQ(cluster.kill(n, SIGTERM), 0) << cluster.log(n);
}

TEST(Failover, EtcdRestartMidRunLosesNothingAndPutsResume) {
  ElectedTopic t;
  ASSERT_NO_FATAL_FAILURE(t.start("/restart", "r"));
  Etcd& etcd = t.etcd;
  Cluster& cluster = *t.cluster;
  const int leader = t.leader, via = t.via;
  Producer p(cluster.address(via), "r", 0);
  ASSERT_TRUE(p.wait_acks_after(Clock::now(), 20));
  // Connected before etcd goes (the writer opens through the node).
  auto c = Client::connect({.server = cluster.address(leader), .rpc_timeout = std::chrono::seconds(3), .put_retries = 0});
  ASSERT_TRUE(c.ok());
  auto w = (*c)->writer(replicated("r", Acks::kAll));
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  etcd.kill();
  // Past every lease deadline (TTL 2 s): the leader, which still sees itself as the leader (no
  // etcd to say otherwise), refuses puts; nothing is acknowledged while etcd is away.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  Status s = (*w)->put(std::vector<Record>{Record{{"id", int64_t{2000000}}, {"k", int64_t{0}}}});
  ASSERT_FALSE(s.ok()) << "a put was acknowledged by a leader whose etcd lease may have expired";
  EXPECT_EQ(s.code(), Code::kUnavailable) << s.to_string();
  EXPECT_NE(s.message().find("may no longer lead"), std::string::npos) << s.to_string();
  ASSERT_TRUE(etcd.restart()) << etcd.log();
  ASSERT_TRUE(p.wait_acks_after(Clock::now(), 20)) << "puts did not resume after etcd restarted; " << cluster.log(via);
  p.stop();
  ASSERT_TRUE(elected(cluster, {0, 1, 2}, "r"));
  for (int n = 0; n < 3; ++n) {
    int unacked = check_exactly_once(cluster.address(n), "r", p.acked());
    std::printf("through %s: %zu acknowledged, %d unacknowledged present\n", cluster.id(n).c_str(), p.acked().size(), unacked);
  }
  for (int n = 0; n < 3; ++n) EXPECT_EQ(cluster.kill(n, SIGTERM), 0) << cluster.log(n);
}

TEST(Failover, AWipedFollowerIsRebuiltFromTheLeaderAndThenHoldsEveryRecord) {
  ElectedTopic t;
  ASSERT_NO_FATAL_FAILURE(t.start("/wipe", "w"));
  const Etcd& etcd = t.etcd;
  Cluster& cluster = *t.cluster;
  const std::optional<View>& v = t.v;
  const int leader = t.leader;
  const int wiped = t.via;
  const int via = others(3, leader)[1];
  Producer p(cluster.address(via), "w", 0);
  ASSERT_TRUE(p.wait_acks_after(Clock::now(), 20));

  // The follower loses its disk: killed, its data dir removed, started again empty. It learns
  // the topic from the others, fetches the bucket from 0 and rejoins the in-sync set.
  ASSERT_EQ(cluster.kill(wiped, SIGKILL), -1);
  std::error_code ec;
  std::filesystem::remove_all(cluster.dir() + "/" + cluster.id(wiped), ec);
  ASSERT_FALSE(ec) << ec.message();
  ASSERT_TRUE(p.wait_acks_after(Clock::now(), 20)) << "puts stopped without the follower; " << cluster.log(via);
  ASSERT_TRUE(cluster.start(wiped)) << cluster.log(wiped);
  auto back = wait_view(cluster, {leader}, "w", [&](const View& x) {
    return x.leads && x.epoch == v->epoch && x.in_sync.count(cluster.id(wiped));
  });
  ASSERT_TRUE(back) << "the wiped follower did not rejoin the in-sync set; " << cluster.log(wiped);
  ASSERT_TRUE(wait_stored_in_sync(etcd, "/wipe", "w", 3)) << "the leader did not store its in-sync set in etcd";
  ASSERT_TRUE(p.wait_acks_after(Clock::now(), 20)) << cluster.log(via);
  p.stop();
  const std::vector<int64_t> acked = p.acked();

  // The rebuilt copy alone: both other nodes killed, it is elected (it is in sync) and serves
  // every acknowledged record, once and in order.
  ASSERT_EQ(cluster.kill(leader, SIGKILL), -1);
  ASSERT_EQ(cluster.kill(via, SIGKILL), -1);
  auto nv = wait_view(cluster, {wiped}, "w", [&](const View& x) { return x.leads && x.epoch > v->epoch; });
  ASSERT_TRUE(nv) << "the rebuilt node was not elected; " << cluster.log(wiped);
  int unacked = check_exactly_once(cluster.address(wiped), "w", acked);
  std::printf("through the rebuilt %s alone: %zu acknowledged, %d unacknowledged present\n", cluster.id(wiped).c_str(),
              acked.size(), unacked);
  EXPECT_EQ(cluster.kill(wiped, SIGTERM), 0) << cluster.log(wiped);
}

TEST(Failover, ManualElectIsRefusedWithEtcd) {
  ElectedTopic t;
  ASSERT_NO_FATAL_FAILURE(t.start("/manual", "m"));
  auto c = testing::connect_to(t.cluster->address(0));
  std::string other = t.v->leader == "n1" ? "n2" : "n1";
  auto r = c->elect_leader("m", 0, other);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("elected through etcd"), std::string::npos) << r.status().to_string();
}

}  // namespace
}  // namespace persisting
