// Version cleanup (docs/compaction.md): removes old versions of a Lance dataset and the files
// only they refer to, as LanceDB's cleanup_old_versions does.
//
// A version goes when all of these hold:
//   * it is not the latest version;
//   * no reader of this process pins it (version_pins.h), and no LanceDB tag names it
//     (_refs/tags/*.json);
//   * the version listed after it was committed at least `older_than` ago: a reader that loaded
//     it did so while it was the latest, so it has held it for at least that long.
// The files that go are those the removed versions refer to and no kept version does: data
// files, deletion files and transaction files. Files no manifest refers to (a crashed commit's)
// and LanceDB's _indices/ are never touched.
//
// Order, for crash safety: first the files, then the manifests, oldest first. A crash in
// between leaves old manifests whose files are gone; they are past the retention anyway, and
// the next cleanup removes them. The latest version and every kept one stay whole.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "persisting/env.h"
#include "persisting/status.h"

namespace persisting::lance {

struct CleanupOptions {
  std::chrono::seconds older_than{3600};
  // The clock, in seconds since the epoch (0: the system clock). Tests move it.
  int64_t now_seconds = 0;
  // false: ignore this process's pins, as a cleanup in another process would (tests).
  bool keep_pinned = true;
};

struct CleanupReport {
  uint64_t versions_removed = 0;
  uint64_t files_removed = 0;   // data, deletion and transaction files
  uint64_t bytes_removed = 0;   // of the data files, as the manifests record their sizes
};

Result<CleanupReport> cleanup_old_versions(Env* env, const std::string& dataset, const CleanupOptions& options);

}  // namespace persisting::lance
