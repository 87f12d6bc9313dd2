#include "backend/buffered_dataset.h"

#include "backend/retention.h"
#include "core/status_macros.h"
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

Result<std::chrono::milliseconds> BufferedDataset::flush_interval_option(OptionReader& reader) {
  ASSIGN_OR_RETURN(double seconds, reader.get_double("flush_interval", 10.0, 0, 86400));
  if (seconds == 0) return std::chrono::milliseconds(0);
  return std::chrono::milliseconds(std::max<int64_t>(1, static_cast<int64_t>(seconds * 1000)));
}

Result<std::unique_ptr<BufferedDataset>> BufferedDataset::open(const BackendContext& ctx, OptionReader& reader) {
  ASSIGN_OR_RETURN(std::string compression, reader.get_choice("compression", "none", {"none", "zstd", "lz4"}));
  ASSIGN_OR_RETURN(bool sync, reader.get_bool("sync", true));
  ASSIGN_OR_RETURN(bool direct_io, reader.get_bool("direct_io", true));
  ASSIGN_OR_RETURN(uint64_t max_buffered, reader.get_bytes("max_buffered_bytes", 1ull << 30));
  if (max_buffered == 0 || max_buffered > (2ull << 30))
    return InvalidArgument("option 'max_buffered_bytes' must be between 1 and 2G, got " + std::to_string(max_buffered));
  ASSIGN_OR_RETURN(MaintenanceOptions maintenance, maintenance_options(reader));
  if (ctx.validate_only) return std::unique_ptr<BufferedDataset>();  // options checked, no file touched
  if (ctx.bucket_dir.empty()) return InvalidArgument("this backend stores files and needs a data directory");
  lance::LanceOptions lo;
  ASSIGN_OR_RETURN(lo.file.compression, lance::parse_buffer_compression(compression));
  lo.file.sync = sync;
  lo.file.unbuffered = direct_io;
  std::string path = join_path(ctx.bucket_dir, "data.lance");
  ASSIGN_OR_RETURN(auto r, lance::LanceDataset::open_or_create(ctx.env, path, lo));
  ASSIGN_OR_RETURN(auto w, lance::LanceDataset::open_or_create(ctx.env, path, lo));
  std::unique_ptr<BufferedDataset> d(new BufferedDataset(
      std::move(r), std::move(w), ctx.tail_cache ? ctx.tail_cache : TailCache::Default(), ctx.retention));
  d->max_buffered_bytes_ = max_buffered;
  if (ctx.scheduler) d->clock_ = ctx.scheduler;
  d->bucket_ = ctx.bucket;
  d->maintenance_ = maintenance;
  return d;
}

BufferedDataset::BufferedDataset(std::unique_ptr<lance::LanceDataset> reader,
                                 std::unique_ptr<lance::LanceDataset> writer, TailCache* tail_cache,
                                 std::shared_ptr<const RetentionLimits> retention)
    : reader_(std::move(reader)), writer_(std::move(writer)), retention_(std::move(retention)),
      tail_cache_(tail_cache) {
  take_reader_bounds();
}

void BufferedDataset::take_reader_bounds() {
  first_ = reader_->first_offset();
  persisted_ = first_ + reader_->count_rows();
  // Append times stay monotone across restarts: never behind the newest fragment's.
  if (const auto& times = reader_->snapshot().fragment_times; !times.empty())
    last_time_ = std::max(last_time_, times.back().max);
  // Tail blocks wholly below first_ serve no read any more.
  while (!tail_.empty() && tail_.front()->first() + tail_.front()->count() <= first_) {
    tail_cache_->drop(*tail_.front());
    tail_.pop_front();
  }
}

