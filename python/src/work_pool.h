// WorkPool: the C++ threads that run the blocking engine calls of asyncio callers (a writer's
// put, a remote reader's get) with the GIL released, so the event loop's thread only converts
// values and never waits. No pybind11 here.
//
// Threads are started on demand, up to a bound, and kept (idle ones take the next job): a remote
// get that waits holds its thread for up to its slice, so the bound is generous. Jobs are run in
// submission order.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace persisting::python {

class WorkPool {
 public:
  explicit WorkPool(size_t max_threads);
  // Stops the pool (stop()); must not run on one of its threads.
  ~WorkPool();
  WorkPool(const WorkPool&) = delete;
  WorkPool& operator=(const WorkPool&) = delete;

  // The pool of the extension: created on first use, never destroyed (it may be needed until
  // the process ends); python/persisting stops it at interpreter exit.
  static WorkPool& shared();

  // Runs job on a pool thread. After stop(), runs it on the calling thread instead, so a job
  // (and the completion it carries) is never dropped.
  void submit(std::function<void()> job);
  // Runs the queued jobs, then ends and joins the threads. Idempotent. Called from a pool
  // thread, it only asks the threads to end (a thread cannot join itself).
  void stop();

  // Threads started so far (for tests and stats).
  size_t threads() const;

 private:
  void work();
  bool on_pool_thread() const;  // mu_ held

  const size_t max_threads_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> threads_;
  size_t idle_ = 0;
  bool stopping_ = false;
};

}  // namespace persisting::python
