// Builds and commits version N+1 of a dataset from the snapshot of version N
// (docs/lance-format.md §4.1-4.5):
//   - the manifest is a copy of N's (fields Persisting does not model are carried over as
//     unknown protobuf fields) with a new version, timestamp, writer_version and transaction;
//     for a new dataset (N = 0) it starts empty with data_format "lance" "2.0";
//   - N's index section (built by LanceDB) is copied into the new manifest file and re-pointed;
//   - the transaction (append / overwrite / merge) is written to _transactions/ and inline.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "persisting/env.h"
#include "persisting/status.h"
#include "storage/lance/proto/table.pb.h"
#include "storage/lance/snapshot.h"

namespace persisting::lance {

// Manifest N+1 (before the caller changes fields/fragments) and N's index section bytes.
struct NextVersion {
  pb::Manifest manifest;
  std::string index_section;
};

// Builds NextVersion by *moving* N's manifest out of *s: a manifest lists every fragment, and a
// copy per flush would grow with the dataset. s->file.manifest is left empty (s->file.raw stays);
// restore_manifest(s) parses it back if the commit does not happen.
Result<NextVersion> take_next_version(Snapshot* s);
Status restore_manifest(Snapshot* s);

// The id for a new fragment: max_fragment_id (or the largest fragment id) + 1.
uint64_t next_fragment_id(const pb::Manifest& m);

// Commits next.manifest as version s.version + 1 with transaction `txn` (read_version and uuid are
// filled in here). With `sync`, `data_files` (the new data files it refers to), the transaction
// and the manifest are made durable before the link, as commit.h describes. Returns the committed
// manifest and its file bytes. kAlreadyExists: another writer committed that version first.
Result<ManifestFile> commit_version(Env* env, const Snapshot& s, NextVersion next, pb::Transaction txn, bool sync,
                                    const std::vector<std::string>& data_files);

}  // namespace persisting::lance
