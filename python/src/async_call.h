// Completing asyncio futures from other threads. The rule: an asyncio future is completed only
// on its loop's thread, and a future already done (cancelled) is left alone. The Python result
// is built there too, with the GIL held.
//
// How a completion reaches the loop: each loop gets a channel the first time an asyncio call
// runs on it, an eventfd registered with loop.add_reader. A thread that finishes a call queues
// the completion in the channel and writes the eventfd, without taking the GIL; the loop runs
// every completion queued when it wakes (one wake-up for all that arrived meanwhile). A loop
// without add_reader (Windows' proactor loop) gets loop.call_soon_threadsafe instead, the
// finishing thread taking the GIL to schedule it.
#pragma once

#include <pybind11/pybind11.h>

#include <functional>
#include <memory>

#include "persisting/status.h"

namespace persisting::python {

// Whether Python objects may be touched from a foreign thread now (not during shutdown).
bool interpreter_alive();

// Takes the GIL on a thread Python did not start (a pool or engine thread), keeping the thread's
// Python thread state for its next calls: pybind11 would create and delete one per acquire, and
// deleting one unmaps its frame stack (a TLB flush on every CPU), which cost more than the rest
// of an asyncio completion. The state is dropped when the thread ends.
class ForeignGil {
 public:
  ForeignGil();

 private:
  bool first_foreign_;  // this thread's first acquire, and Python has no state for it
  pybind11::gil_scoped_acquire gil_;
};

class LoopChannel;

// The loop and future of one asyncio call, and the loop's channel (null: the loop has no
// add_reader). Freed with the GIL held, whichever thread drops it (leaked at interpreter
// shutdown, when nothing may touch Python any more).
struct AsyncTarget {
  pybind11::object loop;
  pybind11::object future;
  std::shared_ptr<LoopChannel> channel;
};
using AsyncTargetPtr = std::shared_ptr<AsyncTarget>;
// On the loop's thread, GIL held (makes the loop's channel on its first call).
AsyncTargetPtr make_target(pybind11::object loop, pybind11::object future);

// Schedules the completion of target's future on its loop. Runs on any thread, GIL held or not.
// On the loop's thread: a future already done is left alone; else a failed status becomes its
// exception (persisting.Error), and an OK one its result, build() (what build raises becomes the
// exception: the future never stays pending). keep is released on the loop's thread after that
// (the handle the call ran on: dropping it elsewhere could end the engine from its own thread).
// Nothing happens once the interpreter is shutting down, nor when the loop is closed. Through the
// loop's channel the calling thread does not take the GIL; without one it takes it to schedule
// the completion with call_soon_threadsafe.
void complete_on_loop(AsyncTargetPtr target, Status status, std::function<pybind11::object()> build,
                      std::shared_ptr<void> keep);

// The same for a Result: build(value) makes the Python result on the loop's thread.
template <typename T, typename Build>
void complete_on_loop(AsyncTargetPtr target, Result<T> result, Build build, std::shared_ptr<void> keep) {
  if (!result.ok()) {
    complete_on_loop(std::move(target), result.status(), nullptr, std::move(keep));
    return;
  }
  auto value = std::make_shared<T>(std::move(result).value());
  complete_on_loop(
      std::move(target), Status(), [value, build = std::move(build)] { return build(*value); }, std::move(keep));
}

}  // namespace persisting::python
