// The objects the extension hands to Python: a system, a writer, a reader. They own engine
// objects (engine.h) and release the GIL around every engine call that can wait.
#pragma once

#include <pybind11/pybind11.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "engine.h"

namespace persisting::python {

// Releases the GIL (if this thread holds it) while a destructor that may wait for engine
// threads runs: those threads may need the GIL to finish what they are doing.
template <typename T>
void destroy_without_gil(T& owned) {
  if (PyGILState_Check()) {
    pybind11::gil_scoped_release nogil;
    owned.reset();
  } else {
    owned.reset();
  }
}

class WriterHandle : public std::enable_shared_from_this<WriterHandle> {
 public:
  explicit WriterHandle(std::unique_ptr<Writer> w) : w_(std::move(w)) {}
  ~WriterHandle();
  // Appends one record (a dict) or a list of them, written all or nothing per bucket; returns
  // Pulsing's {"bucket_id", "offset", "status"} (a list of those for a list; offset None).
  pybind11::object put(pybind11::handle records);
  // The same for asyncio: converts and checks the records here (raising for a bad one), runs
  // the put on the WorkPool and completes future with put's answer (or its error) on
  // its loop (complete_on_loop); a future already done (cancelled) is left alone.
  void put_async(pybind11::handle records, pybind11::object loop, pybind11::object future);
  void flush();
  pybind11::dict stats();
  pybind11::dict topic() const;

 private:
  struct Batch;
  Batch prepare(pybind11::handle records) const;
  std::unique_ptr<Writer> w_;
};

class ReaderHandle : public std::enable_shared_from_this<ReaderHandle> {
 public:
  explicit ReaderHandle(std::unique_ptr<Reader> r) : r_(std::move(r)) {}
  ~ReaderHandle();
  // Blocking get; timeout None with wait waits until data comes. Waits in slices, checking for
  // signals between them, so Ctrl-C interrupts it (no record is taken by an interrupted get).
  // Returns (records, {bucket: offset of its first record}, [bucket of each record]): the rest
  // lets a caller that gives records up put the reader back (set_offset) so the next get returns
  // them again.
  pybind11::tuple get(size_t limit, bool wait, std::optional<double> timeout);
  // Starts a get whose result (as get's) or error completes future on
  // its loop (complete_on_loop); a future already done (cancelled) is left alone.
  void get_async(size_t limit, bool wait, double timeout, pybind11::object loop, pybind11::object future);
  void reset() { r_->reset(); }
  void set_offset(uint64_t offset, std::optional<uint32_t> bucket);
  pybind11::dict offsets() const;
  // Consumer groups: the engine's commit and close, with the GIL released.
  void commit();
  void close();
  pybind11::list buckets() const;
  pybind11::dict topic() const;

 private:
  std::unique_ptr<Reader> r_;
};

// A system: closing it while calls are in flight is safe (they hold their own reference).
class SystemHandle {
 public:
  explicit SystemHandle(std::unique_ptr<System> s) : s_(std::move(s)) {}
  ~SystemHandle();
  static std::shared_ptr<SystemHandle> open(const std::string& data_dir, unsigned threads, bool flush_on_close);
  static std::shared_ptr<SystemHandle> connect(const std::string& server, const std::string& token,
                                               const std::string& tls_ca, const std::string& tls_server_name);

  bool remote() const;
  std::string data_dir() const;
  std::shared_ptr<WriterHandle> writer(const std::string& topic, const std::string& bucket_column,
                                       uint32_t num_buckets, uint32_t batch_size, const std::string& backend,
                                       const Options& backend_options, std::optional<int64_t> retention_records,
                                       std::optional<int64_t> retention_bytes,
                                       std::optional<int64_t> replication_factor,
                                       std::optional<int64_t> retention_ms,
                                       std::optional<std::string> acks = std::nullopt,
                                       std::optional<std::string> retention_policy = std::nullopt);
  // group empty: a plain reader; start "earliest" or "latest"; times in seconds.
  std::shared_ptr<ReaderHandle> reader(const std::string& topic, std::optional<std::vector<uint32_t>> buckets,
                                       std::optional<uint32_t> rank, uint32_t world_size, const std::string& group,
                                       const std::string& start, bool auto_commit, double auto_commit_interval,
                                       double session_timeout, uint32_t read_ahead);
  // The topic's settings, or None when it does not exist.
  pybind11::object topic(const std::string& name);
  uint32_t bucket_of(const std::string& topic, pybind11::handle value);
  pybind11::dict stats(const std::string& topic);
  void delete_topic(const std::string& topic);
  // Replaces the topic's retention (docs/retention.md); None: no limit (a policy: "limits").
  void alter_topic(const std::string& topic, std::optional<int64_t> retention_records,
                   std::optional<int64_t> retention_bytes, std::optional<int64_t> retention_ms,
                   std::optional<std::string> retention_policy = std::nullopt);
  void flush();
  void close();
  bool closed() const;

 private:
  std::shared_ptr<System> get() const;  // raises when closed
  mutable std::mutex mu_;
  std::shared_ptr<System> s_;
};

void bind_handles(pybind11::module_& m);
void bind_backends(pybind11::module_& m);

}  // namespace persisting::python
