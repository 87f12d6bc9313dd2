#include "work_pool.h"

#include <algorithm>
#include <system_error>

namespace persisting::python {

WorkPool::WorkPool(size_t max_threads) : max_threads_(std::max<size_t>(1, max_threads)) {}

WorkPool::~WorkPool() { stop(); }

WorkPool& WorkPool::shared() {
  // 64: a waiting remote get holds a thread for up to 250 ms (python/persisting/_reader.py), so
  // fewer would make many concurrent readers wait on each other.
  static WorkPool* pool = new WorkPool(64);
  return *pool;
}

bool WorkPool::on_pool_thread() const {
  auto self = std::this_thread::get_id();
  return std::any_of(threads_.begin(), threads_.end(), [&](const std::thread& t) { return t.get_id() == self; });
}

void WorkPool::submit(std::function<void()> job) {
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (!stopping_) {
      // An idle thread takes it unless the queue already has one waiting for each idle thread.
      if (idle_ < jobs_.size() + 1 && threads_.size() < max_threads_) {
        try {
          threads_.emplace_back([this] { work(); });
        } catch (const std::system_error&) {
          // no thread to be had now: the running ones take it, or, with none, this thread does
          if (threads_.empty()) {
            lock.unlock();
            job();
            return;
          }
        }
      }
      jobs_.push_back(std::move(job));
      cv_.notify_one();
      return;
    }
  }
  job();
}

void WorkPool::work() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (jobs_.empty()) {
      if (stopping_) return;
      ++idle_;
      cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      --idle_;
      continue;
    }
    std::function<void()> job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    job();
    job = nullptr;  // what the job holds is released outside the lock
    lock.lock();
  }
}

void WorkPool::stop() {
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    cv_.notify_all();
    if (on_pool_thread()) return;
    threads.swap(threads_);
  }
  for (auto& t : threads) t.join();
}

size_t WorkPool::threads() const {
  std::lock_guard<std::mutex> lock(mu_);
  return threads_.size();
}

}  // namespace persisting::python
