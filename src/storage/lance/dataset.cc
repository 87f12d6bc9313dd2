#include "storage/lance/dataset.h"

#include <chrono>
#include <optional>
#include <unordered_map>

#include "core/log.h"
#include "core/status_macros.h"
#include "storage/lance/commit.h"
#include "storage/lance/format.h"
#include "storage/lance/row_reader.h"
#include "storage/lance/schema_evolution.h"
#include "storage/lance/version_builder.h"

namespace persisting::lance {

// 2 s: coarser than any file system's timestamps here (ext4 with small inodes keeps whole
// seconds).
constexpr int64_t kStampTrustNs = 2'000'000'000;
namespace {

// A data file written for a commit attempt; removed again unless the commit succeeds.
class PendingFiles {
 public:
  explicit PendingFiles(Env* env) : env_(env) {}
  ~PendingFiles() {
    // An orphan data file is harmless (no manifest refers to it) but takes space: say so.
    for (const std::string& p : paths_)
      log_if_error(nullptr, LogLevel::kWarning, "removing uncommitted Lance data file '" + p + "'", env_->remove_file(p));
  }
  void add(std::string path) { paths_.push_back(std::move(path)); }
  const std::vector<std::string>& paths() const { return paths_; }
  void keep() { paths_.clear(); }

 private:
  Env* env_;
  std::vector<std::string> paths_;
};

struct WrittenFile {
  pb::DataFile file;
  uint64_t rows = 0;
};

// Writes `columns` to data/<uuid>.lance and describes it as a DataFile. Not synced here: the
// commit syncs all its files at once (commit.h).
Result<WrittenFile> write_file(Env* env, const std::string& dataset, const std::vector<FileColumn>& columns,
                               uint64_t rows, const FileWriteOptions& options, PendingFiles* pending) {
  const std::string name = new_uuid() + ".lance";
  const std::string dir = join_path(dataset, kDataDir);
  RETURN_IF_ERROR(env->create_dirs(dir));
  const std::string path = join_path(dir, name);
  FileWriteOptions unsynced = options;
  unsynced.sync = false;
  ASSIGN_OR_RETURN(uint64_t size, write_data_file(env, path, columns, rows, unsynced));
  pending->add(path);
  WrittenFile out;
  out.rows = rows;
  out.file.set_path(name);
  for (size_t i = 0; i < columns.size(); ++i) {
    out.file.add_fields(columns[i].field.id());
    out.file.add_column_indices(static_cast<int32_t>(i));
  }
  out.file.set_file_major_version(kDataFileMajor);
  out.file.set_file_minor_version(kDataFileMinor);
  out.file.set_file_size_bytes(size);
  return out;
}

// Commits next/txn as version s.version + 1 (with sync, the pending data files become durable
// first), writes the hint and returns the new snapshot. kAlreadyExists: a lost race.
Result<Snapshot> commit_next(Env* env, const Snapshot& s, NextVersion next, pb::Transaction txn, bool sync,
                             PendingFiles* pending) {
  ASSIGN_OR_RETURN(ManifestFile committed,
                   commit_version(env, s, std::move(next), std::move(txn), sync, pending->paths()));
  pending->keep();
  const uint64_t version = s.version + 1;
  // The hint only speeds up finding the latest version (readers list the versions without it).
  log_if_error(nullptr, LogLevel::kInfo, "writing the version hint of '" + s.dataset + "'",
               write_version_hint(env, s.dataset, version));
  return snapshot_from_manifest(env, s.dataset, s.naming, version, std::move(committed));
}

// Puts the manifest take_next_version() moved out of the snapshot back, unless a commit
// replaced the snapshot first.
class ManifestRestorer {
 public:
  explicit ManifestRestorer(Snapshot* s) : s_(s) {}
  ~ManifestRestorer() {
    if (s_) log_if_error(nullptr, LogLevel::kError, "restoring the manifest of '" + s_->dataset + "'", restore_manifest(s_));
  }
  void dismiss() { s_ = nullptr; }

