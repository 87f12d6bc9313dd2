#include "net/put_dedup.h"

#include <random>

namespace persisting::net {
namespace {

// Past this many (producer, bucket) entries, entries idle for kIdle are dropped: a retry
// arrives within seconds, not minutes.
constexpr size_t kSweepAt = 100000;
constexpr auto kIdle = std::chrono::minutes(10);

uint64_t random_session() {
  std::random_device rd;
  uint64_t s = 0;
  while (s == 0) s = (uint64_t(rd()) << 32) ^ rd();
  return s;
}

// A key's bucket prefix: topic \0 bucket \0.
std::string prefix_of(const std::string& key) { return key.substr(0, key.rfind('\0') + 1); }

}  // namespace

PutDedup::PutDedup() : session_(random_session()) {}

std::string PutDedup::prefix(const std::string& topic, uint32_t bucket) {
  return topic + '\0' + std::to_string(bucket) + '\0';
}

std::string PutDedup::key(const std::string& topic, uint32_t bucket, uint64_t producer_id) {
  return prefix(topic, bucket) + std::to_string(producer_id);
}

std::string PutDedup::kafka_key(const std::string& topic, uint32_t bucket, uint64_t producer_id) {
  return prefix(topic, bucket) + "k" + std::to_string(producer_id);
}

PutDedup::ProducerState PutDedup::state_of(const std::string& tail, const Entry& e) {
  const bool kafka = !tail.empty() && tail[0] == 'k';
  return {std::stoull(kafka ? tail.substr(1) : tail), e.sequence, e.first_offset, e.count,
          kafka ? e.kafka_state : std::string()};
}

void PutDedup::record_kafka(const std::string& topic, uint32_t bucket, int64_t producer_id, uint64_t first_offset,
                            uint32_t count, std::string state) {
  if (producer_id < 0) return;
  import_bucket(topic, bucket, {{static_cast<uint64_t>(producer_id), first_offset + count, first_offset, count,
                                 std::move(state)}});
}

std::optional<std::string> PutDedup::kafka_state(const std::string& topic, uint32_t bucket,
                                                 int64_t producer_id) const {
  if (producer_id < 0) return std::nullopt;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(kafka_key(topic, bucket, static_cast<uint64_t>(producer_id)));
  if (it == entries_.end() || it->second->pending) return std::nullopt;
  return it->second->kafka_state;
}

void PutDedup::stamp(const std::string& key, Entry& e) {
  unstamp(key, e);
  e.pending = false;
  e.version = ++version_;
  versions_[prefix_of(key)][e.version] = key;
}

void PutDedup::unstamp(const std::string& key, const Entry& e) {
  if (e.version == 0) return;
  auto it = versions_.find(prefix_of(key));
  if (it == versions_.end()) return;
  it->second.erase(e.version);
  if (it->second.empty()) versions_.erase(it);
}

std::map<std::string, std::unique_ptr<PutDedup::Entry>>::iterator PutDedup::erase(
    std::map<std::string, std::unique_ptr<Entry>>::iterator it) {
  unstamp(it->first, *it->second);
  return entries_.erase(it);
}

void PutDedup::sweep(std::chrono::steady_clock::time_point now) {
  if (entries_.size() <= kSweepAt || now - last_sweep_ <= std::chrono::minutes(1)) return;
  last_sweep_ = now;
  auto cutoff = now - kIdle;
  for (auto it = entries_.begin(); it != entries_.end();)
    it = (!it->second->pending && it->second->last_used < cutoff) ? erase(it) : std::next(it);
}

void PutDedup::applied(const std::string& key, Result<Offset> r, uint32_t count) {
  std::vector<std::function<void(Result<Offset>)>> waiters;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return;
    waiters.swap(it->second->waiters);
    if (r.ok()) {
      it->second->first_offset = r->value();
      it->second->count = count;
      stamp(key, *it->second);
    } else {
      erase(it);  // nothing was written: a retry applies it afresh
    }
  }
  for (auto& w : waiters) w(r);
}

void PutDedup::apply(const std::string& key, uint64_t sequence, const std::string& what,
                     std::shared_ptr<runtime::BucketStorage> actor, RecordBatch batch, Applied cb,
                     std::shared_ptr<void> hold) {
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
    if (d) unstamp(key, *d);
    d = std::make_unique<Entry>();
    d->sequence = sequence;
    d->last_used = std::chrono::steady_clock::now();
    sweep(d->last_used);
  }
  uint32_t count = static_cast<uint32_t>(batch.size());
  actor->put(std::move(batch), [this, key, count, cb](Result<Offset> r) {
    if (!key.empty()) applied(key, r, count);
    cb(std::move(r), false);
  }, std::move(hold));
}

std::vector<PutDedup::ProducerState> PutDedup::export_bucket(const std::string& topic, uint32_t bucket) const {
  const std::string p = prefix(topic, bucket);
  std::vector<ProducerState> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = entries_.lower_bound(p); it != entries_.end() && it->first.compare(0, p.size(), p) == 0; ++it) {
    if (it->second->pending) continue;  // none once a fence has drained the bucket's puts
    out.push_back(state_of(it->first.substr(p.size()), *it->second));
  }
  return out;
}

void PutDedup::import_bucket(const std::string& topic, uint32_t bucket, const std::vector<ProducerState>& in) {
  const std::string p = prefix(topic, bucket);
  auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& s : in) {
    if (s.producer_id == 0 && s.kafka_state.empty()) continue;
    const std::string k = s.kafka_state.empty() ? p + std::to_string(s.producer_id)
                                                : kafka_key(topic, bucket, s.producer_id);
    auto& d = entries_[k];
    if (d && d->sequence >= s.sequence) continue;
    if (d) unstamp(k, *d);
    d = std::make_unique<Entry>();
    d->sequence = s.sequence;
    d->first_offset = s.first_offset;
    d->count = s.count;
    d->kafka_state = s.kafka_state;
    d->last_used = now;
    stamp(k, *d);  // a new version: this node's own followers learn it too
  }
}

void PutDedup::forget_bucket(const std::string& topic, uint32_t bucket) {
  const std::string p = prefix(topic, bucket);
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = entries_.lower_bound(p); it != entries_.end() && it->first.compare(0, p.size(), p) == 0;) {
    // A put still pending keeps its entry: it answers its waiters, and its records are new.
    it = it->second->pending ? std::next(it) : erase(it);
  }
}

PutDedup::Changes PutDedup::changes_since(const std::string& topic, uint32_t bucket, uint64_t session,
                                          uint64_t since, uint64_t log_end, size_t max) const {
  const std::string p = prefix(topic, bucket);
  std::lock_guard<std::mutex> lock(mu_);
  Changes out;
  out.session = session_;
  out.through = session == session_ ? since : 0;
  auto b = versions_.find(p);
  if (b == versions_.end()) {
    out.through = version_;
    return out;
  }
  for (auto it = b->second.upper_bound(out.through); it != b->second.end(); ++it) {
    const Entry& e = *entries_.at(it->second);
    if (e.first_offset + e.count > log_end || out.states.size() >= max) return out;  // the rest later
    out.states.push_back(state_of(it->second.substr(p.size()), e));
    out.through = it->first;
  }
  out.through = version_;  // nothing of this bucket newer is left out
  return out;
}

}  // namespace persisting::net
