// The Lance commit protocol (docs/lance-format.md §4), on top of Env:
//   1. the transaction goes to _transactions/<read_version>-<uuid>.txn (a unique name that
//      nothing refers to until the manifest does, so it is written in place);
//   2. the complete manifest of version N+1 goes to a temp file in _versions/, which is then
//      moved to its final name create-if-absent (rename with RENAME_NOREPLACE; link + unlink
//      where the file system lacks it). kAlreadyExists means another writer committed N+1
//      first; the caller re-reads the latest version and retries;
//   3. after the link, _versions/latest_version_hint.json = {"version":N+1} (a hint only).
// With sync, the data files, the transaction file and the manifest temp file are fdatasync'ed
// and the data/ and _transactions/ directories fsync'ed before the link -- all at once, on one
// thread each, so the file system can fold them into one journal commit -- and _versions/ after
// it (power-loss safe). Without, nothing is synced: LanceDB 0.31 itself never fsyncs on a local
// file system (strace), so that is its durability.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "persisting/env.h"
#include "persisting/status.h"
#include "storage/lance/manifest.h"

namespace persisting::lance {

// A random (version 4) UUID in 8-4-4-4-12 hex form.
std::string new_uuid();

// Writes bytes to <dataset>/_transactions/<file_name> (a new, unique name; not synced) and
// returns its path.
Result<std::string> write_transaction_file(Env* env, const std::string& dataset, const std::string& file_name,
                                           const std::string& bytes);

// fdatasyncs `files` and fsyncs `dirs`, concurrently; the first error, naming its path.
Status sync_concurrently(Env* env, const std::vector<std::string>& files, const std::vector<std::string>& dirs);

// The two halves of committing a manifest: write it to a temp file in _versions/ (not synced;
// returns the temp path), then move the temp file to the version's name, create-if-absent
// (Env::rename_no_replace; with sync, fsync _versions/ after it). kAlreadyExists if another
// writer holds that version; nothing is left behind either way.
Result<std::string> write_manifest_temp(Env* env, const std::string& dataset, ManifestNaming naming,
                                        uint64_t version, const std::string& bytes);
Status link_manifest(Env* env, const std::string& dataset, ManifestNaming naming, uint64_t version,
                     const std::string& temp, bool sync);

// Both halves, with the temp file synced in between when `sync`.
Status commit_manifest(Env* env, const std::string& dataset, ManifestNaming naming, uint64_t version,
                       const std::string& bytes, bool sync);

// Best effort: the caller ignores failures (the hint is optional for readers).
Status write_version_hint(Env* env, const std::string& dataset, uint64_t version);

}  // namespace persisting::lance