Result<uint64_t> BufferedDataset::apply_retention() {
  if (!retention_ || !retention_->any()) return uint64_t{0};
  const uint64_t records = retention_->records();
  const uint64_t bytes = retention_->bytes();
  const uint64_t ms = retention_->ms();
  const bool limits = records > 0 || bytes > 0 || ms > 0;
  const bool interest = retention_->interest();
  const int64_t now = clock_->wall_ms();
  // Interest: the groups' floor, asked once (lazily: not while a single fragment leaves nothing
  // to remove). An error keeps everything.
  std::optional<Result<std::optional<uint64_t>>> floor;
  auto removed = writer_->remove_front_fragments([&](const lance::Snapshot& snap) -> size_t {
    size_t cut = limits ? retention_cut(snap, records, bytes, ms, now) : SIZE_MAX;
    if (!interest) return cut;
    if (snap.fragment_starts.size() < 3) return 0;  // one fragment or none: the newest stays
    if (!floor) floor = retention_->interest_floor(bucket_);
    if (!floor->ok()) return 0;
    if (!floor->value()) return limits ? cut : 0;  // no group: the limits alone
    return std::min(cut, interest_cut(snap, *floor->value()));
  });
  if (removed.ok() && floor && !floor->ok()) removed = floor->status();
  if (!removed.ok()) return removed.status().with_context("retention of '" + writer_->path() + "'");
  return removed;
}

Status BufferedDataset::enforce_retention() {
  if (flushing_ || !retention_ || !retention_->any()) return Status::OK();
  auto removed = apply_retention();
  last_retention_error_ = removed.status();
  RETURN_IF_ERROR(removed.status());
  if (*removed == 0) return Status::OK();  // nothing removed: the reader is current
  RETURN_IF_ERROR(refresh());
  // The removed fragments' files go now, not at the next flush: a quiet bucket may have none.
  FlushJob job;
  job.cleanup_due = cleanup_due();
  clean_up(&job);
  note_clean_up(job);
  return Status::OK();
}

