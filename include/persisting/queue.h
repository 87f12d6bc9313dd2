// The Queue API: an embedded Persisting node in this process.
//
//   auto q = Queue::open({.data_dir = "/var/lib/app/queue"});
//   auto w = (*q)->writer({.topic = "events", .bucket_column = "user", .num_buckets = 8});
//   (*w)->put(Record{{"user", "u1"}, {"n", 1}});
//   auto r = (*q)->reader({.topic = "events", .rank = 0, .world_size = 2});
//   auto msgs = (*r)->get(/*limit=*/100, /*wait=*/true, std::chrono::seconds(1));
//
// Buckets: bucket = stable_hash64(key bytes of record[bucket_column]) % num_buckets
// (docs/hashing.md). Each bucket is an append-only log with dense offsets 0, 1, 2, ...
// A record is visible to readers as soon as its put returns OK.
// Every call returns a Status/Result; nothing throws across this API.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "persisting/env.h"
#include "persisting/options.h"
#include "persisting/status.h"
#include "persisting/types.h"
#include "persisting/value.h"

namespace persisting {

class Queue;

namespace detail {
struct QueueCore;
struct WriterState;
struct ReaderState;
}  // namespace detail

struct QueueOptions {
  // Where topics live (<data_dir>/<topic>/topic.json, bucket_<b>/...). Empty: no files at all;
  // only non-durable backends (memory) can be used and topics are not persisted.
  std::string data_dir;
  // Actor pool threads; 0 = number of hardware threads (at least 2).
  unsigned threads = 0;
  Env* env = nullptr;  // null = Env::Default()
};

// Settings of a topic, fixed when it is created and persisted in topic.json.
struct WriterOptions {
  std::string topic;
  std::string bucket_column = "id";
  uint32_t num_buckets = 4;
  // Records a durable backend buffers before it flushes (per bucket).
  uint32_t batch_size = 100;
  std::string backend = "memory";
  Options backend_options;
};

struct TopicInfo {
  std::string topic;
  std::string bucket_column;
  uint32_t num_buckets = 0;
  uint32_t batch_size = 0;
  std::string backend;
  Options backend_options;
  bool durable = false;  // whether the backend's records outlive the writing process
};

// Which buckets a reader covers: all (default), an explicit list, or rank of world_size
// (bucket b belongs to rank b % world_size).
struct ReaderOptions {
  std::string topic;
  std::vector<uint32_t> buckets;
  std::optional<uint32_t> rank;
  uint32_t world_size = 1;
};

// Where a record landed.
struct Position {
  BucketId bucket;
  Offset offset;
};

// What a batch put did, bucket by bucket, so a caller can tell exactly which of its records were
// written (QueueWriter::put and ClientWriter::put fill it, whether they succeed or fail).
struct PutReport {
  struct Part {                   // one bucket's share of the batch
    BucketId bucket;
    std::vector<size_t> records;  // indexes into the batch, in batch order
    bool acknowledged = false;    // written: records[k] is at offset first + k
    Offset first;
    Status status;                // why not, when not acknowledged
    std::string owner;            // the node that owns the bucket (Client only: "n2 (host:port)")
  };
  std::vector<Part> parts;  // the buckets the batch touched, in bucket order
  // The batch was refused before anything was sent (a bad record, a type its bucket refuses):
  // nothing of it is written; the returned Status names the record.
  bool refused = false;

  size_t acknowledged() const {
    size_t n = 0;
    for (const auto& p : parts) n += p.acknowledged ? p.records.size() : 0;
    return n;
  }
};

// A record read back, with where it came from.
struct Message {
  BucketId bucket;
  Offset offset;
  Record record;
};

// Writes records into a topic. Thread-safe: many threads may put through one writer.
class QueueWriter {
 public:
  ~QueueWriter();
  const TopicInfo& topic() const;