 private:
  Snapshot* s_;
};

// One attempt to commit next/txn over s: the new snapshot, or nullopt when another writer took
// the version first (the restorer then puts s's manifest back; the caller retries). *last gets
// the attempt's status, for the error after the last attempt.
Result<std::optional<Snapshot>> try_commit(Env* env, const Snapshot& s, NextVersion next, pb::Transaction txn, bool sync,
                                           PendingFiles* pending, ManifestRestorer* restorer, Status* last) {
  auto committed = commit_next(env, s, std::move(next), std::move(txn), sync, pending);
  *last = committed.status();
  if (last->code() == Code::kAlreadyExists) return std::optional<Snapshot>();
  RETURN_IF_ERROR(*last);
  restorer->dismiss();
  return std::optional<Snapshot>(std::move(committed).value());
}

void set_fragment_times(pb::Manifest* m, uint64_t fragment_id, const FragmentTimes& t) {
  (*m->mutable_table_metadata())[fragment_time_key(fragment_id)] = std::to_string(t.min) + "," + std::to_string(t.max);
}

const pb::Field* manifest_field(const pb::Manifest& m, int32_t id) {
  for (const pb::Field& f : m.fields()) {
    if (f.id() == id) return &f;
  }
  return nullptr;
}

// Applies `change` to manifest N+1: new fields are appended; a widened int column becomes a new
// double field in the same position, and every fragment storing the old one gets a data file
// with the widened copy.
Status apply_schema_change(Env* env, const Snapshot& s, const SchemaChange& change, const FileWriteOptions& options,
                           pb::Manifest* m, PendingFiles* pending) {
  int32_t next_id = s.max_field_id + 1;
  for (const std::string& name : change.widened) {
    const SchemaField* old = s.find(name);
    const pb::Field widened = make_field(name, next_id++, ColumnType::Float64());
    for (pb::Field& f : *m->mutable_fields()) {
      if (f.id() == old->id) f = widened;
    }
    for (int i = 0; i < m->fragments_size(); ++i) {
      pb::DataFragment* frag = m->mutable_fragments(i);
      const uint64_t rows = s.fragment_starts[i + 1] - s.fragment_starts[i];
      FileReaderCache cache;
      std::vector<Value> values;
      RETURN_IF_ERROR(read_fragment_field(env, s, *frag, *old, 0, rows, &cache, &values));
      FileColumn col{widened, ColumnType::Float64(), {}};
      for (const Value& v : values) col.values.push_back(Cell::of(&v));
      ASSIGN_OR_RETURN(WrittenFile wf, write_file(env, s.dataset, {col}, rows, options, pending));
      *frag->add_files() = wf.file;
    }
  }
  for (const BatchField& b : change.added) *m->add_fields() = make_field(b.name, next_id++, b.type);
  return Status::OK();
}

// The columns of a new fragment: every schema field Persisting can write, in schema order.
std::vector<FileColumn> batch_columns(const pb::Manifest& m, const std::vector<Record>& rows) {
  std::vector<FileColumn> columns;
  for (const pb::Field& f : m.fields()) {
    if (f.parent_id() != -1) continue;
    auto t = column_type_of_field(f);
    if (!t.ok()) continue;  // a type LanceDB made and Persisting cannot write: null in this fragment
    FileColumn col{f, *t, {}};
    col.values.reserve(rows.size());
    for (const Record& r : rows) col.values.push_back(Cell::of(r.find(f.name())));
    columns.push_back(std::move(col));
  }
  return columns;
}

// Encoded records in one pass: their field types (the rules of infer_batch_fields) and, for each
// field, a cell per record (null where a record lacks it) viewing batch's bytes.
struct ScannedBatch {
  std::vector<BatchField> fields;
  std::vector<std::vector<Cell>> cells;  // parallel to fields
};

Result<ScannedBatch> scan_batch(const RecordBatch& batch) {
  BatchFieldTypes types;
  std::vector<std::vector<Cell>> cells;
  std::vector<FieldShape> shapes;
  for (size_t r = 0; r < batch.size(); ++r) {
    RETURN_IF_ERROR(scan_fields(batch.encoded(r), &shapes));
    RETURN_IF_ERROR(types.add_record(r, shapes));
    for (size_t k = 0; k < shapes.size(); ++k) {
      const size_t i = types.slots()[k];
      if (i == BatchFieldTypes::kNone) continue;  // null
      if (i == cells.size()) cells.emplace_back(batch.size());
      cells[i][r] = Cell::of(shapes[k]);
    }
  }
  return ScannedBatch{types.take(), std::move(cells)};
}

// The file's columns (the manifest's top-level fields) from a scanned batch, whose cells move
// into them; a field no record has is a column of nulls.
std::vector<FileColumn> batch_columns(const pb::Manifest& m, ScannedBatch&& batch, size_t rows) {
  std::unordered_map<std::string_view, size_t> index;
  for (size_t i = 0; i < batch.fields.size(); ++i) index.emplace(batch.fields[i].name, i);
  std::vector<FileColumn> columns;
  for (const pb::Field& f : m.fields()) {
    if (f.parent_id() != -1) continue;
    auto t = column_type_of_field(f);
    if (!t.ok()) continue;  // as above
    auto it = index.find(f.name());
    columns.push_back(FileColumn{f, *t, it != index.end() ? std::move(batch.cells[it->second]) : std::vector<Cell>(rows)});
  }
  return columns;
}

}  // namespace

Result<std::unique_ptr<LanceDataset>> LanceDataset::open_or_create(Env* env, const std::string& path,
                                                                   LanceOptions options) {
  // No directory yet: the first data file written makes them (a bucket that is opened and never
  // flushed leaves nothing on disk).
  std::unique_ptr<LanceDataset> ds(new LanceDataset(env, path, options));
  RETURN_IF_ERROR(ds->refresh());
  return ds;
}

Status LanceDataset::refresh() {
  // Every commit adds a manifest to _versions, which changes its stamp: an unchanged stamp means
  // nothing was committed since the last look (an idle reader of many buckets refreshes each of
  // them often, and this is one stat instead of a listing and a manifest read).
  const auto stamp = env_->stamp(path_ + "/_versions");
  if (stamp.ok() && versions_seen_ && *stamp == *versions_seen_) return Status::OK();
  versions_seen_.reset();
  const int64_t looked_at = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                std::chrono::system_clock::now().time_since_epoch()).count();
  // An equal stamp is trusted next time only if its mtime is older than the file system's clock
  // can blur (a commit within the same tick as the last change would leave the stamp as it is).
  auto remember = [&] {
    if (stamp.ok() && looked_at - stamp->mtime_ns > kStampTrustNs) versions_seen_ = *stamp;
  };
  ASSIGN_OR_RETURN(VersionListing listing, list_versions(env_, path_));
  // A version's manifest is written once and never changed, so a latest version that is the
  // snapshot's is the snapshot: nothing to read again. The size check guards against a dataset
  // deleted and written afresh up to the same version under the same path.
  if (snapshot_.version > 0 && !listing.versions.empty() && listing.versions.back() == snapshot_.version &&
      listing.naming == snapshot_.naming) {
    auto size = env_->file_size(snapshot_.manifest_path());
    if (size.ok() && *size == snapshot_.file.raw.size()) {
      remember();
      return Status::OK();
    }
  }
  ASSIGN_OR_RETURN(Snapshot s, load_snapshot(env_, path_, listing, std::nullopt));
  adopt(std::move(s));
  remember();
  return Status::OK();
}

