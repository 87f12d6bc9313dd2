// The `persisting` backend: WAL -> buffer -> Lance (the seed's PersistingBackend, with its WAL
// done for real). Per bucket: <bucket_dir>/data.lance (the dataset LanceDB opens); the records
// not yet in Lance are in the data dir's node log, <data_dir>/.wal (backend/node_log_host.h,
// docs/wal-format.md "The node log"), shared by every durable bucket of the data dir: the bucket
// is one stream of it.
//
// A put is acknowledged once its records are in the log, synced per wal_sync_mode:
//   always    fdatasync before the ack; the puts of every bucket queued meanwhile share it (the
//             log's group commit);
//   interval  write() before the ack, fdatasync at least every wal_sync_interval seconds;
//   os        write() before the ack, the kernel syncs when it likes.
// Acknowledged records are then visible (buffer) and later flushed to Lance (flush_threshold
// records, flush_bytes, the periodic flush_interval, the log asking because the bucket holds its
// oldest segment back, or flush()); after a flush the bucket's stream is checkpointed, and the
// log frees the segments no stream needs. Automatic flushes run as a background task on the
// bucket's Scheduler (no thread per bucket) and write the fragment without holding the backend's
// lock, so puts and reads go on meanwhile.
//
// One process writes a data dir's log: the one holding <data_dir>/.wal/LOCK, and so its buckets;
// in it, one open of a bucket writes it (an in-process claim on the bucket; without the log,
// enable_wal=false, <bucket_dir>/writer.lock). A backend opened to write (the default) takes
// both at open; one opened to read (BackendContext::read_only: the embedded Queue's readers and
// stats) takes neither, and becomes the writer at its first put (which waits a little for the
// locks). A process that is not the writer reads what the writer has flushed to Lance, reloading
// the dataset when a read reaches its end. A read-only open that finds no writer but a log
// holding records (a killed writer's) reads the log into memory (recover_unowned,
// NodeLogHost::read_unowned) and serves this bucket's records past Lance's from there, so what a
// killed writer acknowledged is readable at once; it writes nothing (no Lance fragment, no
// checkpoint): the next writer recovers the log and flushes them.
//
// Recovery on open: the dataset's row count P is read first; the bucket attaches its stream from
// P: the log's records of it below P (flushed but not checkpointed when the process died) are
// skipped, the rest join the buffer with their offsets. A bucket dir written before the node log
// (<bucket_dir>/wal/, a WAL of its own) is imported into the node log once
// (storage/wal/stream_import.h). Damage the log's recovery gives up records for is loud: a
// warning, a copy of the damaged segment in damaged/, and "recovery" in stats until an operator
// deletes damaged/recovery.json (wal_damage_record.h, docs/wal-format.md "Recovery reports").
//
// Closing a bucket flushes it (BucketStorage::close) if it writes it; one that is not flushed (a
// failing disk, flush_on_close off) leaves its records in the log, which replays them at the next
// open. A reader flushes nothing.
//
// Options: enable_wal (true), wal_sync_mode (always|interval|os), wal_sync_interval (seconds,
// 1.0; 0 means always), max_wal_size (the node log's limit, 100M: past it puts are refused with
// ResourceExhausted naming the bucket that holds the log back; taken from the bucket that opens
// the log), wal_recovery (tolerate_tail|absolute|point_in_time, the log's), wal_recycle, wal_prefill (1M; the log's),
// flush_threshold (records; default the topic's batch_size but at least 100,000, since the log
// already holds unflushed records durably), flush_bytes, flush_interval, compression
// (none|zstd|lz4), sync (fsync Lance commits, true), enable_metrics (true: put counters),
// wal_group_wait_us (1000; 0: the log's group commit never waits for writers; the log's).
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>

#include "backend/buffered_dataset.h"
#include "backend/node_log_host.h"
#include "core/background_errors.h"
#include "core/background_task.h"
#include "persisting/backend.h"
#include "storage/wal/node_log.h"

namespace persisting {

class PersistingBackend final : public StorageBackend {
 public:
  static Result<std::unique_ptr<StorageBackend>> create(const BackendContext& ctx, const Options& options);
  // The `lance` backend: this one without the log (enable_wal=false), flushed at the topic's
  // batch_size by the put that reaches it; options flush_interval, compression, sync,
  // direct_io, max_buffered_bytes.
  static Result<std::unique_ptr<StorageBackend>> create_lance(const BackendContext& ctx, const Options& options);
  ~PersistingBackend() override;

  std::string name() const override { return name_; }
  Result<Offset> put_batch(const RecordBatch& batch) override;
  void put_batch_async(RecordBatch batch, std::function<void(Result<Offset>)> done) override;
  Status check_batch(const RecordBatch& batch, const std::vector<uint64_t>& numbers) override;
  bool checks_batches() const override { return true; }
  Result<RecordBatch> get(Offset offset, size_t limit) override;
  Result<Offset> offset_for_time(int64_t time_ms) override;
  Status flush() override;
  BucketStats stats() const override;
  uint64_t total_count() const override;
  uint64_t first_offset() const override;
  bool durable() const override { return true; }
  bool log_holds_unflushed() const override { return enable_wal_; }
  void discard() override;
  // While this process is the bucket's writer; a reader reloads what the writer flushed.
  bool end_moves_only_by_puts() const override;