std::optional<std::chrono::milliseconds> BufferedDataset::next_age_look() const {
  if (!retention_) return std::nullopt;
  // Interest: consumer groups commit while the bucket takes no puts (in this process or
  // another), so a quiet bucket looks again every kInterestLook.
  const bool interest = retention_->interest();
  if (retention_->ms() == 0) return interest ? std::optional(kInterestLook) : std::nullopt;
  const uint64_t ms = retention_->ms();
  // Without a fragment that can expire yet (one fragment, or times unknown), look again after
  // the age limit (at most a minute): a flush meanwhile may have given it one.
  int64_t wait = static_cast<int64_t>(std::min<uint64_t>(ms, 60'000));
  if (interest) wait = std::min<int64_t>(wait, kInterestLook.count());
  if (auto at = next_age_expiry(reader_->snapshot(), ms)) wait = std::min(wait, *at - clock_->wall_ms());
  // At most one look a second: a tiny limit, or a removal that keeps failing, must not turn the
  // look into a busy loop of flushes.
  return std::chrono::milliseconds(std::max<int64_t>(wait, 1000));
}

BufferedDataset::~BufferedDataset() { drop_tail(); }

std::vector<int32_t> BufferedDataset::field_ids() const {
  std::vector<int32_t> ids;
  for (const auto& f : reader_->snapshot().fields) ids.push_back(f.id);
  return ids;
}

void BufferedDataset::keep_tail(uint64_t first, std::shared_ptr<const RecordBatch> records) {
  auto block = tail_cache_->keep(first, std::move(records));
  if (!block) {
    drop_tail();  // larger than the whole budget; the tail must end where the dataset does
    return;
  }
  trim_tail();
  tail_.push_back(std::move(block));
}

void BufferedDataset::forget_deleted() {
  drop_tail();
  window_.clear();
  window_fields_.clear();
  window_gaps_ = 0;
}

void BufferedDataset::drop_tail() {
  for (auto& b : tail_) tail_cache_->drop(*b);
  tail_.clear();
}

void BufferedDataset::trim_tail() {
  while (!tail_.empty() && !tail_.front()->records()) tail_.pop_front();
}

bool BufferedDataset::read_tail(uint64_t* off, size_t* limit, RecordBatch* out) {
  trim_tail();
  if (tail_.empty() || *off < tail_.front()->first()) return false;
  if (*off >= tail_.back()->first() + tail_.back()->count()) {
    drop_tail();  // cannot happen (the tail ends where the dataset does), but never read past it
    return false;
  }
  // The block holding *off: blocks are consecutive, so count from the newest (reads are mostly
  // of recent records).
  size_t i = tail_.size() - 1;
  while (tail_[i]->first() > *off) --i;
  for (; i < tail_.size() && *limit > 0; ++i) {
    const TailCache::Block& block = *tail_[i];
    std::shared_ptr<const RecordBatch> records = block.records();
    if (!records) return false;  // evicted since trim_tail: Lance serves it
    const size_t from = static_cast<size_t>(*off - block.first());
    const size_t n = std::min<size_t>(*limit, records->size() - from);
    if (out->empty() && (n == *limit || i + 1 == tail_.size())) {
      // Like the memory backend: a view of the block's bytes, sharing ownership, no copy.
      // Appending more (the buffer) copies them in first.
      const auto& ends = records->ends();
      const uint32_t begin = from == 0 ? 0 : ends[from - 1];
      std::vector<uint32_t> sizes(n);
      for (size_t k = 0; k < n; ++k) sizes[k] = ends[from + k] - (from + k == 0 ? 0 : ends[from + k - 1]);
      *out = RecordBatch::view_of(records, records->data().substr(begin, ends[from + n - 1] - begin), sizes);
      if (records->has_times())
        out->set_times(std::vector<int64_t>(records->times().begin() + static_cast<std::ptrdiff_t>(from),
                                            records->times().begin() + static_cast<std::ptrdiff_t>(from + n)));
    } else {
      out->append_range(*records, from, n);
    }
    *off += n;
    *limit -= n;
  }
  ++tail_reads_;
  return true;
}

Status BufferedDataset::check_room(const RecordBatch& batch) const {
  const uint64_t waiting = (flushing_ ? flushing_->byte_size() : 0) + buffer_.byte_size();
  if (waiting + batch.byte_size() <= max_buffered_bytes_) return Status::OK();
  std::string why = last_flush_error_.ok() ? "flushes are not keeping up"
                                           : "the last flush failed: " + last_flush_error_.to_string();
  return ResourceExhausted("'" + path() + "': " + std::to_string(waiting) + " bytes of records wait for Lance and " +
                           std::to_string(batch.byte_size()) + " more would pass max_buffered_bytes (" +
                           std::to_string(max_buffered_bytes_) + "); " + why);
}

bool BufferedDataset::has_known_shape(const RecordBatch& batch) {
  return known_shape_ && known_version_ == reader_->version() && known_shape_->all_have(batch);
}

void BufferedDataset::remember_shape(const RecordBatch& batch, bool one_shape) {
  known_shape_.reset();
  if (!one_shape || batch.empty() || lance::has_narrow_int_columns(reader_->snapshot())) return;
  std::vector<FieldShape> fields;
  if (!scan_fields(batch.encoded(0), &fields).ok()) return;
  known_shape_ = RecordShape::intern(fields);
  known_version_ = reader_->version();
}

Status BufferedDataset::check_types(const RecordBatch& batch, const std::vector<uint64_t>* numbers, bool remember) {
  if (has_known_shape(batch)) return Status::OK();  // nothing to learn or to refuse
  // From the encoded records: a put is not decoded just to learn its types.
  bool one_shape = false;
  ASSIGN_OR_RETURN(auto fields, lance::infer_batch_fields(batch, numbers, &one_shape));
  RETURN_IF_ERROR(reader_->check_append(fields, batch, numbers));
  for (const auto& f : fields) {
    for (const auto& b : buffer_fields_) {
      if (b.name != f.name || compatible(b.type, f.type)) continue;
      return InvalidArgument("field '" + f.name + "': record " + std::to_string(f.first_record) +
                             " has type " + lance::type_display_name(f.type) +
                             " but buffered records have " + lance::type_display_name(b.type));
    }
  }
  if (!remember) return Status::OK();
  for (const auto& f : fields) {  // remember the buffer's types; int64 + double stays double
    bool known = false;
    for (auto& b : buffer_fields_) {
      if (b.name != f.name) continue;
      known = true;
      if (f.type.kind == lance::ColumnType::Kind::kFloat) b.type = f.type;
    }
    if (!known) buffer_fields_.push_back(f);
  }
  remember_shape(batch, one_shape);
  return Status::OK();
}

Result<RecordBatch> BufferedDataset::get(uint64_t off, size_t limit, bool reader_only) {
  // (Past what it holds: a reader's recovered records are served as they are.)
  if (reader_only && off + limit > total()) RETURN_IF_ERROR(refresh());
  if (off < first_ && limit > 0) return below_first(off);  // a zero-limit read only asks for the end
  RecordBatch out;
  size_t gaps = 0;
  int reloads = 0;
  while (off < persisted_ && limit > 0) {
    if (read_tail(&off, &limit, &out)) continue;
    // Below the tail, or a block evicted while this read looked (trimmed now): Lance, up to
    // where the tail begins, so what memory holds is not decoded again.
    trim_tail();
    uint64_t end = tail_.empty() ? persisted_ : tail_.front()->first();
    if (end <= off) {
      // The tail starts at or below off yet could not serve it (the cache evicts a bucket's
      // blocks oldest first, so this should not happen): Lance serves; never loop on it.
      drop_tail();
      end = persisted_;
    }
    const RecordBatch* src = &window_;
    uint64_t first = window_first_;
    size_t src_gaps = window_gaps_;
    RecordBatch oversized;
    if (!window_schema_current() || off < window_first_ || off >= window_first_ + window_.size()) {
      uint64_t n = std::min<uint64_t>(std::max<uint64_t>(limit, kWindowRows), end - off);
      lance::ReadOptions ro;
      ro.omit_nulls = true;  // a record read back has the fields it was put with
      ro.with_deleted = true;  // rows LanceDB deleted become gaps (empty entries) below
      auto read_rows = reader_->read(off - first_, n, ro);
      // deleted_offsets is in row space: row r holds offset first_ + r.
      Result<std::vector<uint64_t>> read_deleted =
          read_rows.ok() ? reader_->deleted_offsets(off - first_, read_rows->size()) : read_rows.status();
      if (!read_deleted.ok()) {
        // A file of the version this handle holds is gone: another process cleaned the version
        // up (this one held it past version_retention). The rows are the same in the latest
        // version: reload and read again. Not while a flush is in flight (its commit would be
        // counted twice); the caller's next get then reloads.
        if (read_deleted.status().code() == Code::kNotFound && !flushing_ && reloads < 3) {
          ++reloads;
          RETURN_IF_ERROR(refresh());
          if (off < first_) return below_first(off);
          continue;
        }
        return read_deleted.status();
      }
      std::vector<Record>& rows = *read_rows;
      if (rows.empty()) return out;  // the dataset gave nothing more: the rest next time
      std::vector<uint64_t>& deleted = *read_deleted;
      ++window_fills_;
      RecordBatch read;
      size_t d = 0;
      for (size_t i = 0; i < rows.size(); ++i) {
        if (d < deleted.size() && deleted[d] == off - first_ + i) {
          read.add_encoded(std::string_view());  // a gap: StorageBackend::get
          ++d;
        } else {
          read.add(rows[i]);
        }
      }
      stamp_from_fragments(off - first_, &read);
      src_gaps = deleted.size();
      first = off;
      if (read.byte_size() > kMaxWindowBytes) {  // too big to keep: serve it and forget it
        window_.clear();
        window_fields_.clear();
        window_gaps_ = 0;
        oversized = std::move(read);
        src = &oversized;
      } else {
        window_ = std::move(read);
        window_first_ = off;
        window_gaps_ = src_gaps;
        window_fields_.clear();
        for (const auto& f : reader_->snapshot().fields) window_fields_.push_back(f.id);
      }
    }
    const size_t n = static_cast<size_t>(std::min<uint64_t>(limit, first + src->size() - off));
    out.append_range(*src, static_cast<size_t>(off - first), n);
    if (src_gaps > 0 && gaps < kMaxGapsPerGet) {
      // Gaps do not count toward limit (up to kMaxGapsPerGet of them), so a get past a run of
      // deleted rows still returns records.
      const auto& ends = src->ends();
      for (size_t k = static_cast<size_t>(off - first); k < static_cast<size_t>(off - first) + n; ++k) {
        if (ends[k] == (k == 0 ? 0 : ends[k - 1]) && gaps < kMaxGapsPerGet) {
          ++gaps;
          ++limit;
        }
      }
    }
    off += n;
    limit -= n;
  }
  return get_buffered(off, limit, std::move(out));
}

void BufferedDataset::stamp_from_fragments(uint64_t row, RecordBatch* read) const {
  // Lance keeps append times per fragment, not per row (docs/records.md, "Append time"): a row
  // read back from Lance gets its fragment's latest time (0 when the fragment has none).
  const lance::Snapshot& snap = reader_->snapshot();
  const auto& starts = snap.fragment_starts;
  if (snap.fragment_times.size() + 1 != starts.size()) return;
  size_t f = static_cast<size_t>(std::upper_bound(starts.begin(), starts.end(), row) - starts.begin());
  if (f == 0) return;
  --f;
  std::vector<int64_t> times(read->size(), 0);
  for (size_t i = 0; i < read->size(); ++i) {
    while (f + 1 < starts.size() && row + i >= starts[f + 1]) ++f;
    if (f < snap.fragment_times.size()) times[i] = snap.fragment_times[f].max;
  }
  read->set_times(std::move(times));
}

uint64_t BufferedDataset::offset_for_time(int64_t time_ms) const {
  const lance::Snapshot& snap = reader_->snapshot();
  if (snap.fragment_times.size() + 1 == snap.fragment_starts.size()) {
    for (size_t f = 0; f < snap.fragment_times.size(); ++f) {
      const lance::FragmentTimes& t = snap.fragment_times[f];
      if (!t.known() || t.max >= time_ms) return first_ + snap.fragment_starts[f];
    }
  }
  uint64_t off = persisted_;
  for (const RecordBatch* b : {flushing_.get(), &buffer_}) {
    if (!b) continue;
    for (size_t i = 0; i < b->size(); ++i)
      if (b->time(i) == 0 || b->time(i) >= time_ms) return off + i;
    off += b->size();
  }
  return total();
}

bool BufferedDataset::window_schema_current() const {
  const auto& fields = reader_->snapshot().fields;
  if (fields.size() != window_fields_.size()) return false;
  for (size_t i = 0; i < fields.size(); ++i)
    if (fields[i].id != window_fields_[i]) return false;
  return true;
}

RecordBatch BufferedDataset::get_buffered(uint64_t off, size_t limit, RecordBatch out) const {
  // The records being flushed, then the buffer: one copy from each.
  uint64_t i = off - persisted_;
  if (i < flushing_size()) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(limit, flushing_size() - i));
    out.append_range(*flushing_, static_cast<size_t>(i), n);
    i += n;
    limit -= n;
  }
  if (limit > 0) out.append_range(buffer_, static_cast<size_t>(i - flushing_size()), limit);
  return out;
}

