// LanceDataset: an append-only Lance 2.0 dataset on an Env, readable and writable by LanceDB.
//
//   auto ds = LanceDataset::open_or_create(env, "/data/t/bucket_0/data.lance");
//   ASSIGN_OR_RETURN(uint64_t v, (*ds)->append(records));   // one new fragment, version v
//   ASSIGN_OR_RETURN(auto rows, (*ds)->read(offset, limit));
//
// Each append writes one data file (one fragment) and commits the next version with the
// create-if-absent protocol of commit.h; a lost race is re-read and retried. Existing data
// files are never rewritten. Schema rules: schema_evolution.h. Format: docs/lance-format.md.
//
// Not thread-safe: one owner at a time. Several LanceDataset objects (in one process or many)
// may append to the same path concurrently; each sees the others' commits after refresh()
// (an append refreshes by itself when it loses a race).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status_macros.h"
#include "persisting/env.h"
#include "persisting/status.h"
#include "persisting/value.h"
#include "storage/lance/cleanup.h"
#include "storage/lance/compaction.h"
#include "storage/lance/file_writer.h"
#include "storage/lance/row_reader.h"
#include "storage/lance/schema_evolution.h"
#include "storage/lance/snapshot.h"
#include "storage/lance/version_pins.h"

namespace persisting::lance {

struct LanceOptions {
  // file.sync (default true) also governs the commit: with it, an acknowledged append survives
  // power loss; without it, only a process crash (LanceDB 0.31's own behaviour: no fsync).
  FileWriteOptions file;
  int max_commit_attempts = 1000;      // lost races before append gives up (Unavailable)
};

struct ReadOptions {
  std::optional<uint64_t> version;     // time travel; the current snapshot when empty
  std::vector<std::string> columns;    // projection; all fields when empty
  // Leave null fields out of the records (a columnar store cannot tell a missing field from a
  // null one; a queue usually wants records back as they were put, without the other fields).
  bool omit_nulls = false;
  // Rows LanceDB deleted are left out (LanceDB's view), unless with_deleted: then every row of
  // the range is returned and deleted_offsets() says which of them are gaps.
  bool with_deleted = false;
};

struct VersionInfo {
  uint64_t version = 0;
  int64_t timestamp_seconds = 0;
  int32_t timestamp_nanos = 0;
  uint64_t num_rows = 0;
  uint64_t num_fragments = 0;
};

struct FragmentInfo {
  uint64_t id = 0;
  uint64_t first_row = 0;
  uint64_t num_rows = 0;                // physical rows, deleted ones included
  uint64_t num_deleted = 0;            // rows LanceDB deleted (the deletion file's count)
  std::vector<std::string> files;      // paths relative to <dataset>/data/
  FragmentTimes times;                 // its records' append times (snapshot.h), if known
};

struct CompactionReport {
  uint64_t fragments_removed = 0;   // small fragments rewritten
  uint64_t fragments_written = 0;   // the fragments that replace them
  uint64_t rows_rewritten = 0;
};

struct FieldInfo {
  std::string name;
  int32_t id = 0;
  std::string lance_type;              // the logical type in the manifest
  std::string type;                    // Persisting's name for it, or "unsupported"
};

class LanceDataset {
 public:
  // Opens the dataset at `path`; a missing one is empty, and the first append creates its
  // directories and version 1. Refuses datasets this implementation would misread (snapshot.h).
  // *env must remain live while the dataset is in use.
  static Result<std::unique_ptr<LanceDataset>> open_or_create(Env* env, const std::string& path,
                                                              LanceOptions options = {});

  LanceDataset(const LanceDataset&) = delete;
  LanceDataset& operator=(const LanceDataset&) = delete;

  // Appends rows as one new fragment. If the schema must grow, a merge version is committed
  // first (metadata-only for new fields; one new file per fragment for an int column widened to
  // double). Returns the new version. An empty batch commits nothing and returns the current
  // version. On a type or range error nothing is written.
  Result<uint64_t> append(const std::vector<Record>& rows);
  // The same for encoded records, written from their bytes without decoding them (decoded only
  // to range-check narrow integer columns a LanceDB schema may have).
  Result<uint64_t> append(const RecordBatch& records);