void LanceDataset::adopt(Snapshot s) {
  snapshot_ = std::move(s);
  pin_.set(path_, snapshot_.version);
}

Result<uint64_t> LanceDataset::append(const std::vector<Record>& rows) {
  if (rows.empty()) return snapshot_.version;
  ASSIGN_OR_RETURN(std::vector<BatchField> batch, infer_batch_fields(rows));
  return append_rows(batch, rows.size(), [&](const Snapshot& s) { return check_int_ranges(s, rows); },
                     [&](const pb::Manifest& m) -> Result<std::vector<FileColumn>> { return batch_columns(m, rows); });
}

Result<uint64_t> LanceDataset::append(const RecordBatch& records) {
  if (records.empty()) return snapshot_.version;
  // One scan_fields pass gives both the types and the columns' cells.
  ASSIGN_OR_RETURN(ScannedBatch scanned, scan_batch(records));
  const std::vector<BatchField> batch = scanned.fields;
  bool cells_taken = false;
  auto ranges = [&](const Snapshot& s) -> Status {
    if (!has_narrow_int_columns(s)) return Status::OK();
    ASSIGN_OR_RETURN(std::vector<Record> rows, records.decode_all());
    return check_int_ranges(s, rows);
  };
  const FragmentTimes times{records.min_time(), records.max_time()};
  return append_rows(batch, records.size(), ranges, [&](const pb::Manifest& m) -> Result<std::vector<FileColumn>> {
    if (cells_taken) {  // a retry after a lost commit race: the last attempt's columns took the cells
      ASSIGN_OR_RETURN(scanned, scan_batch(records));
    }
    cells_taken = true;
    return batch_columns(m, std::move(scanned), records.size());
  }, times.known() ? &times : nullptr);
}

