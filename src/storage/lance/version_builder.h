// Builds and commits version N+1 of a dataset from the snapshot of version N
// (docs/lance-format.md §4.1-4.5):
//   - the manifest is a copy of N's (fields Persisting does not model are carried over as
//     unknown protobuf fields) with a new version, timestamp, writer_version and transaction;
//     for a new dataset (N = 0) it starts empty with data_format "lance" "2.0";
//   - N's index section (built by LanceDB) is copied into the new manifest file and re-pointed;
//   - the transaction (append / overwrite / merge) is written to _transactions/ and inline.
#pragma once

#include <cstdint>

#include "persisting/env.h"
#include "persisting/status.h"
#include "storage/lance/proto/table.pb.h"
#include "storage/lance/snapshot.h"

namespace persisting::lance {

// Manifest N+1 before the caller changes fields/fragments.
pb::Manifest next_manifest(const Snapshot& s);

// The id for a new fragment: max_fragment_id (or the largest fragment id) + 1.
uint64_t next_fragment_id(const pb::Manifest& m);

// Commits `m` as version s.version + 1 with transaction `txn` (read_version and uuid are filled
// in here); `sync` as in commit.h. Returns the bytes of the committed manifest file.
// kAlreadyExists: another writer committed that version first.
Result<std::string> commit_version(Env* env, const Snapshot& s, pb::Manifest m, pb::Transaction txn, bool sync);

}  // namespace persisting::lance
