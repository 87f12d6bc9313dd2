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
#include "persisting/log.h"
#include "persisting/options.h"
#include "persisting/scheduler.h"
#include "persisting/tail_cache.h"
#include "persisting/status.h"
#include "persisting/store.h"
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
  // Where background failures (a flush or sync that failed), recovery warnings and close errors
  // are logged (include/persisting/log.h). null = stderr, warnings and errors.
  std::shared_ptr<Logger> logger;
  // Runs the buckets' timed background work: flushes, WAL syncs and writebacks
  // (include/persisting/scheduler.h; group commits, which puts wait for, use the default). null = Scheduler::Default(), one pool per process of a fixed
  // size, so threads do not grow with buckets. Must outlive the Queue.
  Scheduler* scheduler = nullptr;
  // Where durable buckets keep their recently flushed records readable from memory, one budget
  // for all of them (include/persisting/tail_cache.h). null = TailCache::Default(), the process's
  // (an eighth of physical memory, at most 1 GiB). Must outlive the Queue.
  TailCache* tail_cache = nullptr;
  // Whether closing the queue flushes every durable bucket to Lance. With the `persisting`
  // backend the write-ahead log already holds every acknowledged record, so false closes
  // without writing a fragment per bucket (much faster with many buckets): the records stay in
  // the log, and the next process that opens the bucket (a writer, or a reader finding them)
  // flushes them. Until then LanceDB does not see them. Backends without a log (`lance`) are
  // flushed either way.
  bool flush_on_close = true;
};

// Writes records into a topic. Thread-safe: many threads may put through one writer.
class QueueWriter final : public TopicWriter {
 public:
  ~QueueWriter() override;
  const TopicInfo& topic() const override;

  // Appends one record to its bucket.
  Result<Position> put(const Record& record) override;
  // Appends a batch. Every record is checked first (bucket column present and usable, and, when
  // the batch spans several buckets, accepted by its bucket's backend: see the form with a
  // report); if any fails, the error names its index and nothing of the batch is written.
  // Records of one bucket are appended together, all or nothing, in batch order.
  Status put(const std::vector<Record>& records) override;
  // The same, saying in report what was written. A batch spanning several buckets is first
  // checked by every target bucket (StorageBackend::check_batch: types against its schema, ...),
  // so a record a bucket would refuse fails the whole batch before any bucket appends. Only a
  // failure after that check (an I/O error, a concurrent writer changing a bucket's schema
  // between check and append) leaves some buckets written: report says which. numbers (one per
  // record, optional) is how errors name the records (default: their index in records); the CLI
  // passes input line numbers.
  Status put(const std::vector<Record>& records, PutReport* report,
             const std::vector<uint64_t>* numbers = nullptr) override;
  // Asynchronous forms: done runs once, on a runtime thread, when every bucket has answered.
  // It must not block.
  void put_async(const std::vector<Record>& records, std::function<void(Status)> done);
  std::future<Status> put_async(const std::vector<Record>& records);

  // Asks the backend of every bucket this writer has written since its last flush to make
  // buffered records durable (buckets it never touched are left alone).
  Status flush() override;
  // {"topic":..., "buckets":[<bucket stats>...], "total_count": N}
  Result<Object> stats() override;

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
class QueueReader final : public TopicReader {
 public:
  ~QueueReader() override;
  const TopicInfo& topic() const override;
  const std::vector<BucketId>& buckets() const override;

  // Up to limit records. wait=false returns what is there now (possibly nothing). wait=true,
  // when nothing is there, parks until a record arrives in any covered bucket (returns at once
  // with it) or timeout passes (returns empty).
  Result<std::vector<Message>> get(size_t limit, bool wait = false,
                                   std::chrono::milliseconds timeout = std::chrono::seconds(1)) override;
  // A group reader waits in slices of at most a third of its session timeout (heartbeating in
  // between), so a long wait does not expire it.
  //
  // get_async: done runs once, on a runtime thread. A group reader polls its group on the
  // calling thread first and cuts the wait to a third of its session timeout (so it may answer
  // empty sooner; ask again).
  void get_async(size_t limit, bool wait, std::chrono::milliseconds timeout,
                 std::function<void(Result<std::vector<Message>>)> done);

  // Back to offset 0 in every covered bucket.
  void reset() override;
  // Sets the next offset of one covered bucket, or of all when bucket is empty.
  Status set_offset(Offset offset, std::optional<BucketId> bucket = std::nullopt) override;
  Status seek_to_time(int64_t time_ms) override;
  // Next offset per covered bucket, in buckets() order.
  std::vector<Offset> offsets() const override;

  // Consumer groups (store.h, docs/groups.md).
  Status commit() override;
  Status close() override;

 private:
  friend class Queue;
  explicit QueueReader(std::unique_ptr<detail::ReaderState> s);
  std::unique_ptr<detail::ReaderState> s_;
};

class Queue final : public Store {
 public:
  static Result<std::unique_ptr<Queue>> open(QueueOptions options);
  ~Queue() override;  // flushes and closes every bucket; writers/readers still alive then get errors

  // Creates the topic, or opens it when it exists. Reopening with another num_buckets,
  // bucket_column or backend is FailedPrecondition. Backend options given on reopen must be
  // valid; they apply to buckets this process opens and do not rewrite topic.json.
  Result<std::unique_ptr<QueueWriter>> writer(const WriterOptions& options);
  // Opens an existing topic by name alone (its settings come from topic.json).
  Result<std::unique_ptr<QueueReader>> reader(const ReaderOptions& options);
  // The same through the Store interface (store.h).
  Result<std::unique_ptr<TopicWriter>> open_writer(const WriterOptions& options) override;
  Result<std::unique_ptr<TopicReader>> open_reader(const ReaderOptions& options) override;

  Result<std::vector<TopicInfo>> topics() override;
  Result<TopicInfo> topic(const std::string& name) override;
  // {"topic":..., "num_buckets":..., "buckets":[...], "total_count": N}
  Result<Object> stats(const std::string& topic) override;
  // Consumer groups (store.h, docs/groups.md). Commits live in
  // <data_dir>/<topic>/groups/<group>.offsets (docs/groups-format.md); with no data_dir they stay
  // in this process's memory. Membership is never persisted: members rejoin after a restart.
  Result<std::vector<GroupInfo>> groups(const std::string& topic) override;
  Status reset_group(const std::string& topic, const std::string& group, GroupReset to) override;
  Status delete_group(const std::string& topic, const std::string& group) override;
  // Deletes the topic with its files and groups (store.h). Handles other processes sharing the
  // data dir hold are not told: delete a topic through the process that serves it.
  Status delete_topic(const std::string& topic) override;
  // Replaces the topic's retention (store.h, docs/retention.md) and applies it to its buckets at
  // once. A process that shares the data dir and writes the topic keeps the limits it opened
  // with until it reopens it: alter through the process that serves the topic.
  Status alter_topic(const std::string& topic, const Retention& retention) override;
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
