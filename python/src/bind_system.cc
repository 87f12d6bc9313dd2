// SystemHandle, and the pybind11 classes of the three handles.
#include <pybind11/stl.h>

#include "convert.h"
#include "errors.h"
#include "groups/group_types.h"
#include "handles.h"
#include "queue/topic_meta.h"

namespace py = pybind11;

namespace persisting::python {

// --- SystemHandle ---

SystemHandle::~SystemHandle() { destroy_without_gil(s_); }

std::shared_ptr<SystemHandle> SystemHandle::open(const std::string& data_dir, unsigned threads,
                                                 bool flush_on_close) {
  QueueOptions o;
  o.data_dir = data_dir;
  o.threads = threads;
  o.flush_on_close = flush_on_close;
  Result<std::unique_ptr<System>> s = [&] {
    py::gil_scoped_release nogil;
    return open_embedded(std::move(o));
  }();
  return std::make_shared<SystemHandle>(value_or_throw(std::move(s)));
}

std::shared_ptr<SystemHandle> SystemHandle::connect(const std::string& server, const std::string& token,
                                                    const std::string& tls_ca, const std::string& tls_server_name) {
  ClientOptions o;
  o.server = server;
  o.token = token;
  if (!tls_ca.empty()) {
    o.tls = true;
    o.tls_ca_file = tls_ca;
    o.tls_server_name = tls_server_name;
  }
  Result<std::unique_ptr<System>> s = [&] {
    py::gil_scoped_release nogil;
    return connect_remote(std::move(o));
  }();
  return std::make_shared<SystemHandle>(value_or_throw(std::move(s)));
}

std::shared_ptr<System> SystemHandle::get() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!s_) throw_error("ClosedError", "the system is closed");
  return s_;
}

bool SystemHandle::remote() const { return get()->remote(); }
std::string SystemHandle::data_dir() const { return get()->data_dir(); }

bool SystemHandle::closed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return s_ == nullptr;
}

void SystemHandle::close() {
  std::shared_ptr<System> s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    s.swap(s_);
  }
  destroy_without_gil(s);  // the last reference: calls still running hold theirs
}

namespace {

// Python's limits (None: no limit) as a Retention; a limit below 1 is InvalidArgumentError.
Retention retention_of(std::optional<int64_t> records, std::optional<int64_t> bytes, std::optional<int64_t> ms,
                       const std::optional<std::string>& policy) {
  Retention r;
  if (policy) r.policy = value_or_throw(queue::parse_retention_policy(*policy, "retention_policy"));
  auto take = [](const char* name, std::optional<int64_t> v, std::optional<uint64_t>* out) {
    if (!v) return;
    if (*v <= 0) throw_error("InvalidArgumentError", std::string(name) + " must be positive, got " + std::to_string(*v));
    *out = static_cast<uint64_t>(*v);
  };
  take("retention_records", records, &r.records);
  take("retention_bytes", bytes, &r.bytes);
  take("retention_ms", ms, &r.ms);
  return r;
}

}  // namespace

std::shared_ptr<WriterHandle> SystemHandle::writer(const std::string& topic, const std::string& bucket_column,
                                                   uint32_t num_buckets, uint32_t batch_size,
                                                   const std::string& backend, const Options& backend_options,
                                                   std::optional<int64_t> retention_records,
                                                   std::optional<int64_t> retention_bytes,
                                                   std::optional<int64_t> replication_factor,
                                                   std::optional<int64_t> retention_ms,
                                                   std::optional<std::string> acks,
                                                   std::optional<std::string> retention_policy) {
  auto s = get();
  WriterOptions o;
  if (acks) {
    if (*acks == "leader") o.acks = Acks::kLeader;
    else if (*acks == "all") o.acks = Acks::kAll;
    else throw_error("InvalidArgumentError", "topic '" + topic + "': acks must be 'leader' or 'all', got '" + *acks + "'");
  }
  o.retention = retention_of(retention_records, retention_bytes, retention_ms, retention_policy);
  if (replication_factor) {
    int64_t rf = *replication_factor;
    if (rf != 1 && rf != 3 && rf != 5)
      throw_error("InvalidArgumentError", "topic '" + topic + "': replication_factor must be 1, 3 or 5, got " +
                                              std::to_string(rf));
    o.replication_factor = static_cast<uint32_t>(rf);
  }
  o.topic = topic;
  o.bucket_column = bucket_column;
  o.num_buckets = num_buckets;
  o.batch_size = batch_size;
  o.backend = backend;
  o.backend_options = backend_options;
  Result<std::unique_ptr<Writer>> w = [&] {
    py::gil_scoped_release nogil;
    return s->writer(o);
  }();
  return std::make_shared<WriterHandle>(value_or_throw(std::move(w)));
}

