// Checking a backup against its manifest (docs/backup.md, "Verify").
#pragma once

#include <string>
#include <vector>

#include "backup/backup_manifest.h"
#include "persisting/env.h"

namespace persisting::backup {

struct VerifyProblem {
  std::string path;  // relative to the backup directory
  std::string what;  // "missing", "size 10, expected 12", "crc32c 0badf00d, expected 1c2d3e4f"
};

struct VerifyReport {
  BackupManifest manifest;
  uint64_t files_checked = 0, bytes_checked = 0;
  std::vector<VerifyProblem> problems;
  bool ok() const { return problems.empty(); }
};

// Reads every file backup.json lists and compares its size and CRC32C. Problems with the files
// are in the report; an error result means there is no usable manifest (NotFound: no backup.json
// in dir; Corruption: it is damaged).
Result<VerifyReport> verify_backup(Env* env, const std::string& dir);

}  // namespace persisting::backup
