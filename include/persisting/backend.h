// StorageBackend: the seed's storage protocol, one instance per bucket.
//
// A backend stores one bucket's append-only log of records with dense offsets 0, 1, 2, ...
// Records cross this interface encoded (RecordBatch, persisting/codec.h), so the bytes a producer
// encoded once are the bytes the buffer, the WAL and the network carry.
//
// Threading: built-in backends are thread-safe. The runtime (BucketStorage) still calls a backend
// from one actor at a time and never uses get_wait(): it parks waiting readers itself, with no
// thread per waiter. get_wait() is for programs that use a backend directly.
//
// Backends are created by name from the BackendRegistry with an Options map; each backend rejects
// unknown option keys and bad values. Out-of-tree backends come from plugins (see plugin ABI below).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "persisting/bucket_stats.h"
#include "persisting/codec.h"
#include "persisting/env.h"
#include "persisting/log.h"
#include "persisting/options.h"
#include "persisting/scheduler.h"
#include "persisting/status.h"
#include "persisting/tail_cache.h"
#include "persisting/types.h"
#include "persisting/value.h"

namespace persisting {

// A topic's retention limits per bucket (docs/retention.md), shared by the topic's open buckets
// and changed in place when the topic is altered. 0 = no limit. Backends built on Lance
// fragments (lance, persisting) remove whole sealed fragments past the limits; others ignore it.
class RetentionLimits {
 public:
  // Interest (retention_policy=interest): the smallest offset every consumer group of the topic
  // has committed in the bucket (a group without a commit there counts as 0); nullopt when the
  // topic has no group. An error keeps everything (and is the bucket's last_retention_error).
  // Called on flush and background paths, never per put; it may block on file reads.
  using InterestFloor = std::function<Result<std::optional<uint64_t>>(BucketId)>;

  RetentionLimits(uint64_t records = 0, uint64_t bytes = 0, uint64_t ms = 0) : records_(records), bytes_(bytes), ms_(ms) {}
  void set(uint64_t records, uint64_t bytes, uint64_t ms = 0) {
    records_.store(records, std::memory_order_relaxed);
    bytes_.store(bytes, std::memory_order_relaxed);
    ms_.store(ms, std::memory_order_relaxed);
  }
  uint64_t records() const { return records_.load(std::memory_order_relaxed); }
  uint64_t bytes() const { return bytes_.load(std::memory_order_relaxed); }
  // Age: a fragment whose newest record was appended more than ms milliseconds ago goes.
  uint64_t ms() const { return ms_.load(std::memory_order_relaxed); }
  // Whether the topic's policy is interest (store.h, RetentionPolicy).
  void set_interest(bool on) { interest_.store(on, std::memory_order_relaxed); }
  bool interest() const { return interest_.load(std::memory_order_relaxed); }
  // Where the interest floor comes from: set once by the owner (the queue layer) before the
  // limits are shared with any bucket. Without it, interest keeps everything.
  void set_interest_floor(InterestFloor floor) { floor_ = std::move(floor); }
  Result<std::optional<uint64_t>> interest_floor(BucketId bucket) const {
    if (!floor_) return FailedPrecondition("retention_policy=interest: no consumer group source for this bucket");
    return floor_(bucket);
  }
  bool limits() const { return records() > 0 || bytes() > 0 || ms() > 0; }
  bool any() const { return limits() || interest(); }

