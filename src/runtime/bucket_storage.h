// BucketStorage: the actor that owns one bucket's backend (by composition: the backend is a
// member chosen by name from the registry, never a base class).
//
// Every message runs through the actor's Mailbox, one at a time, in arrival order (possibly on
// the posting thread: see mailbox.h). Completion callbacks run inside the actor's message: they
// must be quick and must not block (set a promise, post work).
//
// Waiting readers are parked: a get with wait > 0 that finds no data at its offset is stored in
// waiters_ with a deadline on the Executor's Timers; a put that brings data completes it at once
// (and cancels the deadline: a map erase, no thread woken), and the deadline completes it empty. No thread is held per waiter and nothing polls.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <unordered_map>

#include "persisting/backend.h"
#include "runtime/append_signal.h"
#include "runtime/executor.h"
#include "runtime/mailbox.h"

namespace persisting::runtime {

class BucketStorage : public std::enable_shared_from_this<BucketStorage> {
 public:
  using PutCallback = std::function<void(Result<Offset>)>;  // first offset of the batch
  using GetCallback = std::function<void(Result<RecordBatch>)>;
  using StatusCallback = std::function<void(Status)>;
  using StatsCallback = std::function<void(BucketStats)>;
  // A read's records and the bucket's end offset (its record count) when they were read.
  using ReadCallback = std::function<void(Result<RecordBatch>, Offset end, Offset first)>;

  // signal (optional): the topic's, shared by its buckets on this node; told of every completed
  // put and of the close.
  BucketStorage(Executor& executor, std::string topic, BucketId bucket,
                std::unique_ptr<StorageBackend> backend, std::shared_ptr<AppendSignal> signal = nullptr);
  ~BucketStorage();

  const std::string& topic() const { return topic_; }
  BucketId bucket() const { return bucket_; }
  // The topic's signal (null when built without one): a reader caught up with several of its
  // buckets waits there (queue::fetch) rather than in each bucket.
  const std::shared_ptr<AppendSignal>& signal() const { return signal_; }

  // hold (optional) is let go once the backend has taken the put (before it is acknowledged):
  // a writer's plug on the node log (backend/node_log_host.h) lives until every part is queued.
  void put(RecordBatch batch, PutCallback cb, std::shared_ptr<void> hold = nullptr);
  // Asks the backend whether it would accept batch now (StorageBackend::check_batch), appending
  // nothing. batch and numbers must stay alive until cb has run.
  void check(const RecordBatch* batch, const std::vector<uint64_t>* numbers, StatusCallback cb);
  // Whether check() can refuse anything (the backend's checks_batches, fixed at construction).
  bool checks_batches() const { return checks_batches_; }
  // Reads up to limit records from offset. With wait > 0 and nothing at offset yet, parks until
  // data arrives (completes with it) or wait passes (completes empty). waiter_id (any value
  // unique per caller, 0 = none) lets cancel_wait() complete a parked get early, empty.
  void get(Offset offset, size_t limit, std::chrono::milliseconds wait, uint64_t waiter_id,
           GetCallback cb);
  void cancel_wait(uint64_t waiter_id);
  // Whether a get at offset would find nothing, as far as this bucket's last read up to there saw
  // (a read that came back empty at offset, or whose records ended at offset, the bucket's end) and
  // no put has been acknowledged since: a fetch over many buckets then skips this one without a
  // message (on a caller's thread, lock-free). False when unsure, so a skip is never wrong for
  // long: the end it saw is out of date only between a put's append and its acknowledgement.
  bool known_empty_at(Offset offset) const;
  // The count of completed puts (and closes), bumped after their records are readable and before
  // the topic's signal hears: a reader that saw a count, looked, then waits on the signal, wakes
  // itself if the count moved meanwhile (AppendSignal).
  uint64_t changes() const { return end_changes_.load(); }
  // Reads up to limit records from offset without waiting, and tells the bucket's end offset in
  // the same message, with its first available offset (a Kafka Fetch answers all three). An
  // offset past the end is OutOfRange.
  void read(Offset offset, size_t limit, ReadCallback cb);
  void flush(StatusCallback cb);
  void stats(StatsCallback cb);
  // The first offset appended at or after time_ms (StorageBackend::offset_for_time).
  void offset_for_time(int64_t time_ms, PutCallback cb);
  // Flushes, then fails every parked reader with Unavailable; later messages fail the same way.
  void close(StatusCallback cb);
  // The same, but a backend whose log holds its unflushed records (log_holds_unflushed) is not
  // flushed unless flush is true: its records stay in the log, and the next open replays them.
  void close(bool flush, StatusCallback cb);
  // Closes without flushing (the bucket's files are about to be deleted: its topic was deleted):
  // parked readers and every later message fail with reason. done runs once the backend is gone,
  // so nothing of this bucket writes files after it.
  void retire(Status reason, std::function<void()> done);

