// Snapshot: one version of a Lance dataset, loaded from its manifest and checked.
// Loading refuses (NotSupported) what this implementation would misread: a data format other
// than 2.0, feature flags outside kReadableFlags, data or deletion files of another file version
// or in another base path. Deletion files are only checked here (deletion_file.h reads them).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "persisting/env.h"
#include "persisting/status.h"
#include "storage/lance/column_type.h"
#include "storage/lance/manifest.h"

namespace persisting::lance {

// A top-level schema field. `type` is empty when Persisting cannot read that Lance type;
// `type_error` then says why (returned when the field is read or written).
struct SchemaField {
  std::string name;
  int32_t id = 0;
  std::optional<ColumnType> type;
  Status type_error;
};

// The table_metadata key holding Snapshot::first_offset, in decimal.
inline constexpr const char* kFirstOffsetKey = "persisting.first_offset";

// Per fragment, the append times of its records (docs/lance-format.md, "Append times"):
// table_metadata["persisting.time.<fragment id>"] = "<min>,<max>", milliseconds since the Unix
// epoch. A fragment without the key (written by LanceDB, or before append times) has none.
inline constexpr const char* kFragmentTimeKeyPrefix = "persisting.time.";
std::string fragment_time_key(uint64_t fragment_id);
struct FragmentTimes {
  int64_t min = 0;  // 0 and 0: unknown
  int64_t max = 0;
  bool known() const { return max > 0; }
};

struct Snapshot {
  std::string dataset;
  uint64_t version = 0;                     // 0: the dataset has no version yet
  ManifestNaming naming = ManifestNaming::kV2;
  ManifestFile file;                        // manifest + raw bytes (version > 0)
  std::vector<SchemaField> fields;          // top-level fields in schema order
  int32_t max_field_id = -1;
  std::vector<uint64_t> fragment_starts;    // first row of each fragment, plus the total at the end
  uint64_t num_deleted = 0;                 // rows LanceDB deleted (manifest's num_deleted_rows)
  uint64_t deletion_files = 0;              // fragments with a deletion file
  // The offset of row 0: how many rows retention removed from the front over the dataset's life
  // (table_metadata[kFirstOffsetKey]; 0 when absent). Row r holds offset first_offset + r.
  uint64_t first_offset = 0;
  // One per fragment, in fragment order (unknown where the manifest has no times for it).
  std::vector<FragmentTimes> fragment_times;

  // Physical rows: deleted ones included (they keep their offsets as gaps).
  uint64_t num_rows() const { return fragment_starts.empty() ? 0 : fragment_starts.back(); }
  const SchemaField* find(std::string_view name) const;
  std::string manifest_path() const;
};

// Loads `version`, or the latest version when nullopt. A dataset without versions gives a
// snapshot with version 0 (only when version is nullopt).
Result<Snapshot> load_snapshot(Env* env, const std::string& dataset, std::optional<uint64_t> version);
// The same from a listing of the dataset's versions the caller has just made.
Result<Snapshot> load_snapshot(Env* env, const std::string& dataset, const VersionListing& listing,
                               std::optional<uint64_t> version);

// The snapshot of a manifest file the caller has in memory (the one it just committed).
Result<Snapshot> snapshot_from_manifest(Env* env, const std::string& dataset, ManifestNaming naming,
                                        uint64_t version, ManifestFile file);

// Checks that Persisting may append to this version (flags it does not implement are refused).
Status check_appendable(const Snapshot& s);

}  // namespace persisting::lance
