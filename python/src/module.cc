// persisting._native: the engine side of the `persisting` package (python/persisting/ is the
// Python side: the asyncio layer, Pulsing's names, errors). docs/python.md describes the API.
#include <pybind11/pybind11.h>

#include "handles.h"

PYBIND11_MODULE(_native, m) {
  m.doc() = "Engine bindings of the persisting package (use `import persisting`).";
  persisting::python::bind_handles(m);
  persisting::python::bind_backends(m);
}
