// The Lance commit protocol (docs/lance-format.md §4), on top of Env:
//   1. the transaction goes to _transactions/<read_version>-<uuid>.txn (a unique name that
//      nothing refers to until the manifest does, so it is written in place);
//   2. the complete manifest of version N+1 goes to a temp file in _versions/, which is then
//      hard-linked to its final name: create-if-absent. kAlreadyExists means another writer
//      committed N+1 first; the caller re-reads the latest version and retries;
//   3. after the link, _versions/latest_version_hint.json = {"version":N+1} (a hint only).
// With sync, every file is fdatasync'ed and its directory fsync'ed before the link, and the
// _versions directory after it (power-loss safe). Without, nothing is synced: LanceDB 0.31
// itself never fsyncs on a local file system (strace), so that is its durability.
#pragma once

#include <cstdint>
#include <string>

#include "persisting/env.h"
#include "persisting/status.h"
#include "storage/lance/manifest.h"

namespace persisting::lance {

// A random (version 4) UUID in 8-4-4-4-12 hex form.
std::string new_uuid();

// Writes bytes to <dataset>/_transactions/<file_name> (a new, unique name).
Status write_transaction_file(Env* env, const std::string& dataset, const std::string& file_name,
                              const std::string& bytes, bool sync);

// Creates <dataset>/_versions/<name of version> holding `bytes`, only if it does not exist.
// Returns kAlreadyExists if another writer holds that version (nothing is left behind).
Status commit_manifest(Env* env, const std::string& dataset, ManifestNaming naming, uint64_t version,
                       const std::string& bytes, bool sync);

// Best effort: the caller ignores failures (the hint is optional for readers).
Status write_version_hint(Env* env, const std::string& dataset, uint64_t version);

}  // namespace persisting::lance
