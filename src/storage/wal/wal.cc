// The WAL writer. On-disk layout (format version 1; full spec in docs/wal-format.md):
//
//   <dir>/<20-digit first offset>.wal   segment
//     header (32 bytes): "PSTWALSG" | u32 version=1 | u32 flags | u64 first offset |
//                        u32 reserved=0 | u32 CRC32C(bytes 0..27)
//       flags bit 0: recycled (the bytes after the records need not continue the log: old
//       frames of an older segment written over, with offsets below the first offset, or the
//       zeros written ahead of the appends; docs/wal-format.md, "Recycling", "Zero-filling")
//     frames, back to back:  u32 length | u32 CRC32C(length bytes, payload) | payload
//       payload (one appended batch): u64 first offset | u32 count | count x u32 record length |
//                                     record bytes
//   <dir>/CHECKPOINT (28 bytes): "PSTWALCP" | u32 version=1 | u32 reserved=0 | u64 flushed offset |
//                                u32 CRC32C(bytes 0..23)
//   <dir>/spare.free: a segment freed by a checkpoint, kept for the next rotation to write over.
//   Segments are zero-filled ahead of their appends (prefill_bytes at a time); close() cuts that off.
//   All integers little-endian. A segment is created as <name>.tmp, synced, renamed into place,
//   or recycled from the spare: header rewritten and synced, then renamed into place.
//
// Group commit: appenders queue up; the one at the front (the leader) takes every queued batch
// (up to max_group_bytes), writes their frames with one write(), syncs once if the mode asks,
// and wakes the others with the shared result.
//
// Faults: on a failed write or sync the group's bytes are cut back off (truncate to the last
// acknowledged size, best effort) and the segment is abandoned: a new segment starts at the first
// offset not known to be durable, carrying over (re-read from the old file, then synced) any
// acknowledged-but-unsynced frames. A later segment supersedes everything an earlier one holds
// from its first offset on, so whatever the failed write left in the old file is never read.
#include "storage/wal/wal.h"

#include <cmath>
#include <utility>

#include "core/status_macros.h"
#include "storage/wal/checkpoint.h"
#include "storage/wal/wal_format.h"

