// Backends from Python: persisting.register_backend(name, cls) (docs/python.md, "Custom backends").
#include <pybind11/stl.h>

#include "errors.h"
#include "handles.h"
#include "persisting/backend.h"

namespace py = pybind11;

namespace persisting::python {

void bind_backends(py::module_& m) {
  m.def("backend_names", [] { return BackendRegistry::global().names(); },
        "Names of the backends this process can create.");
  m.def("backend_is_durable",
        [](const std::string& name) { return value_or_throw(BackendRegistry::global().is_durable(name)); },
        py::arg("name"), "Whether the named backend's records outlive the process.");
}

}  // namespace persisting::python
