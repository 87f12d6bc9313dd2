// BufferedDataset: a bucket's records as a Lance dataset plus an in-memory buffer of the records
// not yet flushed to it. Offsets [first, persisted) are dataset rows (row r is offset first + r),
// [persisted, total) the buffer; a flush moves a prefix of the buffer into one new fragment and
// no offset changes. The lance and persisting backends are built on it (they differ in what
// makes a put durable).
//
// Retention (docs/retention.md): with the topic's limits set, whole fragments at the front past
// them are removed in one Lance commit that also raises `first` (kept in the manifest's
// table_metadata, so it survives restarts and moves atomically with the removal). It runs after
// each flush (in write_flush, outside the owner's mutex) and in enforce_retention(). Reads below
// `first` are OutOfRange naming it.
//
// Compaction (docs/compaction.md, maintenance.h) runs in write_flush after retention: small
// fragments merge once compaction_min_fragments of them could. Old versions are cleaned up after
// the flush completes (clean_up), at most once a minute (every flush with version_retention 0).
// The reader handle pins its version, so cleanup never removes what it reads; a read that still finds a file gone
// (another process cleaned up a version this one held longer than version_retention) reloads
// the dataset and reads again: rows never change, only the files that hold them.
//
// Types are checked before records enter the buffer (check_types), against the dataset's schema
// and the buffered records, so a flush never fails on types.
//
// Threading: every method except write_flush() must be called under the owner's mutex (the
// owning backend serialises them). A flush runs in three steps so the slow middle one can run
// without that mutex, while puts and reads go on:
//   job = begin_flush();        // owner's mutex held: which records, copied
//   s = write_flush(&job);      // no mutex: writes and commits one fragment
//   finish_flush(job, s);       // owner's mutex held: the records leave the buffer
// Two dataset handles make that safe: the writer handle is only used by write_flush (one flush at
// a time: the caller serialises flushes), the reader handle only under the owner's mutex; it is
// reloaded after each commit.
//
// The tail: the records of recent flushes stay readable from memory, as put (the bytes the
// buffer held), in blocks of the node-wide TailCache (include/persisting/tail_cache.h), so a read
// of recent records hands out a view of them and decodes no Lance page. The cache drops the
// oldest blocks of all buckets first when its budget is exceeded; offsets below the tail are read
// from Lance (through the read window). A flush that changes the dataset's fields (a new field, a
// widened column) drops the bucket's tail, as it drops the window: Lance now answers in the new
// types.
#pragma once

#include <algorithm>
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "backend/maintenance.h"
#include "backend/record_shape.h"
#include "core/status_macros.h"
#include "persisting/backend.h"
#include "persisting/tail_cache.h"
#include "storage/lance/dataset.h"
#include "storage/lance/schema_evolution.h"

namespace persisting {

class BufferedDataset {
 public:
  // Opens (or prepares to create) <bucket_dir>/data.lance. Options taken from reader:
  // compression (none|zstd|lz4), sync (bool) and max_buffered_bytes (bytes, 1G, at most 2G).
  // With ctx.validate_only: checks them and returns null, touching no file.
  // The tail goes to ctx.tail_cache (null: TailCache::Default()).
  static Result<std::unique_ptr<BufferedDataset>> open(const BackendContext& ctx, OptionReader& reader);
  ~BufferedDataset();  // the tail leaves the cache
  // The flush_interval option of both owners (seconds, 10; 0 = off, given as 0 ms): records that
  // wait are flushed at least this often, so a quiet topic's records still reach Lance.
  static Result<std::chrono::milliseconds> flush_interval_option(OptionReader& reader);

