#include "backend/persisting_backend.h"

#include <future>

#include "backend/wal_damage_record.h"
#include "core/status_macros.h"
#include "storage/wal/evidence.h"

namespace persisting {
namespace {

constexpr uint64_t kMaxGroupBytes = 4 << 20;  // one WAL frame per group stays well under its limit
// Lance prefers large fragments, and every flush costs a few file creations and syncs: flush at
// 100,000 records or 32 MiB of encoded records per bucket, whichever comes first.
constexpr int64_t kDefaultFlushThreshold = 100000;
constexpr uint64_t kDefaultFlushBytes = 32ull << 20;
// How long a put waits for the writer lock: a reader recovering a dead writer's WAL holds it
// for that long (replay and one flush); a live writer holds it for good.
constexpr auto kLockPatience = std::chrono::milliseconds(3000);

}  // namespace

Result<std::unique_ptr<StorageBackend>> PersistingBackend::create(const BackendContext& ctx, const Options& options) {
  OptionReader reader(options, "backend 'persisting'");
  ASSIGN_OR_RETURN(bool enable_wal, reader.get_bool("enable_wal", true));
  ASSIGN_OR_RETURN(std::string mode, reader.get_choice("wal_sync_mode", "always", {"always", "interval", "os"}));
  ASSIGN_OR_RETURN(double interval, reader.get_double("wal_sync_interval", 1.0, 0, 86400));
  ASSIGN_OR_RETURN(uint64_t max_wal, reader.get_bytes("max_wal_size", 100ull << 20));
  // Whether a WAL segment freed by a checkpoint is kept and written over as a later one
  // (docs/wal-format.md, "Recycling"); off deletes it, as on copy-on-write file systems, where
  // overwriting in place saves nothing.
  ASSIGN_OR_RETURN(bool recycle, reader.get_bool("wal_recycle", true));
  ASSIGN_OR_RETURN(std::string policy,
                   reader.get_choice("wal_recovery", "tolerate_tail", {"tolerate_tail", "absolute", "point_in_time"}));
  // The WAL already makes records durable, so flushes can be large: Lance prefers big fragments
  // and every flush costs a few fsyncs and a manifest rewrite.
  ASSIGN_OR_RETURN(int64_t threshold, reader.get_int("flush_threshold", std::max<int64_t>(ctx.batch_size, kDefaultFlushThreshold),
                                                     1, 1'000'000'000));
  ASSIGN_OR_RETURN(uint64_t flush_bytes, reader.get_bytes("flush_bytes", kDefaultFlushBytes));
  ASSIGN_OR_RETURN(std::chrono::milliseconds flush_interval, BufferedDataset::flush_interval_option(reader));
  if (flush_bytes == 0 || flush_bytes > (1ull << 31))
    return InvalidArgument("backend 'persisting': option 'flush_bytes' must be between 1 and 2G, got " +
                           std::to_string(flush_bytes));
  ASSIGN_OR_RETURN(bool metrics, reader.get_bool("enable_metrics", true));
  // Group commit (always): how long at most the appender waits for the writers of recent groups
  // to join the next one (microseconds; 0: never waits).
  ASSIGN_OR_RETURN(int64_t group_wait_us, reader.get_int("wal_group_wait_us", 1000, 0, 100000));
  auto data = BufferedDataset::open(ctx, reader);
  if (!data.ok()) return data.status().with_context("backend 'persisting'");
  RETURN_IF_ERROR(reader.finish());
  if (ctx.validate_only) return std::unique_ptr<StorageBackend>();

  std::unique_ptr<PersistingBackend> b(
      new PersistingBackend(ctx, std::move(data).value(), static_cast<uint64_t>(threshold), flush_bytes, metrics));
  b->group_wait_cap_ = std::chrono::microseconds(group_wait_us);
  b->flush_interval_ = flush_interval;
  b->enable_wal_ = enable_wal;
  b->wal_options_.env = ctx.env;
  ASSIGN_OR_RETURN(b->wal_options_.sync_mode, wal::parse_sync_mode(mode));
  b->wal_options_.sync_interval_s = interval;
  b->wal_options_.max_segment_size = max_wal;
  b->wal_options_.recycle_segments = recycle;
  ASSIGN_OR_RETURN(b->wal_options_.recovery_policy, wal::parse_recovery_policy(policy));
  Status s = ctx.read_only ? b->recover_unowned() : b->become_writer(std::chrono::milliseconds(0));
  // Locked by another process: read what it has flushed to Lance; a put tries the lock again.
  if (!s.ok() && s.code() != Code::kFailedPrecondition)
    return s.with_context("backend 'persisting' bucket '" + ctx.bucket_dir + "'");
  return std::unique_ptr<StorageBackend>(std::move(b));
}

Status PersistingBackend::take_writer_lock(std::chrono::milliseconds patience) {
  const std::string path = join_path(bucket_dir_, "writer.lock");
  const auto deadline = std::chrono::steady_clock::now() + patience;
  auto pause = std::chrono::milliseconds(5);
  for (;;) {
    auto lock = env_->lock_file(path);
    if (lock.ok()) {
      writer_lock_ = std::move(lock).value();
      return Status::OK();
    }
    if (lock.status().code() != Code::kFailedPrecondition || std::chrono::steady_clock::now() >= deadline)
      return lock.status();
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(200));
  }
}

Status PersistingBackend::become_writer(std::chrono::milliseconds patience) {
  std::lock_guard<std::mutex> lock(mu_);
  Status locked = take_writer_lock(patience);
  if (!locked.ok()) {
    if (locked.code() == Code::kFailedPrecondition)
      return FailedPrecondition("bucket '" + bucket_dir_ + "' is written by another process; this one only reads");
    return locked;
  }
  // Another process may have written since this one opened the bucket: continue from its end.
  Status s = data_->refresh();
  if (s.ok() && enable_wal_) s = open_wal(wal_options_);
  if (!s.ok()) {
    wal_.reset();
    writer_lock_.reset();
    return s;
  }
  start_writer_threads();
  // Retention when the bucket opens as writer (docs/retention.md): a failure is logged and in
  // stats; the next flush tries again.
  bg_.report("retention", data_->enforce_retention());
  return Status::OK();
}

void PersistingBackend::start_writer_threads() {
  if (!wal_) return;
  // Only a put that waits for an fsync gains from the appender's group commit.
  group_commit_ = wal_options_.sync_mode == wal::SyncMode::kAlways || wal_options_.sync_interval_s == 0;
}

Status PersistingBackend::recover_unowned() {
  if (!enable_wal_ || !env_->file_exists(join_path(bucket_dir_, "wal"))) return Status::OK();
  Status locked = take_writer_lock(std::chrono::milliseconds(0));
  if (!locked.ok()) return locked.code() == Code::kFailedPrecondition ? Status::OK() : locked;
  RETURN_IF_ERROR(open_wal(wal_options_));
  if (data_->buffered() > 0 && !flush_once(/*explicit_flush=*/true).ok()) {
    // The recovered records cannot reach Lance now (a full disk?): keep them, as a writer does;
    // the failure is in stats and the flusher retries.
    start_writer_threads();
    return Status::OK();
  }
  Status closed = wal_->close();
  wal_.reset();
  writer_lock_.reset();
  return closed;
}

PersistingBackend::PersistingBackend(const BackendContext& ctx, std::unique_ptr<BufferedDataset> data,
                                     uint64_t flush_threshold, uint64_t flush_bytes, bool metrics)
    : env_(ctx.env), bucket_dir_(ctx.bucket_dir), logger_(ctx.logger),
      bg_(ctx.logger, "topic '" + ctx.topic + "' bucket " + std::to_string(ctx.bucket.value())),
      flush_threshold_(flush_threshold), flush_bytes_(flush_bytes),
      metrics_(metrics),
      scheduler_(ctx.scheduler ? ctx.scheduler : Scheduler::Default()),
      data_(std::move(data)),
      flusher_(scheduler_, [this] { flush_in_background(); }),
      // Group commit is on the put's path (a put waits for it), not timed work: always the
      // process pool, so a test's ManualScheduler that runs only when told cannot stall puts.
      appender_(Scheduler::Default(), [this] { append_groups(); }) {
  // Puts go on while the flusher takes the buffer: a quarter more than a flush's worth.
  data_->set_buffer_reserve(flush_bytes_ + flush_bytes_ / 4);
}

PersistingBackend::~PersistingBackend() {
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  appender_.stop();
  append_groups();  // writes and acknowledges whatever is still queued
  flusher_.stop();  // the owner flushes on close; a crash has the WAL
  if (wal_) bg_.report("WAL close", wal_->close());
}

Status PersistingBackend::open_wal(const wal::WalOptions& options) {
  std::string dir = join_path(bucket_dir_, "wal");
  uint64_t persisted = data_->persisted();
  auto replay = [this, persisted](Offset o, std::string_view record) -> Status {
    if (o.value() < persisted) return Status::OK();  // flushed before the crash, not checkpointed
    if (o.value() != data_->total())
      return Corruption("WAL record at offset " + std::to_string(o.value()) + " but the bucket continues at " +
                        std::to_string(data_->total()));
    data_->buffer_encoded(record);
    return Status::OK();
  };
  wal::WalOptions wo = options;
  wo.initial_offset = persisted;
  wo.on_background = [this](std::string_view task, const Status& s) { bg_.report(task, s); };
  wo.scheduler = scheduler_;
  ASSIGN_OR_RETURN(wal_, wal::Wal::open(dir, wo, replay, &recovery_));
  const wal::RecoveryReport first_open = recovery_;
  if (wal_->next_offset().value() < persisted) {
    // Every record this WAL recovered is already in Lance (it was written with enable_wal=false
    // since, or its damage lies below the dataset's end): the log is redundant. Start a fresh one
    // at the dataset's end, keeping the evidence of any damage (wal/damaged/).
    RETURN_IF_ERROR(wal_->close());
    wal_.reset();
    ASSIGN_OR_RETURN(auto children, env_->get_children(dir));
    for (const auto& child : children)
      if (child != wal::kDamagedDir) RETURN_IF_ERROR(env_->remove_all(join_path(dir, child)));
    recovery_ = wal::RecoveryReport();
    ASSIGN_OR_RETURN(wal_, wal::Wal::open(dir, wo, replay, &recovery_));
  }
  if (first_open.records_lost) {
    // Loud: a warning now, and a record that stats shows until an operator clears it.
    const uint64_t first_lost = std::max(first_open.first_offset_lost.value(), persisted);
    RETURN_IF_ERROR(report_wal_damage(env_, logger_, bucket_dir_, first_open, first_lost));
  }
  if (wal_->next_offset().value() != data_->total())
    return Corruption("WAL ends at offset " + std::to_string(wal_->next_offset().value()) + " but the bucket holds " +
                      std::to_string(data_->total()) + " records");
  if (data_->buffered() > 0) {
    // Replayed records join the buffer's type bookkeeping, so later puts are checked against them.
    ASSIGN_OR_RETURN(RecordBatch rows, data_->get(data_->persisted(), data_->buffered()));
    RETURN_IF_ERROR(data_->check_types(rows));
  }
  return Status::OK();
}

Status PersistingBackend::ready_to_write() {
  // The first put (or its check) of a process that opened the bucket to read makes it the writer.
  if (!writer_lock_) RETURN_IF_ERROR(become_writer(kLockPatience));
  return wal_ ? wal_->health() : Status::OK();
}

Status PersistingBackend::admit(const RecordBatch& batch) {
  RETURN_IF_ERROR(ready_to_write());
  std::lock_guard<std::mutex> lock(mu_);
  return data_->admit(batch);
}

Status PersistingBackend::check_batch(const RecordBatch& batch, const std::vector<uint64_t>& numbers) {
  RETURN_IF_ERROR(ready_to_write());
  std::lock_guard<std::mutex> lock(mu_);
  return data_->check(batch, numbers);
}

void PersistingBackend::put_batch_async(const RecordBatch& batch, std::function<void(Result<Offset>)> done) {
  if (Status s = admit(batch); !s.ok()) return done(s);
  if (batch.empty()) {
    std::lock_guard<std::mutex> lock(mu_);
    return done(Offset(data_->total()));
  }
  if (!wal_ || !group_commit_) {
    // No sync on the put's path (enable_wal=false, or wal_sync_mode interval/os): write here,
    // in the actor's message, and answer at once; nothing is gained by a hand-off.
    Offset first;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (wal_) {
        auto r = wal_->append(batch);  // returns after write(); the WAL syncs per its mode
        if (!r.ok()) return done(r.status());
        if (r->value() != data_->total())
          return done(Internal("WAL gave offset " + std::to_string(r->value()) + " but the bucket continues at " +
                               std::to_string(data_->total())));
      }
      first = Offset(data_->total());
      data_->buffer(batch);
      maybe_request_flush();
      ++puts_;
      records_ += batch.size();
    }
    notify_appended();
    return done(first);
  }
  bool start;
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    queue_.push_back(Pending{batch, std::move(done)});
    // An appender at work takes this put in its loop: only the first put behind an idle one
    // starts it (asking a running one again would cost an empty run and a thread wake-up).
    start = !appending_;
    appending_ = true;
  }
  if (start) {
    appender_.run_now();
  } else {
    queue_cv_.notify_one();  // an appender waiting for more writers counts this one
  }
}

