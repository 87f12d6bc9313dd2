#include "kafka/broker/producer_state.h"

#include <algorithm>
#include <limits>
#include <type_traits>
#include <vector>

namespace persisting::kafka {
namespace {

constexpr int64_t kSequenceSpan = int64_t{std::numeric_limits<int32_t>::max()} + 1;

// The sequence count records after first (sequences wrap from INT32_MAX to 0).
int32_t seq_after(int32_t first, int64_t count) { return static_cast<int32_t>((first + count) % kSequenceSpan); }

int64_t wall_clock_micros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string where(int64_t producer_id, const std::string& topic, int32_t partition) {
  return "producer " + std::to_string(producer_id) + " on partition " + std::to_string(partition) + " of topic '" +
         topic + "'";
}

SequenceVerdict error(ErrorCode code, std::string message) {
  SequenceVerdict v;
  v.kind = SequenceVerdict::kError;
  v.error = code;
  v.message = std::move(message);
  return v;
}

// The record count of a batch of sequences first..last.
int64_t count_of(int32_t first, int32_t last) { return (int64_t{last} - first + kSequenceSpan) % kSequenceSpan + 1; }

// Little-endian fixed-width fields of a snapshot.
template <typename T>
void put_le(std::string* out, T v) {
  auto u = static_cast<std::make_unsigned_t<T>>(v);
  for (size_t i = 0; i < sizeof(T); ++i) out->push_back(static_cast<char>((u >> (8 * i)) & 0xff));
}
template <typename T>
bool get_le(const std::string& in, size_t* at, T* v) {
  if (in.size() - *at < sizeof(T)) return false;
  std::make_unsigned_t<T> u = 0;
  for (size_t i = 0; i < sizeof(T); ++i) u |= static_cast<std::make_unsigned_t<T>>(static_cast<uint8_t>(in[*at + i])) << (8 * i);
  *at += sizeof(T);
  *v = static_cast<T>(u);
  return true;
}
constexpr uint8_t kSnapshotFormat = 1;

}  // namespace

ProducerState::ProducerState(Scheduler* scheduler, ProducerStateOptions options)
    : scheduler_(scheduler),
      options_(options),
      next_id_(options.first_producer_id > 0 ? options.first_producer_id : wall_clock_micros()) {}

InitProducerIdResult ProducerState::init_producer_id(const std::optional<std::string>& transactional_id) {
  InitProducerIdResult out;
  if (transactional_id) {
    out.error = ErrorCode::INVALID_REQUEST;
    out.message = "transactional id '" + *transactional_id + "': transactions are not supported (idempotent "
                  "producers are: leave transactional.id unset)";
    return out;
  }
  auto now = scheduler_->now();
  std::lock_guard<std::mutex> lock(mu_);
  expire(now);
  int64_t id = next_id_++;
  producers_[id].last_used = now;
  out.producer_id = id;
  out.producer_epoch = 0;
  return out;
}

void ProducerState::expire(Scheduler::Clock::time_point now) {
  for (auto it = producers_.begin(); it != producers_.end();) {
    if (now - it->second.last_used > options_.producer_id_expiration)
      it = producers_.erase(it);
    else
      ++it;
  }
  while (!producers_.empty() && producers_.size() >= options_.max_producers) {
    auto oldest = std::min_element(producers_.begin(), producers_.end(), [](const auto& a, const auto& b) {
      return a.second.last_used < b.second.last_used;
    });
    producers_.erase(oldest);
  }
}

SequenceVerdict ProducerState::check(const std::string& topic, int32_t partition, const ProducerBatch& b) {
  if (b.producer_id < 0) return error(ErrorCode::INVALID_REQUEST, "check() of a batch without a producer id");
  if (b.producer_epoch < 0 || b.base_sequence < 0 || b.record_count <= 0)
    return error(ErrorCode::INVALID_RECORD, where(b.producer_id, topic, partition) + ": batch with epoch " +
                                                std::to_string(b.producer_epoch) + ", base sequence " +
                                                std::to_string(b.base_sequence) + " and " +
                                                std::to_string(b.record_count) + " records");
  auto now = scheduler_->now();
  std::lock_guard<std::mutex> lock(mu_);
  auto pit = producers_.find(b.producer_id);
  if (pit == producers_.end() && options_.accept_other_brokers_ids && b.base_sequence == 0) {
    expire(now);
    pit = producers_.try_emplace(b.producer_id).first;
  }
  if (pit == producers_.end())
    return error(ErrorCode::UNKNOWN_PRODUCER_ID,
                 where(b.producer_id, topic, partition) +
                     ": unknown producer id (not handed out since this broker started, or expired); take a new one");
  pit->second.last_used = now;
  int32_t last = seq_after(b.base_sequence, int64_t{b.record_count} - 1);
  auto [it, fresh] = pit->second.partitions.try_emplace({topic, partition});
  Partition& p = it->second;
  if (!fresh && b.producer_epoch < p.epoch)
    return error(ErrorCode::INVALID_PRODUCER_EPOCH, where(b.producer_id, topic, partition) + ": epoch " +
                                                        std::to_string(b.producer_epoch) + " is older than " +
                                                        std::to_string(p.epoch));
  if (fresh || b.producer_epoch > p.epoch) {
    if (b.base_sequence != 0) {
      if (fresh) pit->second.partitions.erase(it);
      return error(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER,
                   where(b.producer_id, topic, partition) + ": the first batch of epoch " +
                       std::to_string(b.producer_epoch) + " starts at sequence " + std::to_string(b.base_sequence) +
                       ", expected 0");
    }
    for (const Batch& old : p.recent) tickets_.erase(old.ticket);
    p = Partition{};
    p.epoch = b.producer_epoch;
  } else {
    for (const Batch& r : p.recent) {
      if (r.first != b.base_sequence || r.last != last) continue;
      if (r.base_offset < 0)
        return error(ErrorCode::REQUEST_TIMED_OUT, where(b.producer_id, topic, partition) + ": batch " +
                                                       std::to_string(r.first) + ".." + std::to_string(r.last) +
                                                       " is still being appended; retry");
      SequenceVerdict v;
      v.kind = SequenceVerdict::kDuplicate;
      v.base_offset = r.base_offset;
      return v;
    }
    if (b.base_sequence != p.next)
      return error(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER,
                   where(b.producer_id, topic, partition) + ": batch starts at sequence " +
                       std::to_string(b.base_sequence) + ", expected " + std::to_string(p.next));
  }
  SequenceVerdict v;
  v.kind = SequenceVerdict::kAppend;
  v.ticket = ++next_ticket_;
  p.recent.push_back({b.base_sequence, last, -1, v.ticket});
  if (p.recent.size() > kRemembered) {
    tickets_.erase(p.recent.front().ticket);
    p.recent.pop_front();
  }
  p.next = seq_after(last, 1);
  tickets_.emplace(v.ticket, Where{b.producer_id, topic, partition});
  return v;
}

void ProducerState::appended(uint64_t ticket, int64_t base_offset) {
  std::lock_guard<std::mutex> lock(mu_);
  auto t = tickets_.find(ticket);
  if (t == tickets_.end()) return;  // its producer expired or moved to a new epoch meanwhile
  auto [id, topic, partition] = t->second;
  tickets_.erase(t);
  auto pit = producers_.find(id);
  if (pit == producers_.end()) return;
  auto it = pit->second.partitions.find({topic, partition});
  if (it == pit->second.partitions.end()) return;
  for (Batch& r : it->second.recent)
    if (r.ticket == ticket) r.base_offset = base_offset;
}

void ProducerState::append_failed(uint64_t ticket) {
  std::lock_guard<std::mutex> lock(mu_);
  auto t = tickets_.find(ticket);
  if (t == tickets_.end()) return;
  auto [id, topic, partition] = t->second;
  tickets_.erase(t);
  auto pit = producers_.find(id);
  if (pit == producers_.end()) return;
  auto it = pit->second.partitions.find({topic, partition});
  if (it == pit->second.partitions.end()) return;
  Partition& p = it->second;
  auto r = std::find_if(p.recent.begin(), p.recent.end(), [&](const Batch& x) { return x.ticket == ticket; });
  if (r == p.recent.end()) return;
  // Only the newest accepted batch can be taken back; after a later one the client's retry of
  // this one is out of order (it then takes a new producer id).
  if (std::next(r) == p.recent.end()) p.next = r->first;
  p.recent.erase(r);
}

std::optional<std::string> ProducerState::snapshot(int64_t producer_id, const std::string& topic,
                                                   int32_t partition) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto pit = producers_.find(producer_id);
  if (pit == producers_.end()) return std::nullopt;
  auto it = pit->second.partitions.find({topic, partition});
  if (it == pit->second.partitions.end()) return std::nullopt;
  std::vector<const Batch*> done;
  for (const Batch& b : it->second.recent)
    if (b.base_offset >= 0) done.push_back(&b);
  if (done.empty()) return std::nullopt;
  std::string out;
  out.push_back(static_cast<char>(kSnapshotFormat));
  put_le<int16_t>(&out, it->second.epoch);
  out.push_back(static_cast<char>(done.size()));
  for (const Batch* b : done) {
    put_le<int32_t>(&out, b->first);
    put_le<int32_t>(&out, b->last);
    put_le<int64_t>(&out, b->base_offset);
  }
  return out;
}

