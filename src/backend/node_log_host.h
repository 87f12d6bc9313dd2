// NodeLogHost: the node log (storage/wal/node_log.h) of a data dir, shared by every `persisting`
// bucket of that data dir in this process. docs/architecture.md, "One write-ahead log per data
// dir"; the log's format: docs/wal-format.md, "The node log".
//
// One host per (Env, log dir) in the process, found through a registry, so every bucket of a data
// dir (however it was opened: the Queue, a node, a test building a backend) shares it:
//
//   auto host = NodeLogHost::get(ctx);                          // <data_dir>/.wal
//   ASSIGN_OR_RETURN(wal::NodeLog* log, host->acquire(settings, patience));   // a writer
//   ... attach the bucket's stream, append, checkpoint, detach ...
//   host->release();                                            // the last one closes the log
//
// One writer process per data dir: the process that writes holds <log dir>/LOCK from the first
// acquire until the last release. Another process's acquire waits up to `patience`, then gets
// FailedPrecondition naming the lock. A process that only reads takes nothing; when it finds the
// lock free and the log holding records (a killed writer's) takes the lock, reads every stream's
// records into memory (read_unowned) and lets the lock go, changing nothing: its buckets serve
// them from there, and the next writer recovers and flushes them.
//
// Streams: `<topic>/bucket_<b>#<incarnation, 16 hex digits>` in a data dir's log, so a topic
// deleted and created again never gets the old one's records. A bucket built without a data dir
// (ctx.data_dir empty) gets a log of its own at <bucket_dir>/log, with one stream, "bucket".
//
// Records of a stream no bucket of this process has attached (recovered from a killed writer)
// are flushed to that bucket's dataset by the host when they hold the log back (on_hold_back),
// with default Lance options; a stream whose topic is gone (deleted, or another incarnation) is
// forgotten.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "core/background_errors.h"
#include "core/background_task.h"
#include "persisting/backend.h"
#include "storage/wal/node_log.h"

namespace persisting {

// An Env::lock_file lock on path, tried again (backing off up to 200 ms) for up to patience while
// another holder has it; then lock_file's FailedPrecondition.
Result<std::unique_ptr<FileLock>> lock_with_patience(Env* env, const std::string& path,
                                                     std::chrono::milliseconds patience);
// The same within this process only, with no file: one holder of key (per Env) at a time; a
// second claim waits up to patience, then FailedPrecondition. Held until the result is destroyed.
// The node log's LOCK keeps other processes out, so its buckets need no lock file each.
Result<std::unique_ptr<FileLock>> claim_in_process(Env* env, const std::string& key,
                                                   std::chrono::milliseconds patience);

// Whether dir holds WAL segments (with_records_only: one longer than its header).
bool wal_dir_has_segments(Env* env, const std::string& dir, bool with_records_only);

class NodeLogHost {
 public:
  // Log-wide settings: taken from the bucket that opens the log (later ones share it as it is).
  struct Settings {
    uint64_t max_size = 100ull << 20;  // max_wal_size: puts wait past it while flushes free it
    // Without an explicit max_wal_size the limit grows with the buckets writing to the log, so
    // their flushes stay large (wal::NodeLogOptions::max_size_per_stream). 0: max_size alone.
    uint64_t max_size_per_bucket = 0;
    uint64_t max_size_cap = 0;
    // How long a put waits for room in a full log before it is refused (at once when the
    // bucket holding the log back failed its last flush).
    std::chrono::milliseconds full_log_stall{30000};
    wal::RecoveryPolicy recovery_policy = wal::RecoveryPolicy::kTolerateTail;
    bool recycle = true;
    uint64_t prefill = 1ull << 20;  // wal_prefill: zeros written ahead of the appends, per chunk
    std::chrono::microseconds group_wait{1000};  // wal_group_wait_us
  };

  // The host of ctx's data dir (or of its bucket, without a data dir), created on first use.
  static std::shared_ptr<NodeLogHost> get(const BackendContext& ctx);
  // A plug on data_dir's log (NodeLog::Plug), if this process has it open: while the returned
  // handle lives, appends queue without starting a group commit; the last plug to go starts one
  // for all of them. A writer holds one while it hands a put's parts to several buckets, so the
  // put waits for one fdatasync, not one per bucket. Null when the log is not open here.
  static std::shared_ptr<void> plug(Env* env, const std::string& data_dir);
  // The stream name of ctx's bucket in that log.
  static std::string stream_name(const BackendContext& ctx);
  ~NodeLogHost();

