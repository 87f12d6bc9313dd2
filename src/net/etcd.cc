#include "net/etcd.h"

#include "net/elections.h"

#include "core/background_errors.h"
#include "core/base64.h"
#include "core/status_macros.h"

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

namespace persisting::net {
namespace {

using json = nlohmann::json;

std::string b64(const std::string& in) {
  std::string out;
  encode_base64(in, &out);
  return out;
}

// Undecodable (not from etcd): empty, which matches no key of ours.
std::string unb64(const std::string& in) {
  auto r = decode_base64(in);
  return r.ok() ? *r : std::string();
}

// The smallest key greater than every key starting with prefix.
std::string prefix_end(std::string p) {
  p.back() = char(p.back() + 1);
  return p;
}

int64_t as_int(const json& j, const char* field) {
  if (!j.contains(field)) return 0;
  const json& v = j[field];
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_string()) {
    try {
      return std::stoll(v.get<std::string>());
    } catch (...) {
      return 0;
    }
  }
  return 0;
}

int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

class EtcdMembership : public Membership, public Elections {
 public:
  EtcdMembership(runtime::Member self, EtcdConfig config)
      : self_(std::move(self)), config_(std::move(config)), bg_(config_.logger, "etcd membership (" + config_.endpoint + ")") {}
  ~EtcdMembership() override { stop(); }

  Status start() {
    std::string ep = config_.endpoint;
    if (ep.rfind("http://", 0) != 0) return InvalidArgument("etcd endpoint '" + ep + "' must start with http://");
    host_port_ = ep.substr(7);
    while (!host_port_.empty() && host_port_.back() == '/') host_port_.pop_back();
    if (config_.prefix.empty() || config_.prefix.back() == '/') return InvalidArgument("etcd prefix must not end with '/'");
    RETURN_IF_ERROR(register_self());
    RETURN_IF_ERROR(refresh().status());
    keepalive_ = std::thread([this] { keepalive_loop(); });
    watch_ = std::thread([this] { watch_loop(); });
    return Status::OK();
  }

  std::string kind() const override { return "etcd"; }
  Elections* elections() override { return this; }

