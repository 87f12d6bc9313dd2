#include "backend/lance_backend.h"

#include "storage/lance/buffer_compression.h"

namespace persisting {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kRetryBackoff = std::chrono::seconds(1);

// Whether values of types a and b can share one column (int64 and double can: it widens).
bool compatible(const lance::ColumnType& a, const lance::ColumnType& b) {
  using K = lance::ColumnType::Kind;
  if (a == b) return true;
  auto numeric = [](const lance::ColumnType& t) { return t.kind == K::kInt || t.kind == K::kFloat; };
  return numeric(a) && numeric(b);
}

}  // namespace

Result<std::unique_ptr<StorageBackend>> LanceBackend::create(const BackendContext& ctx,
                                                            const Options& options) {
  OptionReader reader(options, "backend 'lance'");
  ASSIGN_OR_RETURN(std::string compression, reader.get_choice("compression", "none", {"none", "zstd", "lz4"}));
  ASSIGN_OR_RETURN(bool sync, reader.get_bool("sync", true));
  RETURN_IF_ERROR(reader.finish());
  if (ctx.bucket_dir.empty())
    return InvalidArgument("backend 'lance' stores files and needs a data directory");
  lance::LanceOptions lo;
  ASSIGN_OR_RETURN(lo.file.compression, lance::parse_buffer_compression(compression));
  lo.file.sync = sync;
  RETURN_IF_ERROR(ctx.env->create_dirs(ctx.bucket_dir));
  ASSIGN_OR_RETURN(auto ds, lance::LanceDataset::open_or_create(ctx.env, join_path(ctx.bucket_dir, "data.lance"), lo));
  return std::unique_ptr<StorageBackend>(new LanceBackend(ctx, std::move(ds)));
}

LanceBackend::LanceBackend(const BackendContext& ctx, std::unique_ptr<lance::LanceDataset> ds)
    : env_(ctx.env), bucket_dir_(ctx.bucket_dir), batch_size_(ctx.batch_size), ds_(std::move(ds)) {
  persisted_ = ds_->count_rows();
}

Status LanceBackend::check_types(const std::vector<Record>& rows) {
  RETURN_IF_ERROR(ds_->check_append(rows));
  ASSIGN_OR_RETURN(auto fields, lance::infer_batch_fields(rows));
  for (const auto& f : fields) {
    for (const auto& b : buffer_fields_) {
      if (b.name != f.name || compatible(b.type, f.type)) continue;
      return InvalidArgument("field '" + f.name + "': record " + std::to_string(f.first_record) +
                             " has type " + lance::type_display_name(f.type) +
                             " but buffered records have " + lance::type_display_name(b.type));
    }
  }
  // Remember the buffer's types; int64 + double stays double.
  for (const auto& f : fields) {
    bool known = false;
    for (auto& b : buffer_fields_) {
      if (b.name != f.name) continue;
      known = true;
      if (f.type.kind == lance::ColumnType::Kind::kFloat) b.type = f.type;
    }
    if (!known) buffer_fields_.push_back(f);
  }
  return Status::OK();
}

Result<Offset> LanceBackend::put_batch(const RecordBatch& batch) {
  ASSIGN_OR_RETURN(std::vector<Record> rows, batch.decode_all());
  Offset first;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!writer_lock_) {
      auto l = env_->lock_file(join_path(bucket_dir_, "writer.lock"));
      if (!l.ok()) return l.status().with_context("backend 'lance' bucket '" + bucket_dir_ + "'");
      writer_lock_ = std::move(l).value();
      // Another writer may have committed before we took the lock: start from its end.
      RETURN_IF_ERROR(ds_->refresh());
      persisted_ = ds_->count_rows();
    }
    RETURN_IF_ERROR(check_types(rows));
    first = Offset(persisted_ + buffer_.size());
    buffer_.append(batch);
    if (buffer_.size() >= batch_size_ && Clock::now() >= retry_after_) {
      // A failure keeps the records buffered (and visible); it is reported through stats and
      // the next flush(), and retried after the back-off. The put itself has succeeded.
      (void)flush_locked();
    }
  }
  notify_appended();
  return first;
}

Status LanceBackend::flush_locked() {
  if (buffer_.empty()) return Status::OK();
  auto t0 = Clock::now();
  auto rows = buffer_.decode_all();
  Status s = rows.ok() ? ds_->append(*rows).status() : rows.status();
  last_flush_seconds_ = std::chrono::duration<double>(Clock::now() - t0).count();
  if (!s.ok()) {
    last_flush_error_ = s;
    retry_after_ = Clock::now() + kRetryBackoff;
    return s.with_context("flush of " + std::to_string(buffer_.size()) + " records to '" + ds_->path() + "'");
  }
  persisted_ += buffer_.size();
  buffer_.clear();
  buffer_fields_.clear();
  ++flush_count_;
  last_flush_error_ = Status::OK();
  return Status::OK();
}

Status LanceBackend::flush() {
  std::lock_guard<std::mutex> lock(mu_);
  return flush_locked();
}

Result<RecordBatch> LanceBackend::get(Offset offset, size_t limit) {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t off = offset.value();
  if (!writer_lock_ && buffer_.empty() && off >= persisted_) {
    // A reader in another process than the writer: pick up commits made since we looked.
    RETURN_IF_ERROR(ds_->refresh());
    persisted_ = ds_->count_rows();
  }
  RecordBatch out;
  if (off < persisted_ && limit > 0) {
    uint64_t n = std::min<uint64_t>(limit, persisted_ - off);
    lance::ReadOptions ro;
    ro.omit_nulls = true;  // a record read back has the fields it was put with
    ASSIGN_OR_RETURN(auto rows, ds_->read(off, n, ro));
    for (const auto& r : rows) out.add(r);
    off += rows.size();
    limit -= rows.size();
    if (off < persisted_) return out;  // the dataset gave fewer rows: the rest next time
  }
  uint64_t total = persisted_ + buffer_.size();
  for (; off < total && limit > 0; ++off, --limit) out.add_encoded(buffer_.encoded(off - persisted_));
  return out;
}

uint64_t LanceBackend::total_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return persisted_ + buffer_.size();
}

Object LanceBackend::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  Object o;
  o.set("backend", "lance");
  o.set("total_count", static_cast<int64_t>(persisted_ + buffer_.size()));
  o.set("persisted", static_cast<int64_t>(persisted_));
  o.set("buffered", static_cast<int64_t>(buffer_.size()));
  o.set("flush_count", static_cast<int64_t>(flush_count_));
  o.set("last_flush_duration_s", last_flush_seconds_);
  o.set("last_flush_error", last_flush_error_.ok() ? Value() : Value(last_flush_error_.to_string()));
  o.set("version", static_cast<int64_t>(ds_->version()));
  o.set("fragments", static_cast<int64_t>(ds_->fragments().size()));
  o.set("dataset", ds_->path());
  o.set("durable", true);
  return o;
}

}  // namespace persisting
