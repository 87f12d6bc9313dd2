// persisting._native: the engine side of the `persisting` package (python/persisting/ is the
// Python side: the asyncio layer, Pulsing's names, errors). docs/python.md describes the API.
#include <pybind11/pybind11.h>

#include "convert.h"
#include "handles.h"

namespace py = pybind11;

PYBIND11_MODULE(_native, m) {
  m.doc() = "Engine bindings of the persisting package (use `import persisting`).";
  persisting::python::bind_handles(m);
  persisting::python::bind_backends(m);
  // For bench/python: the cost of converting records alone (no engine), GIL held throughout.
  m.def(
      "_bench_convert",
      [](py::handle records, bool back) -> py::object {
        std::vector<persisting::Record> rs = persisting::python::to_records(records);
        if (!back) return py::int_(rs.size());
        py::list out(rs.size());
        for (size_t i = 0; i < rs.size(); ++i) out[i] = persisting::python::from_object(rs[i]);
        return out;
      },
      py::arg("records"), py::arg("back"),
      "Converts a list of dicts to engine records (and back when back is set); for benchmarks.");
}
