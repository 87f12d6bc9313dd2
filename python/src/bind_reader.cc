// ReaderHandle: blocking gets in slices (so Ctrl-C works) and asyncio gets completed
// on their loop (async_call.h).
#include <algorithm>

#include "async_call.h"
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

// The bucket of each message (what a caller that keeps records unread needs to put the reader
// back before them: a bucket's records come in offset order from its first).
py::list buckets_of(const std::vector<Message>& messages) {
  py::list out(messages.size());
  for (size_t i = 0; i < messages.size(); ++i) out[i] = py::int_(messages[i].bucket.value());
  return out;
}

// The Python result of a get: (records, {bucket: first offset}, [bucket of each record]).
py::tuple get_result(const std::vector<Message>& messages) {
  return py::make_tuple(from_messages(messages), first_offsets(messages), buckets_of(messages));
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
      return get_result(*r);
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
  }
}

void ReaderHandle::get_async(size_t limit, bool wait, double timeout, py::object loop, py::object future) {
  auto target = make_target(std::move(loop), std::move(future));
  std::shared_ptr<void> self = shared_from_this();  // the reader lives until the get completes
  auto done = [target = std::move(target), self = std::move(self)](Result<std::vector<Message>> r) mutable {
    complete_on_loop(std::move(target), std::move(r), get_result, std::move(self));
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

void ReaderHandle::commit() {
  Status s;
  {
    py::gil_scoped_release nogil;
    s = r_->commit();
  }
  check(s);
}

void ReaderHandle::close() {
  Status s;
  {
    py::gil_scoped_release nogil;
    s = r_->close();
  }
  check(s);
}

py::list ReaderHandle::buckets() const {
  py::list out;
  for (BucketId b : r_->buckets()) out.append(b.value());
  return out;
}

py::dict ReaderHandle::topic() const { return from_topic(r_->topic()); }

}  // namespace persisting::python