 private:
  std::atomic<uint64_t> records_;
  std::atomic<uint64_t> bytes_;
  std::atomic<uint64_t> ms_;
  std::atomic<bool> interest_{false};
  InterestFloor floor_;
};

// Where a backend instance lives and what it serves.
struct BackendContext {
  std::string topic;
  BucketId bucket{0};
  // <data_dir>/<topic>/bucket_<b>; empty for an in-memory queue with no data dir.
  std::string bucket_dir;
  // The data dir the bucket belongs to: its durable buckets share one write-ahead log there
  // (<data_dir>/.wal). Empty: a bucket built on its own (a test, a tool) keeps its log in
  // <bucket_dir>/log.
  std::string data_dir;
  // The topic's incarnation (a topic deleted and created again is a new one): names the bucket's
  // records in the shared log, so a new incarnation never gets an old one's.
  uint64_t incarnation = 0;
  // Records buffered before a flush (the Queue API's batch_size).
  uint32_t batch_size = 100;
  Env* env = nullptr;  // never null when given to a factory
  // Only check the options (BackendRegistry::validate_options): the factory returns the error
  // naming a bad or unknown option, or OK with any backend or none (it is discarded), and must
  // touch no file. bucket_dir is empty then.
  bool validate_only = false;
  // Open to read: take nothing a writer needs (no writer lock, no WAL kept open); the first put
  // makes the backend the bucket's writer. Without it a durable backend becomes the writer at
  // open when no other process is.
  bool read_only = false;
  // Where background failures and recovery warnings go (include/persisting/log.h); never null
  // when given to a factory.
  Logger* logger = nullptr;
  // Where the backend runs its timed background work (flushes, the WAL's interval syncs and
  // writebacks): include/persisting/scheduler.h. null: Scheduler::Default(). Work a put waits
  // for (group commit) always runs on Scheduler::Default().
  Scheduler* scheduler = nullptr;
  // Where durable backends keep recently flushed records readable from memory, under one budget
  // for every bucket (include/persisting/tail_cache.h). null: TailCache::Default().
  TailCache* tail_cache = nullptr;
  // The topic's retention limits (null: keep everything). A writer applies them after each
  // flush, when it becomes the bucket's writer, and when asked (a flush with nothing to flush,
  // as a topic alter and the periodic flush do).
  std::shared_ptr<const RetentionLimits> retention;
};

class StorageBackend {
 public:
  virtual ~StorageBackend() = default;

  // Registry name of this backend ("memory").
  virtual std::string name() const = 0;

  // Appends every record of batch, all or nothing, and returns the offset of the first one.
  virtual Result<Offset> put_batch(const RecordBatch& batch) = 0;
  // Appends one record; returns its offset.
  Result<Offset> put(const Record& record);
  // Asynchronous append for backends whose acknowledgement waits on slow I/O (an fsync): it
  // starts the append and returns; done(first offset or error) runs once, possibly later and on
  // another thread. Records are visible to get() by the time done is called (the runtime then
  // wakes parked readers and stops taking the bucket for caught up: known_empty_at). The runtime
  // uses this form so a bucket's actor keeps taking puts while a sync is in flight, and
  // concurrent puts can share one sync. The default calls put_batch() and done() at once. The
  // batch is the backend's (a log that keeps it until its write takes it without a copy).
  virtual void put_batch_async(RecordBatch batch, std::function<void(Result<Offset>)> done);
  // Whether put_batch(batch) would accept every record as the bucket stands now (types against
  // its schema and buffered records, room in its buffer, ...), appending nothing. A writer whose
  // batch spans several buckets checks every bucket's part first, so a refused batch changes no
  // bucket. numbers (one per record) is how errors name the records: the writer passes their
  // positions in its own batch. The default accepts everything (put_batch still refuses, all
  // or nothing for its bucket).
  virtual Status check_batch(const RecordBatch& batch, const std::vector<uint64_t>& numbers);
  // Whether check_batch can refuse anything (false for the default): a writer skips the check
  // round for buckets whose backend would accept everything. A backend that checks must accept
  // again records of a shape (top-level field names, scalar value types, vector sizes) it has
  // accepted before (types only widen): a writer skips the check for a part whose records all
  // have the shape its bucket last accepted.
  virtual bool checks_batches() const { return false; }

  // Up to limit records starting at offset: record i of the batch is at offset + i. Empty when
  // offset >= total_count(). An entry of zero bytes is a gap: an offset with no record (a row
  // LanceDB deleted from a Lance dataset, docs/lance-format.md §10). No encoded record is
  // empty, so a gap is unambiguous; readers skip gaps and the offsets after them stay as they
  // are. A backend may return gaps beyond limit (they carry no record).
  virtual Result<RecordBatch> get(Offset offset, size_t limit) = 0;
  // Like get(), but when nothing is at offset yet, blocks the calling thread until a put brings
  // data or timeout passes (then returns an empty batch).
  Result<RecordBatch> get_wait(Offset offset, size_t limit, std::chrono::milliseconds timeout);

