// Restoring a topic from a backup into a data dir (docs/backup.md, "Restore").
//
// The backup is verified first (every file's size and CRC32C); then its datasets, a topic.json
// with a new incarnation and the groups' commits are written into <data_dir>/.restore.<topic>.<id>
// and that directory is renamed to <data_dir>/<topic> (create-if-absent) as the last step. So a
// failure at any point leaves no topic and no half-made one (a crash can leave the hidden staging
// directory, which nothing reads; remove it by hand). Offsets are those of the backup: bucket b
// holds [first_offset, end_offset) of the manifest, and new puts continue at end_offset.
#pragma once

#include <string>
#include <vector>

#include "backup/backup_manifest.h"
#include "persisting/env.h"
#include "persisting/store.h"

namespace persisting::backup {

struct RestoreOptions {
  std::string topic;  // the restored topic's name; empty: the backed-up topic's
  bool sync = true;
};

struct RestoreResult {
  TopicInfo info;  // as written to the new topic.json
  BackupManifest manifest;
  uint64_t files = 0, bytes = 0;
  // Commits that pointed past their bucket's end in the backup and were moved back to it:
  // "group g bucket b: 120 -> 100".
  std::vector<std::string> clamped;
};

// AlreadyExists when the data dir has the topic (nothing is changed); NotFound / Corruption when
// the backup is missing, damaged or fails verification (nothing is changed).
Result<RestoreResult> restore_topic(Env* env, const std::string& backup_dir, const std::string& data_dir,
                                    const RestoreOptions& options = {});

}  // namespace persisting::backup