Result<uint64_t> LanceDataset::append_rows(const std::vector<BatchField>& batch, uint64_t num_rows,
                                           const std::function<Status(const Snapshot&)>& check_ranges,
                                           const std::function<Result<std::vector<FileColumn>>(const pb::Manifest&)>& columns,
                                           const FragmentTimes* times) {
  Status last;
  int schema_commits = 0;
  // Commits next/txn; false when another writer took the version first (then retry).
  auto commit = [&](NextVersion next, pb::Transaction txn, PendingFiles* pending,
                    ManifestRestorer* restorer) -> Result<bool> {
    ASSIGN_OR_RETURN(auto committed, try_commit(env_, snapshot_, std::move(next), std::move(txn), options_.file.sync,
                                                pending, restorer, &last));
    if (committed) adopt(std::move(*committed));
    return committed.has_value();
  };
  for (int attempt = 0; attempt < options_.max_commit_attempts; ++attempt) {
    if (attempt > 0) RETURN_IF_ERROR(refresh());
    RETURN_IF_ERROR(check_appendable(snapshot_));
    ASSIGN_OR_RETURN(SchemaChange change, plan_schema_change(snapshot_, batch));
    RETURN_IF_ERROR(check_ranges(snapshot_));
    PendingFiles pending(env_);
    ASSIGN_OR_RETURN(NextVersion next, take_next_version(&snapshot_));
    ManifestRestorer restorer(&snapshot_);
    pb::Manifest& m = next.manifest;
    pb::Transaction txn;
    if (!change.empty() && snapshot_.version > 0) {
      // A metadata-only (plus widened copies) merge commit first; the rows follow in the next one.
      RETURN_IF_ERROR(apply_schema_change(env_, snapshot_, change, options_.file, &m, &pending));
      auto* merge = txn.mutable_merge();
      *merge->mutable_fragments() = m.fragments();
      *merge->mutable_schema() = m.fields();
      ASSIGN_OR_RETURN(bool committed, commit(std::move(next), std::move(txn), &pending, &restorer));
      if (!committed) continue;
      if (++schema_commits > 2) return Internal("Lance dataset '" + path_ + "': schema change did not converge");
      attempt = -1;  // the schema commit was not a lost race: start counting again
      continue;
    }
    if (snapshot_.version == 0) {
      RETURN_IF_ERROR(apply_schema_change(env_, snapshot_, change, options_.file, &m, &pending));
    }
    ASSIGN_OR_RETURN(std::vector<FileColumn> cols, columns(m));
    ASSIGN_OR_RETURN(WrittenFile wf, write_file(env_, path_, cols, num_rows, options_.file, &pending));
    pb::DataFragment frag;
    frag.set_id(next_fragment_id(m));
    *frag.add_files() = wf.file;
    frag.set_physical_rows(wf.rows);
    m.set_max_fragment_id(static_cast<uint32_t>(frag.id()));
    if (times) set_fragment_times(&m, frag.id(), *times);
    *m.add_fragments() = frag;
    if (snapshot_.version == 0) {
      auto* overwrite = txn.mutable_overwrite();
      *overwrite->mutable_fragments() = m.fragments();
      *overwrite->mutable_schema() = m.fields();
    } else {
      frag.set_id(0);  // LanceDB leaves the id of an appended fragment 0 in the transaction
      *txn.mutable_append()->add_fragments() = frag;
    }
    ASSIGN_OR_RETURN(bool committed, commit(std::move(next), std::move(txn), &pending, &restorer));
    if (committed) return snapshot_.version;
  }
  return Unavailable("Lance dataset '" + path_ + "': gave up after " + std::to_string(options_.max_commit_attempts) +
                     " lost commit races (" + last.message() + ")");
}