  // Appends one record to its bucket.
  Result<Position> put(const Record& record);
  // Appends a batch. Every record is checked first (bucket column present and usable, and, when
  // the batch spans several buckets, accepted by its bucket's backend: see the form with a
  // report); if any fails, the error names its index and nothing of the batch is written.
  // Records of one bucket are appended together, all or nothing, in batch order.
  Status put(const std::vector<Record>& records);
  // The same, saying in report what was written. A batch spanning several buckets is first
  // checked by every target bucket (StorageBackend::check_batch: types against its schema, ...),
  // so a record a bucket would refuse fails the whole batch before any bucket appends. Only a
  // failure after that check (an I/O error, a concurrent writer changing a bucket's schema
  // between check and append) leaves some buckets written: report says which. numbers (one per
  // record, optional) is how errors name the records (default: their index in records); the CLI
  // passes input line numbers.
  Status put(const std::vector<Record>& records, PutReport* report,
             const std::vector<uint64_t>* numbers = nullptr);
  // Asynchronous forms: done runs once, on a runtime thread, when every bucket has answered.
  // It must not block.
  void put_async(const std::vector<Record>& records, std::function<void(Status)> done);
  std::future<Status> put_async(const std::vector<Record>& records);

  // Asks the backend of every bucket this writer has written since its last flush to make
  // buffered records durable (buckets it never touched are left alone).
  Status flush();
  // {"topic":..., "buckets":[<bucket stats>...], "total_count": N}
  Result<Object> stats();

 private:
  friend class Queue;
  explicit QueueWriter(std::unique_ptr<detail::WriterState> s);
  std::unique_ptr<detail::WriterState> s_;
};

// Reads a topic's buckets, keeping one offset per bucket (starting at 0). Not thread-safe:
// use one reader per consuming thread; do not start a get while another is in flight.
//
// Fairness: a get takes from every covered bucket that has data. When more than `limit`
// records are available the limit is split evenly across those buckets (water-filling: a
// bucket with fewer records than its share gives the rest to the others), and the bucket served
// first rotates from call to call. A busy bucket cannot starve a quiet one.
class QueueReader {
 public:
  ~QueueReader();
  const TopicInfo& topic() const;
  const std::vector<BucketId>& buckets() const;

  // Up to limit records. wait=false returns what is there now (possibly nothing). wait=true,
  // when nothing is there, parks until a record arrives in any covered bucket (returns at once
  // with it) or timeout passes (returns empty).
  Result<std::vector<Message>> get(size_t limit, bool wait = false,
                                   std::chrono::milliseconds timeout = std::chrono::seconds(1));
  void get_async(size_t limit, bool wait, std::chrono::milliseconds timeout,
                 std::function<void(Result<std::vector<Message>>)> done);

  // Back to offset 0 in every covered bucket.
  void reset();
  // Sets the next offset of one covered bucket, or of all when bucket is empty.
  Status set_offset(Offset offset, std::optional<BucketId> bucket = std::nullopt);
  // Next offset per covered bucket, in buckets() order.
  std::vector<Offset> offsets() const;

 private:
  friend class Queue;
  explicit QueueReader(std::unique_ptr<detail::ReaderState> s);
  std::unique_ptr<detail::ReaderState> s_;
};

class Queue {
 public:
  static Result<std::unique_ptr<Queue>> open(QueueOptions options);
  ~Queue();  // flushes and closes every bucket; writers/readers still alive then get errors

  // Creates the topic, or opens it when it exists. Reopening with another num_buckets,
  // bucket_column or backend is FailedPrecondition. Backend options given on reopen must be
  // valid; they apply to buckets this process opens and do not rewrite topic.json.
  Result<std::unique_ptr<QueueWriter>> writer(const WriterOptions& options);
  // Opens an existing topic by name alone (its settings come from topic.json).
  Result<std::unique_ptr<QueueReader>> reader(const ReaderOptions& options);

  Result<std::vector<TopicInfo>> topics();
  Result<TopicInfo> topic(const std::string& name);
  // {"topic":..., "num_buckets":..., "buckets":[...], "total_count": N}
  Result<Object> stats(const std::string& topic);
  Status flush();

  const std::string& data_dir() const;

 private:
  explicit Queue(std::shared_ptr<detail::QueueCore> core);
  std::shared_ptr<detail::QueueCore> core_;
};

// Topic names: 1-128 characters from [A-Za-z0-9._-], not starting with '.' or '-'
// (so never "." or ".."), never containing "..".
Status validate_topic_name(const std::string& topic);

}  // namespace persisting
