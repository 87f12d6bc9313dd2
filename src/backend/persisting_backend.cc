#include "backend/persisting_backend.h"

#include <future>

#include "backend/wal_damage_record.h"
#include "core/log.h"
#include "core/status_macros.h"
#include "storage/wal/evidence.h"
#include "storage/wal/stream_import.h"

namespace persisting {
namespace {

// Lance prefers large fragments, and every flush costs a few file creations and syncs: flush at
// 100,000 records or 32 MiB of encoded records per bucket, whichever comes first.
constexpr int64_t kDefaultFlushThreshold = 100000;
constexpr uint64_t kDefaultFlushBytes = 32ull << 20;
// How long a put waits for the writer lock: a reader recovering a dead writer's WAL holds it
// for that long (replay and one flush); a live writer holds it for good.
constexpr auto kLockPatience = std::chrono::milliseconds(3000);
// max_wal_size when the option is not given: 100 MiB, or 1 MiB per bucket writing to the node
// log (up to 1 GiB), so a flush the half-full log asks for holds up to 512 KiB of log per bucket.
// A fixed 100 MiB over 1,024 buckets flushed 50 KiB fragments; 256 KiB per bucket still spent a
// third of a 1,024-bucket run's producing on flushes of about 1,300 small records each (a log
// entry of one record carries its stream's name: about 90 bytes of log per 30-byte record).
constexpr uint64_t kDefaultMaxWal = 100ull << 20;
constexpr uint64_t kDefaultMaxWalPerBucket = 1ull << 20;
constexpr uint64_t kDefaultMaxWalCap = 1ull << 30;

}  // namespace

Result<std::unique_ptr<StorageBackend>> PersistingBackend::create(const BackendContext& ctx, const Options& options) {
  OptionReader reader(options, "backend 'persisting'");
  ASSIGN_OR_RETURN(bool enable_wal, reader.get_bool("enable_wal", true));
  ASSIGN_OR_RETURN(std::string mode, reader.get_choice("wal_sync_mode", "always", {"always", "interval", "os"}));
  ASSIGN_OR_RETURN(double interval, reader.get_double("wal_sync_interval", 1.0, 0, 86400));
  const bool max_wal_given = options.count("max_wal_size") > 0;
  ASSIGN_OR_RETURN(uint64_t max_wal, reader.get_bytes("max_wal_size", kDefaultMaxWal));
  // Whether a log segment freed by a checkpoint is kept and written over as a later one
  // (docs/wal-format.md, "Recycling"); off deletes it, as on copy-on-write file systems, where
  // overwriting in place saves nothing.
  ASSIGN_OR_RETURN(bool recycle, reader.get_bool("wal_recycle", true));
  // How far ahead of the appends a log segment is zero-filled, a chunk at a time (docs/
  // wal-format.md, "Zero-filling"): appends then overwrite allocated blocks of a file whose size
  // does not change, which the file system syncs faster. 0: off.
  ASSIGN_OR_RETURN(uint64_t prefill, reader.get_bytes("wal_prefill", 1ull << 20));
  ASSIGN_OR_RETURN(std::string policy,
                   reader.get_choice("wal_recovery", "tolerate_tail", {"tolerate_tail", "absolute", "point_in_time"}));
  // The log already makes records durable, so flushes can be large: Lance prefers big fragments
  // and every flush costs a few fsyncs and a manifest rewrite.
  ASSIGN_OR_RETURN(int64_t threshold, reader.get_int("flush_threshold", std::max<int64_t>(ctx.batch_size, kDefaultFlushThreshold),
                                                     1, 1'000'000'000));
  ASSIGN_OR_RETURN(uint64_t flush_bytes, reader.get_bytes("flush_bytes", kDefaultFlushBytes));
  ASSIGN_OR_RETURN(std::chrono::milliseconds flush_interval, BufferedDataset::flush_interval_option(reader));
  if (flush_bytes == 0 || flush_bytes > (1ull << 31))
    return InvalidArgument("backend 'persisting': option 'flush_bytes' must be between 1 and 2G, got " +
                           std::to_string(flush_bytes));
  if (max_wal == 0) return InvalidArgument("backend 'persisting': option 'max_wal_size' must be at least 1");
  ASSIGN_OR_RETURN(bool metrics, reader.get_bool("enable_metrics", true));
  // Group commit (always): how long at most the log waits for the writers of recent groups to
  // join the next one (microseconds; 0: never waits). The log's, from the bucket that opens it.
  ASSIGN_OR_RETURN(int64_t group_wait_us, reader.get_int("wal_group_wait_us", 1000, 0, 100000));
  auto data = BufferedDataset::open(ctx, reader);
  if (!data.ok()) return data.status().with_context("backend 'persisting'");
  RETURN_IF_ERROR(reader.finish());
  if (ctx.validate_only) return std::unique_ptr<StorageBackend>();

  std::unique_ptr<PersistingBackend> b(
      new PersistingBackend(ctx, std::move(data).value(), static_cast<uint64_t>(threshold), flush_bytes, metrics));
  b->flush_interval_ = flush_interval;
  b->enable_wal_ = enable_wal;
  ASSIGN_OR_RETURN(b->stream_options_.sync_mode, wal::parse_sync_mode(mode));
  b->stream_options_.sync_interval_s = interval;
  b->settings_.max_size = max_wal;
  if (!max_wal_given) {
    b->settings_.max_size_per_bucket = kDefaultMaxWalPerBucket;
    b->settings_.max_size_cap = kDefaultMaxWalCap;
  }
  b->settings_.recycle = recycle;
  b->settings_.prefill = prefill;
  b->settings_.group_wait = std::chrono::microseconds(group_wait_us);
  ASSIGN_OR_RETURN(b->settings_.recovery_policy, wal::parse_recovery_policy(policy));
  if (enable_wal) {
    b->host_ = NodeLogHost::get(ctx);
    b->stream_ = NodeLogHost::stream_name(ctx);
  }
  return start(std::move(b), ctx);
}

Result<std::unique_ptr<StorageBackend>> PersistingBackend::create_lance(const BackendContext& ctx,
                                                                       const Options& options) {
  OptionReader reader(options, "backend 'lance'");
  ASSIGN_OR_RETURN(std::chrono::milliseconds flush_interval, BufferedDataset::flush_interval_option(reader));
  auto data = BufferedDataset::open(ctx, reader);
  if (!data.ok()) return data.status().with_context("backend 'lance'");
  RETURN_IF_ERROR(reader.finish());
  if (ctx.validate_only) return std::unique_ptr<StorageBackend>();
  // No log: a flush at the topic's batch_size (or 32 MiB), written by the put that reaches it.
  std::unique_ptr<PersistingBackend> b(new PersistingBackend(ctx, std::move(data).value(),
                                                             std::max<uint64_t>(ctx.batch_size, 1), kDefaultFlushBytes,
                                                             /*metrics=*/false));
  b->name_ = "lance";
  b->flush_interval_ = flush_interval;
  b->enable_wal_ = false;
  return start(std::move(b), ctx);
}

Result<std::unique_ptr<StorageBackend>> PersistingBackend::start(std::unique_ptr<PersistingBackend> b,
                                                                const BackendContext& ctx) {
  Status s = ctx.read_only ? b->recover_unowned() : b->become_writer(std::chrono::milliseconds(0));
  // Locked by another process: read what it has flushed to Lance; a put tries the locks again.
  if (!s.ok() && s.code() != Code::kFailedPrecondition)
    return s.with_context("backend '" + b->name_ + "' bucket '" + ctx.bucket_dir + "'");
  return std::unique_ptr<StorageBackend>(std::move(b));
}

Status PersistingBackend::take_writer_lock(std::chrono::milliseconds patience) {
  if (enable_wal_) {
    // Writers of the node log's buckets are one process, the holder of its LOCK (become_writer
    // takes it next); in that process a claim keeps a second open of the bucket a reader. No
    // file per bucket: a process writing 1,000 buckets creates none for its locks.
    ASSIGN_OR_RETURN(writer_lock_, claim_in_process(env_, bucket_dir_, patience));
    return Status::OK();
  }
  RETURN_IF_ERROR(env_->create_dirs(bucket_dir_));
  ASSIGN_OR_RETURN(writer_lock_, lock_with_patience(env_, join_path(bucket_dir_, "writer.lock"), patience));
  return Status::OK();
}

Status PersistingBackend::become_writer(std::chrono::milliseconds patience) {
  std::lock_guard<std::mutex> lock(mu_);
  Status locked = take_writer_lock(patience);
  if (!locked.ok()) {
    if (locked.code() == Code::kFailedPrecondition)
      return FailedPrecondition("bucket '" + bucket_dir_ + "' is written by another process" +
                                (enable_wal_ ? "" : " (it holds " + join_path(bucket_dir_, "writer.lock") + ")") +
                                "; this one only reads");
    return locked;
  }
  // Another process may have written since this one opened the bucket: continue from its end.
  Status s = data_->refresh();
  if (s.ok() && enable_wal_) {
    auto log = host_->acquire(settings_, patience);
    if (log.ok()) {
      log_ = *log;
      // What this process read of the log as a reader: the attach replays it from the log.
      data_->drop_recovered();
      recovered_generation_ = 0;
      s = attach_stream();
      if (!s.ok()) {
        log_ = nullptr;
        host_->release();
      }
    } else {
      s = log.status();
    }
  }
  if (!s.ok()) {
    writer_lock_.reset();
    return s;
  }
  // Retention when the bucket opens as writer (docs/retention.md): a failure is logged and in
  // stats; the next flush tries again.
  bg_.report("retention", data_->enforce_retention());
  return Status::OK();
}

Status PersistingBackend::attach_stream() {
  wal::StreamOptions options = stream_options_;
  options.flush_request = [alive = alive_] {
    std::lock_guard<std::mutex> l(alive->mu);
    if (alive->self) alive->self->flusher_.run_now();
  };
  const uint64_t persisted = data_->persisted();
  std::vector<RecordBatch> batches;
  {
    std::lock_guard<std::mutex> a(host_->attach_mutex());
    auto end = log_->attach_batches(stream_, Offset(persisted), &batches, options);  // persisted + theirs
    if (!end.ok()) return end.status();
  }
  Status s;
  auto take = [&](const RecordBatch& b) {
    // Recovered records join the buffer's type bookkeeping, so later puts are checked against them.
    if (s.ok()) s = data_->check_types(b);
    if (s.ok()) {
      data_->buffer(b);
      replayed_ += b.size();
    }
  };
  for (const auto& b : batches) take(b);
  if (s.ok()) s = host_->note_damage(stream_, bucket_dir_, data_->total());
  // A bucket dir written before the node log: its own WAL, imported once.
  const std::string old_dir = join_path(bucket_dir_, "wal");
  if (s.ok() && wal_dir_has_segments(env_, old_dir, /*with_records_only=*/false)) {
    auto got = wal::import_stream_wal(env_, old_dir, settings_.recovery_policy, log_, stream_);
    if (!got.ok() && got.status().code() == Code::kCorruption &&
        settings_.recovery_policy == wal::RecoveryPolicy::kTolerateTail) {
      // Damage before its tail: the old WAL stays as it is, for an operator to look at, and the
      // bucket takes no puts (as a damaged WAL of its own left it read-only before).
      old_wal_error_ = got.status();
      log_warning(logger_, "bucket '" + bucket_dir_ + "' takes no puts: " + got.status().to_string());
    } else if (!got.ok()) {
      s = got.status();
    } else {
      if (got->report.records_lost) {
        const uint64_t first_lost = std::max(got->report.first_offset_lost.value(), data_->persisted());
        Status r = report_wal_damage(env_, logger_, old_dir, "bucket '" + bucket_dir_ + "'", got->report, first_lost);
        if (!r.ok()) s = r;
      }
      if (s.ok() && !got->records.empty()) {
        if (got->first.value() != data_->total())
          s = Corruption("bucket '" + bucket_dir_ + "': its old WAL continues at offset " +
                         std::to_string(got->first.value()) + " but the bucket holds " +
                         std::to_string(data_->total()) + " records");
        else
          take(got->records);
      }
    }
  }
  if (!s.ok()) {
    RecordBatch back;
    for (const auto& b : batches) back.append(b);
    log_->detach(stream_, Offset(persisted), std::move(back));
    // The records stay in the log; the buffer forgets what it took of them.
    return s;
  }
  stream_ref_ = log_->pin(stream_);
  return Status::OK();
}

void PersistingBackend::stop_writing() {
  std::unique_lock<std::mutex> lock(mu_);
  appends_done_.wait(lock, [this] { return inflight_ == 0; });
  if (log_) {
    log_->unpin(stream_ref_);
    stream_ref_ = wal::NodeLog::StreamRef();
    if (discarded_) {
      log_->forget(stream_);
    } else {
      // What is not in Lance stays in the log (the next open replays it), and in memory for an
      // open in this process.
      const uint64_t persisted = data_->persisted();
      RecordBatch unflushed;
      if (data_->total() > persisted) {
        auto rows = data_->get(persisted, data_->total() - persisted);
        if (rows.ok()) unflushed = std::move(rows).value();
      }
      log_->detach(stream_, Offset(persisted), std::move(unflushed));
    }
    log_ = nullptr;
    host_->release();
  }
  writer_lock_.reset();
}

Status PersistingBackend::recover_unowned() {
  if (!enable_wal_) return Status::OK();
  const bool old_wal = wal_dir_has_segments(env_, join_path(bucket_dir_, "wal"), /*with_records_only=*/true);
  if (!old_wal && !host_->open_here()) {
    if (!host_->may_hold_records()) {
      std::lock_guard<std::mutex> lock(mu_);
      return data_->refresh();
    }
    // What a dead writer left in the log: read into memory and served from there, after what
    // Lance holds. The log and the datasets stay as they are (no flush: the next writer
    // recovers the same records and flushes them in its time).
    auto read = host_->read_unowned(settings_);
    if (!read.ok() && read.status().code() != Code::kFailedPrecondition) return read.status();
    std::lock_guard<std::mutex> lock(mu_);
    RETURN_IF_ERROR(data_->refresh());  // drops recovered records Lance holds now
    // Locked: a writer lives, which holds the log's records; what this process read of it
    // earlier stays true.
    if (!read.ok() || writer_lock_ || (*read)->generation == recovered_generation_) return Status::OK();
    static const std::vector<std::pair<Offset, RecordBatch>> kNone;
    auto it = (*read)->streams.find(stream_);
    RETURN_IF_ERROR(data_->hold_recovered(it == (*read)->streams.end() ? kNone : it->second,
                                          "node log '" + host_->dir() + "': stream '" + stream_ + "'", *read));
    recovered_generation_ = (*read)->generation;
    replayed_ = data_->buffered();
    return Status::OK();
  }
  if (old_wal || host_->may_hold_records()) {
    // What a dead writer left in a WAL of this bucket's own written before the node log (or in
    // the log this process has open, unattached): this process becomes the writer for a
    // moment, as a writer would recover it, and has it flushed to Lance: this bucket's records
    // by itself, every other stream's by the log's host (one process recovers the whole log,
    // once).
    Status w = become_writer(std::chrono::milliseconds(0));
    if (!w.ok()) return w.code() == Code::kFailedPrecondition ? Status::OK() : w;  // a writer is alive
    bg_.report("recovery of the node log", host_->flush_unattached());
    std::lock_guard<std::mutex> flushing(flush_mu_);
    Status f = flush_once();
    bg_.report("flush", f);
    // Flushed: the locks go again. Not flushed (a full disk?): this process stays the writer,
    // so the records stay readable here, and the flusher retries.
    if (f.ok()) stop_writing();
    return Status::OK();
  }
  std::lock_guard<std::mutex> lock(mu_);
  return data_->refresh();
}

PersistingBackend::PersistingBackend(const BackendContext& ctx, std::unique_ptr<BufferedDataset> data,
                                     uint64_t flush_threshold, uint64_t flush_bytes, bool metrics)
    : env_(ctx.env), bucket_dir_(ctx.bucket_dir), logger_(ctx.logger),
      bg_(ctx.logger, "topic '" + ctx.topic + "' bucket " + std::to_string(ctx.bucket.value())),
      flush_threshold_(flush_threshold), flush_bytes_(flush_bytes),
      metrics_(metrics),
      scheduler_(ctx.scheduler ? ctx.scheduler : Scheduler::Default()),
      alive_(std::make_shared<Alive>()),
      data_(std::move(data)),
      flusher_(scheduler_, [this] { flush_in_background(); }),
      ager_(scheduler_, [this] { bg_.report("retention", flush()); }) {
  alive_->self = this;
  {
    std::lock_guard<std::mutex> lock(mu_);
    arm_ager();
  }
  // The most a fresh buffer reserves (it reserves what the last flush took, plus a quarter):
  // puts go on while the flusher takes the buffer.
  data_->set_buffer_reserve(flush_bytes_ + flush_bytes_ / 4);
}

PersistingBackend::~PersistingBackend() {
  {
    std::lock_guard<std::mutex> l(alive_->mu);
    alive_->self = nullptr;
  }
  flusher_.stop();  // the owner flushes on close; a crash has the log
  ager_.stop();
  stop_writing();
}

void PersistingBackend::arm_ager() {
  if (auto wait = data_->next_age_look()) ager_.run_after(*wait);
}

void PersistingBackend::discard() {
  std::lock_guard<std::mutex> lock(mu_);
  discarded_ = true;
}

Status PersistingBackend::ready_to_write() {
  // The first put (or its check) of a process that opened the bucket to read makes it the writer.
  if (!writer_lock_) RETURN_IF_ERROR(become_writer(kLockPatience));
  if (!old_wal_error_.ok()) return old_wal_error_;
  return log_ ? log_->health() : Status::OK();
}

Status PersistingBackend::check_batch(const RecordBatch& batch, const std::vector<uint64_t>& numbers) {
  RETURN_IF_ERROR(ready_to_write());
  // A put spanning buckets is refused whole while the log is full and the bucket holding it
  // back failed its flush, not in the parts that reach it after another part's append (the log
  // refuses those too; this is the early word). A log that is full while flushes work makes
  // the parts wait instead.
  if (log_) RETURN_IF_ERROR(log_->admission());
  std::lock_guard<std::mutex> lock(mu_);
  return data_->check(batch, numbers);
}

void PersistingBackend::put_batch_async(RecordBatch batch, std::function<void(Result<Offset>)> done) {
  if (Status s = ready_to_write(); !s.ok()) return done(s);
  {
    // The batch's admission (types, room) and the count of appends in flight under one lock:
    // a put spread over many buckets takes each bucket's mutex once less per part.
    std::unique_lock<std::mutex> lock(mu_);
    Status s = data_->admit(batch);
    if (!s.ok()) {
      lock.unlock();
      return done(s);
    }
    if (batch.empty()) {
      const Offset end(data_->total());
      lock.unlock();
      return done(end);
    }
    if (log_) ++inflight_;
  }
  if (!log_) {
    // No log (enable_wal=false, the `lance` backend): the records are durable once a flush has
    // them, and the put that fills a flush writes it before it returns. A failed flush keeps
    // them buffered (in stats, retried after a back-off); the put itself has succeeded.
    Result<Offset> first = Offset(0);
    bool flush_due;
    {
      std::lock_guard<std::mutex> lock(mu_);
      first = Offset(data_->total());
      flush_due = appended(batch, first);
    }
    notify_appended();
    if (flush_due) {
      std::lock_guard<std::mutex> flushing(flush_mu_);
      Status f = flush_once();
      bg_.report("flush", f);
      if (!f.ok() && flush_interval_.count() > 0) flusher_.run_after(flush_interval_);
    }
    return done(first);
  }
  // The log answers in append order (on its group-commit thread, or on this one for a stream
  // not synced per put), with the batch it wrote: the records join the buffer there, before the
  // put is acknowledged.
  log_->append_async(stream_ref_, std::move(batch), [this, done = std::move(done)](Result<Offset> first, const RecordBatch& written) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      appended(written, first);
    }
    if (first.ok()) notify_appended();
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (--inflight_ == 0) appends_done_.notify_all();  // under mu_: the backend may go right after
    }
    done(std::move(first));
  });
}