  // A put's checks: check_room, then check_types. Recovery's replay calls check_types alone.
  Status admit(const RecordBatch& batch) {
    RETURN_IF_ERROR(check_room(batch));
    return check_types(batch);
  }
  // ResourceExhausted when batch would take the records waiting for Lance past
  // max_buffered_bytes (flushes failing, or not keeping up): puts are refused rather than let the
  // buffer grow without bound.
  Status check_room(const RecordBatch& batch) const;
  // InvalidArgument naming the field and both types when rows cannot join the dataset and
  // buffer; on success their types are remembered as buffered (unless remember is false).
  // numbers (one per record, optional) is how errors name the records.
  Status check_types(const RecordBatch& batch, const std::vector<uint64_t>* numbers = nullptr,
                     bool remember = true);
  // Whether admit(batch) would pass now, remembering nothing (a put's all-or-nothing check across
  // buckets: StorageBackend::check_batch).
  Status check(const RecordBatch& batch, const std::vector<uint64_t>& numbers) {
    RETURN_IF_ERROR(check_room(batch));
    return check_types(batch, &numbers, /*remember=*/false);
  }
  // Appends already-checked records to the buffer. Records without an append time (the batch
  // did not come through the node log, which stamps its groups) get the clock's time now, never
  // behind the bucket's latest.
  void buffer(const RecordBatch& batch) {
    if (buffer_.empty() && last_flush_bytes_ > 0) {
      buffer_.reserve(0, std::min(reserve_bytes_, last_flush_bytes_ + last_flush_bytes_ / 4));
    } else if (const uint64_t need = buffer_.byte_size() + batch.byte_size();
               need > buffer_.byte_capacity() && need > kBusyBuffer && need < reserve_bytes_) {
      buffer_.reserve(0, reserve_bytes_);
    }
    const size_t from = buffer_.size();
    buffer_.append(batch);
    stamp(from, batch);
  }
  // The most a buffer reserves (the owner's flush size, capped at kMaxReserve). A fresh buffer
  // reserves a quarter more than the last flush took, so a busy bucket's buffer does not copy
  // itself each time it doubles, and a bucket that took a few records (one of thousands)
  // reserves no more than those. A bucket's first buffer has no flush to go by: it grows by
  // doubling up to kBusyBuffer, and a buffer that outgrows that reserves the most at once,
  // instead of doubling (copying itself into fresh pages) five more times. The reservation costs
  // memory only where records land (RecordBatch::reserve advises huge pages for it).
  void set_buffer_reserve(uint64_t bytes) { reserve_bytes_ = std::min<uint64_t>(bytes, kMaxReserve); }
  static constexpr uint64_t kMaxReserve = 64 << 20;
  static constexpr uint64_t kBusyBuffer = 1 << 20;
  void buffer_encoded(std::string_view record) {
    buffer_.add_encoded(record);
    stamp(buffer_.size() - 1, RecordBatch());
  }
  // The latest append time of the bucket's records so far (0: none yet).
  int64_t last_time() const { return last_time_; }

  // Up to limit records from offset, from the dataset and then the buffer. A reader that does not
  // write the bucket (another process does) passes reader_only: a read reaching past what it
  // knows first reloads the dataset to pick up commits made since.
  //
  // Dataset rows are read through a window: a read from Lance takes at least kWindowRows rows
  // and keeps them encoded, so a consumer reading a flushed fragment 100 rows at a time decodes
  // its pages (whole columns, often the whole fragment) once per window instead of once per get.
  // Rows are immutable, so the window stays valid until the schema changes (a widened column
  // gets a new field id and reads back as double).
  //
  // A row LanceDB deleted is a gap: an empty entry (StorageBackend::get), which does not count
  // toward limit (up to kMaxGapsPerGet of them per get).
  Result<RecordBatch> get(uint64_t offset, size_t limit, bool reader_only = false);
  static constexpr uint64_t kWindowRows = 16384;
  static constexpr size_t kMaxGapsPerGet = 65536;
  static constexpr uint64_t kMaxWindowBytes = 64 << 20;  // a larger read is served, not kept
  // A flush smaller than this is kept in the tail as a copy of its own size (FlushJob::tail).
  static constexpr uint64_t kCompactTailBytes = 1 << 20;

