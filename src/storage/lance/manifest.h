// Manifest files (_versions/*.manifest, docs/lance-format.md §3). Layout:
//
//   [u32 len + IndexSection]   optional, carried over verbatim from the previous version
//   [u32 len + Transaction]    the inline transaction (Manifest.transaction_section)
//   P: u32 len + Manifest
//   i64 P, i16 0, i16 2, "LANC"
//
// Names: V2 "{(2^64-1) - version, 20 digits}.manifest" (LanceDB's default, used for new
// datasets) or V1 "{version}.manifest". A dataset uses one scheme; appends keep it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "persisting/env.h"
#include "persisting/status.h"
#include "storage/lance/proto/table.pb.h"

namespace persisting::lance {

enum class ManifestNaming { kV1, kV2 };

std::string manifest_file_name(ManifestNaming naming, uint64_t version);
// The version a manifest file name encodes, or nullopt for other names (temp files,
// detached "d*" versions, the hint).
std::optional<std::pair<uint64_t, ManifestNaming>> parse_manifest_file_name(std::string_view name);

struct VersionListing {
  std::vector<uint64_t> versions;          // ascending
  ManifestNaming naming = ManifestNaming::kV2;
};
// Lists <dataset>/_versions. A missing directory is an empty listing. Mixed naming schemes are
// refused (LanceDB refuses them too).
Result<VersionListing> list_versions(Env* env, const std::string& dataset);

// A parsed manifest file and its raw bytes (to carry the index section over).
struct ManifestFile {
  pb::Manifest manifest;
  std::string raw;
};
Result<ManifestFile> read_manifest_file(Env* env, const std::string& path);
// Parses the bytes of a manifest file (`path` only names it in messages).
Result<ManifestFile> parse_manifest_file(std::string raw, const std::string& path);

// The bytes "u32 len + IndexSection" the manifest points at, or empty if it has none.
Result<std::string> index_section_bytes(const ManifestFile& m, const std::string& path);

// Builds the bytes of a manifest file: index section (as returned above, may be empty), the
// inline transaction, then the manifest. Sets index_section / transaction_section in *m.
std::string encode_manifest_file(pb::Manifest* m, std::string_view index_section,
                                 const std::string& transaction);

}  // namespace persisting::lance
