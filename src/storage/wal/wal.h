// Wal: the write-ahead log of one bucket. A directory of segment files plus a checkpoint file;
// knows nothing of Lance, actors or queues. Records are opaque bytes; the Wal gives them dense
// offsets in append order. Format and guarantees: docs/wal-format.md.
//
//   RecoveryReport report;
//   ASSIGN_OR_RETURN(auto wal, Wal::open(dir, options, replay_fn, &report));  // replays first
//   ASSIGN_OR_RETURN(Offset first, wal->append(batch));  // batch gets first, first+1, ...
//   ... after flushing everything below `flushed` elsewhere:
//   RETURN_IF_ERROR(wal->checkpoint(flushed));           // deletes segments wholly below it
//
// Thread-safe: append, sync and checkpoint may be called from any number of threads. close() must
// not race with them. Concurrent appends under SyncMode::kAlways share one fdatasync (group commit).
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/background_task.h"
#include "core/status_macros.h"
#include "persisting/codec.h"
#include "persisting/env.h"
#include "persisting/types.h"
#include "storage/wal/recovery.h"
#include "storage/wal/segment_writer.h"
#include "storage/wal/wal_options.h"

namespace persisting::wal {

class Wal {
 public:
  // Recovers dir (see recovery.h: replay is called for every record at or after the checkpoint,
  // in order, before open returns) and readies it for appending. *report (may be null) says
  // what recovery did. Under kTolerateTail, damage before the tail still opens the WAL, read-only:
  // report->corruption and health() then carry the error and append returns it.
  static Result<std::unique_ptr<Wal>> open(const std::string& dir, const WalOptions& options,
                                           const ReplayFn& replay, RecoveryReport* report);
  ~Wal();  // close()s if the caller did not
  Wal(const Wal&) = delete;
  Wal& operator=(const Wal&) = delete;

  // Appends batch as one frame (all of it survives a crash or none of it does) and returns the
  // offset of its first record. Returns when the batch is durable per the sync mode: kAlways after
  // fdatasync; kInterval and kOs after write() (so it survives a process crash, not a power loss).
  // On an error nothing of the batch becomes visible, nothing acknowledged before is lost, and the
  // next append tries again. An empty batch writes nothing and returns next_offset().
  // sync: fdatasync before returning whatever the sync mode (the group it joins is synced, and a
  // failed sync fails the batch as under kAlways); the node log asks for it per group.
  Result<Offset> append(const RecordBatch& batch, bool sync = false);
  // The same for a frame its producer built in place (start_batch_frame, then `count` record
  // lengths and the records): the WAL fills in its header and first offset and writes it as it
  // is, without copying it when it is the group's only frame.
  Result<Offset> append_frame(std::string* frame, uint32_t count, bool sync = false);
  // Makes every appended record durable now.
  Status sync();
  // Starts a new segment at next_offset() if the active one holds a frame, never onto the spare
  // (so no old bytes follow): a checkpoint at next_offset() then frees every older segment.
  Status rotate_active();
  // Records that every offset below flushed is held elsewhere: writes the checkpoint file
  // durably, then deletes the segments wholly below it. flushed must not pass next_offset() or
  // go below checkpoint_offset(). If a deletion fails, recovery deletes the file on next open.
  // keep_spare false: no segment is kept as the spare, and an existing spare is deleted (a fully
  // checkpointed log keeps no copy of the records).
  Status checkpoint(Offset flushed, bool keep_spare = true);
  // Whether checkpoint(flushed) would delete a segment (the second one starts at or below it).
  bool checkpoint_frees_segment(Offset flushed) const;
  // Syncs and closes the active segment. Later calls return FailedPrecondition.
  Status close();

  Offset next_offset() const;        // the offset the next appended record gets
  Offset durable_offset() const;     // every offset below it has been fdatasync'ed
  Offset checkpoint_offset() const;
  uint64_t size_bytes() const;       // bytes in all live segments
  size_t segment_count() const;
  // The first offsets of the live segments, oldest first (the last one is the active segment).
  std::vector<Offset> segment_starts() const;
  size_t queued_requests() const;    // appends and syncs waiting or being written (queue depth)
  Status health() const;             // non-OK when opened read-only after corruption
  const std::string& dir() const { return dir_; }

