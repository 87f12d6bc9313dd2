#include "convert.h"

#include <climits>
#include <cstring>

#include "errors.h"
#include "persisting/codec.h"

namespace py = pybind11;

namespace persisting::python {
namespace {

// Where a value sits in its record, for error messages: a chain of keys and indexes that lives
// on the stack of the recursive conversion, turned into text only when there is an error.
struct Path {
  const Path* parent = nullptr;
  const char* key = nullptr;  // a field name, or null for an index
  Py_ssize_t index = 0;

  std::string text() const {
    std::string up = parent ? parent->text() : "";
    if (key) return up.empty() ? std::string(key) : up + "." + key;
    return up + "[" + std::to_string(index) + "]";
  }
};

std::string where(const Path* p, const std::string& what) {
  if (!p) return what;
  return what + (what.empty() ? "" : ": ") + "field '" + p->text() + "'";
}

std::string type_of(py::handle obj) { return Py_TYPE(obj.ptr())->tp_name; }

// numpy's ndarray type if numpy is already imported (numpy is optional: an object can only be an
// ndarray when numpy was imported by someone).
PyTypeObject* ndarray_type() {
  static PyTypeObject* t = nullptr;
  if (t) return t;
  PyObject* np = PyImport_GetModule(py::str("numpy").ptr());
  if (!np) {
    PyErr_Clear();
    return nullptr;
  }
  PyObject* nd = PyObject_GetAttrString(np, "ndarray");
  Py_DECREF(np);
  if (!nd) {
    PyErr_Clear();
    return nullptr;
  }
  t = reinterpret_cast<PyTypeObject*>(nd);  // kept for the life of the process
  return t;
}

Value from_ndarray(py::handle arr, const Path* path, const std::string& what) {
  std::string dtype = py::str(arr.attr("dtype"));
  int ndim = arr.attr("ndim").cast<int>();
  if (dtype != "float32" || ndim != 1)
    throw_error("RecordTypeError", where(path, what) + ": numpy arrays must be 1-D float32 (vectors), got " +
                                       std::to_string(ndim) + "-D " + dtype);
  py::buffer_info info = py::reinterpret_borrow<py::buffer>(arr).request();
  F32Vector v(static_cast<size_t>(info.shape[0]));
  const char* base = static_cast<const char*>(info.ptr);
  for (size_t i = 0; i < v.size(); ++i)
    std::memcpy(&v[i], base + static_cast<Py_ssize_t>(i) * info.strides[0], sizeof(float));
  return Value(std::move(v));
}

Value convert(py::handle obj, const Path* path, const std::string& what, int depth);

Object convert_dict(py::handle obj, const Path* path, const std::string& what, int depth) {
  Object out;
  PyObject* d = obj.ptr();
  out.reserve(static_cast<size_t>(PyDict_Size(d)));
  PyObject *k, *v;
  Py_ssize_t pos = 0;
  while (PyDict_Next(d, &pos, &k, &v)) {
    if (!PyUnicode_Check(k))
      throw_error("RecordTypeError", where(path, what) + ": keys must be str, got " + type_of(k));
    Py_ssize_t n = 0;
    const char* s = PyUnicode_AsUTF8AndSize(k, &n);
    if (!s) throw py::error_already_set();
    Path here{path, s, 0};
    // dict keys are unique, so the check of Object::set is not needed
    out.append_unchecked(std::string(s, static_cast<size_t>(n)), convert(v, &here, what, depth + 1));
  }
  return out;
}

Value convert(py::handle obj, const Path* path, const std::string& what, int depth) {
  PyObject* o = obj.ptr();
  if (depth > kMaxNestingDepth)
    throw_error("InvalidArgumentError",
                where(path, what) + ": nested deeper than " + std::to_string(kMaxNestingDepth) + " levels");
  if (o == Py_None) return Value();
  if (PyBool_Check(o)) return Value(o == Py_True);
  if (PyLong_Check(o)) {
    int overflow = 0;
    long long x = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow != 0)
      throw_error("InvalidArgumentError", where(path, what) + ": integer " + std::string(py::str(obj)) +
                                              " does not fit in int64");
    if (x == -1 && PyErr_Occurred()) throw py::error_already_set();
    return Value(static_cast<int64_t>(x));
  }
  if (PyFloat_Check(o)) return Value(PyFloat_AS_DOUBLE(o));
  if (PyUnicode_Check(o)) {
    Py_ssize_t n = 0;
    const char* s = PyUnicode_AsUTF8AndSize(o, &n);
    if (!s) throw py::error_already_set();
    return Value(std::string(s, static_cast<size_t>(n)));
  }
  if (PyBytes_Check(o)) return Value(Bytes{std::string(PyBytes_AS_STRING(o), PyBytes_GET_SIZE(o))});
  if (PyByteArray_Check(o))
    return Value(Bytes{std::string(PyByteArray_AS_STRING(o), PyByteArray_GET_SIZE(o))});
  if (PyMemoryView_Check(o)) {
    py::bytes b = py::reinterpret_steal<py::bytes>(PyBytes_FromObject(o));
    if (!b) throw py::error_already_set();
    return Value(Bytes{std::string(b)});
  }
  if (PyDict_Check(o)) return Value(convert_dict(obj, path, what, depth));
  if (PyList_Check(o) || PyTuple_Check(o)) {
    Py_ssize_t n = PySequence_Fast_GET_SIZE(o);
    List out;
    out.reserve(static_cast<size_t>(n));
    for (Py_ssize_t i = 0; i < n; ++i) {
      Path here{path, nullptr, i};
      out.push_back(convert(PySequence_Fast_GET_ITEM(o, i), &here, what, depth + 1));
    }
    return Value(std::move(out));
  }
  if (PyTypeObject* nd = ndarray_type(); nd && PyObject_TypeCheck(o, nd))
    return from_ndarray(obj, path, what);
  // numpy scalars (np.int64, np.float32, ...) and other exact numbers.
  if (ndarray_type() && PyObject_HasAttrString(o, "dtype")) {
    std::string kind = py::str(obj.attr("dtype").attr("kind"));
    if (kind == "i" || kind == "u") return convert(obj.attr("item")(), path, what, depth);
    if (kind == "f") return Value(py::cast<double>(obj.attr("item")()));
    if (kind == "b") return Value(py::cast<bool>(obj.attr("item")()));
  }
  throw_error("RecordTypeError", where(path, what) + ": unsupported type " + type_of(obj) +
                                     " (None, bool, int, float, str, bytes, list, dict or a 1-D "
                                     "float32 numpy array)");
}

// numpy.frombuffer, or null when numpy is not installed (vectors then come back as lists).
// Set under the GIL without a guarded static (see errors_module() in errors.cc).
py::object* numpy_frombuffer() {
  static py::object* f = nullptr;
  static bool missing = false;
  if (!f && !missing) {
    try {
      py::object fn = py::module_::import("numpy").attr("frombuffer");
      if (!f) f = new py::object(std::move(fn));
    } catch (py::error_already_set&) {
      missing = true;
    }
  }
  return f;
}

py::object from_vector(const F32Vector& v) {
  if (py::object* frombuffer = numpy_frombuffer()) {
    py::bytes raw(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
    // a writable copy, as any array a user builds
    return (*frombuffer)(raw, "float32").attr("copy")();
  }
  py::list out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = py::float_(v[i]);
  return out;
}

}  // namespace

Record to_record(py::handle obj) {
  if (!PyDict_Check(obj.ptr()))
    throw_error("RecordTypeError", "a record must be a dict, got " + type_of(obj));
  return convert_dict(obj, nullptr, "", 1);
}

std::vector<Record> to_records(py::handle seq) {
  if (!PyList_Check(seq.ptr()) && !PyTuple_Check(seq.ptr()))
    throw_error("RecordTypeError", "records must be a list of dicts, got " + type_of(seq));
  Py_ssize_t n = PySequence_Fast_GET_SIZE(seq.ptr());
  std::vector<Record> out;
  out.reserve(static_cast<size_t>(n));
  for (Py_ssize_t i = 0; i < n; ++i) {
    py::handle r = PySequence_Fast_GET_ITEM(seq.ptr(), i);
    std::string what = "record " + std::to_string(i);
    if (!PyDict_Check(r.ptr()))
      throw_error("RecordTypeError", what + ": a record must be a dict, got " + type_of(r));
    out.push_back(convert_dict(r, nullptr, what, 1));
  }
  return out;
}

Value to_value(py::handle obj, const std::string& what) { return convert(obj, nullptr, what, 1); }

namespace {

// The Python strings of the field names met while converting one batch: records of a batch
// mostly share their names, and a new string per field per record (hashed again by the dict)
// cost about as much as the values. Bounded; names past the bound get a string each time.
class KeyCache {
 public:
  // hint: where the name was in the previous record (fields usually come in the same order).
  py::object get(const std::string& name, size_t hint) {
    if (hint < names_.size() && names_[hint].first == name) return names_[hint].second;
    for (const auto& [n, obj] : names_)
      if (n == name) return obj;
    py::str obj(name);
    if (names_.size() < kMax) names_.emplace_back(name, obj);
    return obj;
  }