Result<uint64_t> LanceDataset::remove_front_fragments(const std::function<size_t(const Snapshot&)>& choose) {
  Status last;
  for (int attempt = 0; attempt < options_.max_commit_attempts; ++attempt) {
    if (attempt > 0) RETURN_IF_ERROR(refresh());
    if (snapshot_.version == 0) return uint64_t{0};
    RETURN_IF_ERROR(check_appendable(snapshot_));
    const size_t n = std::min<size_t>(choose(snapshot_), snapshot_.fragment_starts.size() - 1);
    if (n == 0) return uint64_t{0};
    const uint64_t rows = snapshot_.fragment_starts[n];
    const uint64_t first = snapshot_.first_offset + rows;
    PendingFiles pending(env_);  // none: nothing is written but the manifest and transaction
    ASSIGN_OR_RETURN(NextVersion next, take_next_version(&snapshot_));
    ManifestRestorer restorer(&snapshot_);
    pb::Manifest& m = next.manifest;
    pb::Transaction txn;
    pb::Transaction::Delete* del = txn.mutable_delete_();
    for (size_t i = 0; i < n; ++i) {
      del->add_deleted_fragment_ids(m.fragments(static_cast<int>(i)).id());
      m.mutable_table_metadata()->erase(fragment_time_key(m.fragments(static_cast<int>(i)).id()));
    }
    // The rows of fragments other writers add concurrently that this delete covers: none.
    del->set_predicate("false");
    m.mutable_fragments()->DeleteSubrange(0, static_cast<int>(n));
    (*m.mutable_table_metadata())[kFirstOffsetKey] = std::to_string(first);
    ASSIGN_OR_RETURN(auto committed, try_commit(env_, snapshot_, std::move(next), std::move(txn), options_.file.sync,
                                                &pending, &restorer, &last));
    if (!committed) continue;  // lost the race: the restorer puts the manifest back
    adopt(std::move(*committed));
    return rows;
  }
  return Unavailable("Lance dataset '" + path_ + "': retention gave up after " +
                     std::to_string(options_.max_commit_attempts) + " lost commit races (" + last.message() + ")");
}

