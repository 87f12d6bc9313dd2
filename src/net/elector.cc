#include "net/elector.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/log.h"
#include "core/status_macros.h"

namespace persisting::net {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr auto kRankDelay = std::chrono::milliseconds(1000);  // per rank of a later candidate
constexpr auto kHwWriteEvery = std::chrono::seconds(2);       // an unchanged set's HW refresh

// <prefix>/leaders/<topic>/<bucket> (docs/wire-protocol.md, "etcd keys").
struct LeaderValue {
  std::string leader;
  uint64_t start = 0;
  uint64_t incarnation = 0;
  std::vector<LeaderEpoch> history;  // the epochs before this one, ascending
};

// <prefix>/isr/<topic>/<bucket>.
struct IsrValue {
  uint64_t epoch = 0;
  std::vector<std::string> members;
  uint64_t high_watermark = 0;
  uint64_t incarnation = 0;
};

std::string encode(const LeaderValue& v) {
  json h = json::array();
  for (const auto& e : v.history) h.push_back({{"epoch", e.epoch}, {"leader", e.leader}, {"start", e.start}});
  return json{{"format", 1}, {"leader", v.leader}, {"start", v.start}, {"incarnation", v.incarnation}, {"history", h}}
      .dump();
}

std::optional<LeaderValue> decode_leader(const std::string& s) {
  json j = json::parse(s, nullptr, false);
  if (j.is_discarded() || !j.is_object() || j.value("format", 0) != 1 || !j.contains("leader") ||
      !j["leader"].is_string())
    return std::nullopt;
  LeaderValue v;
  v.leader = j["leader"].get<std::string>();
  v.start = j.value("start", uint64_t{0});
  v.incarnation = j.value("incarnation", uint64_t{0});
  if (j.contains("history") && j["history"].is_array())
    for (const auto& e : j["history"]) {
      if (!e.is_object()) return std::nullopt;
      v.history.push_back({e.value("epoch", uint64_t{0}), e.value("leader", std::string()), e.value("start", uint64_t{0})});
    }
  return v;
}

std::string encode(const IsrValue& v) {
  return json{{"format", 1}, {"epoch", v.epoch}, {"members", v.members}, {"high_watermark", v.high_watermark},
              {"incarnation", v.incarnation}}
      .dump();
}

std::optional<IsrValue> decode_isr(const std::string& s) {
  json j = json::parse(s, nullptr, false);
  if (j.is_discarded() || !j.is_object() || j.value("format", 0) != 1 || !j.contains("members") ||
      !j["members"].is_array())
    return std::nullopt;
  IsrValue v;
  v.epoch = j.value("epoch", uint64_t{0});
  v.high_watermark = j.value("high_watermark", uint64_t{0});
  v.incarnation = j.value("incarnation", uint64_t{0});
  for (const auto& m : j["members"])
    if (m.is_string()) v.members.push_back(m.get<std::string>());
  return v;
}

std::string key_of(const TopicEntry& t, uint32_t bucket) { return t.info.topic + "/" + std::to_string(bucket); }

}  // namespace

std::optional<std::vector<std::string>> stored_in_sync(const std::string& isr_value, uint64_t epoch) {
  auto v = decode_isr(isr_value);
  if (!v || v->epoch != epoch) return std::nullopt;
  return v->members;
}

Elector::Elector(TopicDirectory* directory, std::shared_ptr<detail::QueueCore> core, Membership* membership,
                 Elections* elections, Logger* logger, bool allow_unclean)
    : directory_(directory), core_(std::move(core)), membership_(membership), elections_(elections), logger_(logger),
      allow_unclean_(allow_unclean) {}

void Elector::step(TopicEntry& t, uint32_t bucket) {
  const std::string what = "election of " + bucket_name(t.info.topic, bucket);
  auto key = elections_->leader_key(t.info.topic, bucket);
  std::optional<LeaderValue> lv = key ? decode_leader(key->value) : std::nullopt;
  if (key && lv && lv->incarnation == t.info.incarnation) {
    leaderless_since_.erase(key_of(t, bucket));
    bool leads = false;
    Status s = follow_key(t, bucket, *key, &leads);
    if (s.ok() && leads) s = keep_isr(t, bucket, static_cast<uint64_t>(key->create_revision));
    return log_if_error(logger_, LogLevel::kWarning, what, s);
  }
  if (key) {
    // The key of an earlier topic of that name goes first (a put would keep its create_revision,
    // not start a new epoch); one this node cannot read (a newer format) is left alone.
    if (lv && lv->incarnation < t.info.incarnation)
      log_if_error(logger_, LogLevel::kWarning, what + ": deleting the leader key of an earlier topic of that name",
                   elections_->resign(t.info.topic, bucket, key->create_revision));
    else if (!lv)
      log_line(logger_, LogLevel::kWarning, what + ": unreadable leader key in etcd: " + key->value);
    return;
  }
  log_if_error(logger_, LogLevel::kWarning, what, maybe_campaign(t, bucket));
}