  // Checks that append(rows) would pass the type (and narrow-integer range) checks against the
  // current schema, without writing anything: a buffering caller validates each put, so a later
  // flush cannot fail on types.
  Status check_append(const std::vector<Record>& rows) const;
  // The same for encoded records whose fields the caller has inferred (infer_batch_fields of
  // the batch): the batch is decoded only if the schema has narrow integer columns to check.
  // numbers (one per record, optional) is how errors name the records (infer_batch_fields).
  Status check_append(const std::vector<BatchField>& fields, const RecordBatch& batch,
                      const std::vector<uint64_t>* numbers = nullptr) const;

  // Reloads the latest version (to see other writers' commits).
  Status refresh();

  // Retention (docs/retention.md): removes the first n = choose(snapshot) fragments of the latest
  // version in one commit -- a Lance Delete transaction of whole fragments, which LanceDB reads as
  // a normal delete -- and raises first_offset() by their rows in the same manifest, so the rows
  // left keep their offsets. No data file is written or removed (older versions still refer to
  // them). choose sees every snapshot tried: a lost commit race re-reads the latest version and
  // asks again. n = 0 commits nothing. Returns the number of rows removed.
  Result<uint64_t> remove_front_fragments(const std::function<size_t(const Snapshot&)>& choose);
  // Compaction (docs/compaction.md, compaction.h): merges runs of small fragments of the latest
  // version, each into one new fragment with the same rows in the same order, and commits them
  // in one version (a Lance Rewrite transaction). Row positions, first_offset() and every row's
  // contents stay as they are. A lost commit race re-reads the latest version and plans again.
  // Nothing to do commits nothing.
  Result<CompactionReport> compact(const CompactionOptions& options);
  // Version cleanup (cleanup.h) of this dataset; this handle's version is pinned, so kept.
  Result<CleanupReport> cleanup_old_versions(const CleanupOptions& options);

  // The offset of row 0 (Snapshot::first_offset).
  uint64_t first_offset() const { return snapshot_.first_offset; }

  uint64_t version() const { return snapshot_.version; }
  // Rows, deleted ones included: offsets run from 0 to count_rows() and a deleted row is a gap.
  uint64_t count_rows() const { return snapshot_.num_rows(); }
  // Rows LanceDB deleted (count_rows() - count_deleted() is LanceDB's countRows).
  uint64_t count_deleted() const { return snapshot_.num_deleted; }
  // The offsets in [offset, offset + limit) of the current version that LanceDB deleted, ascending.
  Result<std::vector<uint64_t>> deleted_offsets(uint64_t offset, uint64_t limit);
  Result<uint64_t> count_rows(uint64_t version);
  Result<std::vector<Record>> read(uint64_t offset, uint64_t limit, const ReadOptions& options = {});
  Result<std::vector<VersionInfo>> versions();
  std::vector<FieldInfo> schema() const;
  std::vector<FragmentInfo> fragments() const;
  const Snapshot& snapshot() const { return snapshot_; }
  const std::string& path() const { return path_; }

 private:
  // append's commit loop: batch's types are checked against the schema, check_ranges against
  // each snapshot tried, and columns builds the new fragment's columns for the manifest.
  Result<uint64_t> append_rows(const std::vector<BatchField>& batch, uint64_t num_rows,
                               const std::function<Status(const Snapshot&)>& check_ranges,
                               const std::function<Result<std::vector<FileColumn>>(const pb::Manifest&)>& columns,
                               const FragmentTimes* times = nullptr);
  LanceDataset(Env* env, std::string path, LanceOptions options)
      : env_(env), path_(std::move(path)), options_(options) {}
  // Makes s the current snapshot and pins its version (version_pins.h).
  void adopt(Snapshot s);

  Env* env_;
  std::string path_;
  LanceOptions options_;
  Snapshot snapshot_;
  VersionPin pin_;           // snapshot_'s version, so cleanup in this process keeps it
  // _versions as the last refresh found it, when that look came long enough after its last
  // change to trust an equal stamp (refresh()).
  std::optional<FileStamp> versions_seen_;
  FileReaderCache readers_;  // data files opened by reads, kept across them (bounded in read_rows)
  DeletionCache deletions_;  // deletion files read (bounded in deleted_offsets)
};

}  // namespace persisting::lance