Result<CompactionReport> LanceDataset::compact(const CompactionOptions& options) {
  RETURN_IF_ERROR(check_compaction_options(options));
  Status last;
  for (int attempt = 0; attempt < options_.max_commit_attempts; ++attempt) {
    if (attempt > 0) RETURN_IF_ERROR(refresh());
    if (snapshot_.version == 0) return CompactionReport{};
    RETURN_IF_ERROR(check_appendable(snapshot_));
    auto indexed = indexed_fragments(snapshot_);
    if (!indexed.ok()) {
      // An index section this build cannot read: leave every fragment to the index.
      log_if_error(nullptr, LogLevel::kWarning, "compaction of '" + path_ + "' skipped", indexed.status());
      return CompactionReport{};
    }
    const std::vector<CompactionGroup> groups = plan_compaction(snapshot_, options, *indexed);
    if (groups.empty()) return CompactionReport{};
    const pb::Manifest& old = snapshot_.file.manifest;
    PendingFiles pending(env_);
    FileReaderCache cache;  // a reader of its own: the files it opens are about to go
    std::vector<pb::DataFragment> written;
    uint64_t next_id = next_fragment_id(old);
    CompactionReport report;
    for (const CompactionGroup& g : groups) {
      // Each column of the group's rows, fragment after fragment, in schema order.
      std::vector<std::vector<Value>> values(snapshot_.fields.size());
      std::vector<FileColumn> cols;
      for (size_t k = 0; k < snapshot_.fields.size(); ++k) {
        const SchemaField& field = snapshot_.fields[k];
        values[k].reserve(g.rows);
        for (size_t i = g.begin; i < g.end; ++i) {
          const uint64_t rows = snapshot_.fragment_starts[i + 1] - snapshot_.fragment_starts[i];
          std::vector<Value> part;
          RETURN_IF_ERROR(read_fragment_field(env_, snapshot_, old.fragments(static_cast<int>(i)), field, 0, rows,
                                              &cache, &part));
          for (Value& v : part) values[k].push_back(std::move(v));
        }
        const pb::Field* pf = manifest_field(old, field.id);
        if (!pf) return Internal("'" + path_ + "': schema field '" + field.name + "' is not in the manifest");
        FileColumn col{*pf, *field.type, {}};
        col.values.reserve(values[k].size());
        for (const Value& v : values[k]) col.values.push_back(Cell::of(&v));
        cols.push_back(std::move(col));
      }
      ASSIGN_OR_RETURN(WrittenFile wf, write_file(env_, path_, cols, g.rows, options_.file, &pending));
      pb::DataFragment frag;
      frag.set_id(next_id++);
      *frag.add_files() = wf.file;
      frag.set_physical_rows(wf.rows);
      written.push_back(std::move(frag));
      report.fragments_removed += g.end - g.begin;
      report.rows_rewritten += g.rows;
    }
    report.fragments_written = written.size();
    cache.clear();
    ASSIGN_OR_RETURN(NextVersion next, take_next_version(&snapshot_));
    ManifestRestorer restorer(&snapshot_);
    pb::Manifest& m = next.manifest;
    pb::Transaction txn;
    pb::Transaction::Rewrite* rewrite = txn.mutable_rewrite();
    google::protobuf::RepeatedPtrField<pb::DataFragment> fragments;
    size_t at = 0;
    for (size_t gi = 0; gi < groups.size(); ++gi) {
      const CompactionGroup& g = groups[gi];
      for (; at < g.begin; ++at) *fragments.Add() = std::move(*m.mutable_fragments(static_cast<int>(at)));
      pb::Transaction::Rewrite::RewriteGroup* rg = rewrite->add_groups();
      for (; at < g.end; ++at) *rg->add_old_fragments() = std::move(*m.mutable_fragments(static_cast<int>(at)));
      *rg->add_new_fragments() = written[gi];
      // The merged fragment's times span its inputs' (known only if all of theirs are).
      FragmentTimes t{0, 0};
      bool all_known = true;
      for (size_t i = g.begin; i < g.end; ++i) {
        const FragmentTimes& ft = snapshot_.fragment_times[i];
        all_known = all_known && ft.known();
        t.min = t.min == 0 ? ft.min : std::min(t.min, ft.min);
        t.max = std::max(t.max, ft.max);
      }
      for (const pb::DataFragment& f : rg->old_fragments()) m.mutable_table_metadata()->erase(fragment_time_key(f.id()));
      if (all_known) set_fragment_times(&m, written[gi].id(), t);
      *fragments.Add() = written[gi];
    }
    for (; at < static_cast<size_t>(m.fragments_size()); ++at)
      *fragments.Add() = std::move(*m.mutable_fragments(static_cast<int>(at)));
    m.mutable_fragments()->Swap(&fragments);
    m.set_max_fragment_id(static_cast<uint32_t>(next_id - 1));
    ASSIGN_OR_RETURN(auto committed, try_commit(env_, snapshot_, std::move(next), std::move(txn), options_.file.sync,
                                                &pending, &restorer, &last));
    if (!committed) continue;  // lost the race: the restorer puts the manifest back
    adopt(std::move(*committed));
    return report;
  }
  return Unavailable("Lance dataset '" + path_ + "': compaction gave up after " +
                     std::to_string(options_.max_commit_attempts) + " lost commit races (" + last.message() + ")");
}

Result<CleanupReport> LanceDataset::cleanup_old_versions(const CleanupOptions& options) {
  return lance::cleanup_old_versions(env_, path_, options);
}

Status LanceDataset::check_append(const std::vector<Record>& rows) const {
  RETURN_IF_ERROR(check_appendable(snapshot_));
  ASSIGN_OR_RETURN(std::vector<BatchField> batch, infer_batch_fields(rows));
  RETURN_IF_ERROR(plan_schema_change(snapshot_, batch).status());
  return check_int_ranges(snapshot_, rows);
}

