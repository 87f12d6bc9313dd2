#include "backend/lance_backend.h"

#include "core/status_macros.h"

namespace persisting {

Result<std::unique_ptr<StorageBackend>> LanceBackend::create(const BackendContext& ctx,
                                                            const Options& options) {
  OptionReader reader(options, "backend 'lance'");
  ASSIGN_OR_RETURN(std::chrono::milliseconds flush_interval, BufferedDataset::flush_interval_option(reader));
  auto data = BufferedDataset::open(ctx, reader);
  if (!data.ok()) return data.status().with_context("backend 'lance'");
  RETURN_IF_ERROR(reader.finish());
  if (ctx.validate_only) return std::unique_ptr<StorageBackend>();
  std::unique_ptr<LanceBackend> b(new LanceBackend(ctx, std::move(data).value()));
  b->flush_interval_ = flush_interval;
  return std::unique_ptr<StorageBackend>(std::move(b));
}

LanceBackend::~LanceBackend() {
  flusher_.stop();
  ager_.stop();
}

void LanceBackend::age_look() {
  bg_.report("retention", flush());  // re-arms the look
}

void LanceBackend::arm_ager() {
  if (auto wait = data_->next_age_look()) ager_.run_after(*wait);
}

void LanceBackend::periodic_flush() {
  std::lock_guard<std::mutex> lock(mu_);
  // Errors are kept for stats and the next flush(), as for a put's flush.
  if (data_->waiting() > 0 && data_->retry_due()) bg_.report("flush", data_->flush());
  // Records still waiting (a failed flush, or one in back-off): look again an interval later.
  if (data_->waiting() > 0) flusher_.run_after(flush_interval_);
}

LanceBackend::LanceBackend(const BackendContext& ctx, std::unique_ptr<BufferedDataset> data)
    : env_(ctx.env), bucket_dir_(ctx.bucket_dir), batch_size_(ctx.batch_size),
      bg_(ctx.logger, "topic '" + ctx.topic + "' bucket " + std::to_string(ctx.bucket.value())),
      data_(std::move(data)),
      flusher_(ctx.scheduler ? ctx.scheduler : Scheduler::Default(), [this] { periodic_flush(); }),
      ager_(ctx.scheduler ? ctx.scheduler : Scheduler::Default(), [this] { age_look(); }) {
  std::lock_guard<std::mutex> lock(mu_);
  arm_ager();
}

Status LanceBackend::become_writer() {
  if (Status d = env_->create_dirs(bucket_dir_); !d.ok()) return d.with_context("backend 'lance'");
  auto l = env_->lock_file(join_path(bucket_dir_, "writer.lock"));
  if (!l.ok()) return l.status().with_context("backend 'lance' bucket '" + bucket_dir_ + "'");
  writer_lock_ = std::move(l).value();
  // Another writer may have committed before we took the lock: start from its end.
  Status s = data_->refresh();
  if (!s.ok()) {
    writer_lock_.reset();
    return s;
  }
  // Retention when the bucket becomes the writer (docs/retention.md): a failure is logged and in
  // stats; the next flush tries again.
  bg_.report("retention", data_->enforce_retention());
  return Status::OK();
}

Result<Offset> LanceBackend::put_batch(const RecordBatch& batch) {
  Offset first;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!writer_lock_) RETURN_IF_ERROR(become_writer());
    RETURN_IF_ERROR(data_->admit(batch));
    first = Offset(data_->total());
    data_->buffer(batch);
    // A failed flush keeps the records buffered (and visible); it is reported through stats and
    // the next flush(), and retried after a back-off. The put itself has succeeded.
    if (data_->buffered() >= batch_size_ && data_->retry_due()) bg_.report("flush", data_->flush());
    if (flush_interval_.count() > 0 && data_->waiting() > 0) flusher_.run_after(flush_interval_);
  }
  notify_appended();
  return first;
}

Status LanceBackend::check_batch(const RecordBatch& batch, const std::vector<uint64_t>& numbers) {
  std::lock_guard<std::mutex> lock(mu_);
  return data_->check(batch, numbers);
}

Status LanceBackend::flush() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!writer_lock_) {
    // Nothing is buffered (a put makes this the writer). A flush still applies retention (a
    // topic alter), which is the writer's to do: become it unless another process is.
    if (!data_->has_retention()) return Status::OK();
    arm_ager();
    Status w = become_writer();
    if (w.code() == Code::kFailedPrecondition) return Status::OK();  // that process applies it
    return w;
  }
  Status s = data_->flush();
  arm_ager();
  if (s.ok()) bg_.report("flush", s);  // a failed background flush is over; a failure is the caller's
  return s;
}

Result<RecordBatch> LanceBackend::get(Offset offset, size_t limit) {
  std::lock_guard<std::mutex> lock(mu_);
  return data_->get(offset.value(), limit, /*reader_only=*/!writer_lock_);
}

Result<Offset> LanceBackend::offset_for_time(int64_t time_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!writer_lock_) RETURN_IF_ERROR(data_->refresh());  // another process may write the bucket
  return Offset(data_->offset_for_time(time_ms));
}

uint64_t LanceBackend::first_offset() const {
  std::lock_guard<std::mutex> lock(mu_);
  return data_->first_offset();
}

uint64_t LanceBackend::total_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return data_->total();
}

BucketStats LanceBackend::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  BucketStats s;
  s.backend = "lance";
  data_->add_stats(&s);
  bg_.add_stats(&s);
  return s;
}

}  // namespace persisting
