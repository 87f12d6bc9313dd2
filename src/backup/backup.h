// Backup of one topic of a data dir into a directory (docs/backup.md).
//
// backup_topic pins each bucket's latest Lance version (it reads that version's manifest once)
// and copies exactly the files that version refers to (its manifest, data files, deletion
// files, transaction file, index files), then topic.json and the consumer groups' committed
// offsets, and writes DIR/backup.json last. Writers may go on appending meanwhile: Lance files
// are never modified, so the pinned version stays whole -- unless something deletes its files
// (a version cleanup), which makes the backup fail naming the file, never succeed with holes.
//
// It copies what Lance holds: records a writer has not flushed yet are not in it. The caller
// flushes first when it can (a writer in its process: TopicWriter::flush; no writer: opening the
// topic recovers a killed writer's log into Lance). See the CLI (apps/persisting/cmd_backup.cc).
//
// Incremental: a file the previous backup in DIR lists with the same size, and that is in DIR
// with that size, is not copied again (Lance files never change once written; a manifest is
// named by its version); topic.json and group files are written only when their bytes changed. Files of the previous backup the new one does not list are removed
// after the new backup.json is in place.
#pragma once

#include <string>

#include "backup/backup_manifest.h"
#include "persisting/env.h"

namespace persisting::backup {

struct BackupOptions {
  bool sync = true;  // fdatasync every file copied and fsync the directories before backup.json
};

struct BackupResult {
  BackupManifest manifest;
  uint64_t files_copied = 0, files_skipped = 0, files_removed = 0;
  uint64_t bytes_copied = 0, bytes_skipped = 0;
};

// What backup_topic checks about the topic before it writes anything (the errors below, except
// those about `dir`): callers run it before they flush, so that bad input changes nothing.
Status check_backup_source(Env* env, const std::string& data_dir, const std::string& topic);

// NotFound for an unknown topic; FailedPrecondition when `dir` holds something other than a
// backup of this topic's incarnation, or the topic's backend keeps no files (memory);
// NotSupported for a backend other than lance and persisting (a plugin's files are its own). On an
// error the previous backup.json in `dir` (if any) stays (it is replaced last) and so do the Lance
// files it lists; topic.json and group files that changed since may already be rewritten, which
// verify reports until a backup completes.
Result<BackupResult> backup_topic(Env* env, const std::string& data_dir, const std::string& topic,
                                  const std::string& dir, const BackupOptions& options = {});

}  // namespace persisting::backup
