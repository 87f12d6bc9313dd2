#include "replication/in_sync_set.h"

#include <algorithm>
#include <limits>
#include <utility>

namespace persisting::replication {

uint32_t default_min_insync(uint32_t replication_factor) {
  if (replication_factor <= 1) return 1;
  return replication_factor == 3 ? 2 : 3;
}

InSyncSet::InSyncSet(std::string what, std::vector<NodeId> replicas, uint64_t leader_end, InSyncConfig config,
                     Clock::time_point now, const std::vector<NodeId>& out_of_sync)
    : what_(std::move(what)), config_(config) {
  for (auto& id : replicas) {
    bool out = !replicas_.empty() && std::find(out_of_sync.begin(), out_of_sync.end(), id) != out_of_sync.end();
    replicas_.push_back({std::move(id), 0, !out, /*counted=*/config_.commit_changes || !out, now});
  }
  if (!replicas_.empty()) replicas_.front().log_end = leader_end;
  advance();
}

InSyncSet::~InSyncSet() { close(Unavailable(what_ + ": its leader stopped")); }

size_t InSyncSet::in_sync_count() const {
  return static_cast<size_t>(std::count_if(replicas_.begin(), replicas_.end(), [](const auto& r) { return r.in_sync; }));
}

size_t InSyncSet::counted_count() const {
  return static_cast<size_t>(std::count_if(replicas_.begin(), replicas_.end(), [](const auto& r) { return r.counted; }));
}

void InSyncSet::committed(const std::vector<NodeId>& members) {
  if (!config_.commit_changes) return;
  for (size_t i = 1; i < replicas_.size(); ++i)
    replicas_[i].counted = std::find(members.begin(), members.end(), replicas_[i].id) != members.end();
  advance();
}

void InSyncSet::leader_appended(uint64_t end, Clock::time_point now) {
  ReplicaProgress& leader = replicas_.front();
  leader.log_end = std::max(leader.log_end, end);
  leader.caught_up_at = now;
  advance();  // with the leader alone in sync, its end is the high watermark
}

Status InSyncSet::follower_fetched(const NodeId& follower, uint64_t end, Clock::time_point now) {
  if (follower == replicas_.front().id)
    return InvalidArgument(what_ + ": node " + follower.str() + " is the leader, not a follower");
  auto it = std::find_if(replicas_.begin() + 1, replicas_.end(), [&](const auto& r) { return r.id == follower; });
  if (it == replicas_.end()) return InvalidArgument(what_ + ": node " + follower.str() + " is not a replica");
  if (end > leader_end())
    return InvalidArgument(what_ + ": follower " + follower.str() + " reports log end " + std::to_string(end) +
                           ", beyond the leader's " + std::to_string(leader_end()));
  // An in-sync replica never reports less than the high watermark unless it lost records it
  // had acknowledged (its disk was wiped): it leaves the set at once, not after lag_max.
  if (it->in_sync && end < high_watermark_) it->in_sync = false;
  it->log_end = end;
  if (end >= leader_end()) {
    it->caught_up_at = now;
  } else if (it->fetched && end >= it->previous_fetch_leader_end) {
    it->caught_up_at = std::max(it->caught_up_at, it->previous_fetch_at);
  }
  it->fetched = true;
  it->previous_fetch_leader_end = leader_end();
  it->previous_fetch_at = now;
  // Out of sync, it rejoins once it holds everything readers may see.
  if (!it->in_sync && end >= high_watermark_) {
    it->in_sync = true;
    it->caught_up_at = now;
  }
  advance();
  return Status::OK();
}

void InSyncSet::tick(Clock::time_point now) {
  bool changed = false;
  for (size_t i = 1; i < replicas_.size(); ++i) {
    ReplicaProgress& r = replicas_[i];
    if (r.in_sync && now - r.caught_up_at > config_.lag_max) {
      r.in_sync = false;
      changed = true;
    }
  }
  if (changed) advance();
}

Status InSyncSet::check_acks_all() const {
  if (closed_) return closed_why_;
  size_t n = counted_count();
  if (n < config_.min_insync)
    return Unavailable(what_ + ": not enough in-sync replicas for acks=all (" + std::to_string(n) + " in sync, " +
                       "min_insync_replicas is " + std::to_string(config_.min_insync) + ")");
  return Status::OK();
}

Status InSyncSet::answer_for(const Waiter& w) const {
  if (!w.acks) return Status::OK();
  size_t n = counted_count();
  if (n >= config_.min_insync) return Status::OK();
  return Unavailable(what_ + ": not enough in-sync replicas after the append (" + std::to_string(n) +
                     " in sync, min_insync_replicas is " + std::to_string(config_.min_insync) +
                     "): the leader has the records, fewer replicas than asked may");
}

void InSyncSet::wait_for(uint64_t end, AckCallback cb, bool acks, uint64_t id) {
  if (closed_) return cb(closed_why_);
  Waiter w{std::move(cb), acks, id};
  if (end <= high_watermark_) return w.cb(answer_for(w));
  waiters_.emplace(end, std::move(w));
}

void InSyncSet::cancel(uint64_t id) {
  if (id == 0) return;
  std::erase_if(waiters_, [id](const auto& entry) { return entry.second.id == id; });
}

void InSyncSet::close(const Status& why) {
  if (!closed_) {
    closed_ = true;
    closed_why_ = why;
  }
  while (!waiters_.empty()) {  // taken out before the call: a callback may wait again
    auto node = waiters_.extract(waiters_.begin());
    node.mapped().cb(closed_why_);
  }
}

void InSyncSet::advance() {
  if (!config_.commit_changes)
    for (auto& r : replicas_) r.counted = r.in_sync;
  uint64_t hw = std::numeric_limits<uint64_t>::max();
  for (const auto& r : replicas_)
    if (r.in_sync || r.counted) hw = std::min(hw, r.log_end);
  if (hw == std::numeric_limits<uint64_t>::max()) return;  // no replicas
  high_watermark_ = std::max(high_watermark_, hw);
  while (!waiters_.empty() && waiters_.begin()->first <= high_watermark_) {
    auto node = waiters_.extract(waiters_.begin());
    node.mapped().cb(answer_for(node.mapped()));
  }
}

}  // namespace persisting::replication
