#include "kafka/broker/broker.h"

#include <algorithm>
#include <mutex>
#include <utility>

#include "core/status_macros.h"
#include "kafka/broker/record_mapping.h"
#include "persisting/scheduler.h"
#include "queue/fetch.h"
#include "runtime/bucket_storage.h"

namespace persisting::kafka {
namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Records asked of a bucket for a partition that may answer max_bytes: a bound on the copy, the
// bytes are cut again when the batch is encoded. Sized by the topic's recent mean record size
// (32 bytes before any), so that a partition of large records is not read several times over.
size_t record_limit(const FetchPart& p) {
  const int64_t mean = std::max<int64_t>(16, p.topic->record_bytes_hint() ? p.topic->record_bytes_hint() : 32);
  return static_cast<size_t>(std::clamp<int64_t>(int64_t{p.max_bytes} / mean + 16, 16, 20000));
}

// A replicated part's records past the high watermark (hw, or the end the read saw if lower)
// are not answered, and the answer's high watermark is it.
// Whether any record lies past the high watermark (then only the high watermark moving shows more).
bool hold_back(uint64_t hw, uint64_t end, int64_t offset, ::persisting::RecordBatch* got, FetchedPart* out) {
  const bool held = end > hw;
  hw = std::min(hw, end);
  out->high_watermark = static_cast<int64_t>(hw);
  const uint64_t visible = hw > static_cast<uint64_t>(offset) ? hw - static_cast<uint64_t>(offset) : 0;
  if (got->size() <= visible) return held;
  ::persisting::RecordBatch kept;
  kept.append_range(*got, 0, static_cast<size_t>(visible));
  *got = std::move(kept);
  return held;
}

}  // namespace

ErrorCode partition_error(const Status& s) {
  switch (s.code()) {
    case Code::kOk: return ErrorCode::NONE;
    case Code::kNotFound: return ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
    case Code::kOutOfRange: return ErrorCode::OFFSET_OUT_OF_RANGE;
    case Code::kInvalidArgument: return ErrorCode::INVALID_RECORD;
    case Code::kFailedPrecondition: return ErrorCode::NOT_LEADER_OR_FOLLOWER;
    case Code::kUnavailable: return ErrorCode::LEADER_NOT_AVAILABLE;
    case Code::kIOError: return ErrorCode::KAFKA_STORAGE_ERROR;
    case Code::kResourceExhausted: return ErrorCode::MESSAGE_TOO_LARGE;
    case Code::kCorruption: return ErrorCode::CORRUPT_MESSAGE;
    case Code::kUnauthenticated: return ErrorCode::SASL_AUTHENTICATION_FAILED;
    default: return ErrorCode::UNKNOWN_SERVER_ERROR;
  }
}

ErrorCode placement_error(const Status& s) {
  // Another node owns the partition, or a rebalance is moving it there: the client refreshes
  // its metadata and goes to the owner.
  if (s.code() == Code::kFailedPrecondition || s.code() == Code::kUnavailable) return ErrorCode::NOT_LEADER_OR_FOLLOWER;
  return ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
}

Broker::Broker(std::shared_ptr<detail::QueueCore> core, CatalogOptions catalog, BrokerConfig config)
    : core_(core), catalog_(std::move(core), std::move(catalog)), config_(config) {}

// What a replicated produce's wait for the in-sync replicas ended with (see KafkaCluster::produced).
ProduceOutcome replicated_outcome(const Status& s, int64_t base) {
  if (s.ok()) return {ErrorCode::NONE, base, ""};
  if (s.code() == Code::kUnavailable) return {ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND, base, s.message()};
  return {placement_error(s), base, s.message()};
}

void Broker::acknowledge(const std::shared_ptr<CatalogTopic>& topic, uint32_t partition, int64_t base, uint64_t end,
                         int16_t acks, std::function<void(ProduceOutcome)> done) {
  if (!topic->replicated()) return done({ErrorCode::NONE, base, ""});
  topic->produced(partition, end, acks == -1, [base, done = std::move(done)](Status s) {
    done(replicated_outcome(s, base));
  });
}

