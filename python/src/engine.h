// One writer/reader/system interface over the embedded Queue and the remote Client, so the
// bindings are written once. No pybind11 here: this is plain C++ over the public API.
//
// The put results are converted in one place (PutOutcome below, from the engine's PutReport).
//
// Async forms (for asyncio callers): the embedded reader's get is the engine's own; the others
// run the blocking call on the extension's WorkPool (work_pool.h). Their done runs once, on a
// pool or engine thread, and must not block; the writer or reader must outlive it.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "persisting/client.h"
#include "persisting/queue.h"

namespace persisting::python {

// What a put of many records tells the caller: each record's bucket and offset.
struct PutOutcome {
  std::vector<uint32_t> buckets;
  std::vector<std::optional<uint64_t>> offsets;
};

using PutCallback = std::function<void(Result<Position>)>;
using PutManyCallback = std::function<void(Result<PutOutcome>)>;

class Writer {
 public:
  virtual ~Writer() = default;
  virtual const TopicInfo& topic() const = 0;
  virtual Result<Position> put(const Record& record) = 0;
  // Checks and routes every record first (nothing is written when one is bad).
  Result<PutOutcome> put_many(const std::vector<Record>& records);
  void put_async(Record record, PutCallback done);
  void put_many_async(std::vector<Record> records, PutManyCallback done);
  virtual Status flush() = 0;
  virtual Result<Object> stats() = 0;

 protected:
  virtual Status put_batch(const std::vector<Record>& records, PutReport* report) = 0;
};

using GetCallback = std::function<void(Result<std::vector<Message>>)>;

// Not thread-safe, as the engine's readers: one get at a time.
class Reader {
 public:
  virtual ~Reader() = default;
  virtual const TopicInfo& topic() const = 0;
  virtual const std::vector<BucketId>& buckets() const = 0;
  virtual Result<std::vector<Message>> get(size_t limit, bool wait,
                                           std::chrono::milliseconds timeout) = 0;
  virtual void get_async(size_t limit, bool wait, std::chrono::milliseconds timeout,
                         GetCallback done) = 0;
  virtual void reset() = 0;
  virtual Status set_offset(Offset offset, std::optional<BucketId> bucket) = 0;
  virtual std::vector<Offset> offsets() const = 0;
  // Consumer groups (TopicReader::commit, close).
  virtual Status commit() = 0;
  virtual Status close() = 0;
};

// An embedded Queue or a Client.
class System {
 public:
  virtual ~System() = default;
  virtual bool remote() const = 0;
  // Empty for a remote system and for a memory-only embedded one.
  virtual std::string data_dir() const = 0;
  virtual Result<std::unique_ptr<Writer>> writer(const WriterOptions& options) = 0;
  virtual Result<std::unique_ptr<Reader>> reader(const ReaderOptions& options) = 0;
  virtual Result<TopicInfo> topic(const std::string& name) = 0;
  virtual Result<Object> stats(const std::string& topic) = 0;
  virtual Status delete_topic(const std::string& topic) = 0;
  virtual Status alter_topic(const std::string& topic, const Retention& retention) = 0;
  virtual Status flush() = 0;
};

Result<std::unique_ptr<System>> open_embedded(QueueOptions options);
Result<std::unique_ptr<System>> connect_remote(ClientOptions options);

// The bucket value would go to in topic (the engine's routing rule); errors name the column.
Result<uint32_t> bucket_of(const TopicInfo& info, const Value& value);

}  // namespace persisting::python
