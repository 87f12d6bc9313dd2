// Scheduler: the seam through which background work runs (flushes, the WAL's interval syncs and
// writebacks, group commits), as Env is the seam for files. Production code uses
// Scheduler::Default(), one process-wide pool of a fixed number of threads, so the thread count
// does not grow with topics or buckets. Tests pass their own (tests/util/manual_scheduler.h: a
// clock they move, tasks run on the test's thread), so they neither sleep nor poll.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

namespace persisting {

class Scheduler {
 public:
  using Clock = std::chrono::steady_clock;
  using TaskId = uint64_t;

  virtual ~Scheduler() = default;
  // The scheduler's clock (a test's may stand still or jump).
  virtual Clock::time_point now() const = 0;
  // Wall-clock time in milliseconds since the Unix epoch: what records are stamped with when a
  // bucket appends them, and what age retention compares with (docs/retention.md). Default: the
  // system clock; a test's scheduler moves it with now().
  virtual int64_t wall_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  // Runs fn once, at or after `at`, on a background thread. fn may block (I/O, fsync) but should
  // not wait for other scheduled tasks.
  virtual TaskId schedule_at(Clock::time_point at, std::function<void()> fn) = 0;
  // True if the task was removed before it started; false if it started, ran or is unknown.
  virtual bool cancel(TaskId id) = 0;

  TaskId schedule_after(Clock::duration delay, std::function<void()> fn) {
    return schedule_at(now() + delay, std::move(fn));
  }

  // The process-wide pool: hardware threads (at least 2) + 4 threads sharing one queue ordered by
  // time.
  // Never destroyed (like Env::Default()).
  static Scheduler* Default();
  // A pool of its own (threads > 0); the destructor drops tasks not started and joins.
  static std::unique_ptr<Scheduler> make_pool(unsigned threads);
};

}  // namespace persisting
