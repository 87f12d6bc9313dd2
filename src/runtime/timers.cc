#include "runtime/timers.h"

namespace persisting::runtime {

Timers::Timers() : thread_([this] { run(); }) {}

Timers::~Timers() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

Timers::Key Timers::schedule(Clock::time_point at, std::function<void()> fn) {
  bool wake;
  Key key;
  {
    std::lock_guard<std::mutex> lock(mu_);
    key = Key(at, next_id_++);
    queue_.emplace(key, std::move(fn));
    wake = at < sleeping_until_;
    if (wake) sleeping_until_ = at;  // the thread re-reads the earliest deadline when it wakes
  }
  if (wake) cv_.notify_one();
  return key;
}

bool Timers::cancel(const Key& key) {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.erase(key) == 1;
}

size_t Timers::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

void Timers::run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    if (queue_.empty()) {
      sleeping_until_ = Clock::time_point::max();
      cv_.wait(lock);
      continue;
    }
    auto first = queue_.begin();
    if (first->first.first > Clock::now()) {
      sleeping_until_ = first->first.first;
      cv_.wait_until(lock, sleeping_until_);
      continue;
    }
    std::function<void()> fn = std::move(first->second);
    queue_.erase(first);
    lock.unlock();
    fn();
    lock.lock();
  }
}

}  // namespace persisting::runtime