 private:
  static constexpr size_t kMax = 64;
  std::vector<std::pair<std::string, py::object>> names_;
};

py::dict object_from(const Object& o, KeyCache& keys);

py::object value_from(const Value& v, KeyCache& keys) {
  switch (v.type()) {
    case Value::Type::kNull: return py::none();
    case Value::Type::kBool: return py::bool_(v.as_bool());
    case Value::Type::kInt: return py::int_(v.as_int());
    case Value::Type::kDouble: return py::float_(v.as_double());
    case Value::Type::kString: {
      const std::string& s = v.as_string();
      PyObject* u = PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "replace");
      if (!u) throw py::error_already_set();
      return py::reinterpret_steal<py::object>(u);
    }
    case Value::Type::kBytes: return py::bytes(v.as_bytes().data);
    case Value::Type::kVector: return from_vector(v.as_vector());
    case Value::Type::kList: {
      const List& l = v.as_list();
      py::list out(l.size());
      for (size_t i = 0; i < l.size(); ++i) out[i] = value_from(l[i], keys);
      return out;
    }
    case Value::Type::kObject: return object_from(v.as_object(), keys);
  }
  return py::none();
}

py::dict object_from(const Object& o, KeyCache& keys) {
  py::dict out;
  size_t i = 0;
  for (const auto& [k, v] : o) out[keys.get(k, i++)] = value_from(v, keys);
  return out;
}

}  // namespace