void Broker::produce(const std::shared_ptr<CatalogTopic>& topic, uint32_t partition,
                     const std::vector<RecordBatch>& batches, int16_t acks, std::function<void(ProduceOutcome)> done,
                     std::function<void(int64_t)> in_log) {
  auto slot = topic->produce_slot(partition);  // on a replicated partition: makes its in-sync set
  if (!slot.ok()) return done({placement_error(slot.status()), -1, slot.status().message()});
  // A produce refused below still ends its slot (a fence counts it until then).
  struct Finish {
    std::function<void()> f;
    ~Finish() {
      if (f) f();
    }
  };
  auto finish = std::make_shared<Finish>();
  finish->f = std::move(slot->finished);
  auto actor = std::move(slot->actor);
  if (acks == -1)
    if (Status s = topic->check_acks_all(partition); !s.ok())
      return done({s.code() == Code::kUnavailable ? ErrorCode::NOT_ENOUGH_REPLICAS : placement_error(s), -1, s.message()});
  ::persisting::RecordBatch stored;
  size_t n = 0;
  for (const auto& b : batches) n += b.records.size();
  if (n == 0) return done({ErrorCode::NONE, -1, ""});
  const int64_t append_time = now_ms();
  for (const auto& b : batches) {
    if (b.is_control() || b.is_transactional())
      return done({ErrorCode::UNSUPPORTED_FOR_MESSAGE_FORMAT, -1,
                   "topic '" + topic->name() + "': transactional and control batches are not supported"});
    for (const auto& r : b.records) {
      const int64_t ts = b.log_append_time() ? append_time : b.base_timestamp + r.timestamp_delta;
      if (Status s = append_stored(r, ts, *topic, &stored); !s.ok())
        return done({ErrorCode::INVALID_RECORD, -1, s.message()});
    }
  }
  actor->put(std::move(stored), [topic, partition, acks, n, finish, done = std::move(done),
                                 in_log = std::move(in_log)](Result<Offset> r) {
    if (finish->f) std::exchange(finish->f, nullptr)();
    if (!r.ok()) return done({partition_error(r.status()), -1, r.status().message()});
    if (in_log) in_log(static_cast<int64_t>(r->value()));
    acknowledge(topic, partition, static_cast<int64_t>(r->value()), r->value() + n, acks, std::move(done));
  });
}

void Broker::end_offset(const std::shared_ptr<CatalogTopic>& topic, uint32_t partition,
                        std::function<void(Result<int64_t>)> done) {
  auto actor = topic->partition(partition);
  if (!actor.ok()) return done(actor.status());
  auto hw = topic->high_watermark(partition);
  if (!hw.ok()) return done(hw.status());
  (*actor)->read(Offset(0), 0, [hw = *hw, done = std::move(done)](Result<::persisting::RecordBatch> r, Offset end, Offset) {
    if (!r.ok()) return done(r.status());
    done(static_cast<int64_t>(hw ? std::min(*hw, end.value()) : end.value()));
  });
}

void Broker::start_offset(const std::shared_ptr<CatalogTopic>& topic, uint32_t partition,
                          std::function<void(Result<int64_t>)> done) {
  auto actor = topic->partition(partition);
  if (!actor.ok()) return done(actor.status());
  (*actor)->stats([done = std::move(done)](BucketStats s) {
    if (s.closed) return done(Unavailable("partition " + s.topic + "/" + std::to_string(s.bucket) + " is closed"));
    done(static_cast<int64_t>(s.first_offset));
  });
}

