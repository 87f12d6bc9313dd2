// Data lifecycle of a bucket's Lance dataset beyond retention (docs/compaction.md): compaction
// of small fragments and cleanup of old versions, with the backend options that govern them.
// BufferedDataset runs it after each flush (in write_flush, without the owner's lock), and
// `persisting compact` runs it on demand.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "persisting/backend.h"
#include "persisting/options.h"
#include "storage/lance/dataset.h"

namespace persisting {

struct MaintenanceOptions {
  // compaction.min_fragments is the background threshold: a flush compacts once at least this
  // many small fragments could merge. 0: no compaction after flushes.
  lance::CompactionOptions compaction;
  uint64_t background_min_fragments = 8;
  // Old versions go once a newer one is this old (never the latest, nor one a reader here holds).
  std::chrono::seconds version_retention{3600};
};

// Options (docs/backends.md): version_retention (seconds, 3600), compaction_target_rows
// (1048576), compaction_min_fragments (8; 0 = off), compaction_max_bytes (64M).
Result<MaintenanceOptions> maintenance_options(OptionReader& reader);

// The compaction options under a topic's retention limits: a compacted fragment never holds more
// rows than retention_records (nor more data-file bytes than retention_bytes), so retention
// still removes data at about the limit's granularity.
lance::CompactionOptions compaction_under(const MaintenanceOptions& o, const RetentionLimits* retention);

struct MaintenanceReport {
  lance::CompactionReport compaction;
  lance::CleanupReport cleanup;
};

// Cleans up the old versions of `ds` under o.version_retention (never the latest, nor one a
// reader in this process holds).
Result<lance::CleanupReport> clean_up_versions(lance::LanceDataset* ds, const MaintenanceOptions& o);

// Compacts `ds` (when `force`, any two small fragments that can merge; otherwise only past the
// background threshold), then cleans up its old versions when `cleanup` is set.
Result<MaintenanceReport> maintain_dataset(lance::LanceDataset* ds, const MaintenanceOptions& o,
                                           const RetentionLimits* retention, bool force, bool cleanup);

}  // namespace persisting

namespace persisting {

// The maintenance options of a topic's datasets: its backend options (version_retention,
// compaction_*), with version_retention_s over them when given. `what` names the topic in errors.
Result<MaintenanceOptions> topic_maintenance_options(const Options& backend_options,
                                                     std::optional<int64_t> version_retention_s,
                                                     const std::string& what);

// One bucket's dataset compacted now (`persisting compact`, locally or on a node).
struct DatasetCompaction {
  bool exists = false;  // false: nothing flushed to the bucket yet (no dataset), nothing else set
  uint64_t version = 0, fragments_before = 0, fragments = 0, rows = 0;  // after (before) it
  Status status;  // of the compaction and cleanup; the counts above hold either way
  MaintenanceReport report;
};

// Opens the dataset at `path` with a handle of its own (a writer's handles in this or another
// process re-read the dataset on their next commit), compacts it (forced: any two small fragments
// that can merge) and cleans up its old versions. An error: the dataset cannot be opened.
Result<DatasetCompaction> compact_dataset_now(Env* env, const std::string& path, const MaintenanceOptions& o,
                                              const RetentionLimits* retention);

}  // namespace persisting