BufferedDataset::FlushJob BufferedDataset::begin_flush() {
  if (flushing_ || buffer_.empty()) return FlushJob{};
  flushing_ = std::make_shared<const RecordBatch>(std::move(buffer_));
  last_flush_bytes_ = flushing_->byte_size();
  buffer_ = RecordBatch();
  return FlushJob{flushing_};
}

Status BufferedDataset::write_flush(FlushJob* job) {
  if (job->size() == 0) return Status::OK();
  auto t0 = Clock::now();
  // From the encoded records, not decoded first. The writer handle may lag behind a commit made
  // through refresh()ed readers of another process; append re-reads and retries on a lost race
  // by itself.
  Status s = writer_->append(*job->records).status();
  job->seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  // Retention after the append, in the same unlocked step: whole fragments past the limits go
  // in a commit of their own. A failure does not fail the flush (its records are committed); it
  // is kept for stats and the next flush tries again.
  if (s.ok()) job->retention = apply_retention().status();
  if (s.ok()) job->maintenance = maintain(job);
  if (s.ok() && job->records->byte_size() < kCompactTailBytes) {
    auto compact = std::make_shared<RecordBatch>();
    compact->reserve(job->records->size(), job->records->byte_size());
    compact->append(*job->records);
    job->tail = std::move(compact);
  }
  return s;
}