void Broker::offset_for_time(const std::shared_ptr<CatalogTopic>& topic, uint32_t partition, int64_t timestamp,
                             std::function<void(Result<std::pair<int64_t, int64_t>>)> done) {
  auto actor = topic->partition(partition);
  if (!actor.ok()) return done(actor.status());
  // The first record whose timestamp is at or after the target: Kafka records by their own
  // timestamp (the stored column), others by their bucket's append time. The append times never
  // go down, so the bucket's time lookup (StorageBackend::offset_for_time) says where to start;
  // for Kafka records, whose CreateTime need not follow the append order, the scan starts at
  // the first available offset. Either way the record found is read for its timestamp.
  struct Scan {
    std::shared_ptr<runtime::BucketStorage> actor;
    std::shared_ptr<CatalogTopic> topic;
    int64_t target;
    std::function<void(Result<std::pair<int64_t, int64_t>>)> done;
    void step(std::shared_ptr<Scan> self, uint64_t from) {
      actor->read(Offset(from), 1000, [self, from](Result<::persisting::RecordBatch> r, Offset, Offset first) {
        if (!r.ok() && r.status().code() == Code::kOutOfRange && from < first.value())
          return self->step(self, first.value());  // retention moved the start meanwhile
        if (!r.ok()) return self->done(r.status());
        if (r->empty()) return self->done(std::make_pair<int64_t, int64_t>(-1, -1));
        const bool kafka = self->topic->kind() == TopicKind::kKafka;
        std::vector<FieldShape> fields;
        for (size_t i = 0; i < r->size(); ++i) {
          if (r->encoded(i).empty()) continue;  // a gap
          int64_t ts = -1;
          if (kafka && scan_fields(r->encoded(i), &fields).ok()) {
            for (const FieldShape& f : fields)
              if (f.name == kTimestampColumn && f.type == Value::Type::kInt) ts = f.i;
          }
          if (ts < 0) ts = r->time(i) > 0 ? r->time(i) : -1;
          if (ts >= self->target || (!kafka && r->time(i) == 0))
            return self->done(std::make_pair(static_cast<int64_t>(from + i), ts));
        }
        // The next read is queued behind this message by the mailbox, not nested in it.
        self->step(self, from + r->size());
      });
    }
  };
  auto scan = std::make_shared<Scan>(Scan{std::move(actor).value(), topic, timestamp, std::move(done)});
  if (topic->kind() == TopicKind::kKafka) {
    scan->actor->read(Offset(0), 0, [scan](Result<::persisting::RecordBatch> r, Offset, Offset first) {
      if (!r.ok()) return scan->done(r.status());
      scan->step(scan, first.value());
    });
    return;
  }
  scan->actor->offset_for_time(timestamp, [scan](Result<Offset> r) {
    if (!r.ok()) return scan->done(r.status());
    scan->step(scan, r->value());
  });
}

struct Broker::FetchState {
  std::vector<FetchPart> parts;
  std::vector<std::shared_ptr<runtime::BucketStorage>> actors;  // null: the part failed already
  // A replicated part's high watermark as the round began (nullopt: not replicated): its
  // records past it are held back.
  std::vector<std::optional<uint64_t>> hw;
  std::vector<bool> held;   // a replicated part has records past its high watermark
  bool replicated = false;  // some part is: the fetch waits on high watermarks, not on appends
  std::vector<::persisting::RecordBatch> got;
  std::vector<FetchedPart> out;
  int32_t min_bytes = 1, max_bytes = 0;
  std::chrono::steady_clock::time_point deadline;  // of max_wait_ms
  Session* session = nullptr;
  uint64_t waiter = 0;
  std::function<void(std::vector<FetchedPart>)> done;

  std::mutex mu;
  size_t left = 0;
  bool have_winner = false;
  // park() has posted the get of every partition: a winner's cancels come after them in each
  // actor's mailbox (a cancel posted before the get it is meant for finds nothing, and that get
  // then parks until the deadline).
  bool all_parked = false;

  std::chrono::milliseconds time_left() const {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    return std::max(left, std::chrono::milliseconds(0));
  }
};

void Broker::fetch(std::vector<FetchPart> parts, int32_t max_wait_ms, int32_t min_bytes, int32_t max_bytes,
                   Session* session, std::function<void(std::vector<FetchedPart>)> done) {
  auto st = std::make_shared<FetchState>();
  const size_t n = parts.size();
  st->parts = std::move(parts);
  st->actors.resize(n);
  st->hw.resize(n);
  st->held.resize(n);
  st->got.resize(n);
  st->out.resize(n);
  st->deadline = std::chrono::steady_clock::now() +
                 std::chrono::milliseconds(std::clamp<int32_t>(max_wait_ms, 0, static_cast<int32_t>(config_.max_wait_ms)));
  st->min_bytes = std::max<int32_t>(min_bytes, 1);
  st->max_bytes = max_bytes <= 0 ? INT32_MAX : max_bytes;
  st->session = session;
  st->done = std::move(done);
  size_t valid = 0;
  for (size_t i = 0; i < n; ++i) {
    const FetchPart& p = st->parts[i];
    if (p.offset < 0) {
      st->out[i].error = ErrorCode::OFFSET_OUT_OF_RANGE;
      continue;
    }
    auto a = p.topic->partition(p.partition);
    if (!a.ok()) {
      st->out[i].error = placement_error(a.status());
      continue;
    }
    st->actors[i] = std::move(a).value();
    st->replicated = st->replicated || p.topic->replicated();
    ++valid;
  }
  if (valid == 0) return fetch_answer(st);
  fetch_round(st);
}