Status Elector::follow_key(TopicEntry& t, uint32_t bucket, const ElectionKey& key, bool* leads) {
  auto lv = decode_leader(key.value);
  const uint64_t epoch = static_cast<uint64_t>(key.create_revision);
  const Leadership now = directory_->leader(t, bucket);
  *leads = lv->leader == directory_->self().id.str() && now.epoch == epoch;
  if (epoch <= now.epoch) return Status::OK();
  std::vector<LeaderEpoch> history;
  for (const auto& e : lv->history)
    if (e.epoch < epoch && (history.empty() || e.epoch > history.back().epoch)) history.push_back(e);
  history.push_back({epoch, lv->leader, lv->start});
  bool changed = false;
  RETURN_IF_ERROR(directory_->adopt(t, bucket, std::move(history), &changed));
  if (changed)
    log_line(logger_, LogLevel::kInfo, bucket_name(t.info.topic, bucket) + ": leader " + lv->leader + " at epoch " +
             std::to_string(epoch) + " (etcd)");
  return Status::OK();
}

Status Elector::keep_isr(TopicEntry& t, uint32_t bucket, uint64_t epoch) {
  if (!t.tracker || !elections_->check_leads(t.info.topic, bucket, epoch).ok()) return Status::OK();
  auto snap = t.tracker->snapshot(bucket);
  if (!snap) return Status::OK();  // no set yet: made by the first put (every replica in sync)
  IsrValue want;
  want.epoch = epoch;
  want.high_watermark = snap->high_watermark;
  want.incarnation = t.info.incarnation;
  std::vector<NodeId> members;
  for (const auto& r : snap->replicas)
    if (r.in_sync) {
      want.members.push_back(r.id.str());
      members.push_back(r.id);
    }
  auto have_key = elections_->isr_key(t.info.topic, bucket);
  auto have = have_key ? decode_isr(have_key->value) : std::nullopt;
  const std::string k = key_of(t, bucket);
  if (have && have->epoch == want.epoch && have->members == want.members && have->incarnation == want.incarnation) {
    t.tracker->committed(bucket, members);  // stored already (by this leader)
    if (have->high_watermark == want.high_watermark) return Status::OK();
    auto it = isr_written_.find(k);
    if (it != isr_written_.end() && Clock::now() - it->second < kHwWriteEvery) return Status::OK();
  }
  ASSIGN_OR_RETURN(bool ok, elections_->write_isr(t.info.topic, bucket, static_cast<int64_t>(epoch), encode(want)));
  if (ok) {
    isr_written_[k] = Clock::now();
    t.tracker->committed(bucket, members);  // a change of the set counts from here on
  }
  return Status::OK();
}

Status Elector::maybe_campaign(TopicEntry& t, uint32_t bucket) {
  const NodeId& self = directory_->self().id;
  const std::string k = key_of(t, bucket);
  auto since = leaderless_since_.emplace(k, Clock::now()).first->second;
  std::vector<NodeId> replicas = directory_->replicas(t, bucket);
  auto isr_key = elections_->isr_key(t.info.topic, bucket);
  std::optional<IsrValue> isr = isr_key ? decode_isr(isr_key->value) : std::nullopt;
  if (isr && isr->incarnation != t.info.incarnation) isr.reset();
  // The candidates, in replica order: the in-sync set etcd holds; without one (the topic's first
  // election), the leader this node knows (the first replica before any election).
  std::vector<NodeId> candidates;
  for (const auto& r : replicas) {
    bool listed = isr ? std::find(isr->members.begin(), isr->members.end(), r.str()) != isr->members.end()
                      : r == directory_->leader(t, bucket).leader;
    if (listed) candidates.push_back(r);
  }
  std::vector<NodeId> live;
  for (const auto& c : candidates)
    if (c == self || membership_->down_reason(c).empty()) live.push_back(c);
  auto rank = std::find(live.begin(), live.end(), self);
  const bool clean = rank != live.end();
  if (!clean && !allow_unclean_) return Status::OK();
  // An unclean candidate waits for every clean one first.
  const int64_t turns = clean ? static_cast<int64_t>(rank - live.begin())
                              : static_cast<int64_t>(live.size()) + 1 +
                                    (std::find(replicas.begin(), replicas.end(), self) - replicas.begin());
  const auto delay = kRankDelay * turns;
  if (Clock::now() - since < delay) return Status::OK();
  std::vector<NodeId> in_sync = isr ? candidates : replicas;
  return campaign(t, bucket, /*expected=*/0, clean, clean && isr ? isr->high_watermark : 0, in_sync);
}

