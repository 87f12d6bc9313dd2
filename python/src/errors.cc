#include "errors.h"

namespace py = pybind11;

namespace persisting::python {
namespace {

// persisting.errors, imported once and kept for the life of the process (never destroyed:
// its destructor would run after the interpreter is gone). Not a function-local static with an
// initializer: an import can let other threads run, and one of them waiting on the static's
// guard while holding the GIL would deadlock. The GIL serializes this; a second import is
// harmless.
py::object& errors_module() {
  static py::object* m = nullptr;
  if (!m) {
    py::object mod = py::module_::import("persisting.errors");
    if (!m) m = new py::object(std::move(mod));
  }
  return *m;
}

[[noreturn]] void raise(py::object exc) {
  PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc.ptr())), exc.ptr());
  throw py::error_already_set();
}

}  // namespace

py::object exception_for(const Status& status) {
  return errors_module().attr("from_status")(std::string(code_name(status.code())), status.message());
}

void throw_status(const Status& status) { raise(exception_for(status)); }

void throw_error(const char* cls, const std::string& message) {
  raise(errors_module().attr(cls)(message));
}

}  // namespace persisting::python