bool PersistingBackend::appended(const RecordBatch& batch, Result<Offset>& first) {
  if (!first.ok()) return false;
  if (first->value() != data_->total()) {
    first = Internal("the log gave offset " + std::to_string(first->value()) + " but bucket '" + bucket_dir_ +
                     "' continues at " + std::to_string(data_->total()));
    return false;
  }
  data_->buffer(batch);
  ++puts_;
  records_ += batch.size();
  // Before the acknowledgement: a put that returns has its flush (or periodic flush) asked for.
  return maybe_request_flush();
}

Result<Offset> PersistingBackend::put_batch(const RecordBatch& batch) {
  std::promise<Result<Offset>> p;
  auto f = p.get_future();
  put_batch_async(batch, [&p](Result<Offset> r) { p.set_value(std::move(r)); });
  return f.get();
}

bool PersistingBackend::maybe_request_flush() {
  if ((data_->waiting() >= flush_threshold_ || data_->waiting_bytes() >= flush_bytes_) && data_->retry_due()) {
    if (!log_) return true;  // the put writes it
    flusher_.run_now();
  } else if (flush_interval_.count() > 0 && data_->waiting() > 0 && !periodic_armed_) {
    // The periodic flush of a bucket that goes quiet; armed once, not by every put (each ask
    // takes the task's lock and reads the clock).
    periodic_armed_ = true;
    flusher_.run_after(flush_interval_);
  }
  return false;
}