 private:
  struct Waiter {
    Offset offset;
    size_t limit;
    uint64_t generation;  // tells a stale expiry message from the current waiter's
    GetCallback cb;
    Timers::Key deadline;
  };

  void wake_waiters();
  // Timer expiry, run as a message: completes waiter id empty if it is still that generation.
  void expire_waiter(uint64_t id, uint64_t generation);
  Status closed_error() const;
  // Answers every parked reader with closed_error() (the backend is gone). On the actor.
  void fail_waiters();
  // Sets may_have_waiters_ from waiters_ (on the actor, after waiters_ changed).
  void note_waiters();

  Executor& executor_;
  std::shared_ptr<Mailbox> mailbox_;
  std::string topic_;
  BucketId bucket_;
  std::unique_ptr<StorageBackend> backend_;  // null once closed
  Status retired_;                           // retire()'s reason: what a closed bucket answers
  const bool checks_batches_;
  std::unordered_map<uint64_t, Waiter> waiters_;
  const std::shared_ptr<AppendSignal> signal_;
  // Whether waiters_ may hold a reader: read off the actor by a put acknowledged from the
  // backend's thread, which then posts nothing when it is false. A reader about to park sets it
  // before it looks at the backend's end, so a put whose records it did not see finds it set.
  std::atomic<bool> may_have_waiters_{false};
  // known_empty_at: end_changes_ counts the completed puts (and the close), each counted after
  // its records are readable and before its writer hears; a read that reached the end records
  // where it stopped with the count it loaded before it looked, so a put completed meanwhile
  // makes the record stale. note_end records offset when it is end, read after changes_seen was
  // loaded.
  void note_end(Offset offset, uint64_t changes_seen, uint64_t end);
  // Counts a change, then tells the topic's signal (in that order: AppendSignal relies on it).
  // in_message: called inside this actor's message (the signal's waiters may run here).
  void end_changed(bool in_message) {
    end_changes_.fetch_add(1);
    if (signal_) signal_->notify(bucket_, in_message);
  }
  std::atomic<uint64_t> end_changes_{0};
  std::atomic<uint64_t> empty_at_{0};
  std::atomic<uint64_t> empty_as_of_{~0ULL};  // end_changes_ when empty_at_ was seen (~0: never)
  uint64_t next_internal_id_ = 1ULL << 63;
  uint64_t waiter_generation_ = 0;  // ids for callers that passed waiter_id 0
};

// The stats of every actor, in order (asks them all at once, then waits). Blocks: not from inside
// an actor's message.
std::vector<BucketStats> stats_of(const std::vector<std::shared_ptr<BucketStorage>>& actors);
// offset_for_time of each actor, in order (asked of all at once); the first error.
Result<std::vector<Offset>> offsets_for_time(const std::vector<std::shared_ptr<BucketStorage>>& actors,
                                             int64_t time_ms);

}  // namespace persisting::runtime
