// The backup manifest's file, DIR/backup.json (format 1, docs/backup.md); its structure is
// BackupManifest (include/persisting/backup.h). Written atomically, last, by a backup; a file in
// DIR that it does not list is not part of the backup.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "persisting/backup.h"

namespace persisting::backup {

inline constexpr int kBackupFormat = 1;
inline constexpr const char* kBackupManifestName = "backup.json";
// Written by the first backup into a directory until its backup.json is in place (docs/backup.md).
inline constexpr const char* kPartialMarkerName = "backup.partial";

std::string encode_backup_manifest(const BackupManifest& m);
// Corruption naming `path` for anything malformed (bad JSON, missing keys, a file path that is
// absolute, has "..", or lies outside the topic's directory, buckets out of order); NotSupported
// for a higher format.
Result<BackupManifest> decode_backup_manifest(std::string_view json, const std::string& path);

// "1c2d3e4f"
std::string crc_text(uint32_t crc);

}  // namespace persisting::backup
