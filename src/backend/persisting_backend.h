// The `persisting` backend: WAL -> buffer -> Lance (the seed's PersistingBackend, with its WAL
// done for real). Per bucket: <bucket_dir>/wal/ (segments, checkpoint) and
// <bucket_dir>/data.lance (the dataset LanceDB opens).
//
// A put is acknowledged once its records are in the WAL, synced per wal_sync_mode:
//   always    fdatasync before the ack; concurrent puts share one sync (group commit, below);
//   interval  write() before the ack, fdatasync at least every wal_sync_interval seconds;
//   os        write() before the ack, the kernel syncs when it likes.
// Acknowledged records are then visible (buffer) and later flushed to Lance (flush_threshold
// records, or flush()); after a successful flush the WAL is checkpointed at the persisted
// count and segments wholly below it are deleted. Automatic flushes run as a background task on
// the bucket's Scheduler (no thread per bucket) and write the fragment without holding the
// backend's lock, so puts and reads go on meanwhile.
//
// Group commit (always): the bucket actor hands each put to put_batch_async, which queues it and
// returns at once; the appender (a background task, run by the first queued put) takes every
// queued put, writes them to the WAL as one
// frame (one write, one sync) and acknowledges them all. While it syncs, new puts queue up and
// form the next group, so throughput follows the number of concurrent writers, not the fsync rate.
// When recent groups held several writers' puts, the appender waits for as many before writing
// (at most the last round's duration and wal_group_wait_us), so one sync serves them all instead
// of a group of one that makes the others wait a whole round.
// Under interval and os nothing waits on the put's path, so the put is written to the WAL right
// in the actor's message and answered at once.
//
// One process writes a bucket: the one holding <bucket_dir>/writer.lock. A backend opened to
// write (the default) takes it at open; one opened to read (BackendContext::read_only: the
// embedded Queue's readers and stats) does not, and becomes the writer at its first put (which
// waits a little for the lock). A process that does not hold the lock reads what the writer has
// flushed to Lance, reloading the dataset when a read reaches its end. A read-only open that
// finds no writer but a WAL recovers it, flushes the recovered records to Lance and lets the lock
// go, so what a killed writer acknowledged is readable at once.
//
// Recovery on open: the dataset's row count P is read first; WAL records below P (flushed but
// not yet checkpointed when the process died) are skipped, the rest are replayed into the
// buffer with their offsets. A WAL damaged before its tail (policy tolerate_tail) leaves the
// bucket readable up to the damage and refuses puts with the corruption error. Recovery that
// gives up acknowledged records (not a torn tail) is loud: a warning on stderr, a copy of the
// damaged segment in wal/damaged/, and "recovery" in stats until an operator deletes
// wal/damaged/recovery.json (wal_damage_record.h, docs/wal-format.md "Recovery reports").
//
// Options: enable_wal (true), wal_sync_mode (always|interval|os), wal_sync_interval (seconds,
// 1.0; 0 means always), max_wal_size (segment size, 100M), wal_recovery (tolerate_tail|absolute|
// point_in_time), flush_threshold (records; default the topic's batch_size but at least 10,000,
// since the WAL already holds unflushed records durably), compression
// (none|zstd|lz4), sync (fsync Lance commits, true), enable_metrics (true: put counters and
// group sizes in stats), wal_group_wait_us (1000; 0: the appender never waits for writers).
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "backend/buffered_dataset.h"
#include "core/background_errors.h"
#include "core/background_task.h"
#include "persisting/backend.h"
#include "storage/wal/wal.h"

namespace persisting {

class PersistingBackend final : public StorageBackend {
 public:
  static Result<std::unique_ptr<StorageBackend>> create(const BackendContext& ctx, const Options& options);
  ~PersistingBackend() override;

  std::string name() const override { return "persisting"; }
  Result<Offset> put_batch(const RecordBatch& batch) override;
  void put_batch_async(const RecordBatch& batch, std::function<void(Result<Offset>)> done) override;
  Status check_batch(const RecordBatch& batch, const std::vector<uint64_t>& numbers) override;
  bool checks_batches() const override { return true; }
  Result<RecordBatch> get(Offset offset, size_t limit) override;
  Status flush() override;
  BucketStats stats() const override;
  uint64_t total_count() const override;
  bool durable() const override { return true; }

