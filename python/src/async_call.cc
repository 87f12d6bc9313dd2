#include "async_call.h"

#include "errors.h"

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

ForeignGil::ForeignGil() {
  thread_local bool kept = false;
  if (!kept) {
    gil_.inc_ref();  // never dropped: the state lives as long as the thread
    kept = true;
  }
}

bool interpreter_alive() { return Py_IsInitialized() && !_Py_IsFinalizing(); }

AsyncTargetPtr make_target(py::object loop, py::object future) {
  return AsyncTargetPtr(new AsyncTarget{std::move(loop), std::move(future)}, [](AsyncTarget* t) {
    if (!interpreter_alive()) return;  // leaked at shutdown: nothing may touch Python any more
    ForeignGil gil;
    delete t;
  });
}

void complete_on_loop(AsyncTargetPtr target, Status status, std::function<py::object()> build,
                      std::shared_ptr<void> keep) {
  if (!interpreter_alive()) return;
  ForeignGil gil;
  py::cpp_function fn([keep = std::move(keep), status = std::move(status), build = std::move(build)](
                          py::handle future) { settle(future, status, build); });
  try {
    target->loop.attr("call_soon_threadsafe")(fn, target->future);
  } catch (py::error_already_set&) {
    // the loop is closed: nobody waits for this call any more
  }
  target.reset();
}

}  // namespace persisting::python
