#include "net/put_dedup.h"

namespace persisting::net {
namespace {

// Past this many (producer, bucket) entries, entries idle for kIdle are dropped: a retry
// arrives within seconds, not minutes.
constexpr size_t kSweepAt = 100000;
constexpr auto kIdle = std::chrono::minutes(10);

}  // namespace

std::string PutDedup::prefix(const std::string& topic, uint32_t bucket) {
  return topic + '\0' + std::to_string(bucket) + '\0';
}

std::string PutDedup::key(const std::string& topic, uint32_t bucket, uint64_t producer_id) {
  return prefix(topic, bucket) + std::to_string(producer_id);
}

void PutDedup::sweep(std::chrono::steady_clock::time_point now) {
  if (entries_.size() <= kSweepAt || now - last_sweep_ <= std::chrono::minutes(1)) return;
  last_sweep_ = now;
  auto cutoff = now - kIdle;
  for (auto it = entries_.begin(); it != entries_.end();)
    it = (!it->second->pending && it->second->last_used < cutoff) ? entries_.erase(it) : std::next(it);
}

void PutDedup::applied(const std::string& key, Result<Offset> r, uint32_t count) {
  std::vector<std::function<void(Result<Offset>)>> waiters;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return;
    waiters.swap(it->second->waiters);
    if (r.ok()) {
      it->second->pending = false;
      it->second->first_offset = r->value();
      it->second->count = count;
    } else {
      entries_.erase(it);  // nothing was written: a retry applies it afresh
    }
  }
  for (auto& w : waiters) w(r);
}

void PutDedup::apply(const std::string& key, uint64_t sequence, const std::string& what,
                     std::shared_ptr<runtime::BucketStorage> actor, RecordBatch batch, Applied cb) {
  if (!key.empty()) {
    std::lock_guard<std::mutex> lock(mu_);
    auto& d = entries_[key];
    if (d && sequence == d->sequence) {
      if (d->pending) {
        d->waiters.push_back([cb](Result<Offset> r) { cb(std::move(r), true); });
      } else {
        cb(Offset(d->first_offset), true);
      }
      return;
    }
    if (d && sequence < d->sequence)
      return cb(FailedPrecondition(what + ": sequence " + std::to_string(sequence) +
                                   " is older than the producer's last put (" + std::to_string(d->sequence) +
                                   "): a stale retry, not applied"),
                false);
    d = std::make_unique<Entry>();
    d->sequence = sequence;
    d->last_used = std::chrono::steady_clock::now();
    sweep(d->last_used);
  }
  uint32_t count = static_cast<uint32_t>(batch.size());
  actor->put(std::move(batch), [this, key, count, cb](Result<Offset> r) {
    if (!key.empty()) applied(key, r, count);
    cb(std::move(r), false);
  });
}

std::vector<PutDedup::ProducerState> PutDedup::export_bucket(const std::string& topic, uint32_t bucket) const {
  const std::string p = prefix(topic, bucket);
  std::vector<ProducerState> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = entries_.lower_bound(p); it != entries_.end() && it->first.compare(0, p.size(), p) == 0; ++it) {
    if (it->second->pending) continue;  // none once a fence has drained the bucket's puts
    out.push_back({std::stoull(it->first.substr(p.size())), it->second->sequence, it->second->first_offset,
                   it->second->count});
  }
  return out;
}

void PutDedup::import_bucket(const std::string& topic, uint32_t bucket, const std::vector<ProducerState>& in) {
  const std::string p = prefix(topic, bucket);
  auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& s : in) {
    if (s.producer_id == 0) continue;
    auto& d = entries_[p + std::to_string(s.producer_id)];
    if (d && d->sequence >= s.sequence) continue;
    d = std::make_unique<Entry>();
    d->sequence = s.sequence;
    d->pending = false;
    d->first_offset = s.first_offset;
    d->count = s.count;
    d->last_used = now;
  }
}

}  // namespace persisting::net
