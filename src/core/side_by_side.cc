#include "core/side_by_side.h"

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>

namespace persisting {
namespace {

struct SideBySide {
  explicit SideBySide(std::vector<std::function<Status()>> j)
      : jobs(std::move(j)), claimed(jobs.size()), results(jobs.size()) {}
  std::vector<std::function<Status()>> jobs;
  std::vector<std::atomic<bool>> claimed;
  std::vector<Status> results;
  std::mutex mu;
  std::condition_variable cv;
  size_t finished = 0;

  void run(size_t i) {
    if (claimed[i].exchange(true)) return;  // taken by the caller or another pool thread
    Status s = jobs[i]();
    std::lock_guard l(mu);
    results[i] = std::move(s);
    ++finished;
    cv.notify_all();
  }
};

}  // namespace

std::vector<Status> run_side_by_side(std::vector<std::function<Status()>> jobs, Scheduler* pool) {
  if (pool == nullptr) pool = Scheduler::Default();
  auto state = std::make_shared<SideBySide>(std::move(jobs));
  const size_t n = state->jobs.size();
  for (size_t i = 1; i < n; ++i) pool->schedule_after(Scheduler::Clock::duration::zero(), [state, i] { state->run(i); });
  for (size_t i = 0; i < n; ++i) state->run(i);
  std::unique_lock l(state->mu);
  state->cv.wait(l, [&] { return state->finished == n; });
  return std::move(state->results);
}

}  // namespace persisting
