#include "net/replica_tracker.h"

#include <algorithm>

namespace persisting::net {

using replication::Clock;

ReplicaTracker::ReplicaTracker(std::string topic, uint32_t replication_factor, ReplicationConfig config)
    : topic_(std::move(topic)) {
  config_.lag_max = config.lag_max;
  config_.commit_changes = config.commit_changes;
  uint32_t min = config.min_insync ? config.min_insync : replication::default_min_insync(replication_factor);
  config_.min_insync = std::clamp<uint32_t>(min, 1, std::max<uint32_t>(replication_factor, 1));
}

ReplicaTracker::~ReplicaTracker() {
  std::unique_lock<std::mutex> lock(mu_);
  sets_.clear();  // each set fails its waiters ("its leader stopped")
  run_ready(lock);
}

replication::InSyncSet* ReplicaTracker::find(uint32_t bucket) const {
  auto it = sets_.find(bucket);
  return it == sets_.end() ? nullptr : it->second.get();
}

replication::InSyncSet::AckCallback ReplicaTracker::defer(Callback cb) {
  return [this, cb = std::move(cb)](Status s) mutable {
    ready_.push_back([cb = std::move(cb), s = std::move(s)] { cb(s); });
  };
}

void ReplicaTracker::run_ready(std::unique_lock<std::mutex>& lock) {
  std::vector<std::function<void()>> run;
  run.swap(ready_);
  lock.unlock();
  for (auto& f : run) f();
}

bool ReplicaTracker::has(uint32_t bucket) const {
  std::lock_guard<std::mutex> lock(mu_);
  return find(bucket) != nullptr;
}

void ReplicaTracker::create(uint32_t bucket, std::vector<NodeId> replicas, uint64_t leader_end,
                            const std::vector<NodeId>& out_of_sync) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& s = sets_[bucket];
  if (!s)
    s = std::make_unique<replication::InSyncSet>("topic '" + topic_ + "' bucket " + std::to_string(bucket),
                                                 std::move(replicas), leader_end, config_, Clock::now(), out_of_sync);
}

void ReplicaTracker::leader_appended(uint32_t bucket, uint64_t end) {
  std::unique_lock<std::mutex> lock(mu_);
  if (auto* s = find(bucket)) s->leader_appended(end, Clock::now());
  wake_records(bucket, end);
  run_ready(lock);
}

std::optional<uint64_t> ReplicaTracker::leader_end(uint32_t bucket) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto* s = find(bucket)) return s->leader_end();
  return std::nullopt;
}

void ReplicaTracker::wait_records(uint32_t bucket, uint64_t from, uint64_t id, std::function<void()> cb) {
  std::unique_lock<std::mutex> lock(mu_);
  auto* s = find(bucket);
  if (!s || s->leader_end() > from) {
    lock.unlock();
    return cb();
  }
  record_waiters_.push_back({bucket, from, id, std::move(cb)});
}

void ReplicaTracker::cancel_records(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  std::erase_if(record_waiters_, [id](const RecordWaiter& w) { return w.id == id; });
}

void ReplicaTracker::wake_records(uint32_t bucket, uint64_t end) {
  if (record_waiters_.empty()) return;
  std::erase_if(record_waiters_, [&](RecordWaiter& w) {
    if (w.bucket != bucket || w.from >= end) return false;
    ready_.push_back(std::move(w.cb));
    return true;
  });
}

Status ReplicaTracker::follower_fetched(uint32_t bucket, const NodeId& follower, uint64_t end) {
  std::unique_lock<std::mutex> lock(mu_);
  Status st;
  if (auto* s = find(bucket)) {
    auto now = Clock::now();
    if (end > s->leader_end()) {
      s->leader_appended(end, now);
      wake_records(bucket, end);
    }
    st = s->follower_fetched(follower, end, now);
  }
  run_ready(lock);
  return st;
}

bool ReplicaTracker::in_sync(uint32_t bucket, const NodeId& follower) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto* s = find(bucket))
    for (const auto& r : s->replicas())
      if (r.id == follower) return r.in_sync;
  return false;
}

Status ReplicaTracker::check_acks_all(uint32_t bucket) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto* s = find(bucket);
  return s ? s->check_acks_all() : Status::OK();
}

void ReplicaTracker::wait_for(uint32_t bucket, uint64_t end, Callback cb, bool acks, uint64_t id) {
  std::unique_lock<std::mutex> lock(mu_);
  auto* s = find(bucket);
  if (!s) {
    lock.unlock();
    return cb(Status::OK());
  }
  s->wait_for(end, defer(std::move(cb)), acks, id);
  run_ready(lock);
}

void ReplicaTracker::cancel_waits(const std::vector<uint32_t>& buckets, uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  for (uint32_t b : buckets)
    if (auto* s = find(b)) s->cancel(id);
}

std::optional<uint64_t> ReplicaTracker::high_watermark(uint32_t bucket) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto* s = find(bucket)) return s->high_watermark();
  return std::nullopt;
}

std::optional<InSyncSnapshot> ReplicaTracker::snapshot(uint32_t bucket) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto* s = find(bucket);
  if (!s) return std::nullopt;
  return InSyncSnapshot{s->replicas(), s->high_watermark(), config_.min_insync};
}

void ReplicaTracker::tick() {
  std::unique_lock<std::mutex> lock(mu_);
  auto now = Clock::now();
  for (auto& [b, s] : sets_) s->tick(now);
  run_ready(lock);
}

void ReplicaTracker::committed(uint32_t bucket, const std::vector<NodeId>& members) {
  std::unique_lock<std::mutex> lock(mu_);
  if (auto* s = find(bucket)) s->committed(members);
  run_ready(lock);
}

void ReplicaTracker::close(uint32_t bucket, const Status& why) {
  std::unique_lock<std::mutex> lock(mu_);
  auto it = sets_.find(bucket);
  if (it != sets_.end()) {
    it->second->close(why);
    sets_.erase(it);
  }
  wake_records(bucket, UINT64_MAX);  // parked Replicates answer now
  run_ready(lock);
}

}  // namespace persisting::net
