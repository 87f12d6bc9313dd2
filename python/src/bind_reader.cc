// ReaderHandle: blocking gets in slices (so Ctrl-C works) and asyncio gets completed through
// loop.call_soon_threadsafe.
#include <algorithm>

#include "convert.h"
#include "errors.h"
#include "handles.h"

namespace py = pybind11;
using namespace std::chrono;

namespace persisting::python {
namespace {

// A blocking wait is cut into slices this long; signals are checked between them.
constexpr milliseconds kWaitSlice{200};

milliseconds to_ms(double seconds) {
  if (seconds <= 0) return milliseconds(0);
  return duration_cast<milliseconds>(duration<double>(seconds)) + milliseconds(1);
}

// Whether Python objects may be touched from a foreign thread now (not during shutdown).
bool interpreter_alive() { return Py_IsInitialized() && !_Py_IsFinalizing(); }

// The loop and future of an asyncio get. Freed with the GIL held, whichever thread drops it.
struct AsyncTarget {
  py::object loop;
  py::object future;
};

std::shared_ptr<AsyncTarget> make_target(py::object loop, py::object future) {
  return std::shared_ptr<AsyncTarget>(new AsyncTarget{std::move(loop), std::move(future)}, [](AsyncTarget* t) {
    if (!interpreter_alive()) return;  // leaked at shutdown: nothing may touch Python any more
    py::gil_scoped_acquire gil;
    delete t;
  });
}

// {bucket: offset of its first record} of messages: where a get that is given up (a cancelled
// asyncio get) puts the reader back so the next get returns the same records.
py::dict first_offsets(const std::vector<Message>& messages) {
  py::dict out;
  for (const Message& m : messages) {
    py::int_ b(m.bucket.value());
    if (!out.contains(b)) out[b] = m.offset.value();
  }
  return out;
}

// Runs on the loop's thread: completes the future unless it is done already (cancelled).
// Whatever fails here (a conversion) fails the future: it must never stay pending.
void deliver(py::object future, const std::shared_ptr<Result<std::vector<Message>>>& result) {
  if (future.attr("done")().cast<bool>()) return;
  py::object outcome;
  try {
    if (!result->ok()) {
      future.attr("set_exception")(exception_for(result->status()));
      return;
    }
    outcome = py::make_tuple(from_messages(**result), first_offsets(**result));
  } catch (py::error_already_set& e) {
    future.attr("set_exception")(e.value());
    return;
  }
  future.attr("set_result")(outcome);
}

}  // namespace

ReaderHandle::~ReaderHandle() { destroy_without_gil(r_); }

py::tuple ReaderHandle::get(size_t limit, bool wait, std::optional<double> timeout) {
  auto deadline = steady_clock::time_point::max();
  if (timeout) deadline = steady_clock::now() + to_ms(*timeout);
  for (;;) {
    milliseconds slice{0};
    if (wait) {
      auto left = duration_cast<milliseconds>(deadline - steady_clock::now());
      slice = std::clamp(left, milliseconds(0), kWaitSlice);
    }
    Result<std::vector<Message>> r = [&] {
      py::gil_scoped_release nogil;
      return r_->get(limit, wait && slice.count() > 0, slice);
    }();
    if (!r.ok()) throw_status(r.status());
    if (!r->empty() || !wait || steady_clock::now() >= deadline)
      return py::make_tuple(from_messages(*r), first_offsets(*r));
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
  }
}

void ReaderHandle::get_async(size_t limit, bool wait, double timeout, py::object loop, py::object future) {
  auto target = make_target(std::move(loop), std::move(future));
  auto self = shared_from_this();  // the reader lives until the get completes
  auto done = [self, target](Result<std::vector<Message>> r) mutable {
    if (!interpreter_alive()) return;
    py::gil_scoped_acquire gil;
    auto result = std::make_shared<Result<std::vector<Message>>>(std::move(r));
    // The reader is released on the loop's thread, after the delivery, never here: dropping the
    // last reference on an engine thread could end the engine from its own thread.
    py::cpp_function fn([keep = std::move(self), result](py::object future) { deliver(future, result); });
    try {
      target->loop.attr("call_soon_threadsafe")(fn, target->future);
    } catch (py::error_already_set&) {
      // the loop is closed: nobody waits for this get any more
    }
  };
  py::gil_scoped_release nogil;
  r_->get_async(limit, wait, to_ms(timeout), std::move(done));
}

void ReaderHandle::set_offset(uint64_t offset, std::optional<uint32_t> bucket) {
  std::optional<BucketId> b;
  if (bucket) b = BucketId(*bucket);
  check(r_->set_offset(Offset(offset), b));
}

py::dict ReaderHandle::offsets() const {
  py::dict out;
  const auto& bs = r_->buckets();
  auto os = r_->offsets();
  for (size_t i = 0; i < bs.size() && i < os.size(); ++i) out[py::int_(bs[i].value())] = os[i].value();
  return out;
}

py::list ReaderHandle::buckets() const {
  py::list out;
  for (BucketId b : r_->buckets()) out.append(b.value());
  return out;
}

py::dict ReaderHandle::topic() const { return from_topic(r_->topic()); }

}  // namespace persisting::python
