// Recovery: reads a WAL directory on open, replays the records after the checkpoint in offset
// order, and applies the recovery policy to whatever damage it finds (docs/wal-format.md,
// "Recovery"). It is the only code that reads segments for replay; the writer (wal.h) starts from
// the RecoveredLog it returns.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "persisting/env.h"
#include "persisting/types.h"
#include "storage/wal/wal_options.h"

namespace persisting::wal {

// Called once per replayed record, in offset order. A non-OK return aborts recovery with it.
// If recovery then fails (for example absolute meets corruption later in the log), the caller
// must discard what it was given.
using ReplayFn = std::function<Status(Offset offset, std::string_view record)>;

enum class RecoveryOutcome {
  kClean,                 // nothing damaged
  kTornTailTruncated,     // a damaged tail of the last segment was cut off (every policy)
  kCorruptionReadOnly,    // tolerate_tail met damage before the tail: prefix replayed, WAL read-only
  kPointInTimeTruncated,  // point_in_time cut the log at the first damaged frame
};
std::string_view recovery_outcome_name(RecoveryOutcome o);

// What recovery did; the caller logs it (every line of `log` is meant for an operator).
struct RecoveryReport {
  RecoveryOutcome outcome = RecoveryOutcome::kClean;
  Status corruption;               // non-OK when damage before the tail was found
  Offset checkpoint;               // records below it were skipped
  Offset next_offset;              // the offset the next append gets
  uint64_t segments_read = 0;
  uint64_t records_replayed = 0;
  uint64_t records_skipped = 0;    // below the checkpoint
  uint64_t bytes_truncated = 0;    // cut off the tail (torn tail or point_in_time)
  uint64_t bytes_superseded = 0;   // after a segment's last record that a later segment replaced
  uint64_t bytes_recycled = 0;     // old frames or zeros after the last record of a flagged segment (kept)
  uint64_t segments_deleted = 0;   // wholly below the checkpoint
  uint64_t segments_discarded = 0; // set aside by point_in_time (renamed *.discarded)
  std::vector<std::string> log;
  // Set when recovery gave up acknowledged records: damage before the tail, under tolerate_tail
  // (not replayed, the WAL read-only) or point_in_time (cut off). A torn tail does not count.
  // The caller must say so loudly (docs/wal-format.md, "Recovery reports").
  bool records_lost = false;
  RecoveryPolicy policy = RecoveryPolicy::kTolerateTail;
  std::string damaged_segment;     // the segment holding the damage point
  uint64_t damage_byte = 0;        // where in it
  std::string damage_reason;
  Offset first_offset_lost;        // records from here on were not replayed
  std::string evidence;            // the copy of the damaged segment, as found (evidence.h)
};

struct RecoveredSegment {
  Offset first;
  std::string path;
  uint64_t size = 0;  // where its records end (a recycled file may hold old frames after that)
  bool recycled = false;  // its header has kSegmentFlagRecycled (old frames or zeros may follow)
};

// The state the writer starts from.
struct RecoveredLog {
  std::vector<RecoveredSegment> segments;  // in offset order
  Offset checkpoint;
  Offset next_offset;
  // The last segment ends on a frame boundary and may be appended to.
  bool last_segment_appendable = false;
  // Non-OK when the WAL must not be appended to (tolerate_tail met damage before the tail).
  Status read_only;
};

// Recovers the WAL in dir (created if absent). Returns Corruption under kAbsolute for damage
// other than an incomplete last frame, Corruption for a damaged checkpoint file under every
// policy, NotSupported for a segment of a newer format, IOError if the file system fails.
Result<RecoveredLog> recover_log(Env* env, const std::string& dir, RecoveryPolicy policy,
                                 const ReplayFn& replay, RecoveryReport* report);

}  // namespace persisting::wal