 private:
  // What the log's flush requests reach: cleared when the backend goes, so a request racing
  // with its destruction finds nobody.
  struct Alive {
    std::mutex mu;
    PersistingBackend* self = nullptr;
  };

  PersistingBackend(const BackendContext& ctx, std::unique_ptr<BufferedDataset> data, uint64_t flush_threshold,
                    uint64_t flush_bytes, bool metrics);
  // create's and create_lance's end: the locks (or recovery, opened to read).
  static Result<std::unique_ptr<StorageBackend>> start(std::unique_ptr<PersistingBackend> b, const BackendContext& ctx);
  // Claims the bucket in this process (without the log: takes <bucket_dir>/writer.lock), trying
  // again for up to patience while another holder has it (FailedPrecondition after that).
  Status take_writer_lock(std::chrono::milliseconds patience);
  // Makes this process the bucket's writer: the locks, the dataset reloaded, the stream attached
  // (its records recovered into the buffer), an old per-bucket WAL imported. On failure it stays
  // a reader.
  Status become_writer(std::chrono::milliseconds patience);
  // become_writer's log part (mu_ held): attach, import.
  Status attach_stream();
  // Stops writing: waits for appends in flight, detaches the stream (or forgets it, discarded),
  // lets the log and the writer lock go.
  void stop_writing();
  // A read-only open that finds no writer: makes what a dead writer left in the log readable
  // from memory (the host's read of the log; nothing written), or what it left in an old
  // per-bucket WAL (or in the log this process has open, unattached) visible in Lance by a
  // flush. Also run by a reader that reached the end of what it holds (get), so a follower in
  // another process sees the records of a writer that closed without flushing them
  // (QueueOptions::flush_on_close) or died.
  Status recover_unowned();
  // The writer lock (taken now by a process that opened the bucket to read) and a healthy log:
  // what both a put and its check need first.
  Status ready_to_write();
  // An append's completion (on the log's thread): the records join the buffer. True when a
  // flush is due now and the caller writes it (no log).
  bool appended(const RecordBatch& batch, Result<Offset>& first);
  // flusher_'s body: flushes when records wait and no back-off is on.
  void flush_in_background();
  // Asks the flusher for a flush when the buffer has reached the threshold, or for the periodic
  // one flush_interval from now (mu_ held). Without the log a reached threshold is not asked
  // for: true, and the put writes the flush.
  bool maybe_request_flush();
  // Flushes what is buffered now (flush_mu_ held, mu_ not) and checkpoints the stream.
  Status flush_once();

  std::string name_ = "persisting";  // "lance": create_lance
  Env* env_;
  std::string bucket_dir_;
  Logger* logger_;
  // The flusher's flushes and the log's background work: logged once, shown in stats.
  BackgroundErrors bg_;
  uint64_t flush_threshold_;  // records
  uint64_t flush_bytes_;      // encoded bytes
  std::chrono::milliseconds flush_interval_{0};  // 0: no periodic flush
  bool periodic_armed_ = false;  // mu_: the flusher is asked to run flush_interval_ after a put
  bool metrics_;
  Scheduler* scheduler_;
  std::shared_ptr<Alive> alive_;

  mutable std::mutex mu_;                 // data_, log_, counters
  std::condition_variable appends_done_;  // inflight_ reached 0
  std::unique_ptr<BufferedDataset> data_;
  std::unique_ptr<FileLock> writer_lock_;  // held while this process writes the bucket
  bool enable_wal_ = true;
  NodeLogHost::Settings settings_;         // for the log, when this bucket opens it
  wal::StreamOptions stream_options_;      // sync mode and interval (flush_request set at attach)
  std::shared_ptr<NodeLogHost> host_;
  wal::NodeLog* log_ = nullptr;            // set while this process writes the bucket with a log
  std::string stream_;
  wal::NodeLog::StreamRef stream_ref_;     // stream_, pinned while attached
  uint64_t inflight_ = 0;                  // appends the log has not answered yet
  bool discarded_ = false;
  uint64_t replayed_ = 0;                  // records the log (or an old WAL) gave back at attach
  // The host's read of a dead writer's log whose records this reader holds (0: none).
  uint64_t recovered_generation_ = 0;
  Status old_wal_error_;                   // an old per-bucket WAL left read-only by its damage

  // One flush at a time (explicit or the flusher's).
  std::mutex flush_mu_;

  // Background work, no thread of its own: the flusher (threshold, periodic and requested
  // flushes) on the bucket's Scheduler (BackendContext::scheduler). Last, so it is stopped (in
  // the destructor) before anything it uses goes.
  BackgroundTask flusher_;
  // Age retention's look at a quiet bucket (docs/retention.md): a flush (which applies retention)
  // when the oldest fragment expires, re-armed after each look and each explicit flush. Idle
  // unless the topic has retention_ms.
  void arm_ager();  // mu_ held
  BackgroundTask ager_;

  // Metrics (enable_metrics).
  uint64_t puts_ = 0, records_ = 0;
};

}  // namespace persisting
