// Options of the write-ahead log, and the names they have in option maps ("always", "absolute").
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

#include "persisting/env.h"
#include "persisting/scheduler.h"
#include "persisting/status.h"

namespace persisting::wal {

enum class SyncMode {
  kAlways,    // append returns after fdatasync (group commit shares one sync among writers)
  kInterval,  // fdatasync at least every sync_interval_s seconds; append returns after write()
  kOs,        // never sync on the append path; the kernel writes back when it likes
};

enum class RecoveryPolicy {
  kTolerateTail,  // torn tail truncated; damage before the tail: open read-only with the prefix
  kAbsolute,      // torn tail truncated; any other damage: refuse to open (Corruption)
  kPointInTime,   // stop at the first damaged frame, cut the log there, carry on writable
};

Result<SyncMode> parse_sync_mode(std::string_view name);
std::string_view sync_mode_name(SyncMode m);
Result<RecoveryPolicy> parse_recovery_policy(std::string_view name);
std::string_view recovery_policy_name(RecoveryPolicy p);

struct WalOptions {
  Env* env = nullptr;  // nullptr means Env::Default()
  SyncMode sync_mode = SyncMode::kAlways;
  double sync_interval_s = 1.0;  // kInterval only; 0 turns kInterval into kAlways
  uint64_t max_segment_size = 100ull << 20;  // rotate when the next group would pass this
  RecoveryPolicy recovery_policy = RecoveryPolicy::kTolerateTail;
  uint64_t max_group_bytes = 4ull << 20;  // a group commit stops adding batches past this
  // kInterval and kOs: every time this many bytes have been appended, a background thread asks
  // the kernel to start writing the active segment out (WritableFile::start_writeback), so the
  // periodic sync and the sync at rotation, which appends wait behind, find little left to
  // write. 0: never (the kernel writes back when it likes, and those syncs write it all).
  uint64_t writeback_bytes = 1ull << 20;
  // A segment freed by a checkpoint becomes the spare (kSpareFileName, one at most) and the next
  // rotation writes over it instead of creating a file: overwriting cached, allocated pages is
  // cheaper than allocating new ones, and the deletion (freeing a whole segment's pages) goes.
  bool recycle_segments = true;
  // Zero-filling (docs/wal-format.md, "Zero-filling"): a segment is extended with this many bytes
  // of zeros at a time, ahead of its appends (the first chunk when it is created, the next when
  // fewer than half a chunk are left, never past max_segment_size), so an append overwrites
  // allocated blocks and its fdatasync has no new file size to journal (on ext4, 1.5x the syncs
  // per second). 0: off (appends grow the file).
  uint64_t prefill_bytes = 1ull << 20;
  // Where an empty log starts: a log with no records (and a checkpoint below this) is given a
  // checkpoint at initial_offset, so its first record gets that offset. A caller whose records
  // [0, N) already live elsewhere (a WAL enabled on an existing dataset) passes N.
  uint64_t initial_offset = 0;
  // The outcome of work no caller waits for: the background thread's interval syncs and
  // writebacks ("WAL sync", "WAL writeback"), best-effort cleanups ("WAL cleanup") and a close
  // from the destructor ("WAL close"). The owner records and logs failures (BackgroundErrors);
  // OK outcomes are reported too, so a recovery clears them. Called from any thread, possibly
  // with a WAL lock held: it must not call into the WAL. Empty: dropped.
  std::function<void(std::string_view task, const Status&)> on_background;
  // Runs the interval syncs and writebacks (include/persisting/scheduler.h). null:
  // Scheduler::Default().
  Scheduler* scheduler = nullptr;
};

}  // namespace persisting::wal