Status Elector::campaign(TopicEntry& t, uint32_t bucket, int64_t expected, bool clean, uint64_t min_end,
                         const std::vector<NodeId>& in_sync) {
  const NodeId& self = directory_->self().id;
  const std::string name = bucket_name(t.info.topic, bucket);
  {
    // No replication append from here on: the epoch starts at this node's final count.
    std::unique_lock<std::mutex> lock(t.leaders_mu);
    if (!t.leaders_cv.wait_for(lock, std::chrono::seconds(1), [&] { return !t.appending[bucket]; }))
      return Status::OK();  // the next scan tries again
    t.taking_over[bucket] = true;
  }
  struct Release {
    TopicEntry& t;
    uint32_t bucket;
    ~Release() {
      std::lock_guard<std::mutex> lock(t.leaders_mu);
      t.taking_over.erase(bucket);
    }
  } release{t, bucket};
  ASSIGN_OR_RETURN(auto actors, core_->actors(t.info, {BucketId(bucket)}, {}));
  ASSIGN_OR_RETURN(uint64_t end, total_count(*actors[0]));
  actors.clear();
  if (clean && end < min_end) {
    log_line(logger_, LogLevel::kDebug, name + ": node " + self.str() + " does not campaign: it has " +
             std::to_string(end) + " records, below the high watermark " + std::to_string(min_end));
    return Status::OK();
  }
  LeaderValue v;
  v.leader = self.str();
  v.start = end;
  v.incarnation = t.info.incarnation;
  {
    std::lock_guard<std::mutex> lock(t.leaders_mu);
    if (auto it = t.leaders.find(bucket); it != t.leaders.end()) v.history = it->second.epochs;
  }
  const uint64_t known = v.history.empty() ? 0 : v.history.back().epoch;
  ASSIGN_OR_RETURN(int64_t rev, elections_->campaign(t.info.topic, bucket, expected, encode(v)));
  if (rev == 0) return Status::OK();  // another node won: the next scan follows it
  if (static_cast<uint64_t>(rev) <= known) {
    // The epoch must go up (epochs of manual elections before etcd, or an etcd that lost its
    // data): give the key back; every try raises etcd's revision, so a later one gets past.
    log_line(logger_, LogLevel::kInfo, name + ": won at etcd revision " + std::to_string(rev) +
             ", not above the known epoch " + std::to_string(known) + ": campaigning again");
    return elections_->resign(t.info.topic, bucket, rev);
  }
  // The in-sync set this leader starts with: the one it took over (the live ones), itself first.
  std::vector<NodeId> replicas = directory_->replicas(t, bucket);
  std::stable_partition(replicas.begin(), replicas.end(), [&](const NodeId& r) { return r == self; });
  std::vector<NodeId> out;
  for (const auto& r : replicas)
    if (r != self && (std::find(in_sync.begin(), in_sync.end(), r) == in_sync.end() || !membership_->down_reason(r).empty()))
      out.push_back(r);
  if (t.tracker) {
    t.tracker->close(bucket, Unavailable(name + ": node " + self.str() + " starts a new leader epoch"));
    t.tracker->create(bucket, replicas, end, out);
  }
  std::vector<LeaderEpoch> history = v.history;
  history.push_back({static_cast<uint64_t>(rev), self.str(), end});
  bool changed = false;
  Status a = directory_->adopt(t, bucket, std::move(history), &changed);
  if (!a.ok()) {
    if (t.tracker) t.tracker->close(bucket, a);
    log_if_error(logger_, LogLevel::kWarning, name + ": giving back the leadership", elections_->resign(t.info.topic, bucket, rev));
    return a.with_context("node " + self.str() + " won the election but could not take epoch " + std::to_string(rev));
  }
  log_line(logger_, LogLevel::kInfo, name + ": node " + self.str() + " elected leader at epoch " + std::to_string(rev) +
           (clean ? "" : " (unclean election)") + ", from record " + std::to_string(end));
  return keep_isr(t, bucket, static_cast<uint64_t>(rev));
}

}  // namespace persisting::net