Status BufferedDataset::maintain(FlushJob* job) {
  job->cleanup_due = cleanup_due();
  auto r = maintain_dataset(writer_.get(), maintenance_, retention_.get(), /*force=*/false, /*cleanup=*/false);
  if (!r.ok()) return r.status();
  job->maintained = *r;
  return Status::OK();
}

bool BufferedDataset::cleanup_due() const {
  const auto interval = std::min<std::chrono::seconds>(std::chrono::seconds(60), maintenance_.version_retention);
  return Clock::now() - last_cleanup_ >= interval;
}

void BufferedDataset::clean_up(FlushJob* job) {
  if (!job->cleanup_due || !job->maintenance.ok()) return;
  auto cleaned = clean_up_versions(writer_.get(), maintenance_);
  if (!cleaned.ok()) {
    job->maintenance = cleaned.status();
    return;
  }
  last_cleanup_ = Clock::now();
  job->maintained.cleanup = *cleaned;
}

void BufferedDataset::note_clean_up(const FlushJob& job) {
  if (!job.cleanup_due) return;
  last_maintenance_error_ = job.maintenance;
  versions_cleaned_ += job.maintained.cleanup.versions_removed;
  files_cleaned_ += job.maintained.cleanup.files_removed;
}

Status BufferedDataset::below_first(uint64_t off) const {
  return OutOfRange("'" + path() + "': offset " + std::to_string(off) + " is below the first available offset " +
                    std::to_string(first_) + " (retention removed the records before it)");
}