 private:
  struct Pending {
    RecordBatch batch;
    std::function<void(Result<Offset>)> done;
  };

  PersistingBackend(const BackendContext& ctx, std::unique_ptr<BufferedDataset> data, uint64_t flush_threshold,
                    uint64_t flush_bytes, bool metrics);
  Status open_wal(const wal::WalOptions& options);
  // Takes <bucket_dir>/writer.lock, trying again for up to patience while another process
  // holds it (FailedPrecondition after that).
  Status take_writer_lock(std::chrono::milliseconds patience);
  // Makes this process the bucket's writer: the lock, the dataset reloaded, the WAL opened (its
  // records recovered), the flusher and appender started. On failure it stays a reader.
  Status become_writer(std::chrono::milliseconds patience);
  void start_writer_threads();
  // A read-only open (BackendContext::read_only) that finds no writer: makes what a dead writer
  // left in its WAL visible (recovers it, flushes it to Lance) and lets go of the lock again.
  Status recover_unowned();
  // The writer lock (taken now by a process that opened the bucket to read) and a healthy WAL:
  // what both a put and its check need first.
  Status ready_to_write();
  // Type checks and the writer lock; run before a put is queued or written.
  Status admit(const RecordBatch& batch);
  // appender_'s body: writes queued puts to the WAL in groups until the queue is empty.
  void append_groups();
  // flusher_'s body: flushes when records wait and no back-off is on.
  void flush_in_background();
  // Asks the flusher for a flush when the buffer has reached the threshold, or for the periodic
  // one flush_interval from now (mu_ held).
  void maybe_request_flush();
  // Flushes what is buffered now (flush_mu_ held, mu_ not) and checkpoints the WAL: always for
  // an explicit flush(); for the flusher's own flushes only when that deletes a segment, since
  // each checkpoint costs a file creation and two fsyncs, and recovery skips the records Lance
  // holds whether or not the checkpoint says so.
  Status flush_once(bool explicit_flush);

  Env* env_;
  std::string bucket_dir_;
  Logger* logger_;
  // The flusher's flushes and the WAL's background work: logged once, shown in stats.
  BackgroundErrors bg_;
  uint64_t flush_threshold_;  // records
  uint64_t flush_bytes_;      // encoded bytes
  std::chrono::milliseconds flush_interval_{0};  // 0: no periodic flush
  bool periodic_armed_ = false;  // mu_: the flusher is asked to run flush_interval_ after a put
  bool metrics_;
  Scheduler* scheduler_;

  mutable std::mutex mu_;                 // data_, wal_ checkpointing, counters
  std::unique_ptr<BufferedDataset> data_;
  std::unique_ptr<wal::Wal> wal_;         // null when enable_wal=false
  bool group_commit_ = false;             // puts go through the appender (wal_sync_mode=always)
  std::unique_ptr<FileLock> writer_lock_;  // held while this process writes the bucket
  bool enable_wal_ = true;
  wal::WalOptions wal_options_;           // for the WAL opened when this process becomes the writer
  wal::RecoveryReport recovery_;

  // The appender: puts waiting to be written to the WAL as one group.
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<Pending> queue_;
  bool appending_ = false;  // the appender is started and has not found queue_ empty since
  bool stopping_ = false;
  // Group sizing (appender thread only).
  std::chrono::microseconds group_wait_cap_{1000};
  std::chrono::steady_clock::duration last_round_{};  // the last group's WAL write + sync
  size_t group_max_ = 0, prev_group_max_ = 0, rounds_in_window_ = 0;

  // One flush at a time (explicit or the flusher's).
  std::mutex flush_mu_;

  // Background work, no thread of its own: the flusher (threshold and periodic flushes) on the
  // bucket's Scheduler (BackendContext::scheduler), and with group commit the appender on
  // Scheduler::Default(). Last, so they are stopped (in the destructor) before anything they
  // use goes.
  BackgroundTask flusher_;
  BackgroundTask appender_;

  // Metrics (enable_metrics).
  uint64_t puts_ = 0, records_ = 0, groups_ = 0, group_waits_ = 0;
  double last_group_append_s_ = 0;
};

}  // namespace persisting