namespace {

OffsetReset parse_start(const std::string& start) {
  if (start == "earliest") return OffsetReset::kEarliest;
  if (start == "latest") return OffsetReset::kLatest;
  throw_error("InvalidArgumentError", "start must be 'earliest' or 'latest', got '" + start + "'");
}

// Checks a group name before anything is opened (a reader may wait for its topic).
void check_group_name(const std::string& group) { check(groups::validate_group_name(group)); }

std::chrono::milliseconds seconds_option(double seconds, const char* name) {
  if (!(seconds > 0) || seconds > 1e9)
    throw_error("InvalidArgumentError", std::string(name) + " must be a positive number of seconds, got " +
                                            std::to_string(seconds));
  return std::max(std::chrono::milliseconds(1),
                  std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::duration<double>(seconds)));
}

}  // namespace

std::shared_ptr<ReaderHandle> SystemHandle::reader(const std::string& topic,
                                                   std::optional<std::vector<uint32_t>> buckets,
                                                   std::optional<uint32_t> rank, uint32_t world_size,
                                                   const std::string& group, const std::string& start,
                                                   bool auto_commit, double auto_commit_interval,
                                                   double session_timeout, uint32_t read_ahead) {
  auto s = get();
  ReaderOptions o;
  o.group = group;
  o.start = parse_start(start);
  o.auto_commit = auto_commit;
  o.auto_commit_interval = seconds_option(auto_commit_interval, "auto_commit_interval");
  o.session_timeout = seconds_option(session_timeout, "session_timeout");
  o.read_ahead = read_ahead;
  o.topic = topic;
  if (buckets)
    for (uint32_t b : *buckets) o.buckets.emplace_back(b);
  o.rank = rank;
  o.world_size = world_size;
  Result<std::unique_ptr<Reader>> r = [&] {
    py::gil_scoped_release nogil;
    return s->reader(o);
  }();
  return std::make_shared<ReaderHandle>(value_or_throw(std::move(r)));
}

py::object SystemHandle::topic(const std::string& name) {
  auto s = get();
  Result<TopicInfo> t = [&] {
    py::gil_scoped_release nogil;
    return s->topic(name);
  }();
  if (!t.ok() && t.status().code() == Code::kNotFound) return py::none();
  return from_topic(value_or_throw(std::move(t)));
}

uint32_t SystemHandle::bucket_of(const std::string& topic, py::handle value) {
  auto s = get();
  Value v = to_value(value, "bucket value");
  Result<TopicInfo> t = [&] {
    py::gil_scoped_release nogil;
    return s->topic(topic);
  }();
  return value_or_throw(python::bucket_of(value_or_throw(std::move(t)), v));
}

py::dict SystemHandle::stats(const std::string& topic) {
  auto s = get();
  Result<Object> r = [&] {
    py::gil_scoped_release nogil;
    return s->stats(topic);
  }();
  return from_object(value_or_throw(std::move(r)));
}

void SystemHandle::alter_topic(const std::string& topic, std::optional<int64_t> retention_records,
                               std::optional<int64_t> retention_bytes, std::optional<int64_t> retention_ms,
                               std::optional<std::string> retention_policy) {
  auto s = get();
  Retention r = retention_of(retention_records, retention_bytes, retention_ms, retention_policy);
  Status st;
  {
    py::gil_scoped_release nogil;
    st = s->alter_topic(topic, r);
  }
  check(st);
}

void SystemHandle::delete_topic(const std::string& topic) {
  auto s = get();
  Status st;
  {
    py::gil_scoped_release nogil;
    st = s->delete_topic(topic);
  }
  check(st);
}

void SystemHandle::flush() {
  auto s = get();
  Status st;
  {
    py::gil_scoped_release nogil;
    st = s->flush();
  }
  check(st);
}

// --- the Python classes ---

