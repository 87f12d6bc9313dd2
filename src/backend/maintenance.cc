#include "backend/maintenance.h"

#include <algorithm>

#include "core/status_macros.h"

namespace persisting {

Result<MaintenanceOptions> maintenance_options(OptionReader& reader) {
  MaintenanceOptions o;
  constexpr int64_t kTenYears = int64_t{10} * 366 * 24 * 3600;
  ASSIGN_OR_RETURN(int64_t retention, reader.get_int("version_retention", 3600, 0, kTenYears));
  o.version_retention = std::chrono::seconds(retention);
  ASSIGN_OR_RETURN(int64_t target, reader.get_int("compaction_target_rows", int64_t{1} << 20, 2, int64_t{1} << 40));
  o.compaction.target_rows = static_cast<uint64_t>(target);
  ASSIGN_OR_RETURN(int64_t min_fragments, reader.get_int("compaction_min_fragments", 8, 0, 1 << 20));
  if (min_fragments == 1) {
    return InvalidArgument("option 'compaction_min_fragments': bad value '1' (0 = off, or at least 2 fragments)");
  }
  o.background_min_fragments = static_cast<uint64_t>(min_fragments);
  ASSIGN_OR_RETURN(uint64_t max_bytes, reader.get_bytes("compaction_max_bytes", uint64_t{64} << 20));
  if (max_bytes == 0 || max_bytes > (uint64_t{2} << 30)) {
    return InvalidArgument("option 'compaction_max_bytes' must be between 1 and 2G, got " + std::to_string(max_bytes));
  }
  o.compaction.max_bytes = max_bytes;
  return o;
}

lance::CompactionOptions compaction_under(const MaintenanceOptions& o, const RetentionLimits* retention) {
  lance::CompactionOptions c = o.compaction;
  if (retention) {
    if (retention->records() > 0) c.target_rows = std::max<uint64_t>(2, std::min(c.target_rows, retention->records()));
    if (retention->bytes() > 0) c.max_bytes = std::max<uint64_t>(1, std::min(c.max_bytes, retention->bytes()));
  }
  return c;
}

Result<MaintenanceReport> maintain_dataset(lance::LanceDataset* ds, const MaintenanceOptions& o,
                                           const RetentionLimits* retention, bool force, bool cleanup) {
  MaintenanceReport report;
  lance::CompactionOptions c = compaction_under(o, retention);
  c.min_fragments = force ? 2 : o.background_min_fragments;
  c.tiered = !force;  // after flushes: size-tiered, so rows are not rewritten at every compaction
  if (c.min_fragments >= 2) {
    auto compacted = ds->compact(c);
    if (!compacted.ok()) return compacted.status().with_context("compaction of '" + ds->path() + "'");
    report.compaction = *compacted;
  }
  if (cleanup) {
    ASSIGN_OR_RETURN(report.cleanup, clean_up_versions(ds, o));
  }
  return report;
}

Result<lance::CleanupReport> clean_up_versions(lance::LanceDataset* ds, const MaintenanceOptions& o) {
  lance::CleanupOptions co;
  co.older_than = o.version_retention;
  auto cleaned = ds->cleanup_old_versions(co);
  if (!cleaned.ok()) return cleaned.status().with_context("version cleanup of '" + ds->path() + "'");
  return cleaned;
}

}  // namespace persisting

namespace persisting {

Result<MaintenanceOptions> topic_maintenance_options(const Options& backend_options,
                                                     std::optional<int64_t> version_retention_s,
                                                     const std::string& what) {
  Options options;
  for (const char* key : {"version_retention", "compaction_target_rows", "compaction_min_fragments", "compaction_max_bytes"}) {
    if (auto it = backend_options.find(key); it != backend_options.end()) options[key] = it->second;
  }
  OptionReader reader(options, what);
  ASSIGN_OR_RETURN(MaintenanceOptions mo, maintenance_options(reader));
  if (version_retention_s) mo.version_retention = std::chrono::seconds(*version_retention_s);
  return mo;
}

Result<DatasetCompaction> compact_dataset_now(Env* env, const std::string& path, const MaintenanceOptions& o,
                                              const RetentionLimits* retention) {
  DatasetCompaction c;
  if (!env->file_exists(path)) return c;
  ASSIGN_OR_RETURN(auto ds, lance::LanceDataset::open_or_create(env, path));
  c.exists = true;
  c.fragments_before = ds->fragments().size();
  auto r = maintain_dataset(ds.get(), o, retention, /*force=*/true, /*cleanup=*/true);
  if (r.ok()) c.report = *r;
  else c.status = r.status();
  c.version = ds->version();
  c.fragments = ds->fragments().size();
  c.rows = ds->count_rows();
  return c;
}

}  // namespace persisting
