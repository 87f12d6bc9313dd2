// ManualScheduler: a Scheduler for tests. Its clock stands still until the test moves it, and
// tasks run on the test's own thread, in time order, when it calls advance() or run_due(): a
// test of a periodic flush moves the clock past the interval instead of sleeping and polling.
//
//   ManualScheduler sched;
//   ... hand &sched to the code under test (QueueOptions::scheduler, BackendContext::scheduler,
//       WalOptions::scheduler) ...
//   sched.advance(std::chrono::seconds(1));   // runs everything due by then
//
// Thread-safe; header-only.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "persisting/scheduler.h"

namespace persisting::testing {

class ManualScheduler : public Scheduler {
 public:
  Clock::time_point now() const override {
    std::lock_guard<std::mutex> l(mu_);
    return now_;
  }
  // Wall time moves with now(): kWallStart at the start, plus however far the test moved the clock.
  static constexpr int64_t kWallStart = 1'700'000'000'000;  // 2023-11-14T22:13:20Z
  int64_t wall_ms() const override {
    std::lock_guard<std::mutex> l(mu_);
    return kWallStart + std::chrono::duration_cast<std::chrono::milliseconds>(now_ - kStart).count();
  }
  TaskId schedule_at(Clock::time_point at, std::function<void()> fn) override {
    std::lock_guard<std::mutex> l(mu_);
    TaskId id = ++next_id_;
    tasks_.emplace(Key{at, id}, std::move(fn));
    index_.emplace(id, at);
    return id;
  }
  bool cancel(TaskId id) override {
    std::lock_guard<std::mutex> l(mu_);
    auto it = index_.find(id);
    if (it == index_.end()) return false;
    tasks_.erase(Key{it->second, id});
    index_.erase(it);
    return true;
  }

  // Runs every task due now (including ones those tasks schedule for now or earlier); returns
  // how many ran.
  size_t run_due() {
    size_t n = 0;
    for (;;) {
      std::function<void()> fn;
      {
        std::lock_guard<std::mutex> l(mu_);
        if (tasks_.empty() || tasks_.begin()->first.first > now_) return n;
        auto first = tasks_.begin();
        fn = std::move(first->second);
        index_.erase(first->first.second);
        tasks_.erase(first);
      }
      fn();
      ++n;
    }
  }
  // Moves the clock forward by d, running each task when the clock reaches its time.
  size_t advance(Clock::duration d) {
    Clock::time_point until;
    {
      std::lock_guard<std::mutex> l(mu_);
      until = now_ + d;
    }
    size_t n = 0;
    for (;;) {
      {
        std::lock_guard<std::mutex> l(mu_);
        if (tasks_.empty() || tasks_.begin()->first.first > until) {
          now_ = until;
          break;
        }
        now_ = std::max(now_, tasks_.begin()->first.first);
      }
      n += run_due();
    }
    return n + run_due();
  }
  size_t pending() const {
    std::lock_guard<std::mutex> l(mu_);
    return tasks_.size();
  }

 private:
  using Key = std::pair<Clock::time_point, TaskId>;
  mutable std::mutex mu_;
  static constexpr Clock::time_point kStart = Clock::time_point() + std::chrono::hours(1);
  Clock::time_point now_ = kStart;
  std::map<Key, std::function<void()>> tasks_;
  std::unordered_map<TaskId, Clock::time_point> index_;
  TaskId next_id_ = 0;
};

}  // namespace persisting::testing
