// The thread pool behind Scheduler::Default() and Scheduler::make_pool (include/persisting/
// scheduler.h): one map of tasks ordered by (time, id); idle threads wait for the earliest one.
#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "persisting/scheduler.h"

namespace persisting {
namespace {

class PoolScheduler final : public Scheduler {
 public:
  explicit PoolScheduler(unsigned threads) {
    for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
  }
  ~PoolScheduler() override {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }

  Clock::time_point now() const override { return Clock::now(); }

  TaskId schedule_at(Clock::time_point at, std::function<void()> fn) override {
    bool earliest;
    TaskId id;
    {
      std::lock_guard<std::mutex> l(mu_);
      id = ++next_id_;
      tasks_.emplace(Key{at, id}, std::move(fn));
      index_.emplace(id, at);
      earliest = tasks_.begin()->first.second == id;
    }
    // Only a task that is now the first can change what an idle thread waits for.
    if (earliest) cv_.notify_one();
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

 private:
  using Key = std::pair<Clock::time_point, TaskId>;

  void run() {
    std::unique_lock<std::mutex> l(mu_);
    while (!stop_) {
      if (tasks_.empty()) {
        cv_.wait(l);
        continue;
      }
      auto first = tasks_.begin();
      // A copy: while this thread waits the task may be cancelled and its node freed.
      const Clock::time_point due = first->first.first;
      if (due > Clock::now()) {
        cv_.wait_until(l, due);
        continue;
      }
      std::function<void()> fn = std::move(first->second);
      index_.erase(first->first.second);
      tasks_.erase(first);
      // Another task due now may be waiting behind this one: let an idle thread take it. (Not
      // for a later one: idle threads already wait until the earliest time, and a flusher's or
      // an interval sync's timer is nearly always queued, so waking one here would cost a
      // thread switch per task for nothing.)
      if (!tasks_.empty() && tasks_.begin()->first.first <= Clock::now()) cv_.notify_one();
      l.unlock();
      fn();
      l.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<Key, std::function<void()>> tasks_;
  std::unordered_map<TaskId, Clock::time_point> index_;
  TaskId next_id_ = 0;
  bool stop_ = false;
  std::vector<std::thread> threads_;  // last: started once the members above exist
};

}  // namespace

Scheduler* Scheduler::Default() {
  // Tasks may block on I/O (an fsync, a Lance write): a few more threads than cores, so a slow
  // flush does not hold up a group commit; still a fixed number whatever the buckets.
  static Scheduler* pool = new PoolScheduler(std::max(2u, std::thread::hardware_concurrency()) + 4);
  return pool;
}

std::unique_ptr<Scheduler> Scheduler::make_pool(unsigned threads) {
  return std::make_unique<PoolScheduler>(std::max(1u, threads));
}

}  // namespace persisting