void PersistingBackend::flush_in_background() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    periodic_armed_ = false;  // this run serves it; a later put arms the next one
    if (data_->waiting() == 0) return;
    if (!data_->retry_due()) {
      // A failed flush's back-off: look again later (a put asks too).
      flusher_.run_after(std::max<std::chrono::milliseconds>(flush_interval_, std::chrono::milliseconds(100)));
      return;
    }
  }
  std::lock_guard<std::mutex> flushing(flush_mu_);
  // A failure stays in stats (last_flush_error, bg_error), is logged once, and is retried after the
  // back-off; the records stay buffered and in the log.
  Status s = flush_once();
  bg_.report("flush", s);
  // A full log then refuses puts at once, naming this bucket, instead of waiting for it.
  if (!s.ok() && log_) log_->note_flush_failure(stream_, s);
  if (!s.ok()) flusher_.run_after(std::max<std::chrono::milliseconds>(flush_interval_, std::chrono::milliseconds(100)));
}

Status PersistingBackend::flush_once() {
  BufferedDataset::FlushJob job;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // A reader flushes nothing: recovered records it serves (recover_unowned) are the next
    // writer's to flush, from the log that holds them.
    if (!writer_lock_) return Status::OK();
    job = data_->begin_flush();
    // Nothing to flush: the writer still applies retention (after a topic alter).
    if (job.size() == 0) return writer_lock_ ? data_->enforce_retention() : Status::OK();
  }
  Status written = data_->write_flush(&job);  // the slow part: puts and reads go on meanwhile
  {
    std::lock_guard<std::mutex> lock(mu_);
    RETURN_IF_ERROR(data_->finish_flush(job, written));
    if (log_) {
      // The log frees the segments no stream needs any more (a checkpoint file and two fsyncs
      // only when that frees one).
      Status s = log_->checkpoint(stream_, Offset(data_->persisted()));
      if (!s.ok()) return s.with_context("checkpoint after flush (the records are in Lance; the log keeps them too)");
    }
  }
  // Old versions go once the reader holds the new one; unlocked, as write_flush.
  data_->clean_up(&job);
  std::lock_guard<std::mutex> lock(mu_);
  data_->note_clean_up(job);
  return Status::OK();
}