  // ---- Elections ----
  std::optional<ElectionKey> leader_key(const std::string& topic, uint32_t bucket) const override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = leaders_.find(topic + "/" + std::to_string(bucket));
    if (it == leaders_.end()) return std::nullopt;
    return it->second;
  }
  std::optional<ElectionKey> isr_key(const std::string& topic, uint32_t bucket) const override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = isr_.find(topic + "/" + std::to_string(bucket));
    if (it == isr_.end()) return std::nullopt;
    return it->second;
  }

  Result<int64_t> campaign(const std::string& topic, uint32_t bucket, int64_t expected,
                           const std::string& value) override {
    const std::string k = bucket_key("leaders", topic, bucket);
    const int64_t lease = lease_.load();
    json txn{{"compare", json::array({{{"key", b64(k)}, {"target", "CREATE"}, {"result", "EQUAL"},
                                       {"create_revision", std::to_string(expected)}}})},
             {"success", json::array({{{"request_put", {{"key", b64(k)}, {"value", b64(value)},
                                                        {"lease", std::to_string(lease)}}}}})}};
    ASSIGN_OR_RETURN(json r, post("/v3/kv/txn", txn));
    if (!r.value("succeeded", false)) return int64_t{0};
    int64_t rev = r.contains("header") ? as_int(r["header"], "revision") : 0;
    if (rev <= 0) return Internal("etcd txn on " + k + ": no revision in its answer");
    std::lock_guard<std::mutex> lock(mu_);
    leaders_[topic + "/" + std::to_string(bucket)] = ElectionKey{rev, rev, lease, value};
    return rev;
  }

  Status resign(const std::string& topic, uint32_t bucket, int64_t revision) override {
    const std::string k = bucket_key("leaders", topic, bucket);
    json txn{{"compare", json::array({{{"key", b64(k)}, {"target", "CREATE"}, {"result", "EQUAL"},
                                       {"create_revision", std::to_string(revision)}}})},
             {"success", json::array({{{"request_delete_range", {{"key", b64(k)}}}}})}};
    return post("/v3/kv/txn", txn).status();
  }

  Result<bool> write_isr(const std::string& topic, uint32_t bucket, int64_t epoch, const std::string& value) override {
    json txn{{"compare", json::array({{{"key", b64(bucket_key("leaders", topic, bucket))}, {"target", "CREATE"},
                                       {"result", "EQUAL"}, {"create_revision", std::to_string(epoch)}}})},
             {"success", json::array({{{"request_put", {{"key", b64(bucket_key("isr", topic, bucket))},
                                                        {"value", b64(value)}}}}})}};
    ASSIGN_OR_RETURN(json r, post("/v3/kv/txn", txn));
    if (!r.value("succeeded", false)) return false;
    int64_t rev = r.contains("header") ? as_int(r["header"], "revision") : 0;
    std::lock_guard<std::mutex> lock(mu_);
    ElectionKey& e = isr_[topic + "/" + std::to_string(bucket)];
    if (e.create_revision == 0) e.create_revision = rev;
    e.mod_revision = rev;
    e.value = value;
    return true;
  }

  Status check_leads(const std::string& topic, uint32_t bucket, uint64_t epoch) const override {
    const std::string who = "node " + self_.id.str() + " may no longer lead topic '" + topic + "' bucket " +
                            std::to_string(bucket) + ": ";
    if (steady_ns() >= valid_until_ns_.load())
      return Unavailable(who + "its etcd lease may have expired (no keepalive answered within the " +
                         std::to_string(config_.ttl_s) + " s TTL): retry shortly (the leader is being re-elected)");
    std::lock_guard<std::mutex> lock(mu_);
    if (cache_rev_ < lease_rev_.load())
      return Unavailable(who + "it has not read the leader keys since its etcd lease was granted again: retry shortly");
    auto it = leaders_.find(topic + "/" + std::to_string(bucket));
    if (it == leaders_.end())
      return Unavailable(who + "etcd has no leader for it (an election is under way): retry shortly");
    if (it->second.create_revision != static_cast<int64_t>(epoch) || it->second.lease != lease_.load())
      return Unavailable(who + "etcd names another leader or epoch (" + std::to_string(it->second.create_revision) +
                         ", this node's epoch " + std::to_string(epoch) + "): retry shortly");
    return Status::OK();
  }

  std::vector<runtime::Member> configured() const override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<runtime::Member> out;
    for (const auto& [id, addr] : nodes_) out.push_back({NodeId(id), addr, zone_locked(id)});
    return out;
  }

  Result<runtime::Member> member(const NodeId& id) const override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = nodes_.find(id.str());
    if (it == nodes_.end()) return NotFound("node " + id.str() + " is not registered in etcd");
    return runtime::Member{id, it->second, zone_locked(id.str())};
  }

  std::map<std::string, std::string> kafka_addresses() const override {
    std::lock_guard<std::mutex> lock(mu_);
    std::map<std::string, std::string> out;
    for (const auto& [id, addr] : kafka_)
      if (nodes_.count(id)) out[id] = addr;
    return out;
  }

  std::string down_reason(const NodeId& id) const override {
    std::lock_guard<std::mutex> lock(mu_);
    return down_reason_locked(id.str());
  }

  std::vector<MemberState> states(Channels&) override {
    // On failure the last known view answers (and the failure is logged once).
    bg_.report("refresh", refresh().status());
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<MemberState> out;
    for (const auto& [id, addr] : nodes_) {
      std::string why = down_reason_locked(id);
      out.push_back({{NodeId(id), addr, zone_locked(id)}, why.empty(), why});
    }
    return out;
  }

  void stop() override {
    {
      std::lock_guard<std::mutex> lock(stop_mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    stop_cv_.notify_all();
    if (keepalive_.joinable()) keepalive_.join();
    if (watch_.joinable()) watch_.join();
    // Leave at once rather than after the TTL: a clean stop is not a failure. The left/ mark
    // (no lease: it stays until this node registers again) tells the others it left on purpose.
    if (lease_ != 0) {
      // On failure the others see this node down when its lease expires, instead of at once.
      bg_.report("leave", post("/v3/kv/put", json{{"key", b64(key("left", self_.id.str()))}, {"value", b64(self_.address)}}).status());
      bg_.report("lease revoke", post("/v3/lease/revoke", json{{"ID", std::to_string(lease_.load())}}).status());
    }
  }

 private:
  std::string zone_locked(const std::string& id) const {
    auto it = zones_.find(id);
    return it == zones_.end() ? "" : it->second;
  }

  // "" while id is alive (or unknown); why it is down otherwise. Needs mu_.
  std::string down_reason_locked(const std::string& id) const {
    if (!nodes_.count(id) || alive_.count(id)) return "";
    if (left_.count(id)) return "it left the cluster (stopped cleanly) and is not a member any more until it restarts";
    return "its membership lease has expired (crashed, frozen or cut off from etcd)";
  }

  std::string key(const char* kind, const std::string& id) const { return config_.prefix + "/" + kind + "/" + id; }
  std::string bucket_key(const char* kind, const std::string& topic, uint32_t bucket) const {
    return config_.prefix + "/" + kind + "/" + topic + "/" + std::to_string(bucket);
  }

  Result<json> post(const std::string& path, const json& body) {
    httplib::Client c("http://" + host_port_);
    c.set_connection_timeout(2, 0);
    c.set_read_timeout(3, 0);
    auto res = c.Post(path, body.dump(), "application/json");
    if (!res) return Unavailable("etcd at " + config_.endpoint + " unreachable (" + path + ")");
    if (res->status != 200)
      return Unavailable("etcd " + path + " answered HTTP " + std::to_string(res->status) + ": " + res->body);
    json j = json::parse(res->body, nullptr, false);
    if (j.is_discarded()) return Internal("etcd " + path + ": unreadable answer");
    return j;
  }

  Status register_self() {
    const int64_t sent = steady_ns();
    ASSIGN_OR_RETURN(json g, post("/v3/lease/grant", json{{"TTL", config_.ttl_s}}));
    if (!g.contains("ID")) return Unavailable("etcd did not grant a lease: " + g.dump());
    const int64_t lease = as_int(g, "ID");
    ASSIGN_OR_RETURN(json p, post("/v3/kv/put", json{{"key", b64(key("alive", self_.id.str()))},
                                                       {"value", b64(self_.address)},
                                                       {"lease", std::to_string(lease)}}));
    // From here this node leads no bucket until it has read the leader keys again (check_leads).
    lease_rev_ = p.contains("header") ? as_int(p["header"], "revision") : INT64_MAX;
    lease_ = lease;
    valid_until_ns_ = sent + int64_t{config_.ttl_s} * 1000000000;
    RETURN_IF_ERROR(
        post("/v3/kv/put", json{{"key", b64(key("nodes", self_.id.str()))}, {"value", b64(self_.address)}}).status());
    if (config_.kafka_address.empty()) {
      RETURN_IF_ERROR(post("/v3/kv/deleterange", json{{"key", b64(key("kafka", self_.id.str()))}}).status());
    } else {
      RETURN_IF_ERROR(post("/v3/kv/put", json{{"key", b64(key("kafka", self_.id.str()))},
                                               {"value", b64(config_.kafka_address)}})
                          .status());
    }
    if (config_.zone.empty()) {
      RETURN_IF_ERROR(post("/v3/kv/deleterange", json{{"key", b64(key("zones", self_.id.str()))}}).status());
    } else {
      RETURN_IF_ERROR(
          post("/v3/kv/put", json{{"key", b64(key("zones", self_.id.str()))}, {"value", b64(config_.zone)}}).status());
    }
    return post("/v3/kv/deleterange", json{{"key", b64(key("left", self_.id.str()))}}).status();
  }

  // Re-reads the prefix; returns the store revision.
  Result<int64_t> refresh() {
    std::string p = config_.prefix + "/";
    ASSIGN_OR_RETURN(json r, post("/v3/kv/range", json{{"key", b64(p)}, {"range_end", b64(prefix_end(p))}}));
    std::map<std::string, std::string> nodes, kafka, zones;
    std::set<std::string> alive, left;
    std::map<std::string, ElectionKey> leaders, isr;
    if (r.contains("kvs")) {
      for (const auto& kv : r["kvs"]) {
        std::string k = unb64(kv.value("key", "")), v = unb64(kv.value("value", ""));
        std::string rest = k.substr(p.size());
        if (rest.rfind("leaders/", 0) == 0 || rest.rfind("isr/", 0) == 0) {
          ElectionKey e{as_int(kv, "create_revision"), as_int(kv, "mod_revision"), as_int(kv, "lease"), v};
          if (rest[0] == 'l') leaders[rest.substr(8)] = e;
          else isr[rest.substr(4)] = e;
          continue;
        }
        if (rest.rfind("nodes/", 0) == 0) nodes[rest.substr(6)] = v;
        if (rest.rfind("alive/", 0) == 0) alive.insert(rest.substr(6));
        if (rest.rfind("left/", 0) == 0) left.insert(rest.substr(5));
        if (rest.rfind("kafka/", 0) == 0) kafka[rest.substr(6)] = v;
        if (rest.rfind("zones/", 0) == 0) zones[rest.substr(6)] = v;
      }
    }
    int64_t rev = 0;
    if (r.contains("header") && r["header"].contains("revision"))
      rev = std::stoll(r["header"]["revision"].get<std::string>());
    bool leaders_changed = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      leaders_changed = !same_epochs(leaders_, leaders);
      nodes_ = std::move(nodes);
      kafka_ = std::move(kafka);
      zones_ = std::move(zones);
      alive_ = std::move(alive);
      left_ = std::move(left);
      leaders_ = std::move(leaders);
      isr_ = std::move(isr);
      cache_rev_ = rev;
    }
    if (leaders_changed) {
      std::lock_guard<std::mutex> lock(leaders_cb_mu_);
      if (leaders_cb_) leaders_cb_();
    }
    return rev;
  }

  // The same leader keys at the same create_revisions (epochs).
  static bool same_epochs(const std::map<std::string, ElectionKey>& a, const std::map<std::string, ElectionKey>& b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](const auto& x, const auto& y) {
             return x.first == y.first && x.second.create_revision == y.second.create_revision;
           });
  }

  void on_leaders_changed(std::function<void()> cb) override {
    std::lock_guard<std::mutex> lock(leaders_cb_mu_);
    leaders_cb_ = std::move(cb);
  }

  bool wait_stop(std::chrono::milliseconds d) {
    std::unique_lock<std::mutex> lock(stop_mu_);
    return stop_cv_.wait_for(lock, d, [this] { return stopping_; });
  }

  void keepalive_loop() {
    auto period = std::chrono::milliseconds(std::max(200, config_.ttl_s * 1000 / 3));
    while (!wait_stop(period)) {
      const int64_t sent = steady_ns();
      auto r = post("/v3/lease/keepalive", json{{"ID", std::to_string(lease_.load())}});
      bg_.report("keepalive", r.status());
      bool alive = r.ok() && r->contains("result") && as_int((*r)["result"], "TTL") > 0;
      // The lease lasts at least the TTL from when this keepalive was sent (fencing).
      if (alive) valid_until_ns_ = sent + int64_t{config_.ttl_s} * 1000000000;
      if (r.ok() && !alive) bg_.report("rejoin", register_self());  // the lease expired (we were partitioned)
    }
  }

  void watch_loop() {
    std::string p = config_.prefix + "/";
    while (!wait_stop(std::chrono::milliseconds(0))) {
      auto rev = refresh();
      bg_.report("refresh", rev.status());
      if (!rev.ok()) {
        if (wait_stop(std::chrono::milliseconds(500))) return;
        continue;
      }
      json req{{"create_request",
                {{"key", b64(p)}, {"range_end", b64(prefix_end(p))}, {"start_revision", std::to_string(*rev + 1)}}}};
      httplib::Client c("http://" + host_port_);
      c.set_connection_timeout(2, 0);
      c.set_read_timeout(1, 0);  // a quiet second ends the stream: re-read, check for stop, watch again
      httplib::Request hr;
      hr.method = "POST";
      hr.path = "/v3/watch";
      hr.body = req.dump();
      hr.set_header("Content-Type", "application/json");
      hr.content_receiver = [this](const char* data, size_t n, uint64_t, uint64_t) {
        if (std::string_view(data, n).find("\"events\"") != std::string_view::npos) bg_.report("refresh", refresh().status());
        std::lock_guard<std::mutex> lock(stop_mu_);
        return !stopping_;
      };
      // Ends when a quiet second passes (the read timeout), etcd goes away or stop is asked;
      // each case is followed by a refresh, whose failure is what matters and is reported.
      httplib::Response ignored;
      httplib::Error err;
      c.send(hr, ignored, err);
    }
  }

  runtime::Member self_;
  EtcdConfig config_;
  std::string host_port_;
  std::atomic<int64_t> lease_{0};
  std::atomic<int64_t> lease_rev_{INT64_MAX};  // the store revision when the lease was granted
  std::atomic<int64_t> valid_until_ns_{0};     // steady clock: the lease may expire from here on
  mutable std::mutex mu_;
  std::map<std::string, std::string> nodes_;  // id -> address
  std::map<std::string, std::string> kafka_;  // id -> Kafka listener address
  std::map<std::string, std::string> zones_;  // id -> zone
  std::set<std::string> alive_;
  std::set<std::string> left_;  // stopped cleanly (their left/ mark), not yet back
  std::map<std::string, ElectionKey> leaders_, isr_;  // "topic/bucket" -> key
  int64_t cache_rev_ = 0;                            // the store revision of the last read
  std::mutex leaders_cb_mu_;                         // held while leaders_cb_ runs
  std::function<void()> leaders_cb_;                 // on_leaders_changed
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread keepalive_, watch_;
  BackgroundErrors bg_;
};

}  // namespace

Result<std::unique_ptr<Membership>> etcd_membership(const runtime::Member& self, const EtcdConfig& config) {
  auto m = std::make_unique<EtcdMembership>(self, config);
  RETURN_IF_ERROR(m->start());
  return std::unique_ptr<Membership>(std::move(m));
}

}  // namespace persisting::net