void ProducerState::learn(int64_t producer_id, const std::string& topic, int32_t partition,
                          const std::string& snapshot) {
  Partition in;
  size_t at = 1;
  uint8_t n = 0;
  if (snapshot.size() < 4 || static_cast<uint8_t>(snapshot[0]) != kSnapshotFormat || !get_le(snapshot, &at, &in.epoch))
    return;
  n = static_cast<uint8_t>(snapshot[at++]);
  if (n == 0 || n > kRemembered) return;
  for (uint8_t i = 0; i < n; ++i) {
    Batch b;
    if (!get_le(snapshot, &at, &b.first) || !get_le(snapshot, &at, &b.last) || !get_le(snapshot, &at, &b.base_offset))
      return;
    if (b.first < 0 || b.last < 0 || b.base_offset < 0) return;
    in.recent.push_back(b);
  }
  if (at != snapshot.size()) return;
  in.next = seq_after(in.recent.back().last, 1);
  auto end_of = [](const Batch& b) { return b.base_offset + count_of(b.first, b.last); };
  auto now = scheduler_->now();
  std::lock_guard<std::mutex> lock(mu_);
  auto pit = producers_.find(producer_id);
  if (pit == producers_.end()) {
    expire(now);
    pit = producers_.try_emplace(producer_id).first;
  }
  pit->second.last_used = now;
  auto [it, fresh] = pit->second.partitions.try_emplace({topic, partition});
  if (!fresh) {
    const Partition& have = it->second;
    int64_t newest = -1;
    for (const Batch& b : have.recent) {
      if (b.base_offset < 0) return;  // being appended here: this broker leads it
      newest = std::max(newest, end_of(b));
    }
    if (have.epoch > in.epoch || (have.epoch == in.epoch && newest >= end_of(in.recent.back()))) return;
  }
  it->second = std::move(in);
}

size_t ProducerState::producer_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return producers_.size();
}

}  // namespace persisting::kafka