// One round: read what every partition holds from the fetch offset. Answer when that is at least
// min_bytes, a part failed, a part holds more than one answer takes, or the wait is over;
// otherwise park past what is there.
void Broker::fetch_round(const std::shared_ptr<FetchState>& st) {
  // The high watermarks first (not on an actor's thread: the first one may ask the actor).
  for (size_t i = 0; i < st->parts.size(); ++i) {
    if (!st->actors[i] || !st->parts[i].topic->replicated()) continue;
    auto hw = st->parts[i].topic->high_watermark(st->parts[i].partition);
    if (!hw.ok()) {  // no longer led here
      st->out[i].error = placement_error(hw.status());
      st->actors[i].reset();
      continue;
    }
    st->hw[i] = *hw;
  }
  size_t valid = 0;
  for (const auto& a : st->actors) valid += a ? 1 : 0;
  if (valid == 0) return fetch_answer(st);
  st->left = valid;
  for (size_t i = 0; i < st->parts.size(); ++i) {
    if (!st->actors[i]) continue;
    const FetchPart& p = st->parts[i];
    st->actors[i]->read(Offset(static_cast<uint64_t>(p.offset)), record_limit(p),
                        [this, st, i](Result<::persisting::RecordBatch> r, Offset end, Offset first) {
      bool last;
      {
        std::lock_guard<std::mutex> lock(st->mu);
        st->out[i].high_watermark = static_cast<int64_t>(end.value());
        st->out[i].log_start_offset = static_cast<int64_t>(first.value());
        if (!r.ok())
          st->out[i].error = partition_error(r.status());
        else
          st->got[i] = std::move(r).value();
        if (st->hw[i]) st->held[i] = hold_back(*st->hw[i], end.value(), st->parts[i].offset, &st->got[i], &st->out[i]);
        last = --st->left == 0;
      }
      if (!last) return;
      size_t bytes = 0;
      bool failed = false, full = false;
      for (size_t j = 0; j < st->parts.size(); ++j) {
        bytes += st->got[j].byte_size();
        failed = failed || st->out[j].error != ErrorCode::NONE;
        full = full || (st->actors[j] && st->out[j].high_watermark >
                                             st->parts[j].offset + static_cast<int64_t>(st->got[j].size()));
      }
      if (bytes >= static_cast<size_t>(st->min_bytes) || failed || full || st->time_left().count() == 0)
        return fetch_answer(st);
      if (st->replicated) return park_on_high_watermarks(st);
      park(st);
    });
  }
}

