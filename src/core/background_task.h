// BackgroundTask: one piece of an owner's background work (a bucket's flusher, a WAL's interval
// sync) run on a Scheduler: never twice at once, runs requested meanwhile coalesced, and stopped
// for good by the owner before it goes away. It replaces a thread per owner.
//
//   BackgroundTask flusher(scheduler, [this] { flush_if_due(); });
//   flusher.run_now();                      // soon, on a scheduler thread
//   flusher.run_after(std::chrono::seconds(1));
//   flusher.stop();                         // in the owner's destructor: no run after this
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include "persisting/scheduler.h"

namespace persisting {

class BackgroundTask {
 public:
  using Clock = Scheduler::Clock;

  // body runs on scheduler threads, one run at a time. scheduler must outlive this object.
  BackgroundTask(Scheduler* scheduler, std::function<void()> body);
  ~BackgroundTask();  // stop()
  BackgroundTask(const BackgroundTask&) = delete;
  BackgroundTask& operator=(const BackgroundTask&) = delete;

  // Runs the body at `at` or soon after. A run already due no later covers this request; a run
  // going on now is followed by another one (at `at` at the earliest).
  void run_at(Clock::time_point at);
  void run_now();
  void run_after(Clock::duration delay);
  // Whether a run is scheduled or going on.
  bool pending() const;
  // No run starts after this returns, and a run going on has finished (unless stop() is called
  // from the body itself, which only prevents further runs). Idempotent.
  void stop();

 private:
  struct State;
  Scheduler* scheduler_;
  std::shared_ptr<State> state_;  // shared with scheduled callbacks, which may outlive this
};

}  // namespace persisting
