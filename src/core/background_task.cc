#include "core/background_task.h"

#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

namespace persisting {

struct BackgroundTask::State {
  std::function<void()> body;
  std::mutex mu;
  std::condition_variable cv;
  bool stopped = false;
  bool running = false;
  std::thread::id runner;                     // while running
  std::optional<Clock::time_point> scheduled;  // a callback waits in the scheduler for this time
  Scheduler::TaskId id = 0;
  std::optional<Clock::time_point> rerun;     // asked for while running (or while a callback fires)

  static void fire(const std::shared_ptr<State>& st, Scheduler* scheduler);
  // Schedules the callback (mu held).
  static void schedule(const std::shared_ptr<State>& st, Scheduler* scheduler, Clock::time_point at);
};

void BackgroundTask::State::schedule(const std::shared_ptr<State>& st, Scheduler* scheduler, Clock::time_point at) {
  st->scheduled = at;
  st->id = scheduler->schedule_at(at, [st, scheduler] { fire(st, scheduler); });
}

void BackgroundTask::State::fire(const std::shared_ptr<State>& st, Scheduler* scheduler) {
  {
    std::lock_guard<std::mutex> l(st->mu);
    st->scheduled.reset();
    if (st->stopped) {
      st->cv.notify_all();
      return;
    }
    st->running = true;
    st->runner = std::this_thread::get_id();
    st->rerun.reset();  // this run serves what was asked for until now
  }
  st->body();
  std::lock_guard<std::mutex> l(st->mu);
  st->running = false;
  st->runner = std::thread::id();
  if (st->rerun && !st->stopped) {
    Clock::time_point at = *st->rerun;
    st->rerun.reset();
    schedule(st, scheduler, at);
  }
  st->cv.notify_all();
}

BackgroundTask::BackgroundTask(Scheduler* scheduler, std::function<void()> body)
    : scheduler_(scheduler), state_(std::make_shared<State>()) {
  state_->body = std::move(body);
}

BackgroundTask::~BackgroundTask() { stop(); }

void BackgroundTask::run_at(Clock::time_point at) {
  std::lock_guard<std::mutex> l(state_->mu);
  State& st = *state_;
  if (st.stopped) return;
  if (st.running) {
    if (!st.rerun || at < *st.rerun) st.rerun = at;
    return;
  }
  if (st.scheduled) {
    if (*st.scheduled <= at) return;
    // An earlier time: move the callback, unless it is firing already (then it runs first and
    // this request follows it).
    if (!scheduler_->cancel(st.id)) {
      if (!st.rerun || at < *st.rerun) st.rerun = at;
      return;
    }
  }
  State::schedule(state_, scheduler_, at);
}

void BackgroundTask::run_now() { run_at(scheduler_->now()); }
void BackgroundTask::run_after(Clock::duration delay) { run_at(scheduler_->now() + delay); }

bool BackgroundTask::pending() const {
  std::lock_guard<std::mutex> l(state_->mu);
  return state_->running || state_->scheduled.has_value();
}

void BackgroundTask::stop() {
  std::unique_lock<std::mutex> l(state_->mu);
  State& st = *state_;
  st.stopped = true;
  st.rerun.reset();
  if (st.scheduled && scheduler_->cancel(st.id)) st.scheduled.reset();
  // A callback that could not be cancelled is firing: it sees `stopped` and returns (the state
  // stays alive through its own reference). A run going on is waited for, unless this is it.
  if (st.running && st.runner == std::this_thread::get_id()) return;
  st.cv.wait(l, [&st] { return !st.running; });
}

}  // namespace persisting
