// WriterHandle: puts (one record, or a list) with the GIL released while the engine works.
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

}  // namespace

WriterHandle::~WriterHandle() { destroy_without_gil(w_); }

py::tuple WriterHandle::put(py::handle record) {
  Record r = to_record(record);
  check_bucket_column(w_->topic(), r, "");
  Result<Position> pos = [&] {
    py::gil_scoped_release nogil;
    return w_->put(r);
  }();
  Position p = value_or_throw(std::move(pos));
  return py::make_tuple(p.bucket.value(), p.offset.value());
}

py::list WriterHandle::put_many(py::handle records) {
  std::vector<Record> rs = to_records(records);
  for (size_t i = 0; i < rs.size(); ++i)
    check_bucket_column(w_->topic(), rs[i], " in record " + std::to_string(i));
  Result<PutOutcome> out = [&] {
    py::gil_scoped_release nogil;
    return w_->put_many(rs);
  }();
  PutOutcome o = value_or_throw(std::move(out));
  py::list l(o.buckets.size());
  for (size_t i = 0; i < o.buckets.size(); ++i)
    l[i] = py::make_tuple(o.buckets[i], o.offsets[i] ? py::object(py::int_(*o.offsets[i])) : py::none());
  return l;
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