Result<Offset> PersistingBackend::put_batch(const RecordBatch& batch) {
  std::promise<Result<Offset>> p;
  auto f = p.get_future();
  put_batch_async(batch, [&p](Result<Offset> r) { p.set_value(std::move(r)); });
  return f.get();
}

void PersistingBackend::append_groups() {
  for (;;) {
    std::vector<Pending> group;
    bool waited = false;
    {
      std::unique_lock<std::mutex> lock(queue_mu_);
      if (queue_.empty()) {
        appending_ = false;  // the next put starts the appender again
        return;
      }
      // Writers whose puts were in recent groups and are not queued yet are usually on their way
      // (building their next batch): waiting a little for them makes one sync cover them all,
      // where starting at once would sync a group of one and make them wait a whole round. The
      // wait is at most the last round's write + sync (what a put that just missed a round waits
      // anyway) and group_wait_cap_; a lone writer (recent groups of one) never waits.
      const size_t expected = std::max(group_max_, prev_group_max_);
      if (expected > 1 && queue_.size() < expected && group_wait_cap_.count() > 0) {
        auto wait = std::min<std::chrono::steady_clock::duration>(group_wait_cap_, last_round_);
        queue_cv_.wait_for(lock, wait, [&] { return stopping_ || queue_.size() >= expected; });
        waited = true;
      }
      uint64_t bytes = 0;
      while (!queue_.empty() && (group.empty() || bytes + queue_.front().batch.byte_size() <= kMaxGroupBytes)) {
        bytes += queue_.front().batch.byte_size();
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    // The largest group of the last 64 rounds and of the 64 before: how many writers are active.
    group_max_ = std::max(group_max_, group.size());
    if (++rounds_in_window_ == 64) {
      prev_group_max_ = group_max_;
      group_max_ = 0;
      rounds_in_window_ = 0;
    }
    RecordBatch combined;
    const RecordBatch* frame = &group[0].batch;
    if (group.size() > 1) {
      for (const auto& p : group) combined.append(p.batch);
      frame = &combined;
    }
    auto t0 = std::chrono::steady_clock::now();
    Result<Offset> first = wal_->append(*frame);  // durable per the sync mode when it returns
    last_round_ = std::chrono::steady_clock::now() - t0;
    double seconds = std::chrono::duration<double>(last_round_).count();
    std::vector<Result<Offset>> results;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (first.ok() && first->value() != data_->total())
        first = Internal("WAL gave offset " + std::to_string(first->value()) + " but the bucket continues at " +
                         std::to_string(data_->total()));
      uint64_t off = first.ok() ? first->value() : 0;
      for (const auto& p : group) {
        if (!first.ok()) {
          results.push_back(first.status());
          continue;
        }
        data_->buffer(p.batch);
        results.push_back(Offset(off));
        off += p.batch.size();
        ++puts_;
        records_ += p.batch.size();
      }
      if (first.ok()) {
        ++groups_;
        group_waits_ += waited ? 1 : 0;
        last_group_append_s_ = seconds;
      }
      // Before the acknowledgements: a put that returns has its flush (or periodic flush) asked for.
      maybe_request_flush();
    }
    if (first.ok()) notify_appended();
    for (size_t i = 0; i < group.size(); ++i) group[i].done(std::move(results[i]));
  }
}

void PersistingBackend::maybe_request_flush() {
  if ((data_->waiting() >= flush_threshold_ || data_->waiting_bytes() >= flush_bytes_) && data_->retry_due()) {
    flusher_.run_now();
  } else if (flush_interval_.count() > 0 && data_->waiting() > 0 && !periodic_armed_) {
    // The periodic flush of a bucket that goes quiet; armed once, not by every put (each ask
    // takes the task's lock and reads the clock).
    periodic_armed_ = true;
    flusher_.run_after(flush_interval_);
  }
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
  // back-off; the records stay buffered and in the WAL.
  Status s = flush_once(/*explicit_flush=*/false);
  bg_.report("flush", s);
  if (!s.ok()) flusher_.run_after(std::max<std::chrono::milliseconds>(flush_interval_, std::chrono::milliseconds(100)));
}

Status PersistingBackend::flush_once(bool explicit_flush) {
  BufferedDataset::FlushJob job;
  {
    std::lock_guard<std::mutex> lock(mu_);
    job = data_->begin_flush();
    // Nothing to flush: the writer still applies retention (after a topic alter).
    if (job.size() == 0) return writer_lock_ ? data_->enforce_retention() : Status::OK();
  }
  Status written = data_->write_flush(&job);  // the slow part: puts and reads go on meanwhile
  uint64_t persisted;
  {
    std::lock_guard<std::mutex> lock(mu_);
    RETURN_IF_ERROR(data_->finish_flush(job, written));
    persisted = data_->persisted();
  }
  if (!wal_ || (!explicit_flush && !wal_->checkpoint_frees_segment(Offset(persisted)))) return Status::OK();
  Status s = wal_->checkpoint(Offset(persisted));
  if (!s.ok()) return s.with_context("checkpoint after flush (the records are in Lance; the WAL keeps them too)");
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
  Status s = flush_once(/*explicit_flush=*/true);
  if (s.ok()) bg_.report("flush", s);  // a failed background flush is over; a failure is the caller's
  return s;
}

Result<RecordBatch> PersistingBackend::get(Offset offset, size_t limit) {
  std::lock_guard<std::mutex> lock(mu_);
  // A process that does not write the bucket sees what the writer has flushed.
  return data_->get(offset.value(), limit, /*reader_only=*/!writer_lock_);
}

uint64_t PersistingBackend::total_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return data_->total();
}