namespace persisting::wal {

struct Wal::Request {
  const RecordBatch* batch = nullptr;  // nullptr (and no frame): a sync (or rotate) request
  std::string* frame = nullptr;        // or a frame built in place (append_frame)
  uint32_t frame_count = 0;            // its records
  bool sync = false;                   // the group must be synced
  bool rotate = false;                 // rotate_active()
  Offset first;
  Status status;
  bool done = false;
  std::condition_variable cv;
};

Wal::Wal(Env* env, std::string dir, WalOptions options)
    : env_(env), dir_(std::move(dir)), opts_(options), recycle_(options.recycle_segments) {}

Result<std::unique_ptr<Wal>> Wal::open(const std::string& dir, const WalOptions& options,
                                       const ReplayFn& replay, RecoveryReport* report) {
  WalOptions o = options;
  if (!std::isfinite(o.sync_interval_s) || o.sync_interval_s < 0) {
    return InvalidArgument("wal_sync_interval " + std::to_string(o.sync_interval_s) +
                           ": must be a finite number of seconds >= 0");
  }
  if (o.max_segment_size < kSegmentHeaderSize + kFrameHeaderSize + kBatchFixedSize) {
    return InvalidArgument("max_wal_size " + std::to_string(o.max_segment_size) + " is too small");
  }
  if (o.sync_mode == SyncMode::kInterval && o.sync_interval_s == 0) o.sync_mode = SyncMode::kAlways;
  if (o.env == nullptr) o.env = Env::Default();

  RecoveryReport local;
  if (report == nullptr) report = &local;
  ASSIGN_OR_RETURN(RecoveredLog log, recover_log(o.env, dir, o.recovery_policy, replay, report));
  if (log.segments.empty() && log.next_offset.value() < o.initial_offset && log.read_only.ok()) {
    // An empty log that must start later: the checkpoint file says so durably, before any
    // segment exists, so a crash at any point leaves a log recovery reads the same way.
    RETURN_IF_ERROR(write_checkpoint(o.env, dir, Offset(o.initial_offset)));
    log.checkpoint = log.next_offset = Offset(o.initial_offset);
    report->checkpoint = report->next_offset = log.next_offset;
  }

  std::unique_ptr<Wal> w(new Wal(o.env, dir, o));
  w->checkpoint_ = log.checkpoint;
  w->next_offset_ = w->durable_offset_ = log.next_offset;
  w->read_only_ = log.read_only;
  for (const auto& s : log.segments) w->segments_.push_back(Segment{s.first, s.path, s.size});
  // A spare left by the last process holds only old frames: reuse it (or delete it if unwanted).
  if (o.env->file_exists(w->spare_path())) {
    if (o.recycle_segments && log.read_only.ok()) {
      w->spare_ = Spare::kReady;
    } else if (log.read_only.ok()) {
      RETURN_IF_ERROR(o.env->remove_file(w->spare_path()));
    }
  }
  w->last_sync_ = std::chrono::steady_clock::now();
  if (!w->read_only_.ok()) return w;

  Status s = w->start_appending(log.last_segment_appendable,
                                !log.segments.empty() && log.segments.back().recycled);
  if (!s.ok()) {
    w->closed_ = true;  // nothing to sync or close in the destructor
    return s;
  }
  Scheduler* scheduler = o.scheduler ? o.scheduler : Scheduler::Default();
  if (o.sync_mode == SyncMode::kInterval) {
    w->sync_interval_ = std::chrono::duration_cast<Scheduler::Clock::duration>(
        std::chrono::duration<double>(o.sync_interval_s));
    w->sync_task_ = std::make_unique<BackgroundTask>(scheduler, [p = w.get()] { p->interval_sync(); });
  }
  if (o.sync_mode != SyncMode::kAlways && o.writeback_bytes > 0)
    w->writeback_task_ = std::make_unique<BackgroundTask>(scheduler, [p = w.get()] { p->writeback(); });
  return w;
}

Status Wal::start_appending(bool reopen_last, bool flagged) {
  if (reopen_last) {
    const Segment& last = segments_.back();
    ASSIGN_OR_RETURN(active_, SegmentWriter::reopen(env_, last.path, last.first, last.size, flagged, prefill()));
    // What recovery found may sit only in the page cache (a crash under kOs/kInterval): make it
    // durable before anything new is acknowledged after it (and the zeros written ahead of it).
    RETURN_IF_ERROR(active_->sync());
    good_size_ = synced_size_ = active_->size();
    return Status::OK();
  }
  ASSIGN_OR_RETURN(auto seg, SegmentWriter::create(env_, dir_, next_offset_, {}, prefill()));
  install(std::move(seg));
  return Status::OK();
}

Prefill Wal::prefill() const {
  Prefill p;
  p.chunk = opts_.prefill_bytes;
  p.limit = opts_.max_segment_size;
  p.on_extend = [this](const Status& s) { background("WAL prefill", s); };
  return p;
}

Wal::~Wal() {
  bool open;
  {
    std::lock_guard l(mu_);
    open = !closed_;
  }
  if (open) background("WAL close", close());
}

void Wal::background(std::string_view task, const Status& s) const {
  if (opts_.on_background) opts_.on_background(task, s);
}

Result<Offset> Wal::append(const RecordBatch& batch, bool sync) {
  if (batch.empty()) {
    std::lock_guard l(mu_);
    return next_offset_;
  }
  if (batch_frame_size(batch.size(), batch.byte_size()) - kFrameHeaderSize > kMaxFramePayload) {
    return InvalidArgument("WAL '" + dir_ + "': batch of " + std::to_string(batch.byte_size()) +
                           " bytes exceeds the frame limit of " + std::to_string(kMaxFramePayload));
  }
  Request r;
  r.batch = &batch;
  r.sync = sync;
  return submit(&r);
}

Result<Offset> Wal::append_frame(std::string* frame, uint32_t count, bool sync) {
  if (count == 0) return InvalidArgument("WAL '" + dir_ + "': a frame of no records");
  if (frame->size() < kFrameHeaderSize + kBatchFixedSize + 4 * static_cast<size_t>(count) ||
      frame->size() - kFrameHeaderSize > kMaxFramePayload) {
    return InvalidArgument("WAL '" + dir_ + "': frame of " + std::to_string(frame->size()) + " bytes for " +
                           std::to_string(count) + " records (the payload limit is " +
                           std::to_string(kMaxFramePayload) + ")");
  }
  Request r;
  r.frame = frame;
  r.frame_count = count;
  r.sync = sync;
  return submit(&r);
}

Status Wal::sync() {
  Request r;
  r.sync = true;
  return submit(&r).status();
}

Status Wal::rotate_active() {
  Request r;
  r.rotate = true;
  return submit(&r).status();
}

Result<Offset> Wal::submit(Request* r) {
  std::unique_lock l(mu_);
  if (closed_) return FailedPrecondition("WAL '" + dir_ + "' is closed");
  if (!read_only_.ok()) return read_only_;
  queue_.push_back(r);
  while (!r->done && queue_.front() != r) r->cv.wait(l);
  if (r->done) {
    if (!r->status.ok()) return r->status;
    return r->first;
  }

  // This request leads a group: every request queued now, up to max_group_bytes.
  std::vector<Request*> group;
  uint64_t bytes = 0;
  uint64_t next = next_offset_.value();
  bool want_sync = opts_.sync_mode == SyncMode::kAlways;
  bool want_rotate = false;
  for (Request* q : queue_) {
    if (q->batch != nullptr || q->frame != nullptr) {
      const uint64_t size = q->frame != nullptr ? q->frame->size()
                                                : batch_frame_size(q->batch->size(), q->batch->byte_size());
      if (!group.empty() && bytes + size > opts_.max_group_bytes) break;
      q->first = Offset(next);
      next += q->frame != nullptr ? q->frame_count : q->batch->size();
      bytes += size;
    }
    if (q->sync) want_sync = true;
    if (q->rotate) want_rotate = true;
    group.push_back(q);
  }
  const Offset end(next);
  l.unlock();

  if (opts_.sync_mode == SyncMode::kInterval &&
      std::chrono::steady_clock::now() - last_sync_ >= std::chrono::duration<double>(opts_.sync_interval_s)) {
    want_sync = true;
  }
  bool synced = false;
  Status rotated;  // what a rotate_active() in the group gets; the appends do not depend on it
  if (want_rotate) {
    // Before the group's frames (which then go to the new segment): the old one holds only
    // records appended before rotate_active() was called.
    rotated = clear_fence();
    if (rotated.ok() && repair_ == Repair::kNone && good_size_ > kSegmentHeaderSize)
      rotated = rotate(next_offset(), /*use_spare=*/false);
  }
  Status s = write_group(group, bytes, want_sync, &synced);
  // What this group left unsynced is synced within the interval (a sync already due covers it).
  if (s.ok() && !synced && sync_task_) sync_task_->run_after(sync_interval_);

  l.lock();
  if (s.ok()) {
    next_offset_ = end;
    if (synced) durable_offset_ = end;
  }
  segments_.back().size = good_size_;
  for (Request* q : group) {
    q->status = q->rotate && s.ok() ? rotated : s;
    q->done = true;
    queue_.pop_front();
    if (q != r) q->cv.notify_one();
  }
  if (!queue_.empty()) queue_.front()->cv.notify_one();
  if (!s.ok()) return s;
  return r->first;
}

Status Wal::write_group(const std::vector<Request*>& group, uint64_t bytes, bool want_sync, bool* synced) {
  *synced = false;
  if (repair_ != Repair::kNone) RETURN_IF_ERROR(repair());
  RETURN_IF_ERROR(clear_fence());
  if (bytes > 0 && good_size_ > kSegmentHeaderSize && good_size_ + bytes > opts_.max_segment_size) {
    RETURN_IF_ERROR(rotate(next_offset()));  // next_offset_ cannot move while we lead
  }
  if (bytes > 0) {
    for (const Request* q : group)
      if (q->frame != nullptr) finish_batch_frame(q->first, q->frame);
    std::string buf;
    const std::string* out = &buf;
    if (group.size() == 1 && group[0]->frame != nullptr) {
      out = group[0]->frame;  // written as the producer built it
    } else {
      buf.reserve(bytes);
      for (const Request* q : group) {
        if (q->batch != nullptr) append_batch_frame(q->first, q->batch->data(), q->batch->ends(), &buf);
        if (q->frame != nullptr) buf.append(*q->frame);
      }
    }
    Status s = active_->append(*out);
    if (!s.ok()) return fail(std::move(s), /*sync_failed=*/false);
    if (!want_sync) note_appended(bytes);
  }
  if (want_sync) {
    if (synced_size_ < good_size_ + bytes) {
      Status s = active_->sync();
      if (!s.ok()) return fail(std::move(s), /*sync_failed=*/true);
    }
    synced_size_ = good_size_ + bytes;
    last_sync_ = std::chrono::steady_clock::now();
    *synced = true;
  }
  good_size_ += bytes;
  return Status::OK();
}

Status Wal::fail(Status error, bool sync_failed) {
  // Cut the failed group's bytes back off.
  const bool truncated = active_->truncate(good_size_).ok();
  repair_ = sync_failed ? Repair::kAfterSyncError : Repair::kAfterWriteError;
  if (repair().ok() || truncated) return error;
  // Whole frames of the failed group may sit in the file (a short write can land the first
  // frames of a group; a failed sync leaves all of them), the truncate failed, and no new segment
  // could be made. Put down a fence: a segment starting at the first unacknowledged offset, not
  // synced (syncing may be what fails), so that a crash before the repair succeeds cannot bring
  // those frames back.
  const Offset next = next_offset();
  if (SegmentWriter::create_fence(env_, dir_, next).ok()) {
    fence_ = join_path(dir_, segment_file_name(next));
  }
  return error;
}

Status Wal::clear_fence() {
  if (fence_.empty()) return Status::OK();
  // The durable segment replaced the fence (same first offset), or holds everything the fence
  // guarded. A fence left behind would cut off every record appended after it, so nothing is
  // appended until it is gone for good.
  if (fence_ != active_->path()) {
    if (env_->file_exists(fence_)) RETURN_IF_ERROR(env_->remove_file(fence_));
    RETURN_IF_ERROR(env_->sync_dir(dir_));
  }
  fence_.clear();
  return Status::OK();
}

Status Wal::repair() {
  // After a failed fsync the kernel may have dropped dirty pages while marking them clean, so
  // nothing written since the last good sync can be trusted to reach the disk from this file.
  bool rewrite = repair_ == Repair::kAfterSyncError;
  if (!rewrite && synced_size_ < good_size_) {
    // A write failed: the acknowledged bytes before it must still become durable, and this file
    // will not be synced again once abandoned.
    if (active_->sync().ok()) {
      synced_size_ = good_size_;
    } else {
      rewrite = true;
    }
  }
  std::string carried;
  Offset first = next_offset();
  if (rewrite && synced_size_ < good_size_) {
    // Re-read the acknowledged but unsynced frames (the page cache still holds them) so the new
    // segment can make them durable.
    ASSIGN_OR_RETURN(auto in, env_->new_random_access_file(active_->path()));
    RETURN_IF_ERROR(in->read(synced_size_, good_size_ - synced_size_, &carried));
    if (carried.size() != good_size_ - synced_size_) {
      return IOError("WAL segment '" + active_->path() + "': short read of unsynced frames");
    }
    first = durable_offset();
  }
  ASSIGN_OR_RETURN(auto seg, SegmentWriter::create(env_, dir_, first, carried, prefill()));
  install(std::move(seg));
  repair_ = Repair::kNone;
  return clear_fence();
}

Status Wal::rotate(Offset first, bool use_spare) {
  if (synced_size_ < good_size_) {
    // The old segment is never synced again once it is not the active one.
    Status s = active_->sync();
    if (!s.ok()) return fail(std::move(s), /*sync_failed=*/true);
    synced_size_ = good_size_;
  }
  std::unique_ptr<SegmentWriter> seg = use_spare ? take_spare(first) : nullptr;
  if (!seg) {
    ASSIGN_OR_RETURN(seg, SegmentWriter::create(env_, dir_, first, {}, prefill()));
  }
  install(std::move(seg), /*old_recyclable=*/true);
  return Status::OK();
}

std::string Wal::spare_path() const { return join_path(dir_, kSpareFileName); }

std::unique_ptr<SegmentWriter> Wal::take_spare(Offset first) {
  {
    std::lock_guard l(mu_);
    if (spare_ != Spare::kReady) return nullptr;
    spare_ = Spare::kTaking;
  }
  auto seg = SegmentWriter::recycle(env_, dir_, spare_path(), first, prefill());
  if (!seg.ok() && env_->file_exists(spare_path())) {
    // Half rewritten, maybe: not worth a second try (a failed removal leaves a file the next
    // open removes).
    if (Status r = env_->remove_file(spare_path()); !r.ok()) background("WAL cleanup", r);
  }
  std::lock_guard l(mu_);
  spare_ = Spare::kNone;
  // An Env that cannot reuse files: checkpoints delete segments from now on.
  if (!seg.ok() && seg.status().code() == Code::kNotSupported) recycle_ = false;
  // On failure the caller creates the segment (replacing it, if the rename went through).
  return seg.ok() ? std::move(seg).value() : nullptr;
}

void Wal::note_appended(uint64_t bytes) {
  if (opts_.sync_mode == SyncMode::kAlways || opts_.writeback_bytes == 0) return;
  appended_since_writeback_ += bytes;
  if (appended_since_writeback_ < opts_.writeback_bytes) return;
  appended_since_writeback_ = 0;
  if (writeback_task_) writeback_task_->run_now();
}

void Wal::install(std::unique_ptr<SegmentWriter> seg, bool old_recyclable) {
  std::lock_guard w(writeback_mu_);
  std::unique_ptr<SegmentWriter> old = std::move(active_);
  active_ = std::move(seg);
  appended_since_writeback_ = 0;
  good_size_ = synced_size_ = active_->size();
  {
    std::lock_guard l(mu_);
    Segment s{active_->first(), active_->path(), good_size_};
    if (!segments_.empty()) segments_.back().recyclable = old_recyclable;
    if (!segments_.empty() && segments_.back().first == s.first) {
      segments_.back() = s;  // same name: the new file replaced the old one
    } else {
      segments_.push_back(s);
    }
    // Everything before the new segment is durable in older ones, and it holds the rest durably.
    durable_offset_ = next_offset_;
  }
  // The old segment's records are durable (synced before the rotation): a failed close loses
  // nothing, but is worth knowing about (a descriptor, a file system in trouble).
  if (old) {
    if (Status c = old->close(); !c.ok()) background("WAL cleanup", c);
  }
}

Status Wal::checkpoint(Offset flushed, bool keep_spare) {
  std::lock_guard c(checkpoint_mu_);
  {
    std::lock_guard l(mu_);
    if (closed_) return FailedPrecondition("WAL '" + dir_ + "' is closed");
    if (flushed > next_offset_) {
      return InvalidArgument("WAL '" + dir_ + "': checkpoint " + std::to_string(flushed.value()) +
                             " is past the end of the log (" + std::to_string(next_offset_.value()) + ")");
    }
    if (flushed < checkpoint_) {
      return InvalidArgument("WAL '" + dir_ + "': checkpoint " + std::to_string(flushed.value()) +
                             " is below the current one (" + std::to_string(checkpoint_.value()) + ")");
    }
    if (flushed == checkpoint_ && (keep_spare || spare_ != Spare::kReady)) return Status::OK();
  }
  if (flushed != checkpoint_offset()) RETURN_IF_ERROR(write_checkpoint(env_, dir_, flushed));
  std::vector<std::string> doomed;
  std::string spare;  // the doomed segment that becomes the spare, if any
  {
    std::lock_guard l(mu_);
    checkpoint_ = flushed;
    if (!keep_spare && spare_ == Spare::kReady) {
      spare_ = Spare::kNone;
      doomed.push_back(spare_path());
    }
    size_t n = 0;
    while (n + 1 < segments_.size() && segments_[n + 1].first <= flushed) ++n;
    for (size_t i = 0; i < n; ++i) {
      if (keep_spare && recycle_ && spare.empty() && spare_ == Spare::kNone && segments_[i].recyclable) {
        spare = segments_[i].path;
        spare_ = Spare::kFilling;
      } else {
        doomed.push_back(segments_[i].path);
      }
    }
    segments_.erase(segments_.begin(), segments_.begin() + static_cast<ptrdiff_t>(n));
  }
  Status result;
  if (!spare.empty()) {
    Status s = env_->rename_file(spare, spare_path());
    if (!s.ok()) doomed.push_back(spare);
    std::lock_guard l(mu_);
    spare_ = s.ok() ? Spare::kReady : Spare::kNone;
  }
  for (const auto& path : doomed) {
    Status s = env_->remove_file(path);
    if (result.ok()) result = s;
  }
  if (!doomed.empty() || !spare.empty()) {
    Status s = env_->sync_dir(dir_);
    if (result.ok()) result = s;
  }
  return result;
}

Status Wal::close() {
  // No background sync or writeback after this (one going on is waited for); the sync below
  // covers what they would have done.
  if (sync_task_) sync_task_->stop();
  if (writeback_task_) writeback_task_->stop();
  Status s;
  {
    std::lock_guard l(mu_);
    if (closed_) return FailedPrecondition("WAL '" + dir_ + "' is closed");
  }
  if (read_only_.ok()) s = sync();
  std::lock_guard l(mu_);
  closed_ = true;
  if (active_ && active_->has_old_bytes() && s.ok()) {
    // Cut the recycled file's old bytes off, so the next open need not read past the records
    // to find where they end (best effort: recovery finds the end either way).
    if (Status t = active_->truncate(good_size_); !t.ok()) background("WAL cleanup", t);
  }
  if (active_) {
    Status c = active_->close();
    if (s.ok()) s = c;
  }
  return s;
}

void Wal::interval_sync() {
  bool pending;
  {
    std::lock_guard g(mu_);
    pending = durable_offset_ < next_offset_ && !closed_;
  }
  if (!pending) return;
  Status s = sync();
  background("WAL sync", s);
  // A failure went through the same repair as an append's; the records stay unsynced, so try
  // again an interval later (the next append would ask too).
  if (!s.ok()) sync_task_->run_after(sync_interval_);
}

void Wal::writeback() {
  // A hint: an error here shows again, and is handled, at the next sync.
  std::lock_guard w(writeback_mu_);
  background("WAL writeback", active_ ? active_->start_writeback() : Status::OK());
}

Offset Wal::next_offset() const {
  std::lock_guard l(mu_);
  return next_offset_;
}

Offset Wal::durable_offset() const {
  std::lock_guard l(mu_);
  return durable_offset_;
}

bool Wal::checkpoint_frees_segment(Offset flushed) const {
  std::lock_guard l(mu_);
  return segments_.size() > 1 && segments_[1].first <= flushed;
}

Offset Wal::checkpoint_offset() const {
  std::lock_guard l(mu_);
  return checkpoint_;
}

uint64_t Wal::size_bytes() const {
  std::lock_guard l(mu_);
  uint64_t n = 0;
  for (const auto& s : segments_) n += s.size;
  return n;
}

size_t Wal::segment_count() const {
  std::lock_guard l(mu_);
  return segments_.size();
}

std::vector<Offset> Wal::segment_starts() const {
  std::lock_guard l(mu_);
  std::vector<Offset> out;
  out.reserve(segments_.size());
  for (const auto& s : segments_) out.push_back(s.first);
  return out;
}

size_t Wal::queued_requests() const {
  std::lock_guard l(mu_);
  return queue_.size();
}

Status Wal::health() const {
  return read_only_;  // set by open, before anyone else sees the log: no lock (asked per put)
}

}  // namespace persisting::wal
