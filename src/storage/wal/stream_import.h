// Importing a stream's own WAL into the node log: the migration of data dirs written when every
// bucket had its own WAL (<bucket_dir>/wal/, docs/wal-format.md). Run once per stream when it is
// opened, after attaching it to the node log:
//
//   ASSIGN_OR_RETURN(Offset end, log->attach(stream, lance_rows, replay_into_buffer, options));
//   ASSIGN_OR_RETURN(StreamImport got, import_stream_wal(env, old_dir, policy, log, stream));
//   ... got.records (offsets got.first ..) join the buffer; got.report says what recovery did.
//
// The old log is recovered under its policy (its evidence and reports as ever); its records at
// or past the stream's end in the node log are appended to the node log and synced, then the old
// log's files are deleted (damaged/ and *.discarded are kept for inspection). A crash anywhere
// in between repeats the import at the next open, which skips what the node log already holds:
// no record is lost or doubled.
#pragma once

#include <string>

#include "persisting/codec.h"
#include "persisting/env.h"
#include "storage/wal/node_log.h"
#include "storage/wal/recovery.h"

namespace persisting::wal {

struct StreamImport {
  Offset first;          // offset of records[0]
  RecordBatch records;   // appended to the node log (empty: nothing to import)
  RecoveryReport report; // of the old log's recovery (records_lost: say so loudly)
  bool found = false;    // old_dir held a log
};

// Imports old_dir into stream (attached to log). Leaves old_dir untouched and returns the
// corruption when its recovery leaves it read-only (tolerate_tail met damage before the tail:
// the caller keeps the stream read-only, as before) or refuses it (absolute); Corruption naming
// the stream when the old log's records do not continue the stream's end (records missing).
Result<StreamImport> import_stream_wal(Env* env, const std::string& old_dir, RecoveryPolicy policy, NodeLog* log,
                                       const std::string& stream);

}  // namespace persisting::wal