py::object from_value(const Value& v) {
  KeyCache keys;
  return value_from(v, keys);
}

py::dict from_object(const Object& o) {
  KeyCache keys;
  return object_from(o, keys);
}

py::list from_messages(const std::vector<Message>& messages) {
  KeyCache keys;
  py::list out(messages.size());
  for (size_t i = 0; i < messages.size(); ++i) out[i] = object_from(messages[i].record, keys);
  return out;
}

py::dict from_topic(const TopicInfo& info) {
  py::dict out;
  out["topic"] = info.topic;
  out["bucket_column"] = info.bucket_column;
  out["num_buckets"] = info.num_buckets;
  out["batch_size"] = info.batch_size;
  out["backend"] = info.backend;
  py::dict opts;
  for (const auto& [k, v] : info.backend_options) opts[py::str(k)] = v;
  out["backend_options"] = opts;
  out["durable"] = info.durable;
  out["retention_records"] = info.retention.records ? py::object(py::int_(*info.retention.records)) : py::none();
  out["retention_bytes"] = info.retention.bytes ? py::object(py::int_(*info.retention.bytes)) : py::none();
  out["retention_ms"] = info.retention.ms ? py::object(py::int_(*info.retention.ms)) : py::none();
  out["retention_policy"] = info.retention.policy == RetentionPolicy::kInterest ? "interest" : "limits";
  out["replication_factor"] = info.replication_factor;
  return out;
}

}  // namespace persisting::python
