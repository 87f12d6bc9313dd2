// Timers: deadlines for parked readers, served by one thread per Executor.
//
// Why not one asio::steady_timer per waiter: under load a reader parks and is woken by a put
// within microseconds, tens of thousands of times a second. Each asio timer start may interrupt
// the reactor and each cancel posts an aborted handler that wakes a pool thread: in the embedded
// benchmark those wake-ups were a third of all thread switches. Here, schedule() inserts into an
// ordered map and wakes the timer thread only when the new deadline is earlier than the one it
// sleeps towards; cancel() is an erase under the mutex and never wakes anything.
//
// Callbacks run on the timer thread, in deadline order, outside the lock; they must be quick
// (post a message). A callback runs at most once, never after cancel() returned true, and not at
// all once the Timers is destroyed (pending ones are dropped).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

namespace persisting::runtime {

class Timers {
 public:
  using Clock = std::chrono::steady_clock;
  // Identifies one scheduled callback (deadline first, so the map is in deadline order).
  using Key = std::pair<Clock::time_point, uint64_t>;

  Timers();
  ~Timers();  // stops the thread; callbacks not yet run are dropped
  Timers(const Timers&) = delete;
  Timers& operator=(const Timers&) = delete;

  Key schedule(Clock::time_point at, std::function<void()> fn);
  // True if the callback was removed before it ran; false if it ran, is running, or was
  // already cancelled.
  bool cancel(const Key& key);
  size_t pending() const;

 private:
  void run();

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<Key, std::function<void()>> queue_;
  Clock::time_point sleeping_until_ = Clock::time_point::max();  // what the thread waits for
  uint64_t next_id_ = 0;
  bool stop_ = false;
  std::thread thread_;  // last: started once the members above exist
};

}  // namespace persisting::runtime
