// AppendSignal: one per topic on a node, shared by its buckets' actors. A reader caught up with
// many buckets waits here once, where parking in every bucket cost a message to each of them
// and, once one had data, a cancel to each of the others; and every put into a bucket with a
// parked reader woke a pool thread, however many buckets the put reached.
//
// A waiter names its buckets (a bit per bucket id) and is woken by the first completed put (or
// close) of one of them, then asks those buckets again. A put completed between the reader's
// last look and its wait is caught by the reader: it compares each bucket's count of completed
// puts (BucketStorage::changes, counted before notify) with what it saw, after it registered,
// and wakes itself (wake) when one moved.
#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "persisting/types.h"
#include "runtime/executor.h"

namespace persisting::runtime {

class AppendSignal : public std::enable_shared_from_this<AppendSignal> {
 public:
  using Clock = Timers::Clock;
  // woke(true): one of the waiter's buckets changed; woke(false): the deadline passed or the
  // wait was cancelled.
  using Woke = std::function<void(bool)>;
  // A bit per bucket id: bucket b is bit b % 64 of word b / 64.
  using Buckets = std::vector<uint64_t>;
  static Buckets buckets_of(const std::vector<BucketId>& ids);

  explicit AppendSignal(Executor& executor) : executor_(executor) {}

  // After bucket's change is readable and counted. The waiters woken run here when inline_run
  // (the caller is the bucket's actor message, where a reader parked in the bucket would be
  // woken too), else on the pool (never on a backend's own thread).
  void notify(BucketId bucket, bool inline_run);
  // woke runs once: on the next notify of one of buckets, at deadline, on cancel(id) or wake(id).
  // id: unique per waiter (queue::next_waiter_id); an id already waiting is answered false at
  // once (the waiter under it is kept).
  void wait(uint64_t id, std::shared_ptr<const Buckets> buckets, Clock::time_point deadline, Woke woke);
  // Wakes id (woke(true), on the pool) if it still waits: a change its caller saw itself.
  void wake(uint64_t id);
  // Ends id's wait (woke(false)). An id not waiting yet (its fetch is still asking its buckets)
  // is remembered, so its wait, when it comes, ends at once: a cancelled read does not hold a
  // waiter until its deadline. The last kRememberedCancels such ids are kept.
  void cancel(uint64_t id);
  static constexpr size_t kRememberedCancels = 64;
  size_t waiting() const;
  // The waiters whose buckets include bucket (a bucket's parked_readers stat counts them).
  size_t waiting_on(BucketId bucket) const;

 private:
  struct Waiter {
    std::shared_ptr<const Buckets> buckets;
    Woke woke;
    Timers::Key deadline;
  };
  // Removes id, cancelling its deadline; its callback, or an empty one. remember_absent: an id
  // not waiting goes into cancelled_ (cancel()).
  Woke take(uint64_t id, bool cancel_deadline, bool remember_absent = false);

  Executor& executor_;
  std::atomic<bool> any_waiting_{false};  // read by notify without the lock
  mutable std::mutex mu_;
  std::unordered_map<uint64_t, Waiter> waiters_;
  // Ids cancelled before they waited (0: a free slot), a ring: cancel() overwrites the oldest.
  std::array<uint64_t, kRememberedCancels> cancelled_{};
  size_t next_cancelled_ = 0;
};

}  // namespace persisting::runtime