Status BufferedDataset::finish_flush(const FlushJob& job, Status s) {
  size_t n = job.size();
  if (n == 0) return Status::OK();
  last_flush_seconds_ = job.seconds;
  if (!s.ok()) {
    // The records go back in front of those put since, for the retry.
    RecordBatch back = *flushing_;
    back.append(buffer_);
    buffer_ = std::move(back);
    flushing_.reset();
    last_flush_error_ = s;
    retry_after_ = Clock::now() + kRetryBackoff;
    return s.with_context("flush of " + std::to_string(n) + " records to '" + path() + "'");
  }
  const uint64_t first = persisted_;
  persisted_ += n;
  last_retention_error_ = job.retention;
  last_maintenance_error_ = job.maintenance;
  if (job.maintained.compaction.fragments_written > 0) ++compactions_;
  fragments_compacted_ += job.maintained.compaction.fragments_removed;
  std::shared_ptr<const RecordBatch> flushed = std::move(flushing_);
  if (buffer_.empty()) forget_buffer_fields();
  ++flush_count_;
  last_flush_error_ = Status::OK();
  // The reader handle learns of the new fragment (and any schema change) from the commit.
  const std::vector<int32_t> fields_before = field_ids();
  const uint64_t deleted_before = reader_->count_deleted();
  Status r = reader_->refresh();
  if (!r.ok()) {
    drop_tail();  // the tail must end where the dataset does: Lance serves all of it
    return r.with_context("reloading '" + path() + "' after a flush");
  }
  if (reader_->count_deleted() != deleted_before) forget_deleted();
  take_reader_bounds();  // retention may have raised first_
  if (!fields_before.empty() && field_ids() != fields_before) {
    drop_tail();  // Lance answers in the new types now (a widened column reads back as double)
  } else {
    keep_tail(first, job.tail ? job.tail : std::move(flushed));
  }
  return Status::OK();
}

Status BufferedDataset::flush() {
  // Nothing to flush: a flush still applies retention (a topic alter, a quiet bucket).
  if (!flushing_ && buffer_.empty()) return enforce_retention();
  FlushJob job = begin_flush();
  Status s = write_flush(&job);
  RETURN_IF_ERROR(finish_flush(job, s));
  clean_up(&job);
  note_clean_up(job);
  return Status::OK();
}

