// The backup manifest, DIR/backup.json (format 1, docs/backup.md): which topic and incarnation a
// backup holds, each bucket's pinned Lance version and offset range, the consumer groups, and
// every file of the backup with its size and CRC32C. Written atomically, last, by a backup; a
// file in DIR that it does not list is not part of the backup.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "persisting/status.h"

namespace persisting::backup {

inline constexpr int kBackupFormat = 1;
inline constexpr const char* kBackupManifestName = "backup.json";

// One file of the backup. path is relative to the backup directory ("events/topic.json").
struct BackupFile {
  std::string path;
  uint64_t size = 0;
  uint32_t crc32c = 0;
};

// A bucket as the backup holds it: Lance version `version` (0: nothing flushed yet), whose rows
// are the offsets [first_offset, end_offset).
struct BackupBucket {
  uint32_t bucket = 0;
  uint64_t version = 0;
  uint64_t first_offset = 0;
  uint64_t end_offset = 0;
};

struct BackupManifest {
  std::string topic;
  uint64_t incarnation = 0;
  std::string created_at;  // UTC, ISO 8601
  std::vector<BackupBucket> buckets;  // one per bucket, in bucket order
  std::vector<std::string> groups;    // consumer groups whose commits are in the backup (sorted)
  std::vector<BackupFile> files;      // sorted by path

  const BackupFile* find(std::string_view path) const;
};

std::string encode_backup_manifest(const BackupManifest& m);
// Corruption naming `path` for anything malformed (bad JSON, missing keys, a file path that is
// absolute, has "..", or lies outside the topic's directory, buckets out of order); NotSupported
// for a higher format.
Result<BackupManifest> decode_backup_manifest(std::string_view json, const std::string& path);

// "1c2d3e4f"
std::string crc_text(uint32_t crc);

}  // namespace persisting::backup
