// Backends written in Python: persisting.register_backend(name, cls) (docs/python.md, "Custom
// backends"). A PyBackend is a StorageBackend over one instance of cls; the bucket actor calls
// it like any backend, on engine threads. Each call takes the GIL and goes through
// persisting._backends.call(), which runs the method's coroutine on the package's private event
// loop thread (never the user's loop, which may be blocked in a sync call) and waits for it with
// the GIL released. An exception becomes an error Status that reaches the caller.
#include <pybind11/stl.h>

#include <atomic>

#include "convert.h"
#include "errors.h"
#include "handles.h"
#include "persisting/backend.h"

namespace py = pybind11;

namespace persisting::python {
namespace {

bool interpreter_alive() { return Py_IsInitialized() && !_Py_IsFinalizing(); }

Code code_named(const std::string& name) {
  for (int c = 1; c <= static_cast<int>(Code::kInternal); ++c)
    if (code_name(static_cast<Code>(c)) == name) return static_cast<Code>(c);
  return Code::kInternal;
}

// The Status of a Python exception raised by a backend method: a persisting.Error keeps its code,
// ValueError and TypeError are InvalidArgument, anything else is Internal. The message names the
// backend, the bucket and the method.
Status status_of(py::error_already_set& e, const std::string& where) {
  Code code = Code::kInternal;
  py::object value = e.value();
  py::object errors = py::module_::import("persisting.errors");
  if (py::isinstance(value, errors.attr("Error")))
    code = code_named(py::str(value.attr("code")));
  else if (e.matches(PyExc_ValueError) || e.matches(PyExc_TypeError))
    code = Code::kInvalidArgument;
  std::string type = py::str(py::type::handle_of(value).attr("__name__"));
  std::string text = py::str(value);
  return Status(code, where + " raised " + type + (text.empty() ? "" : ": " + text));
}

class PyBackend final : public StorageBackend {
 public:
  PyBackend(std::string name, bool durable, std::string where, py::object instance, uint64_t count)
      : name_(std::move(name)), durable_(durable), where_(std::move(where)),
        instance_(new py::object(std::move(instance))),
        caller_(new py::object(py::module_::import("persisting._backends").attr("call"))),
        count_(count) {}

  ~PyBackend() override {
    if (!interpreter_alive()) return;  // leaked at shutdown: Python is gone
    py::gil_scoped_acquire gil;
    delete instance_;
    delete caller_;
  }

  std::string name() const override { return name_; }
  bool durable() const override { return durable_; }
  uint64_t total_count() const override { return count_.load(); }

  Result<Offset> put_batch(const RecordBatch& batch) override {
    auto records = batch.decode_all();  // before taking the GIL
    if (!records.ok()) return records.status();
    return with_python("put_batch", [&]() -> Result<Offset> {
      py::list rs(records->size());
      for (size_t i = 0; i < records->size(); ++i) rs[i] = from_object((*records)[i]);
      uint64_t first = count_.load();
      call("put_batch", rs);
      refresh_count();
      return Offset(first);
    });
  }

  Result<RecordBatch> get(Offset offset, size_t limit) override {
    if (offset.value() >= count_.load() || limit == 0) return RecordBatch();
    return with_python("get", [&]() -> Result<RecordBatch> {
      py::object got = call("get", py::int_(limit), py::int_(offset.value()));
      std::vector<Record> rs = to_records(got);
      RecordBatch out;
      for (size_t i = 0; i < rs.size() && i < limit; ++i) out.add(rs[i]);
      return out;
    });
  }

  Status flush() override {
    auto r = with_python("flush", [&]() -> Result<bool> {
      call("flush");
      return true;
    });
    return r.status();
  }

  // The class's stats() dict goes into extra as it is; backend and total_count are ours.
  BucketStats stats() const override {
    auto r = with_python("stats", [&]() -> Result<Object> {
      py::object s = call("stats");
      Value v = to_value(s, "stats()");
      return v.is_object() ? v.as_object() : Object{};
    });
    BucketStats out;
    out.extra = r.ok() ? *r : Object{{"error", r.status().to_string()}};
    const Value* b = out.extra.find("backend");
    out.backend = b && b->is_string() ? b->as_string() : name_;
    out.total_count = count_.load();
    return out;
  }

 private:
  // Runs fn with the GIL, turning a Python exception into an error Status.
  template <typename F>
  auto with_python(const char* method, F fn) const -> decltype(fn()) {
    if (!interpreter_alive()) return Unavailable(where_ + "." + method + ": the interpreter is shutting down");
    py::gil_scoped_acquire gil;
    try {
      return fn();
    } catch (py::error_already_set& e) {
      return status_of(e, where_ + "." + method + "()");
    }
  }

  // instance.method(*args) through persisting._backends.call (coroutines run on the private loop).
  template <typename... Args>
  py::object call(const char* method, Args&&... args) const {
    return (*caller_)(*instance_, method, std::forward<Args>(args)...);
  }

  void refresh_count() { count_.store(call("total_count").template cast<uint64_t>()); }

  std::string name_;
  bool durable_;
  std::string where_;        // "backend 'name' topic 't' bucket 3"
  py::object* instance_;     // freed with the GIL held
  py::object* caller_;       // persisting._backends.call, freed with the GIL held
  std::atomic<uint64_t> count_;
};

// Registers cls under name: the factory builds cls(bucket_id=, storage_path=, **options).
void register_python_backend(const std::string& name, py::object factory, bool durable) {
  // the factory lives as long as the registry (the whole process)
  auto* make = new py::object(std::move(factory));
  BackendFactory f = [name, durable, make](const BackendContext& ctx,
                                            const Options& options) -> Result<std::unique_ptr<StorageBackend>> {
    std::string where = "backend '" + name + "' topic '" + ctx.topic + "' bucket " +
                        std::to_string(ctx.bucket.value());
    if (!interpreter_alive()) return Unavailable(where + ": the interpreter is shutting down");
    py::gil_scoped_acquire gil;
    try {
      py::dict kw;
      for (const auto& [k, v] : options) kw[py::str(k)] = v;
      py::object storage = ctx.bucket_dir.empty() ? py::object(py::none()) : py::object(py::str(ctx.bucket_dir));
      py::object instance = (*make)(ctx.bucket.value(), storage, ctx.batch_size, kw);
      uint64_t count = py::module_::import("persisting._backends")
                           .attr("call")(instance, "total_count")
                           .cast<uint64_t>();
      return std::unique_ptr<StorageBackend>(new PyBackend(name, durable, where, instance, count));
    } catch (py::error_already_set& e) {
      return status_of(e, where + ": creating it");
    }
  };
  check(BackendRegistry::global().register_backend(name, std::move(f), durable));
}

}  // namespace

void bind_backends(py::module_& m) {
  m.def("backend_names", [] { return BackendRegistry::global().names(); },
        "Names of the backends this process can create.");
  m.def("backend_is_durable",
        [](const std::string& name) { return value_or_throw(BackendRegistry::global().is_durable(name)); },
        py::arg("name"), "Whether the named backend's records outlive the process.");
  m.def("register_backend", &register_python_backend, py::arg("name"), py::arg("factory"), py::arg("durable"),
        "Registers factory(bucket_id, storage_path, batch_size, options) as a backend of the "
        "embedded engine.");
}

}  // namespace persisting::python
