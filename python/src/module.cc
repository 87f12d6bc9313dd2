// persisting._native: the engine side of the `persisting` package (python/persisting/ is the
// Python side: the asyncio layer, Pulsing's names, errors). docs/python.md describes the API.
#include <pybind11/pybind11.h>

#include "async_call.h"
#include "convert.h"
#include "handles.h"
#include "work_pool.h"

namespace py = pybind11;

PYBIND11_MODULE(_native, m) {
  m.doc() = "Engine bindings of the persisting package (use `import persisting`).";
  persisting::python::bind_handles(m);
  persisting::python::bind_backends(m);
  m.def(
      "_stop_work_pool",
      [] {
        py::gil_scoped_release nogil;  // the jobs still running take the GIL to complete
        persisting::python::WorkPool::shared().stop();
      },
      "Finishes the asyncio calls in flight and ends the threads that run them (at interpreter "
      "exit; later calls run on their caller's thread).");
  m.def(
      "_work_pool_threads", [] { return persisting::python::WorkPool::shared().threads(); },
      "Threads the pool of asyncio calls has started (for tests).");
  // For bench/python: the cost of an asyncio completion alone (a job on the pool that does
  // nothing, its future completed with a list of n None).
  m.def(
      "_bench_async_noop",
      [](py::object loop, py::object future, size_t n) {
        auto target = persisting::python::make_target(std::move(loop), std::move(future));
        py::gil_scoped_release nogil;
        persisting::python::WorkPool::shared().submit([t = std::move(target), n]() mutable {
          persisting::python::complete_on_loop(
              std::move(t), persisting::Status(), [n] {
                py::list l(n);
                for (size_t i = 0; i < n; ++i) l[i] = py::none();
                return py::object(l);
              }, nullptr);
        });
      },
      py::arg("loop"), py::arg("future"), py::arg("n"),
      "Completes future through the asyncio completion path with nothing done; for benchmarks.");
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