Status PersistingBackend::flush() {
  std::lock_guard<std::mutex> flushing(flush_mu_);
  bool reader;
  {
    std::lock_guard<std::mutex> lock(mu_);
    reader = !writer_lock_ && data_->has_retention();
  }
  if (reader) {
    // Opened to read, nothing buffered: a flush still applies retention (a topic alter), which
    // is the writer's to do: become it unless another process is (that one applies it).
    Status w = become_writer(std::chrono::milliseconds(0));
    if (!w.ok()) return w.code() == Code::kFailedPrecondition ? Status::OK() : w;
  }
  Status s = flush_once();
  if (s.ok()) bg_.report("flush", s);  // a failed background flush is over; a failure is the caller's
  {
    std::lock_guard<std::mutex> lock(mu_);
    arm_ager();
  }
  return s;
}

Result<RecordBatch> PersistingBackend::get(Offset offset, size_t limit) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    // A process that does not write the bucket sees what the writer has flushed.
    auto got = data_->get(offset.value(), limit, /*reader_only=*/!writer_lock_);
    if (writer_lock_ || !host_ || !got.ok() || got->size() >= limit) return got;
    if (!host_->may_hold_unowned(stream_)) return got;
  }
  // A reader at the end of Lance: records a writer left in the log when it closed or died go to
  // Lance now (nothing happens while a writer lives: it holds the log's lock).
  bg_.report("recovery of the node log", recover_unowned());
  std::lock_guard<std::mutex> lock(mu_);
  return data_->get(offset.value(), limit, /*reader_only=*/!writer_lock_);
}