Status LanceDataset::check_append(const std::vector<BatchField>& fields, const RecordBatch& batch,
                                  const std::vector<uint64_t>* numbers) const {
  RETURN_IF_ERROR(check_appendable(snapshot_));
  RETURN_IF_ERROR(plan_schema_change(snapshot_, fields).status());
  if (!has_narrow_int_columns(snapshot_)) return Status::OK();
  ASSIGN_OR_RETURN(std::vector<Record> rows, batch.decode_all());
  return check_int_ranges(snapshot_, rows, numbers);
}

Result<uint64_t> LanceDataset::count_rows(uint64_t version) {
  if (version == snapshot_.version) return snapshot_.num_rows();
  VersionPin pin(path_, version);  // cleanup keeps it while it is read
  ASSIGN_OR_RETURN(Snapshot s, load_snapshot(env_, path_, version));
  return s.num_rows();
}

Result<std::vector<Record>> LanceDataset::read(uint64_t offset, uint64_t limit, const ReadOptions& options) {
  std::vector<Record> rows;
  if (!options.version || *options.version == snapshot_.version) {
    ASSIGN_OR_RETURN(rows, read_rows(env_, snapshot_, offset, limit, options.columns, &readers_, &deletions_,
                                     options.with_deleted));
  } else {
    VersionPin pin(path_, *options.version);  // cleanup keeps it while it is read
    ASSIGN_OR_RETURN(Snapshot s, load_snapshot(env_, path_, *options.version));
    ASSIGN_OR_RETURN(rows, read_rows(env_, s, offset, limit, options.columns, &readers_, &deletions_,
                                     options.with_deleted));
  }
  if (options.omit_nulls) {
    for (Record& r : rows) {
      Record kept;
      for (auto& [name, value] : r) {
        if (!value.is_null()) kept.append_unchecked(name, std::move(value));
      }
      r = std::move(kept);
    }
  }
  return rows;
}

Result<std::vector<uint64_t>> LanceDataset::deleted_offsets(uint64_t offset, uint64_t limit) {
  return lance::deleted_offsets(env_, snapshot_, offset, limit, &deletions_);
}

Result<std::vector<VersionInfo>> LanceDataset::versions() {
  ASSIGN_OR_RETURN(VersionListing listing, list_versions(env_, path_));
  std::vector<VersionInfo> out;
  for (uint64_t v : listing.versions) {
    const std::string path = join_path(join_path(path_, kVersionsDir), manifest_file_name(listing.naming, v));
    ASSIGN_OR_RETURN(ManifestFile mf, read_manifest_file(env_, path));
    VersionInfo info;
    info.version = v;
    info.timestamp_seconds = mf.manifest.timestamp().seconds();
    info.timestamp_nanos = mf.manifest.timestamp().nanos();
    info.num_fragments = mf.manifest.fragments_size();
    for (const auto& f : mf.manifest.fragments()) info.num_rows += f.physical_rows();
    out.push_back(info);
  }
  return out;
}

std::vector<FragmentInfo> LanceDataset::fragments() const {
  std::vector<FragmentInfo> out;
  const auto& frags = snapshot_.file.manifest.fragments();
  for (int i = 0; i < frags.size(); ++i) {
    FragmentInfo f{frags[i].id(), snapshot_.fragment_starts[i], snapshot_.fragment_starts[i + 1] - snapshot_.fragment_starts[i], {}};
    f.num_deleted = frags[i].deletion_file().num_deleted_rows();
    if (static_cast<size_t>(i) < snapshot_.fragment_times.size()) f.times = snapshot_.fragment_times[i];
    for (const auto& df : frags[i].files()) f.files.push_back(df.path());
    out.push_back(std::move(f));
  }
  return out;
}

std::vector<FieldInfo> LanceDataset::schema() const {
  std::vector<FieldInfo> out;
  for (const SchemaField& f : snapshot_.fields) {
    const pb::Field* pf = manifest_field(snapshot_.file.manifest, f.id);
    out.push_back({f.name, f.id, pf ? pf->logical_type() : "", f.type ? type_display_name(*f.type) : "unsupported"});
  }
  return out;
}

}  // namespace persisting::lance