void bind_handles(py::module_& m) {
  m.def("check_group_name", &check_group_name, py::arg("group"),
        "Raises InvalidArgumentError for a bad group name.");
  py::class_<WriterHandle, std::shared_ptr<WriterHandle>>(m, "Writer", "A topic writer (engine side).")
      .def("put", &WriterHandle::put, py::arg("records"),
           "Appends a record or a list of records; returns {bucket_id, offset, status} (a list of them).")
      .def("put_async", &WriterHandle::put_async, py::arg("records"), py::arg("loop"), py::arg("future"),
           "Starts a put (as put) that completes future on loop.")
      .def("flush", &WriterHandle::flush, "Makes buffered records durable.")
      .def("stats", &WriterHandle::stats, "The topic's statistics as a dict.")
      .def_property_readonly("topic", &WriterHandle::topic, "The topic's settings as a dict.");

  py::class_<ReaderHandle, std::shared_ptr<ReaderHandle>>(m, "Reader", "A topic reader (engine side).")
      .def("get", &ReaderHandle::get, py::arg("limit"), py::arg("wait"), py::arg("timeout"),
           "Blocking get of up to limit records (timeout in seconds, None: forever); returns "
           "(records, {bucket: first offset}).")
      .def("get_async", &ReaderHandle::get_async, py::arg("limit"), py::arg("wait"), py::arg("timeout"),
           py::arg("loop"), py::arg("future"), "Starts a get that completes future on loop.")
      .def("reset", &ReaderHandle::reset, "Back to offset 0 in every covered bucket.")
      .def("set_offset", &ReaderHandle::set_offset, py::arg("offset"), py::arg("bucket") = py::none(),
           "Sets the next offset of one covered bucket, or of all.")
      .def("offsets", &ReaderHandle::offsets, "{bucket: next offset} of the covered buckets.")
      .def("commit", &ReaderHandle::commit, "Makes the group's offsets of what get returned durable.")
      .def("close", &ReaderHandle::close, "Leaves the group (committing first with auto_commit).")
      .def_property_readonly("buckets", &ReaderHandle::buckets, "The covered buckets.")
      .def_property_readonly("topic", &ReaderHandle::topic, "The topic's settings as a dict.");

  py::class_<SystemHandle, std::shared_ptr<SystemHandle>>(m, "System", "An embedded node or a client.")
      .def_static("open", &SystemHandle::open, py::arg("data_dir"), py::arg("threads"), py::arg("flush_on_close"),
                  "Opens an embedded node (data_dir '' keeps everything in memory).")
      .def_static("connect", &SystemHandle::connect, py::arg("server"), py::arg("token"), py::arg("tls_ca"),
                  py::arg("tls_server_name"), "A client of a persistingd cluster.")
      .def_property_readonly("remote", &SystemHandle::remote, "True for a client of a cluster.")
      .def_property_readonly("data_dir", &SystemHandle::data_dir, "The embedded node's data dir.")
      .def_property_readonly("closed", &SystemHandle::closed, "Whether close() was called.")
      .def("writer", &SystemHandle::writer, py::arg("topic"), py::arg("bucket_column"), py::arg("num_buckets"),
           py::arg("batch_size"), py::arg("backend"), py::arg("backend_options"),
           py::arg("retention_records") = py::none(), py::arg("retention_bytes") = py::none(),
           py::arg("replication_factor") = py::none(), py::arg("retention_ms") = py::none(),
           py::arg("acks") = py::none(), py::arg("retention_policy") = py::none(),
           "Creates or opens a topic for writing.")
      .def("reader", &SystemHandle::reader, py::arg("topic"), py::arg("buckets"), py::arg("rank"),
           py::arg("world_size"), py::arg("group") = "", py::arg("start") = "earliest",
           py::arg("auto_commit") = true, py::arg("auto_commit_interval") = 5.0, py::arg("session_timeout") = 10.0,
           py::arg("read_ahead") = 1000,
           "Opens an existing topic for reading (in a consumer group when group is not empty).")
      .def("topic", &SystemHandle::topic, py::arg("name"), "The topic's settings, or None.")
      .def("bucket_of", &SystemHandle::bucket_of, py::arg("topic"), py::arg("value"),
           "The bucket a value of the bucket column goes to.")
      .def("stats", &SystemHandle::stats, py::arg("topic"), "The topic's statistics.")
      .def("delete_topic", &SystemHandle::delete_topic, py::arg("topic"),
           "Deletes the topic: records, files, groups; its writers and readers get NotFound.")
      .def("alter_topic", &SystemHandle::alter_topic, py::arg("topic"), py::arg("retention_records"),
           py::arg("retention_bytes"), py::arg("retention_ms") = py::none(), py::arg("retention_policy") = py::none(),
           "Replaces the topic's retention limits (None: no limit) and policy (None: 'limits').")
      .def("flush", &SystemHandle::flush, "Flushes every bucket.")
      .def("close", &SystemHandle::close, "Closes the system (flushes an embedded node).");
}

}  // namespace persisting::python
