// WriterHandle: puts (one record, or a list) with the GIL released while the engine works;
// asyncio puts run on the WorkPool and complete on their loop (async_call.h).
#include "async_call.h"
#include "convert.h"
#include "errors.h"
#include "handles.h"

namespace py = pybind11;

namespace persisting::python {
namespace {

// Raises Pulsing's error for a record without the bucket column (what: " in record <i>" for a list).
void check_bucket_column(const TopicInfo& info, const Record& r, const std::string& what) {
  if (!r.contains(info.bucket_column))
    throw_error("InvalidArgumentError", "Missing partition column '" + info.bucket_column + "'" + what);
}

// The keys and the status of a put's answer, interned once (an answer is made per record).
// Never destroyed: they may be needed until the interpreter ends; the GIL serializes the first call.
struct PutWords {
  py::object bucket_id, offset, status, ok;
};

const PutWords& put_words() {
  static PutWords* words = nullptr;
  if (!words) {
    auto intern = [](const char* s) { return py::reinterpret_steal<py::object>(PyUnicode_InternFromString(s)); };
    words = new PutWords{intern("bucket_id"), intern("offset"), intern("status"), intern("ok")};
  }
  return *words;
}

// Pulsing's answer to a put: {"bucket_id": b, "offset": o or None, "status": "ok"}.
py::dict put_result(uint32_t bucket, std::optional<uint64_t> offset) {
  const PutWords& w = put_words();
  py::dict d;
  d[w.bucket_id] = py::int_(bucket);
  d[w.offset] = offset ? py::object(py::int_(*offset)) : py::none();
  d[w.status] = w.ok;
  return d;
}

py::dict put_result(const Position& p) { return put_result(p.bucket.value(), p.offset.value()); }

py::list put_results(const PutOutcome& o) {
  py::list l(o.buckets.size());
  for (size_t i = 0; i < o.buckets.size(); ++i) l[i] = put_result(o.buckets[i], o.offsets[i]);
  return l;
}

}  // namespace

// The records of a put, converted and checked with the GIL held: one dict or a list of them.
struct WriterHandle::Batch {
  bool many = false;
  Record one;
  std::vector<Record> list;
};

WriterHandle::Batch WriterHandle::prepare(py::handle records) const {
  Batch b;
  const TopicInfo& info = w_->topic();
  if (PyDict_Check(records.ptr())) {
    b.one = to_record(records);
    check_bucket_column(info, b.one, "");
  } else if (PyList_Check(records.ptr()) || PyTuple_Check(records.ptr())) {
    b.many = true;
    b.list = to_records(records);
    for (size_t i = 0; i < b.list.size(); ++i)
      check_bucket_column(info, b.list[i], " in record " + std::to_string(i));
  } else {
    throw_error("RecordTypeError", std::string("a record must be a dict (or a list of dicts), got ") +
                                       Py_TYPE(records.ptr())->tp_name);
  }
  return b;
}

WriterHandle::~WriterHandle() { destroy_without_gil(w_); }

py::object WriterHandle::put(py::handle records) {
  Batch b = prepare(records);
  if (!b.many) {
    Result<Position> pos = [&] {
      py::gil_scoped_release nogil;
      return w_->put(b.one);
    }();
    return put_result(value_or_throw(std::move(pos)));
  }
  Result<PutOutcome> out = [&] {
    py::gil_scoped_release nogil;
    return w_->put_many(b.list);
  }();
  return put_results(value_or_throw(std::move(out)));
}

void WriterHandle::put_async(py::handle records, py::object loop, py::object future) {
  Batch b = prepare(records);  // raises here, on the caller's thread, for a bad record
  auto target = make_target(std::move(loop), std::move(future));
  std::shared_ptr<void> self = shared_from_this();  // the writer lives until the put completes
  py::gil_scoped_release nogil;
  if (!b.many) {
    w_->put_async(std::move(b.one), [t = std::move(target), self = std::move(self)](Result<Position> p) mutable {
      auto build = [](const Position& pos) { return py::object(put_result(pos)); };
      complete_on_loop(std::move(t), std::move(p), build, std::move(self));
    });
  } else {
    w_->put_many_async(std::move(b.list), [t = std::move(target), self = std::move(self)](Result<PutOutcome> o) mutable {
      auto build = [](const PutOutcome& out) { return py::object(put_results(out)); };
      complete_on_loop(std::move(t), std::move(o), build, std::move(self));
    });
  }
}

void WriterHandle::flush() {
  Status s;
  {
    py::gil_scoped_release nogil;
    s = w_->flush();
  }
  check(s);
}

py::dict WriterHandle::stats() {
  Result<Object> r = [&] {
    py::gil_scoped_release nogil;
    return w_->stats();
  }();
  return from_object(value_or_throw(std::move(r)));
}

py::dict WriterHandle::topic() const { return from_topic(w_->topic()); }

}  // namespace persisting::python
