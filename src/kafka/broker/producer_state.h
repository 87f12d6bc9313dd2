// ProducerState: idempotent Kafka producers (enable.idempotence): producer ids, and per
// (producer id, topic, partition) the sequence numbers that let the broker drop a retried batch
// instead of appending it twice (docs/kafka.md, "Idempotent producers").
//
//   ProducerState producers(scheduler);
//   auto id = producers.init_producer_id(std::nullopt);        // InitProducerId
//   ... Produce, for each partition's batch with producer_id >= 0:
//   auto v = producers.check("t", 0, {id.producer_id, id.producer_epoch, base_sequence, count});
//   switch (v.kind) {
//     case SequenceVerdict::kAppend:    put the records; then producers.appended(v.ticket, base_offset)
//                                       (or producers.append_failed(v.ticket) when the put failed)
//     case SequenceVerdict::kDuplicate: answer v.base_offset, append nothing
//     case SequenceVerdict::kError:     answer v.error (v.message says why)
//   }
//
// Rules, per (producer id, topic, partition):
// - The first batch must carry sequence 0; each next batch the sequence after the previous
//   batch's last (sequences wrap from INT32_MAX to 0). A gap, or an old batch no longer
//   remembered: OUT_OF_ORDER_SEQUENCE_NUMBER.
// - The last five batches are remembered (first, last sequence, base offset): a batch equal to
//   one of them is a retry and is answered with its original base offset. A retry of a batch
//   still being appended: REQUEST_TIMED_OUT (retriable; the client asks again and then gets the
//   offset).
// - An epoch below the partition's: INVALID_PRODUCER_EPOCH; a higher one must start at sequence 0
//   and replaces the state.
// - A producer id this object did not hand out (another broker run, or expired after
//   `producer_id_expiration` idle): UNKNOWN_PRODUCER_ID; clients then take a new producer id.
//   In a cluster (accept_other_brokers_ids) only when its batch does not start at sequence 0.
// Appends of one partition must be submitted in the order check() accepted them (the bucket's
// actor keeps that order).
//
// State lives in memory only. After a broker restart every producer id is unknown: clients take a
// new one and go on, so a batch written before the restart whose acknowledgement was lost is
// written again when retried (at least once across restarts, exactly once within a run).
// Producer ids start from the wall clock in microseconds at construction, so ids of one run are
// not handed out again by the next.
//
// Thread-safe (one mutex; every call is short and in memory). Time from the Scheduler.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <unordered_map>

#include "kafka/broker/error_codes.h"
#include "persisting/scheduler.h"

namespace persisting::kafka {

struct ProducerStateOptions {
  // A producer id unused this long is forgotten (Kafka's producer.id.expiration.ms).
  std::chrono::milliseconds producer_id_expiration = std::chrono::hours(24);
  // At most this many producer ids are remembered; the least recently used go first.
  size_t max_producers = 100000;
  // The first producer id (0: the wall clock in microseconds).
  int64_t first_producer_id = 0;
  // In a cluster any broker hands out producer ids (InitProducerId goes to whichever the client
  // picks) and another one leads the partition: an id this object does not know is taken as
  // new when its batch starts at sequence 0 (as Kafka's brokers do), and is UNKNOWN_PRODUCER_ID
  // otherwise.
  bool accept_other_brokers_ids = false;
};

struct InitProducerIdResult {
  ErrorCode error = ErrorCode::NONE;
  std::string message;
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
};

// The producer fields of a RecordBatch.
struct ProducerBatch {
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  int32_t base_sequence = -1;
  int32_t record_count = 0;
};

struct SequenceVerdict {
  enum Kind { kAppend, kDuplicate, kError };
  Kind kind = kError;
  ErrorCode error = ErrorCode::NONE;  // kError
  std::string message;                // kError: names the producer, topic and partition
  int64_t base_offset = -1;           // kDuplicate: the original batch's
  uint64_t ticket = 0;                // kAppend: for appended() / append_failed()
};

class ProducerState {
 public:
  explicit ProducerState(Scheduler* scheduler, ProducerStateOptions options = {});

  // InitProducerId. Idempotent producers (no transactional id) always get a new producer id at
  // epoch 0, as Kafka does (a client "bumping its epoch" takes a new id). A transactional id:
  // INVALID_REQUEST (transactions are not supported).
  InitProducerIdResult init_producer_id(const std::optional<std::string>& transactional_id);

  // Whether the batch of a producer (producer_id >= 0) may be appended to topic/partition.
  SequenceVerdict check(const std::string& topic, int32_t partition, const ProducerBatch& batch);
  // The append of an accepted batch succeeded at base_offset: its retries now get that offset.
  void appended(uint64_t ticket, int64_t base_offset);
  // The append failed: the batch is forgotten and, when no later batch was accepted after it,
  // its sequence is expected again (the client retries it).
  void append_failed(uint64_t ticket);

  size_t producer_count() const;

  // Replicated partitions (docs/kafka.md, "Idempotent producers"): a producer's state of one
  // partition as the followers keep it, encoded (docs/wire-protocol.md, "Kafka producer state"):
  // its epoch and the batches whose append completed (first, last sequence, base offset), the
  // next sequence after the newest of them. nullopt when there is none.
  std::optional<std::string> snapshot(int64_t producer_id, const std::string& topic, int32_t partition) const;
  // Takes a snapshot from the partition's previous leader unless this broker's state of the
  // producer's partition is as new (its newest batch ends at or after the snapshot's, or one of
  // its batches is still being appended). Makes the producer id known here. A snapshot that
  // does not decode is ignored.
  void learn(int64_t producer_id, const std::string& topic, int32_t partition, const std::string& snapshot);

 private:
  struct Batch {
    int32_t first = 0;
    int32_t last = 0;
    int64_t base_offset = -1;  // -1 while being appended
    uint64_t ticket = 0;
  };
  struct Partition {
    int16_t epoch = 0;
    int32_t next = 0;          // the sequence the next batch must start with
    std::deque<Batch> recent;  // at most kRemembered, oldest first
  };
  struct Producer {
    Scheduler::Clock::time_point last_used{};
    std::map<std::pair<std::string, int32_t>, Partition> partitions;
  };
  using Where = std::tuple<int64_t, std::string, int32_t>;
  static constexpr size_t kRemembered = 5;

  void expire(Scheduler::Clock::time_point now);

  Scheduler* scheduler_;
  ProducerStateOptions options_;
  mutable std::mutex mu_;
  int64_t next_id_;
  uint64_t next_ticket_ = 0;
  std::unordered_map<int64_t, Producer> producers_;
  std::unordered_map<uint64_t, Where> tickets_;  // accepted batches still being appended
};

}  // namespace persisting::kafka