  struct FlushJob {
    std::shared_ptr<const RecordBatch> records;  // the records being flushed (none: nothing to do)
    double seconds = 0;                          // how long write_flush took
    // What the tail keeps once the flush commits: the records, or for a small flush (the
    // periodic one of a quiet bucket, in a buffer reserved for a large one) a copy of its own
    // size, made by write_flush outside the owner's mutex.
    std::shared_ptr<const RecordBatch> tail;
    Status retention;  // write_flush's retention commit after the append (kept for stats)
    Status maintenance;  // write_flush's compaction, then clean_up's cleanup (kept for stats)
    MaintenanceReport maintained;
    bool cleanup_due = false;  // write_flush decided that clean_up cleans old versions
    size_t size() const { return records ? records->size() : 0; }
  };
  // Moves the buffered records into the job (no copy); they stay readable, and later puts go to
  // a fresh buffer. Empty while another job is in flight.
  FlushJob begin_flush();
  // Writes job's records as one fragment and commits it. Needs no lock; one at a time.
  Status write_flush(FlushJob* job);
  // Completes a flush: on success the job's records leave the buffer (persisted grows by as
  // many); on failure the buffer stays, the error is kept for stats, and retry_due() turns false
  // for a back-off period. Returns s with context on failure.
  Status finish_flush(const FlushJob& job, Status s);
  // After finish_flush, once the reader handle holds the flush's version: cleans up old versions
  // when write_flush found it due, so the versions before the flush (and the files only they
  // list, such as a fragment retention removed) go now rather than at the next flush, which
  // they would otherwise outlive while the reader pinned them. Needs no lock (the writer handle,
  // one flush at a time); note_clean_up then records the outcome under the owner's mutex.
  void clean_up(FlushJob* job);
  void note_clean_up(const FlushJob& job);
  // All the steps in one call (the owner's mutex held throughout).
  Status flush();
  // Whether an automatic flush may be tried now (no recent failure).
  bool retry_due() const { return std::chrono::steady_clock::now() >= retry_after_; }
  // Reloads the dataset's latest version (commits by another process). Recovered records (below)
  // that the dataset now holds leave the buffer.
  Status refresh();
  // A reader's copy of what a dead writer left in the node log for this bucket (runs of
  // consecutive offsets, in order; those below persisted() are in the dataset already): the
  // rest join the buffer, readable after the dataset's rows as a writer's buffered records are,
  // and count in total(). Replaces what an earlier call held. Corruption naming `what` and the
  // offsets when they do not continue from persisted() (records missing, or offsets twice);
  // nothing is held then. For an owner that does not write the bucket: it never flushes them
  // (the next writer recovers the log and flushes them itself). FailedPrecondition when the
  // buffer holds records of its own. owner (optional) keeps runs alive and unchanged: the
  // buffer then views a run's bytes instead of copying them.
  Status hold_recovered(const std::vector<std::pair<Offset, RecordBatch>>& runs, const std::string& what,
                        std::shared_ptr<const void> owner = nullptr);
  // Forgets them (the owner becomes the writer, whose attach replays the log).
  void drop_recovered();
  bool holds_recovered() const { return recovered_; }
  // Applies the retention limits now (the bucket became the writer, the topic was altered, a
  // periodic look at a quiet bucket). Owner's mutex held; does nothing while a flush is in flight
  // (its write_flush applies them) or without limits.
  Status enforce_retention();
  bool has_retention() const { return retention_ && retention_->any(); }
  // With an age limit (retention_ms): how long until a quiet bucket should look again, so that
  // its oldest fragment goes soon after it expires (the owner's periodic task on the scheduler,
  // docs/retention.md); with retention_policy=interest at most kInterestLook (groups commit
  // while no puts come); nullopt otherwise. Owner's mutex held.
  std::optional<std::chrono::milliseconds> next_age_look() const;
  static constexpr std::chrono::milliseconds kInterestLook{10'000};
  // StorageBackend::offset_for_time: per fragment for the dataset (the first fragment whose
  // newest time is at or after time_ms, or whose times are unknown, from its first row),
  // exactly for the records not flushed yet. Owner's mutex held.
  uint64_t offset_for_time(int64_t time_ms) const;
  // The first offset still readable (retention removed those below it).
  uint64_t first_offset() const { return first_; }

  uint64_t persisted() const { return persisted_; }
  // Records not in the dataset yet: in a flush in flight, then in the buffer.
  uint64_t buffered() const { return flushing_size() + buffer_.size(); }
  // Records (and their encoded bytes) no flush has taken yet: what an automatic flush would write.
  uint64_t waiting() const { return buffer_.size(); }
  uint64_t waiting_bytes() const { return buffer_.byte_size(); }
  uint64_t total() const { return persisted_ + buffered(); }
  const std::string& path() const { return reader_->path(); }
  // Sets total_count, durable and buffer; version, fragments, dataset, read_window_fills (reads of
  // Lance), deleted_rows (rows LanceDB deleted: gaps), tail_records (how many flushed records
  // memory serves now) and tail_reads (gets served from the tail) go in extra.
  void add_stats(BucketStats* s) const;

 private:
  BufferedDataset(std::unique_ptr<lance::LanceDataset> reader, std::unique_ptr<lance::LanceDataset> writer,
                  TailCache* tail_cache, std::shared_ptr<const RetentionLimits> retention);
  // Removes the fragments past the limits through the writer handle (no lock; flushes only);
  // answers how many rows went.
  Result<uint64_t> apply_retention();
  // After the reader handle reloaded: first_ and persisted_ from its snapshot.
  void take_reader_bounds();
  // The dataset's field ids now.
  std::vector<int32_t> field_ids() const;
  // Keeps a flush's records [first, first + records.size()) as the newest tail block.
  void keep_tail(uint64_t first, std::shared_ptr<const RecordBatch> records);
  void drop_tail();
  // LanceDB deleted rows since the tail and window were filled: both may hold them as records.
  void forget_deleted();
  // Forgets evicted blocks at the front of tail_ (the cache evicts a bucket's oldest first).
  void trim_tail();
  // Appends to *out the tail's records from *off (below persisted_), up to *limit, moving both
  // on; false when *off is not in the tail (below it, or evicted meanwhile).
  bool read_tail(uint64_t* off, size_t* limit, RecordBatch* out);
  // buffer_'s records from `from` on came from batch: their times, or now for a batch without.
  void stamp(size_t from, const RecordBatch& batch) {
    if (batch.has_times()) {
      last_time_ = std::max(last_time_, batch.max_time());
      return;
    }
    last_time_ = std::max(last_time_, clock_->wall_ms());
    for (size_t i = from; i < buffer_.size(); ++i) buffer_.set_time(i, last_time_);
  }
  // Gives the records of read (dataset rows from `row` on) their fragments' times.
  void stamp_from_fragments(uint64_t row, RecordBatch* read) const;
  // Whether the window was read under the dataset's current field ids (no allocation).
  bool window_schema_current() const;
  // out + the buffered records from off (off >= persisted_), up to limit.
  RecordBatch get_buffered(uint64_t off, size_t limit, RecordBatch out) const;

  std::unique_ptr<lance::LanceDataset> reader_;  // owner's mutex
  std::unique_ptr<lance::LanceDataset> writer_;  // write_flush only
  uint64_t first_ = 0;  // dataset row 0's offset (owner's mutex)
  const Scheduler* clock_ = Scheduler::Default();  // append times (wall_ms)
  int64_t last_time_ = 0;  // the latest append time buffered (owner's mutex)
  uint64_t persisted_ = 0;
  std::shared_ptr<const RetentionLimits> retention_;  // null: keep everything
  BucketId bucket_{0};                                 // which bucket the interest floor is asked for
  Status last_retention_error_;
  MaintenanceOptions maintenance_;
  std::chrono::steady_clock::time_point last_cleanup_{};  // write_flush only
  Status last_maintenance_error_;
  uint64_t compactions_ = 0;
  uint64_t fragments_compacted_ = 0;
  uint64_t versions_cleaned_ = 0;
  uint64_t files_cleaned_ = 0;
  // Compaction through the writer handle after a flush's append; decides whether the cleanup
  // after it (clean_up) is due.
  Status maintain(FlushJob* job);
  // Whether old versions are due for cleanup (at most once a minute, or version_retention).
  bool cleanup_due() const;
  // OutOfRange for a read at off below first_.
  Status below_first(uint64_t off) const;
  uint64_t max_buffered_bytes_ = 1ull << 30;
  uint64_t flushing_size() const { return flushing_ ? flushing_->size() : 0; }
  // Offsets [persisted_, persisted_ + flushing_size()) are in flushing_ (a flush in flight),
  // the rest of [persisted_, total()) in buffer_.
  std::shared_ptr<const RecordBatch> flushing_;
  RecordBatch buffer_;
  bool recovered_ = false;  // buffer_ holds a reader's recovered records (hold_recovered)
  uint64_t reserve_bytes_ = 0;
  uint64_t last_flush_bytes_ = 0;  // bytes the last begin_flush took
  std::vector<lance::BatchField> buffer_fields_;  // types of flushing_ and buffer_
  // The one record shape (field names, kinds and vector sizes, in order) of the last batch
  // check_types took in whole, and the dataset version it was checked against: a batch whose
  // records all have it passes without its types inferred again (they are known to fit the
  // dataset and buffer_fields_ holds them), while the version stays and buffer_fields_ is not
  // forgotten. Only for a dataset without narrower integer columns (their check reads values).
  // A put spread over many buckets is a record or two per bucket, and inferring its fields was
  // most of the cost of the put in each bucket. Null: none known.
  std::shared_ptr<const RecordShape> known_shape_;
  uint64_t known_version_ = 0;
  // Whether every record of batch has known_shape_ (and it still holds).
  bool has_known_shape(const RecordBatch& batch);
  // After check_types took batch in whole: its records' one shape becomes known_shape_ (none
  // unless one_shape: they all have the same).
  void remember_shape(const RecordBatch& batch, bool one_shape);
  void forget_buffer_fields() {
    buffer_fields_.clear();
    known_shape_.reset();
  }
  // Dataset rows [window_first_, window_first_ + window_.size()), read under the schema whose
  // field ids are window_fields_. Owner's mutex.
  uint64_t window_first_ = 0;
  RecordBatch window_;
  std::vector<int32_t> window_fields_;
  size_t window_gaps_ = 0;  // empty entries (deleted rows) in window_
  uint64_t window_fills_ = 0;
  // The tail: blocks of consecutive offsets, oldest first, ending at persisted_ (owner's mutex;
  // the cache may empty a block at any time, oldest first).
  TailCache* tail_cache_;
  std::deque<std::shared_ptr<TailCache::Block>> tail_;
  uint64_t tail_reads_ = 0;
  uint64_t flush_count_ = 0;
  double last_flush_seconds_ = 0;
  Status last_flush_error_;
  std::chrono::steady_clock::time_point retry_after_{};
};

}  // namespace persisting