  // Makes this process the log's writer (the lock, the log opened and recovered) unless it is
  // already, and counts one user; each successful acquire needs a release.
  Result<wal::NodeLog*> acquire(const Settings& settings, std::chrono::milliseconds patience);
  // One user fewer; the last one closes the log and lets the lock go.
  void release();
  // Whether the log may hold records (a segment longer than its header): a process that only
  // reads then recovers it (PersistingBackend::recover_unowned).
  bool may_hold_records() const;
  // Whether a reader of stream should look for records nobody writes (recover_unowned): this
  // process has the log open and holds stream's records unattached, or another process left
  // records in the log and holds its LOCK no more. The second is looked at once per
  // kUnownedLookInterval for every bucket of the log (a follower over many buckets asks for
  // each), so a live writer elsewhere costs its followers one lock attempt per interval.
  bool may_hold_unowned(const std::string& stream);
  static constexpr std::chrono::milliseconds kUnownedLookInterval{200};
  // Flushes every stream nobody attached into its bucket's dataset (see above); the caller has
  // acquired the log. Each failure is logged, in errors(); the first is returned.
  Status flush_unattached();
  // Whether this process has the log open (it writes it).
  bool open_here() const;

  // What a process that does not write the log found in it (read_unowned): each stream's
  // records, as runs of consecutive offsets (NodeLog::take_parked); they may start below what
  // its bucket's dataset holds. generation numbers the reads of this host.
  struct Unowned {
    uint64_t generation = 0;
    std::map<std::string, std::vector<std::pair<Offset, RecordBatch>>> streams;
  };
  // For a process that does not write the log, when a writer died leaving records in it: takes
  // the LOCK for as long as it takes to read the log (recovered as a writer would: a torn tail
  // is cut, what was found is synced; the report is recovery()'s), keeps every stream's records
  // in memory and lets the lock go. Nothing is flushed, freed or checkpointed: the next writer
  // recovers the same records. FailedPrecondition while another process holds the LOCK or this
  // one has the log open. The log is read again only when its files changed since the last read
  // (looked at no more than once per kUnownedLookInterval); records of an older read stay true
  // (a stream's records never change), so a reader may keep serving them.
  Result<std::shared_ptr<const Unowned>> read_unowned(const Settings& settings);

  // What the log's recovery found when this process opened it (an empty report before): the
  // Wal's part only, so a bucket's stats do not copy every stream's count.
  wal::RecoveryReport recovery() const;
  // When that recovery gave up records: logs and records (damaged/recovery.json) that stream
  // may have lost its records from `end` (where what it recovered ends) on. bucket names it.
  Status note_damage(const std::string& stream, const std::string& bucket, uint64_t end);
  const std::string& dir() const { return dir_; }
  // The log's background failures (interval syncs, writebacks, checkpoints, recovery flushes):
  // logged once, by the host; every bucket on the log shows them in its stats.
  const BackgroundErrors& errors() const { return bg_; }
  // Held while a stream is attached or handed over, so the host's own recovery flush and a
  // bucket opening the same stream never attach it at once.
  std::mutex& attach_mutex() { return attach_mu_; }

 private:
  NodeLogHost(Env* env, std::string dir, std::string data_dir, Logger* logger, Scheduler* scheduler,
              TailCache* tail_cache);
  Status open_locked(const Settings& settings, std::chrono::milliseconds patience);  // mu_ held
  // The log's options from settings (no on_hold_back).
  wal::NodeLogOptions log_options(const Settings& settings);
  void warn_if_lost();  // report_ gave up records: the warning (mu_ held)
  // The log dir's file names and sizes: changes whenever a writer writes, frees or checkpoints.
  std::string files_signature() const;
  void close_locked();                                                                // mu_ held
  // Flushes an unattached stream's records into its bucket's dataset, checkpoints and detaches it
  // (forgets it when its topic is gone). attach_mu_ held.
  Status flush_stream(wal::NodeLog* log, const std::string& stream);
  // The recovery task's body: flushes the streams on_hold_back named.
  void flush_held_back();

  Env* env_;
  const std::string dir_;
  const std::string data_dir_;  // empty: a bucket's own log
  Logger* logger_;
  Scheduler* scheduler_;
  TailCache* tail_cache_;
  BackgroundErrors bg_;

  mutable std::mutex mu_;
  std::unique_ptr<FileLock> lock_;
  // may_hold_unowned's last look at the log of another process (mu_).
  std::chrono::steady_clock::time_point next_unowned_look_;
  bool unowned_ = false;
  // read_unowned's last read, the log's files after it, and when to look again (mu_).
  std::shared_ptr<const Unowned> unowned_read_;
  std::string unowned_sig_;
  std::chrono::steady_clock::time_point next_read_look_;
  uint64_t read_generation_ = 0;
  std::unique_ptr<wal::NodeLog> log_;
  int users_ = 0;
  wal::NodeLogReport report_;
  std::mutex held_mu_;
  std::vector<std::string> held_back_;  // streams to flush (held_mu_)

  std::mutex attach_mu_;
  std::mutex damage_mu_;  // note_damage's file
  BackgroundTask recovery_;  // last: stopped before what it uses goes
};

}  // namespace persisting