Status BufferedDataset::hold_recovered(const std::vector<std::pair<Offset, RecordBatch>>& runs,
                                       const std::string& what, std::shared_ptr<const void> owner) {
  drop_recovered();
  if (flushing_ || !buffer_.empty())
    return FailedPrecondition(what + ": recovered records cannot join a buffer of the bucket's writer");
  uint64_t expected = persisted_;
  Status s;
  for (const auto& [first, records] : runs) {
    const uint64_t from = first.value(), end = from + records.size();
    if (end <= expected && buffer_.empty()) continue;  // wholly in the dataset already
    if (from > expected) {
      s = Corruption(what + " continues at offset " + std::to_string(expected) +
                     " but the log holds its records from " + std::to_string(from) + ": records missing");
    } else if (end <= expected || (from < expected && !buffer_.empty())) {
      s = Corruption(what + " holds offsets from " + std::to_string(from) + " twice");
    }
    if (!s.ok()) break;
    const size_t skip = static_cast<size_t>(expected - from);
    if (skip == 0 && owner && buffer_.empty()) {
      // A view of the run (the usual case: one run per stream): its bytes are not copied.
      std::vector<uint32_t> sizes(records.size());
      uint32_t prev = 0;
      for (size_t i = 0; i < sizes.size(); ++i) {
        sizes[i] = records.ends()[i] - prev;
        prev = records.ends()[i];
      }
      buffer_ = RecordBatch::view_of(owner, records.data(), sizes);
      if (records.has_times()) buffer_.set_times(records.times());
      stamp(0, buffer_);
    } else if (skip == 0) {
      buffer(records);
    } else {
      RecordBatch part;
      part.append_range(records, skip, records.size() - skip);
      buffer(part);
    }
    expected = end;
  }
  if (!s.ok()) {
    buffer_.clear();
    return s;
  }
  recovered_ = !buffer_.empty();
  return Status::OK();
}

void BufferedDataset::drop_recovered() {
  if (!recovered_) return;
  buffer_.clear();
  forget_buffer_fields();
  recovered_ = false;
}

Status BufferedDataset::refresh() {
  const uint64_t persisted_before = persisted_;
  const std::vector<int32_t> fields_before = field_ids();
  const uint64_t deleted_before = reader_->count_deleted();
  Status s = reader_->refresh();
  if (!s.ok() || field_ids() != fields_before) drop_tail();
  if (s.ok() && reader_->count_deleted() != deleted_before) forget_deleted();
  RETURN_IF_ERROR(s);
  take_reader_bounds();
  if (recovered_ && persisted_ > persisted_before) {
    // The next writer flushed them: the dataset serves them now.
    buffer_.drop_front(static_cast<size_t>(persisted_ - persisted_before));
    recovered_ = !buffer_.empty();
  }
  return Status::OK();
}

void BufferedDataset::add_stats(BucketStats* s) const {
  s->total_count = total();
  s->first_offset = first_;
  s->durable = true;
  BucketStats::Buffer& b = s->buffer.emplace();
  b.persisted = persisted_;
  b.buffered = buffered();
  b.flush_count = flush_count_;
  b.last_flush_duration_s = last_flush_seconds_;
  if (!last_flush_error_.ok()) b.last_flush_error = last_flush_error_.to_string();
  Object* o = &s->extra;
  // A reader's records of a dead writer's log, served from memory (hold_recovered).
  if (recovered_) o->set("recovered_records", static_cast<int64_t>(buffer_.size()));
  o->set("buffer_reserved_bytes", static_cast<int64_t>(buffer_.byte_capacity()));
  o->set("version", static_cast<int64_t>(reader_->version()));
  o->set("fragments", static_cast<int64_t>(reader_->fragments().size()));
  o->set("read_window_fills", static_cast<int64_t>(window_fills_));
  o->set("deleted_rows", static_cast<int64_t>(reader_->count_deleted()));
  uint64_t tail = 0;
  for (const auto& block : tail_)
    if (block->records()) tail += block->count();
  o->set("tail_records", static_cast<int64_t>(tail));
  o->set("tail_reads", static_cast<int64_t>(tail_reads_));
  o->set("dataset", reader_->path());
  if (!last_retention_error_.ok()) o->set("last_retention_error", last_retention_error_.to_string());
  o->set("compactions", static_cast<int64_t>(compactions_));
  o->set("fragments_compacted", static_cast<int64_t>(fragments_compacted_));
  o->set("versions_cleaned", static_cast<int64_t>(versions_cleaned_));
  o->set("files_cleaned", static_cast<int64_t>(files_cleaned_));
  if (!last_maintenance_error_.ok()) o->set("last_maintenance_error", last_maintenance_error_.to_string());
}

}  // namespace persisting