Result<Offset> PersistingBackend::offset_for_time(int64_t time_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!writer_lock_) RETURN_IF_ERROR(data_->refresh());  // another process may write the bucket
  return Offset(data_->offset_for_time(time_ms));
}

uint64_t PersistingBackend::first_offset() const {
  std::lock_guard<std::mutex> lock(mu_);
  return data_->first_offset();
}

bool PersistingBackend::end_moves_only_by_puts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return writer_lock_ != nullptr;
}

uint64_t PersistingBackend::total_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return data_->total();
}

BucketStats PersistingBackend::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  BucketStats s;
  s.backend = name_;
  data_->add_stats(&s);
  Object& o = s.extra;
  o.set("writer", writer_lock_ != nullptr);
  add_wal_damage_stats(env_, join_path(bucket_dir_, "wal"), &o);
  if (host_) add_wal_damage_stats(env_, host_->dir(), &o, stream_);
  bg_.add_stats(&s);
  if (host_) {
    // The log's failures are every bucket's on it (logged once, by the log's host).
    BucketStats log_errors;
    host_->errors().add_stats(&log_errors);
    BucketStats::Background& mine = *s.background;
    mine.error_count += log_errors.background->error_count;
    if (mine.error.empty()) mine.error = log_errors.background->error;
  }
  // The bucket's share of the log: its records the log holds and Lance does not yet.
  s.wal_size = log_ ? data_->waiting_bytes() : 0;
  if (log_) {
    const wal::RecoveryReport recovery = host_->recovery();
    o.set("wal_stream", stream_);
    o.set("node_log_size", static_cast<int64_t>(log_->size_bytes()));
    // The size at which the log is full (max_wal_size, or by default grown with its buckets).
    o.set("node_log_limit", static_cast<int64_t>(log_->limit()));
    o.set("wal_segments", static_cast<int64_t>(log_->segment_count()));
    // The log's group commits (every stream's), and those that waited for more writers.
    o.set("wal_groups", static_cast<int64_t>(log_->groups()));
    o.set("wal_group_waits", static_cast<int64_t>(log_->group_waits()));
    // Appends that waited for room in the full log (flushes not keeping up with puts).
    o.set("wal_stalls", static_cast<int64_t>(log_->stalls()));
    o.set("wal_recovery", std::string(wal::recovery_outcome_name(recovery.outcome)));
    o.set("wal_records_replayed", static_cast<int64_t>(replayed_));
    Status health = log_->health();
    o.set("wal_error", health.ok() ? Value() : Value(health.to_string()));
  }
  if (metrics_) {
    o.set("puts", static_cast<int64_t>(puts_));
    o.set("records_put", static_cast<int64_t>(records_));
  }
  return s;
}

}  // namespace persisting