// Parks one waiter (same id) in every partition, each past the records this fetch holds already;
// the first partition that gets more answers (min_bytes of 1: with its records; more: by reading
// every partition again), the others are cancelled. Nobody getting any by the deadline answers
// with what is there.
void Broker::park(const std::shared_ptr<FetchState>& st) {
  const uint64_t waiter = queue::next_waiter_id();
  {
    std::lock_guard<std::mutex> lock(st->mu);
    st->waiter = waiter;
    st->have_winner = false;
    st->all_parked = false;
  }
  std::vector<std::shared_ptr<runtime::BucketStorage>> parked;
  for (const auto& a : st->actors)
    if (a) parked.push_back(a);
  st->left = parked.size();
  if (st->session) {
    const uint64_t w = st->waiter;
    st->session->park(w, [parked, w] { queue::cancel_fetch(parked, w); });
  }
  const auto wait = st->time_left();
  for (size_t j = 0; j < st->parts.size(); ++j) {
    if (!st->actors[j]) continue;
    const FetchPart& p = st->parts[j];
    const int64_t from = p.offset + static_cast<int64_t>(st->got[j].size());
    st->actors[j]->get(Offset(static_cast<uint64_t>(from)), record_limit(p), wait, st->waiter,
                       [this, st, j, from, waiter](Result<::persisting::RecordBatch> r) {
      bool cancel_others = false, last;
      {
        std::lock_guard<std::mutex> lock(st->mu);
        if (!r.ok()) {
          st->out[j].error = partition_error(r.status());
        } else if (!r->empty() && !st->have_winner) {
          st->have_winner = true;
          cancel_others = st->all_parked;  // else park() cancels them once every get is posted
          st->out[j].high_watermark =
              std::max<int64_t>(st->out[j].high_watermark, from + static_cast<int64_t>(r->size()));
          // Nothing of j was held: these are its records from the fetch offset. Otherwise they
          // continue what is held, and the round below reads them with it.
          if (st->got[j].empty()) st->got[j] = std::move(r).value();
        }
        last = --st->left == 0;
      }
      if (cancel_others) cancel_losers(st, j, waiter);
      if (!last) return;
      if (st->session) st->session->unpark(st->waiter);
      // min_bytes above 1 and time left: read every partition again, which answers once enough
      // is there or parks once more.
      bool again = false;
      {
        std::lock_guard<std::mutex> lock(st->mu);
        bool failed = false;
        for (const auto& o : st->out) failed = failed || o.error != ErrorCode::NONE;
        again = st->have_winner && st->min_bytes > 1 && !failed && st->time_left().count() > 0;
      }
      if (again) return fetch_round(st);
      fetch_answer(st);
    });
  }
  // A part that got records while the gets were being posted (here, inline) cancels the others
  // now. The winner's own get has completed, so cancelling it too is a no-op.
  // (Unless the fetch went on meanwhile: a round that answered or parked anew.)
  bool cancel = false;
  {
    std::lock_guard<std::mutex> lock(st->mu);
    if (st->waiter == waiter && !st->all_parked) {
      st->all_parked = true;
      cancel = st->have_winner;
    }
  }
  if (cancel) cancel_losers(st, st->parts.size(), waiter);
}

// Cancels the parked gets of every partition but `winner` (all of them when it is out of range).
void Broker::cancel_losers(const std::shared_ptr<FetchState>& st, size_t winner, uint64_t waiter) {
  for (size_t k = 0; k < st->actors.size(); ++k)
    if (k != winner && st->actors[k]) st->actors[k]->cancel_wait(waiter);
}

// Only the first of the deadline, a high watermark passing, an append, or the connection
// closing goes on. A part with records held back waits for its high watermark (which moves as
// soon as the followers have them, or they leave the set); any other for an append (a waiter
// the actor drops when it is cancelled: an idle partition leaves nothing behind in its in-sync
// set).
void Broker::park_on_high_watermarks(const std::shared_ptr<FetchState>& st) {
  struct Park {
    std::atomic<bool> fired{false};
    std::atomic<Scheduler::TaskId> deadline{0};
    std::vector<std::shared_ptr<runtime::BucketStorage>> appends;  // parts waiting for an append
    std::mutex mu;
    bool posted = false;  // every wait is registered: a winner may cancel the appends' waits
  };
  auto park = std::make_shared<Park>();
  const uint64_t w = queue::next_waiter_id();
  for (size_t j = 0; j < st->parts.size(); ++j)
    if (st->actors[j] && !(st->hw[j] && st->held[j])) park->appends.push_back(st->actors[j]);
  auto cancel_appends = [park, w] {
    for (const auto& a : park->appends) a->cancel_wait(w);
  };
  auto cancel_if_posted = [park, cancel_appends] {
    bool cancel;
    {
      std::lock_guard<std::mutex> lock(park->mu);
      cancel = park->posted;
    }
    if (cancel) cancel_appends();
  };
  // The winner unparks while st still holds the reply (so the session is alive), and cancels
  // the rest. A winner that fires while the waits are being registered (here, inline) leaves
  // the cancel to the end of that loop: cancelled earlier, a get posted after it would stay
  // parked for the whole wait.
  auto claim = [st, park, w, cancel_if_posted] {
    if (park->fired.exchange(true)) return false;
    if (st->session) st->session->unpark(w);
    if (auto id = park->deadline.load()) Scheduler::Default()->cancel(id);
    cancel_if_posted();
    return true;
  };
  if (st->session)
    st->session->park(w, [this, st, park, cancel_if_posted] {  // closing: answered now, the reply let go
      if (park->fired.exchange(true)) return;
      cancel_if_posted();
      fetch_answer(st);
    });
  park->deadline = Scheduler::Default()->schedule_at(st->deadline, [this, st, claim] {
    if (claim()) fetch_answer(st);
  });
  const auto wait = st->time_left();
  for (size_t j = 0; j < st->parts.size(); ++j) {
    if (!st->actors[j]) continue;
    const FetchPart& p = st->parts[j];
    const uint64_t from = static_cast<uint64_t>(p.offset) + st->got[j].size();
    if (st->hw[j] && st->held[j]) {
      p.topic->wait_high_watermark(p.partition, from + 1, [this, st, claim](Status s) {
        if (!claim()) return;
        if (!s.ok()) return fetch_answer(st);  // no longer led here: the next fetch is told
        fetch_round(st);
      });
    } else {
      st->actors[j]->get(Offset(from), 1, wait, w, [this, st, claim](Result<::persisting::RecordBatch> r) {
        if (!claim()) return;
        if (!r.ok() || r->empty()) return fetch_answer(st);  // the wait ended: what there is
        fetch_round(st);  // appended: read again (it shows once the high watermark passes)
      });
    }
  }
  bool cancel;
  {
    std::lock_guard<std::mutex> lock(park->mu);
    park->posted = true;
    cancel = park->fired.load();
  }
  if (cancel) cancel_appends();
}