  // The first offset whose record was appended at or after time_ms (milliseconds since the Unix
  // epoch; RecordBatch::time), or total_count() when no record is that recent. Records read back
  // with time 0 (unknown) count as recent enough. The built-in backends answer exactly from
  // memory, and per fragment from Lance (the first fragment whose newest record is recent
  // enough: docs/records.md, "Append time"). The default scans get() from the first offset.
  virtual Result<Offset> offset_for_time(int64_t time_ms);

  // Makes buffered records durable per the backend's promise (no-op for memory).
  virtual Status flush() = 0;
  // What the bucket reports (persisting/bucket_stats.h): at least backend and total_count.
  virtual BucketStats stats() const = 0;
  // Number of records ever appended (the next offset).
  virtual uint64_t total_count() const = 0;
  // The first offset still readable (retention removed those below it; BucketStats::first_offset).
  virtual uint64_t first_offset() const { return 0; }
  // Whether records outlive the process (false for memory).
  virtual bool durable() const = 0;
  // Whether acknowledged records not flushed yet outlive this backend without a flush (they are
  // in a log that the next open replays): a clean close may then skip the flush. Default: false
  // (a clean close flushes).
  virtual bool log_holds_unflushed() const { return false; }
  // The bucket is being deleted (its topic is): drop what is not flushed instead of keeping it
  // for a later open. Called once, right before the backend is destroyed. Default: nothing.
  virtual void discard() {}
  // Whether total_count() grows only through this object's puts, not also by reading what
  // another process wrote (a bucket opened to read that reloads its dataset). When true, the
  // runtime lets a reader that read the bucket to its end skip it until a put completes
  // (BucketStorage::known_empty_at). Default: false, which is always correct.
  virtual bool end_moves_only_by_puts() const { return false; }

 protected:
  // Implementations call this after every successful append to wake get_wait() callers.
  void notify_appended();

 private:
  std::mutex wait_mu_;
  std::condition_variable wait_cv_;
  // get_wait() callers parked or about to be: notify_appended() takes wait_mu_ only when some are.
  std::atomic<int> get_waiters_{0};
};

using BackendFactory = std::function<Result<std::unique_ptr<StorageBackend>>(
    const BackendContext& ctx, const Options& options)>;

// Name -> factory. The process has one global registry with the built-in backends registered.
class BackendRegistry {
 public:
  static BackendRegistry& global();

  // Adds a backend; AlreadyExists if the name is taken. Names: [a-z0-9_-]{1,64}.
  Status register_backend(const std::string& name, BackendFactory factory, bool durable);
  // Creates a backend; NotFound for an unknown name (the message lists the known ones).
  Result<std::unique_ptr<StorageBackend>> create(const std::string& name, const BackendContext& ctx,
                                                 const Options& options) const;
  // Checks options for the named backend without creating anything (BackendContext::
  // validate_only): a topic is created only with options its backend accepts.
  Status validate_options(const std::string& name, const Options& options) const;
  bool contains(const std::string& name) const;
  // Whether the named backend's records outlive the process. NotFound for unknown names.
  Result<bool> is_durable(const std::string& name) const;
  std::vector<std::string> names() const;

  // Loads a shared library that registers backends (see the plugin ABI below).
  Status load_plugin(const std::string& path);

 private:
  struct Entry {
    BackendFactory factory;
    bool durable;
  };
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;
};

// Plugin ABI. A plugin is a shared library, built against these headers with the same compiler,
// that exports two C functions:
//   extern "C" int persisting_plugin_abi_version();   // must return kPluginAbiVersion
//   extern "C" int persisting_plugin_register(persisting::BackendRegistry* registry,
//                                             char* error, size_t error_size);  // 0 = ok
// The host program must export its symbols (-rdynamic / CMake ENABLE_EXPORTS).
// 2: StorageBackend::check_batch; 3: BucketStats; 4: BackendContext data_dir, incarnation and
// retention, StorageBackend::discard, BucketStats::first_offset; 5: StorageBackend::
// offset_for_time, RetentionLimits::ms, RecordBatch append times; 6: RetentionLimits interest;
// 7: StorageBackend::end_moves_only_by_puts; 8: StorageBackend's get_wait() waiter count,
// put_batch_async takes its batch by value.
inline constexpr int kPluginAbiVersion = 8;

}  // namespace persisting
