#include "storage/lance/snapshot.h"

#include <algorithm>
#include <cstdio>

#include "core/status_macros.h"
#include "storage/lance/deletion_file.h"
#include "storage/lance/file_reader.h"
#include "storage/lance/format.h"

namespace persisting::lance {
namespace {

std::string flag_names(uint64_t flags) {
  std::string out;
  auto add = [&](uint64_t bit, const char* name) {
    if (flags & bit) out += (out.empty() ? "" : ", ") + std::string(name);
    flags &= ~bit;
  };
  add(kFlagDeletionFiles, "deletion files");
  add(kFlagStableRowIds, "stable row ids");
  add(kFlagUseV2Format, "use_v2_format (deprecated)");
  add(kFlagTableConfig, "table config");
  add(kFlagBasePaths, "base paths");
  add(kFlagNoTransactionFile, "no transaction file");
  if (flags) out += (out.empty() ? "" : ", ") + std::string("unknown bits 0x") + [&] {
    char b[24];
    std::snprintf(b, sizeof(b), "%llx", static_cast<unsigned long long>(flags));
    return std::string(b);
  }();
  return out;
}

Status check_readable(Snapshot* s, Env* env) {
  const pb::Manifest& m = s->file.manifest;
  const std::string where = "Lance dataset '" + s->dataset + "' version " + std::to_string(s->version);
  if (m.version() != s->version) {
    return Corruption(where + ": manifest says version " + std::to_string(m.version()));
  }
  if (!m.has_data_format()) return NotSupported(where + ": legacy dataset without data_format (file format v1)");
  if (m.data_format().file_format() != kDataFormatName || m.data_format().version() != kDataFormatVersion) {
    return NotSupported(where + ": data format " + m.data_format().file_format() + " " +
                        m.data_format().version() + " (only Lance file format 2.0 is supported)");
  }
  if (uint64_t bad = m.reader_feature_flags() & ~kReadableFlags) {
    return NotSupported(where + ": reader feature flags not supported: " + flag_names(bad));
  }
  if (auto it = m.table_metadata().find(kFirstOffsetKey); it != m.table_metadata().end()) {
    const std::string& v = it->second;
    uint64_t first = 0;
    bool ok = !v.empty() && v.size() <= 19;
    for (char c : v) {
      if (c < '0' || c > '9') ok = false;
      else first = first * 10 + static_cast<uint64_t>(c - '0');
    }
    if (!ok) return Corruption(where + ": table_metadata '" + kFirstOffsetKey + "' is not an offset: '" + v + "'");
    s->first_offset = first;
  }
  // Schema: top-level fields.
  for (const pb::Field& f : m.fields()) {
    s->max_field_id = std::max(s->max_field_id, f.id());
    if (f.parent_id() != -1) continue;
    SchemaField sf;
    sf.name = f.name();
    sf.id = f.id();
    auto t = column_type_of_field(f);
    if (t.ok()) sf.type = *t;
    else sf.type_error = t.status();
    s->fields.push_back(std::move(sf));
  }
  // Fragments.
  s->fragment_times.clear();
  s->fragment_times.reserve(m.fragments_size());
  for (const pb::DataFragment& frag : m.fragments()) {
    FragmentTimes t;
    if (!m.table_metadata().empty()) {
      if (auto it = m.table_metadata().find(fragment_time_key(frag.id())); it != m.table_metadata().end()) {
        // "<min>,<max>"; a value that does not parse is ignored (times are a hint for retention
        // and time lookups, never needed to read rows).
        long long lo = 0, hi = 0;
        char tail = 0;
        if (std::sscanf(it->second.c_str(), "%lld,%lld%c", &lo, &hi, &tail) == 2 && lo > 0 && lo <= hi) {
          t.min = lo;
          t.max = hi;
        }
      }
    }
    s->fragment_times.push_back(t);
  }
  s->fragment_starts.assign(1, 0);
  s->fragment_starts.reserve(m.fragments_size() + 1);
  for (const pb::DataFragment& frag : m.fragments()) {
    // Built only for an error: this loop runs over every fragment on every commit.
    auto fw = [&] { return where + " fragment " + std::to_string(frag.id()); };
    if (frag.has_deletion_file()) {
      const pb::DeletionFile& del = frag.deletion_file();
      if (del.has_base_id()) return NotSupported(fw() + ": its deletion file lives in another base path");
      if (del.file_type() != kDeletionArrowArray && del.file_type() != kDeletionBitmap) {
        return NotSupported(fw() + ": deletion file of unknown type " + std::to_string(del.file_type()));
      }
      s->num_deleted += del.num_deleted_rows();
      ++s->deletion_files;
    }
    for (const pb::DataFile& df : frag.files()) {
      if (df.has_base_id()) return NotSupported(fw() + ": data file '" + df.path() + "' lives in another base path");
      if (df.file_major_version() != kDataFileMajor || df.file_minor_version() != kDataFileMinor) {
        return NotSupported(fw() + ": data file '" + df.path() + "' is file format " +
                            std::to_string(df.file_major_version()) + "." + std::to_string(df.file_minor_version()) +
                            " (only 2.0 is supported)");
      }
      if (df.fields_size() != df.column_indices_size()) {
        return Corruption(fw() + ": data file '" + df.path() + "' has fields and column_indices of different lengths");
      }
    }
    uint64_t rows = frag.physical_rows();
    if (rows == 0 && frag.files_size() > 0) {  // 0 means "unknown": count from the first file
      const pb::DataFile& df = frag.files(0);
      ASSIGN_OR_RETURN(auto r, DataFileReader::open(env, join_path(join_path(s->dataset, kDataDir), df.path()),
                                                   df.file_size_bytes()));
      rows = r->num_rows();
    }
    if (rows > (uint64_t{1} << 48) - s->fragment_starts.back()) {
      return Corruption(fw() + ": implausible row count " + std::to_string(rows));
    }
    s->fragment_starts.push_back(s->fragment_starts.back() + rows);
  }
  return Status::OK();
}

}  // namespace

const SchemaField* Snapshot::find(std::string_view name) const {
  for (const SchemaField& f : fields) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

std::string Snapshot::manifest_path() const {
  return join_path(join_path(dataset, kVersionsDir), manifest_file_name(naming, version));
}

std::string fragment_time_key(uint64_t fragment_id) {
  return std::string(kFragmentTimeKeyPrefix) + std::to_string(fragment_id);
}

Result<Snapshot> load_snapshot(Env* env, const std::string& dataset, std::optional<uint64_t> version) {
  ASSIGN_OR_RETURN(VersionListing listing, list_versions(env, dataset));
  return load_snapshot(env, dataset, listing, version);
}

Result<Snapshot> load_snapshot(Env* env, const std::string& dataset, const VersionListing& listing,
                               std::optional<uint64_t> version) {
  Snapshot s;
  s.dataset = dataset;
  s.naming = listing.naming;
  if (!version) {
    if (listing.versions.empty()) {
      s.fragment_starts.assign(1, 0);
      return s;
    }
    version = listing.versions.back();
  } else if (!std::binary_search(listing.versions.begin(), listing.versions.end(), *version)) {
    return NotFound("Lance dataset '" + dataset + "': no version " + std::to_string(*version));
  }
  s.version = *version;
  ASSIGN_OR_RETURN(s.file, read_manifest_file(env, s.manifest_path()));
  RETURN_IF_ERROR(check_readable(&s, env));
  return s;
}

Result<Snapshot> snapshot_from_manifest(Env* env, const std::string& dataset, ManifestNaming naming,
                                        uint64_t version, ManifestFile file) {
  Snapshot s;
  s.dataset = dataset;
  s.naming = naming;
  s.version = version;
  s.file = std::move(file);
  RETURN_IF_ERROR(check_readable(&s, env));
  return s;
}

Status check_appendable(const Snapshot& s) {
  if (s.version == 0) return Status::OK();
  const pb::Manifest& m = s.file.manifest;
  const uint64_t flags = m.reader_feature_flags() | m.writer_feature_flags();
  if (uint64_t bad = flags & ~kWritableFlags) {
    return NotSupported("Lance dataset '" + s.dataset + "' version " + std::to_string(s.version) +
                        ": cannot append under feature flags: " + flag_names(bad));
  }
  return Status::OK();
}

}  // namespace persisting::lance