 private:
  struct Request;
  struct Segment {
    Offset first;
    std::string path;
    uint64_t size = 0;
    // Left by a rotation after a good sync, so it holds only whole frames of its own records
    // (and old frames of earlier lives): it may become the spare once wholly below the
    // checkpoint. A segment abandoned after a failure, or found by recovery, may hold frames of
    // unacknowledged batches and is deleted instead.
    bool recyclable = false;
  };
  // The spare file's state (under mu_): one checkpoint fills it, one rotation takes it.
  enum class Spare { kNone, kFilling, kReady, kTaking };
  enum class Repair { kNone, kAfterWriteError, kAfterSyncError };

  Wal(Env* env, std::string dir, WalOptions options);
  // Readies the writer after recovery: reopens the last segment (`flagged`: its header has
  // kSegmentFlagRecycled) or starts a new one.
  Status start_appending(bool reopen_last, bool flagged);
  // How segments are zero-filled ahead of their appends (opts_.prefill_bytes).
  Prefill prefill() const;
  Result<Offset> submit(Request* r);
  // The group-commit leader's work; called without mu_ held. Sets *synced when every offset
  // below end is durable.
  Status write_group(const std::vector<Request*>& group, uint64_t bytes, bool want_sync, bool* synced);
  Status fail(Status error, bool sync_failed);
  Status repair();
  Status clear_fence();
  Status rotate(Offset first, bool use_spare = true);
  // The next segment from the spare file, or nullptr when there is none or recycling failed.
  std::unique_ptr<SegmentWriter> take_spare(Offset first);
  std::string spare_path() const;
  void install(std::unique_ptr<SegmentWriter> seg, bool old_recyclable = false);
  // Asks for writeback once writeback_bytes more have been appended.
  void note_appended(uint64_t bytes);
  void interval_sync();  // sync_task_'s body
  void writeback();      // writeback_task_'s body
  void background(std::string_view task, const Status& s) const;  // opts_.on_background

  Env* const env_;
  const std::string dir_;
  const WalOptions opts_;

  mutable std::mutex mu_;
  std::deque<Request*> queue_;  // front is the leader
  Offset next_offset_;
  Offset durable_offset_;
  Offset checkpoint_;
  std::vector<Segment> segments_;  // back() is the active one
  Status read_only_;
  bool closed_ = false;
  Spare spare_ = Spare::kNone;
  // Whether checkpoints keep a spare: WalOptions::recycle_segments, turned off for good when the
  // Env says NotSupported to reuse_writable_file.
  bool recycle_ = false;

  // Owned by the group-commit leader (the request at the front of queue_). The background thread
  // also uses active_ (start_writeback) under writeback_mu_, which install() holds to replace it.
  std::mutex writeback_mu_;
  std::unique_ptr<SegmentWriter> active_;
  uint64_t appended_since_writeback_ = 0;
  uint64_t good_size_ = 0;    // bytes of active_ that hold acknowledged frames
  uint64_t synced_size_ = 0;  // bytes of active_ known to be durable
  Repair repair_ = Repair::kNone;
  std::string fence_;  // path of an unsynced fence segment put down by fail(), if any
  std::chrono::steady_clock::time_point last_sync_;

  std::mutex checkpoint_mu_;  // one checkpoint at a time

  // Background work on opts_.scheduler (no thread of its own), stopped by close():
  // kInterval: syncs what appends left unsynced, sync_interval_ after the first of them;
  // kInterval and kOs: starts writeback of the active segment (writeback_bytes).
  Scheduler::Clock::duration sync_interval_{};
  std::unique_ptr<BackgroundTask> sync_task_;
  std::unique_ptr<BackgroundTask> writeback_task_;
};

}  // namespace persisting::wal