BucketStats PersistingBackend::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  BucketStats s;
  s.backend = "persisting";
  data_->add_stats(&s);
  Object& o = s.extra;
  o.set("writer", writer_lock_ != nullptr);
  add_wal_damage_stats(env_, bucket_dir_, &o);
  bg_.add_stats(&s);
  s.wal_size = wal_ ? wal_->size_bytes() : 0;
  if (wal_) {
    o.set("wal_segments", static_cast<int64_t>(wal_->segment_count()));
    o.set("wal_checkpoint", static_cast<int64_t>(wal_->checkpoint_offset().value()));
    o.set("wal_recovery", std::string(wal::recovery_outcome_name(recovery_.outcome)));
    o.set("wal_records_replayed", static_cast<int64_t>(recovery_.records_replayed));
    Status health = wal_->health();
    o.set("wal_error", health.ok() ? Value() : Value(health.to_string()));
  }
  if (metrics_) {
    o.set("puts", static_cast<int64_t>(puts_));
    o.set("records_put", static_cast<int64_t>(records_));
    o.set("wal_groups", static_cast<int64_t>(groups_));
    o.set("puts_per_wal_group", groups_ ? static_cast<double>(puts_) / groups_ : 0.0);
    o.set("last_wal_group_append_s", last_group_append_s_);
    o.set("wal_group_waits", static_cast<int64_t>(group_waits_));
  }
  return s;
}

}  // namespace persisting