void Broker::fetch_answer(const std::shared_ptr<FetchState>& st) {
  int64_t budget = st->max_bytes;
  bool sent_any = false;
  KafkaView kr;
  for (size_t i = 0; i < st->parts.size(); ++i) {
    const ::persisting::RecordBatch& got = st->got[i];
    FetchedPart& out = st->out[i];
    if (got.empty() || out.error != ErrorCode::NONE) continue;
    const FetchPart& p = st->parts[i];
    const int64_t part_budget = std::min<int64_t>(p.max_bytes, budget);
    // One uncompressed batch per partition, each record written straight from the stored one.
    BatchWriter batch(&out.records, p.offset);
    int64_t bytes = 0, count = 0;
    int64_t first_ts = -1, max_ts = -1;
    int64_t last_delta = -1;  // of the last record or gap in the batch
    for (size_t k = 0; k < got.size(); ++k) {
      const std::string_view enc = got.encoded(k);
      if (enc.empty()) {  // a gap (a row LanceDB deleted): no record, as after Kafka's compaction
        last_delta = static_cast<int64_t>(k);
        continue;
      }
      if (count > 0 || sent_any) {
        if (bytes + static_cast<int64_t>(enc.size()) > part_budget) break;
      }
      if (Status s = view_kafka(enc, *p.topic, &kr); !s.ok()) {
        if (count == 0) out.error = ErrorCode::CORRUPT_MESSAGE;
        break;
      }
      // A Kafka record's own timestamp (CreateTime, or LogAppendTime as stored); a record
      // without one (a topic of our APIs) has its bucket's append time (docs/kafka.md).
      const int64_t ts = kr.timestamp >= 0 ? kr.timestamp : (got.time(k) > 0 ? got.time(k) : -1);
      if (count == 0) first_ts = ts;
      max_ts = std::max(max_ts, ts);
      batch.add(first_ts < 0 || ts < 0 ? 0 : ts - first_ts, static_cast<int32_t>(k), kr.key, kr.value, kr.headers);
      bytes += static_cast<int64_t>(enc.size());
      ++count;
      last_delta = static_cast<int64_t>(k);
    }
    if (last_delta < 0 || (count == 0 && out.error != ErrorCode::NONE)) {
      out.records.clear();  // the header reserved by the writer
      continue;
    }
    // Only gaps: an empty batch whose last offset delta moves the consumer past them (Kafka's
    // consumers skip to a batch's last offset + 1, as after compaction).
    if (count > 0) p.topic->note_record_bytes(static_cast<uint32_t>(bytes / count));
    batch.finish(static_cast<int32_t>(last_delta), first_ts, max_ts, static_cast<int32_t>(count));
    budget -= static_cast<int64_t>(out.records.size());
    sent_any = true;
    out.high_watermark = std::max<int64_t>(out.high_watermark, p.offset + last_delta + 1);
    if (budget <= 0) break;
  }
  auto done = std::move(st->done);
  done(std::move(st->out));
}

}  // namespace persisting::kafka
