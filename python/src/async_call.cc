#include "async_call.h"

#include "errors.h"
#include "loop_channel.h"

namespace py = pybind11;

namespace persisting::python {
namespace {

// On the loop's thread.
void settle(py::handle future, const Status& status, const std::function<py::object()>& build) {
  if (future.attr("done")().cast<bool>()) return;
  py::object outcome;
  try {
    if (!status.ok()) {
      future.attr("set_exception")(exception_for(status));
      return;
    }
    outcome = build();
  } catch (py::error_already_set& e) {
    future.attr("set_exception")(e.value());
    return;
  } catch (const std::exception& e) {  // a pybind11 cast error, say
    future.attr("set_exception")(py::reinterpret_borrow<py::object>(PyExc_RuntimeError)(e.what()));
    return;
  }
  future.attr("set_result")(outcome);
}

}  // namespace

namespace {

// Whether this thread keeps the thread state ForeignGil made for it, and drops it when the thread
// ends (with the GIL, unless the interpreter is going away: then nothing may touch Python and the
// state is left to it). The threads that end are joined by code that has released the GIL
// (destroy_without_gil, _stop_work_pool). Threads Python knows keep their own state.
struct KeptState {
  enum { kUndecided, kKept, kPythonThread } how = kUndecided;
  ~KeptState() {
    if (how != kKept || !interpreter_alive()) return;
    py::gil_scoped_acquire gil;
    gil.dec_ref();  // the keep; the acquire's own reference goes at the end of this scope
  }
};

thread_local KeptState kept_state;

}  // namespace

ForeignGil::ForeignGil()
    : first_foreign_(kept_state.how == KeptState::kUndecided && PyGILState_GetThisThreadState() == nullptr) {
  if (kept_state.how == KeptState::kUndecided) {
    if (first_foreign_) gil_.inc_ref();  // kept until the thread ends
    kept_state.how = first_foreign_ ? KeptState::kKept : KeptState::kPythonThread;
  }
}

bool interpreter_alive() { return Py_IsInitialized() && !_Py_IsFinalizing(); }

AsyncTargetPtr make_target(py::object loop, py::object future) {
  std::shared_ptr<LoopChannel> channel = LoopChannel::of(loop);
  return AsyncTargetPtr(new AsyncTarget{std::move(loop), std::move(future), std::move(channel)}, [](AsyncTarget* t) {
    if (!interpreter_alive()) return;  // leaked at shutdown: nothing may touch Python any more
    ForeignGil gil;
    delete t;
  });
}

namespace {

// What a completion carries to the loop's thread.
struct Completion {
  Status status;
  std::function<py::object()> build;
  std::shared_ptr<void> keep;
};

// settle(future, capsule of a Completion): one function for every completion, made once (a
// cpp_function per completion would cost more than the rest of it). Never destroyed: it may be
// needed until the interpreter ends. The GIL serializes the first call.
py::object& settle_function() {
  static py::object* fn = nullptr;
  if (!fn) {
    fn = new py::object(py::cpp_function([](py::handle future, py::capsule c) {
      auto* done = c.get_pointer<Completion>();
      settle(future, done->status, done->build);
    }));
  }
  return *fn;
}

}  // namespace

void complete_on_loop(AsyncTargetPtr target, Status status, std::function<py::object()> build,
                      std::shared_ptr<void> keep) {
  if (!interpreter_alive()) return;
  // Taken out of the target: a completion queued in the channel does not keep the channel.
  if (std::shared_ptr<LoopChannel> channel = std::move(target->channel)) {
    // Dropped here when the loop is closed (the target takes the GIL to free itself).
    channel->post([target = std::move(target), status = std::move(status), build = std::move(build),
                   keep = std::move(keep)] { settle(target->future, status, build); });
    return;
  }
  ForeignGil gil;
  // Freed with the capsule, on the loop's thread after settle (or here when the loop is closed).
  py::capsule done(new Completion{std::move(status), std::move(build), std::move(keep)},
                   [](void* p) { delete static_cast<Completion*>(p); });
  try {
    target->loop.attr("call_soon_threadsafe")(settle_function(), target->future, done);
  } catch (py::error_already_set&) {
    // the loop is closed: nobody waits for this call any more
  }
  target.reset();
}

}  // namespace persisting::python
