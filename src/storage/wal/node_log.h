// NodeLog: the one write-ahead log of a data dir, shared by every stream (the persisting backend
// makes each durable bucket a stream). Every stream's batches go into one log, so one group
// commit (one write(), one fdatasync) covers the puts of every bucket at once, and there is no
// file, thread or task per stream. Format and guarantees: docs/wal-format.md, "The node log".
//
// The node log is a Wal (wal.h) whose records are stream entries (stream_entry.h): a frame is
// one group, each of its records one stream's batch, named by stream and stream offsets. The
// Wal's offsets number the entries (log sequence numbers, LSN); its segments, recycling, fault
// handling, recovery policies and checkpoint file carry over unchanged. Stream names are opaque
// here: the WAL knows nothing of topics, buckets or Lance.
//
//   NodeLogReport report;
//   ASSIGN_OR_RETURN(auto log, NodeLog::open(dir, options, &report));   // scans the log once
//   ASSIGN_OR_RETURN(Offset end, log->attach("t/3", lance_rows, replay_fn, stream_options));
//   log->append_async("t/3", batch, [](Result<Offset> first) { ... });  // first = end, end+n ...
//   ... after the stream's records below `flushed` are held elsewhere (Lance):
//   RETURN_IF_ERROR(log->checkpoint("t/3", flushed));  // frees segments no stream needs
//
// Streams. A stream is attached by its owner (attach) before it appends, and detached when the
// owner closes it. The log gives each stream's records dense offsets continuing from the end the
// stream had at attach. A segment is freed once every stream has checkpointed past all of its
// entries in it; a stream that holds the oldest segment back is asked to flush
// (StreamOptions::flush_request, or NodeLogOptions::on_hold_back for a stream nobody attached).
// Once the log's segments reach max_size, appends are refused with ResourceExhausted naming the
// stream that holds it back. When no stream needs anything (everything checkpointed) the active
// segment is retired and deleted: a fully checkpointed log keeps no copy of the records.
//
// Recovery reads the log once at open; each stream's records are kept, in memory, until the
// stream is attached: attach replays those at offsets >= `from` (what the owner already holds)
// and forgets the rest. A stream detached with records not yet checkpointed gives them back
// (detach), so a later attach in the same process replays them without reading the log again.
//
// Thread-safe. done runs in append order per stream: for streams synced per append later, on the
// group-commit thread (or at once on the caller's thread for an error found before queueing, or
// with NodeLogOptions::caller_commits when the caller writes the group itself); for the others
// on the caller's thread before append_async returns.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/background_task.h"
#include "persisting/codec.h"
#include "persisting/env.h"
#include "persisting/types.h"
#include "storage/wal/recovery.h"
#include "storage/wal/wal.h"
#include "storage/wal/wal_options.h"

namespace persisting::wal {

struct NodeLogOptions {
  // env, max_segment_size, recovery_policy, max_group_bytes, writeback_bytes, recycle_segments,
  // prefill_bytes, on_background and scheduler apply; sync_mode, sync_interval_s and initial_offset do not (each
  // stream says how its appends are synced: StreamOptions).
  WalOptions wal;
  // The log's live segments may hold this many bytes (0: no limit). At the limit an append
  // waits (up to `stall`) while the streams holding the oldest segment flush; it is refused
  // with ResourceExhausted naming the stream that holds the log back once `stall` has passed,
  // or at once when that stream's last flush failed (note_flush_failure).
  uint64_t max_size = 0;
  // With a max_size: the limit grows to max_size_per_stream per attached stream, up to
  // max_size_cap (0 per stream: max_size alone). A fixed limit split over many streams makes
  // their flushes small: at half of 100 MiB, 1,024 buckets write fragments of 50 KiB each.
  uint64_t max_size_per_stream = 0;
  uint64_t max_size_cap = 0;
  std::chrono::milliseconds stall{0};
  // Group commit: after groups that held several appends, how long at most the group-commit
  // thread waits for as many before it writes (never longer than the last write + sync; a lone
  // writer never waits). 0: it never waits.
  std::chrono::microseconds group_wait{1000};
  // Who writes a group nobody is writing yet: false, the group-commit task on the process pool;
  // true, the caller whose append (or last Plug) starts it, on its own thread, when the group
  // commit would not wait for more writers (no group is being written, the log has room): it
  // writes and syncs one group and runs its callbacks before append_async (or ~Plug) returns,
  // and hands anything queued meanwhile to the task. That saves a hand-off to a pool thread and
  // back on each round trip of a lone writer (docs/wal-format.md, "Syncing").
  bool caller_commits = false;
  // Asked to have a stream that nobody attached flushed: it holds the oldest segment back (its
  // records were recovered, but no owner opened it). Called without the log's locks held, from
  // the thread that found it; it must not wait for the log.
  std::function<void(const std::string& stream)> on_hold_back;
};

struct StreamOptions {
  // kAlways: an append is acknowledged after fdatasync (shared by the whole group); kInterval:
  // after write(), synced within sync_interval_s (0: as kAlways); kOs: after write().
  SyncMode sync_mode = SyncMode::kAlways;
  double sync_interval_s = 1.0;
  // Asked to flush (and then checkpoint) when the stream holds the oldest segment back. Called
  // without the log's locks held; it must not wait for the log (a task to arm, a flag to set).
  std::function<void()> flush_request;
};

// What recovery found, by stream (the Wal's own report is `wal`).
struct NodeLogReport {
  RecoveryReport wal;
  uint64_t entries = 0;          // stream entries replayed
  uint64_t records = 0;          // their records
  std::map<std::string, uint64_t> stream_records;  // records recovered per stream
};

class NodeLog {
 public:
  // Recovers dir (created if absent) under options.wal.recovery_policy and readies it for
  // appending. Under kTolerateTail, damage before the tail opens the log read-only: health() and
  // every append return the corruption. An entry that does not decode inside a frame whose CRC
  // matches fails the open with Corruption (no torn write leaves one).
  static Result<std::unique_ptr<NodeLog>> open(const std::string& dir, const NodeLogOptions& options,
                                               NodeLogReport* report);
  ~NodeLog();  // close()s if the caller did not
  NodeLog(const NodeLog&) = delete;
  NodeLog& operator=(const NodeLog&) = delete;

  // Streams the log holds records of that no owner has attached (recovered, or detached).
  std::vector<std::string> unattached_streams() const;
  // Whether stream is one of them.
  bool holds_unattached(const std::string& stream) const;
  // An unattached stream's records kept for its next attach, moved out: runs of consecutive
  // offsets (first offset, records), in the order the log holds them; they may start below what
  // the stream's owner already holds. For a process that reads a log it does not write and
  // closes it next (NodeLogHost::read_unowned): the stream's entries stay, so nothing is freed
  // or checkpointed for it, and a later attach of this NodeLog finds none of these records.
  // Empty for an attached stream or one the log does not know.
  std::vector<std::pair<Offset, RecordBatch>> take_parked(const std::string& stream);

  // Attaches stream (FailedPrecondition if it is attached already). `from`: the stream's records
  // below it are held elsewhere; replay is called for each of its records in the log at or after
  // it, in order, and the stream's end (the offset its next record gets) is returned: `from`
  // plus what was replayed. Corruption naming the stream if its records in the log do not
  // continue from `from` (a gap, or a run that overlaps another); replay's first error is
  // returned as is. On an error the stream stays unattached and its records stay.
  Result<Offset> attach(const std::string& stream, Offset from, const ReplayFn& replay, StreamOptions options);
  // The same, handing the records over as batches, in order, from `from` to the returned end,
  // without copying them (the batches recovery or detach filled): a bucket's buffer can take
  // them as they are. Recovery of many streams then touches each record's bytes once.
  Result<Offset> attach_batches(const std::string& stream, Offset from, std::vector<RecordBatch>* records,
                                StreamOptions options);
  // The owner lets go of stream, once its appends have completed. Its records not yet
  // checkpointed stay in the log (a clean close
  // need not flush): `unflushed` holds them, from offset `first` on, and a later attach replays
  // them from memory. Records below `first` are checkpointed.
  void detach(const std::string& stream, Offset first, RecordBatch unflushed);
  // The stream's records are not needed any more (its topic is deleted): it holds nothing back.
  void forget(const std::string& stream);

  // Appends batch to stream (attached) as one entry; done gets the offset of its first record
  // once it is durable per the stream's sync mode, or the error (nothing of the batch is then in
  // the log, and the stream's next append gets the same offsets), and the batch (the caller's,
  // or the log's copy of it). An empty batch is acknowledged with the stream's end without
  // writing.
  // - A stream synced per append (kAlways, kInterval with interval 0) joins the group commit:
  //   the batch is copied, and done runs later on the log's group-commit thread (with
  //   caller_commits, on this thread before append_async returns when it starts the group).
  // - Any other stream's append is written by the callers themselves (there is no sync to
  //   share, so a hand-off to another thread would only add latency): the first caller to find
  //   no one writing writes what is queued, one frame per group, until nothing is; the others
  //   queue theirs and return. done runs on the thread that wrote the append.
  // done may call append_async, but must not wait for the log (append, sync, close).
  using AppendDone = std::function<void(Result<Offset>, const RecordBatch&)>;
  void append_async(const std::string& stream, const RecordBatch& batch, AppendDone done);
  void append_async(const std::string& stream, const RecordBatch& batch, std::function<void(Result<Offset>)> done);
  // append_async, waited for.
  Result<Offset> append(const std::string& stream, const RecordBatch& batch);

  // A stream named once: its appends skip the lookup of its name, which a put spread over many
  // buckets paid per bucket. pin() returns it for an attached stream (empty otherwise); its
  // owner unpins it before it detaches or forgets the stream, and appends through it until then.
  class StreamRef {
   public:
    StreamRef() = default;
    explicit operator bool() const { return entry_ != nullptr; }

   private:
    friend class NodeLog;
    explicit StreamRef(void* entry) : entry_(entry) {}
    void* entry_ = nullptr;
  };
  StreamRef pin(const std::string& stream);
  void unpin(StreamRef stream);
  // The batch by value: a caller that moves it in saves the log a copy of its records.
  void append_async(StreamRef stream, RecordBatch batch, AppendDone done);

  // Plugging (after Linux's block plugging): while a Plug lives, appends queue up without
  // starting a group commit; when the last Plug goes, one starts for all of them. A writer whose
  // put spans several streams plugs around handing out the parts, so under kAlways the put waits
  // for one fdatasync, not one per stream. The appends of streams not synced per append queue
  // too while any Plug lives, and each Plug's end writes what is queued then (unless a caller
  // is writing it already): the put's parts go out as one frame, in one write(), on the thread
  // that lets its Plug go. Plugs nest and may live on different threads.
  class Plug {
   public:
    explicit Plug(NodeLog* log);
    ~Plug();
    Plug(const Plug&) = delete;
    Plug& operator=(const Plug&) = delete;

   private:
    NodeLog* log_;
    uint64_t pushes_at_start_ = 0;  // plugged_pushes_ when it was made
  };
  // Records that stream's records below flushed are held elsewhere, and frees the segments no
  // stream needs any more. flushed may not pass the stream's end (InvalidArgument).
  Status checkpoint(const std::string& stream, Offset flushed);
  // Makes everything appended durable now.
  Status sync();
  // Writes what is queued, syncs and closes. Later calls fail (FailedPrecondition).
  Status close();

  Offset stream_end(const std::string& stream) const;  // 0 for a stream the log does not know
  // The owner of stream says its flush failed (nullopt: it flushes again). While such a stream
  // holds a full log back, appends are refused at once, naming it and the error. A checkpoint
  // of the stream clears it.
  void note_flush_failure(const std::string& stream, const Status& error);
  // The stream whose entries hold the oldest segment back, if any.
  std::optional<std::string> holding_stream() const;
  uint64_t size_bytes() const { return wal_->size_bytes(); }
  // The live segments' limit now: max_size grown with the attached streams (NodeLogOptions).
  uint64_t limit() const;
  size_t segment_count() const { return wal_->segment_count(); }
  Offset next_lsn() const { return wal_->next_offset(); }
  Offset checkpoint_lsn() const { return wal_->checkpoint_offset(); }
  uint64_t groups() const;  // frames written (group commits) since open
  uint64_t group_waits() const;  // of them, those that waited for more writers (group_wait)
  uint64_t stalls() const;       // appends (or groups) that waited for room in a full log
  // OK unless an append now would be refused at once (the log is full and the stream holding it
  // back failed its last flush): then that refusal. A writer checks a put spanning streams with
  // it, so such a put is refused whole.
  Status admission() const;
  Status health() const { return wal_->health(); }
  const std::string& dir() const { return wal_->dir(); }

 private:
  // Records of an unattached stream kept for its next attach: runs of consecutive offsets.
  struct Run {
    Offset first;
    RecordBatch records;
    Offset end() const { return Offset(first.value() + records.size()); }
  };
  struct Stream {
    bool attached = false;
    StreamOptions options;
    Offset end;      // the next offset (attached streams)
    Offset flushed;  // its records below it are held elsewhere (the last checkpoint)
    // The stream's entries still needed (not wholly below its checkpoint): LSN, end offset.
    std::deque<std::pair<Offset, Offset>> entries;
    // Unattached: records for the next attach, in runs of consecutive offsets (small entries
    // that continue a run join it; see kMaxJoinedRunBytes).
    std::vector<Run> parked;
    Status flush_error;       // the owner's last flush failed (note_flush_failure)
    // write_group's count of the stream's records in the group it is taking (mu_): the next
    // offset, valid while group_mark is that group's number.
    uint64_t group_mark = 0;
    Offset group_next;
    // Appends queued and not yet answered, and StreamRefs (mu_): each holds this entry's
    // address, so the entry stays in streams_ until they are gone (unpin).
    uint32_t pinned = 0;
  };
  // Looked up by string_view too (recovery decodes names as views): no string per lookup.
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Streams = std::unordered_map<std::string, Stream, NameHash, std::equal_to<>>;
  using StreamEntry = Streams::value_type;  // its address is stable until erased
  // An append queued for a group: its stream's entry (pinned), found once by append_async.
  struct Pending {
    StreamEntry* stream;
    RecordBatch batch;
    AppendDone done;
  };
  // An entry about to be written: its stream (pinned), first offset and records.
  struct Entry {
    StreamEntry* stream;
    Offset first;
    const RecordBatch* batch;
  };

  NodeLog(NodeLogOptions options, std::unique_ptr<Wal> wal);
  // attach's work: takes the stream's runs, checks they continue from `from`, and has deliver
  // hand them out (skip[k]: records of runs[k] below `from` or already delivered).
  Result<Offset> attach_with(const std::string& stream, Offset from, StreamOptions options,
                             const std::function<Status(std::vector<Run>&, const std::vector<size_t>&)>& deliver);
  // appender_'s body: writes queued appends, a group at a time, until the queue is empty.
  void drain();
  // Under mu_, with appends queued and no Plug: whether the group commit would start now
  // without waiting for more writers (so a caller may write the group itself: caller_commits),
  // and if so makes the caller the one writing it (leading_).
  bool take_lead();
  // The caller that took the lead writes one group, then hands what is queued to appender_.
  void lead();
  // Starts the group commit of what is queued (mu_ not held): lead() or appender_.
  void start_group(bool lead_here);
  // Takes one group from q (queue_ or direct_), writes it as one frame and completes its
  // appends. False, and nothing done, when q is empty; then, for direct_, under the same lock,
  // the caller stops being its writer. waited: the group commit waited for this group.
  // led: the caller writing its own group (lead): when the log is full it writes nothing (no
  // stall on the caller's thread) and returns false.
  bool write_group(std::deque<Pending>& q, bool waited, bool led = false);
  // Under write_mu_: writes entries as one frame (synced if sync) and, under mu_, records which
  // stream needs which LSN. The LSN of the first entry, or the error.
  Result<Offset> write_entries(const std::vector<Entry>& entries, bool sync);
  // Under l (on mu_), write_mu_ held: OK once the log has room for an append, waiting up to
  // opts_.stall while the holders flush; else why the append is refused.
  Status wait_for_room(std::unique_lock<std::mutex>& l);
  // Under mu_: whether the log is at max_size, and the refusal that names who holds it back.
  bool full() const { return opts_.max_size > 0 && wal_->size_bytes() >= limit(); }
  Status refusal() const;
  // The sync a stream's appends need: true per append; false with the interval to sync within
  // (negative: never).
  static bool synced_per_append(const StreamOptions& o) {
    return o.sync_mode == SyncMode::kAlways || (o.sync_mode == SyncMode::kInterval && o.sync_interval_s == 0);
  }
  // Checkpoints the Wal at the lowest LSN any stream still needs; retires the active segment
  // when none needs anything. Asks the stream holding the oldest segment to flush.
  Status release_segments();
  // Asks every stream holding the oldest segment back to flush (at once, so their flushes run
  // side by side; again after a second if one still holds it), once there are two segments or
  // more and, with a max_size, the log holds at least half of it.
  void ask_holders_to_flush();
  // Under mu_: the smallest LSN some stream still needs (next LSN if none), and which stream.
  std::pair<Offset, const std::string*> lowest_needed() const;
  void set_entries_front(const std::string& name, Stream& s, std::optional<Offset> old_front);
  void pop_entries(const std::string& name, Stream& s, Offset flushed);
  void interval_sync();
  // Drops a pin of a stream's entry (mu_), and the entry once nothing holds it.
  void unpin(StreamEntry* stream);
  // append_async's work, for the stream's entry (pinned by the caller) or, without one, its name.
  void append_to(StreamEntry* entry, const std::string* name, RecordBatch batch, AppendDone done);

  const NodeLogOptions opts_;
  std::unique_ptr<Wal> wal_;

  // Held while a frame is written and its entries recorded (by the group commit or by a caller
  // writing its own append), so entries are recorded in LSN order. Taken before mu_.
  std::mutex write_mu_;
  mutable std::mutex mu_;
  // A replayed entry joins its stream's last run while that run holds less than this: a log of
  // many small entries (a put spread over many buckets) then costs a run per stream, not one
  // per entry, and a large entry still gets a run of its own, sized exactly.
  static constexpr size_t kMaxJoinedRunBytes = 1 << 20;
  Streams streams_;
  std::atomic<uint64_t> attached_{0};  // streams attached: limit()
  std::set<std::pair<Offset, std::string>> fronts_;  // (first needed LSN, stream) per stream
  int64_t last_time_ = 0;       // the last group's append time (write_mu_)
  std::deque<Pending> queue_;   // appends of streams synced per append: the group commit's
  std::deque<Pending> direct_;  // the others': written by their callers
  bool direct_writing_ = false;  // a caller is writing direct_
  std::condition_variable direct_idle_cv_;  // direct_writing_ went false
  bool closed_ = false;
  int plugs_ = 0;                 // live Plugs
  // The group commit counts writers, not appends: a put spread over 95 streams is one writer, so
  // the next round does not wait for 94 more (group_wait). An append queued unplugged is a
  // writer; one queued while plugged counts in plugged_pushes_, and each Plug that saw that count
  // move is one writer when it goes (a Plug that lived only beside another's appends is counted
  // too: an overcount, never a writer missed).
  uint64_t plugged_pushes_ = 0;
  size_t queued_writers_ = 0;  // writers with appends in queue_
  size_t writers_queued() const { return std::max<size_t>(queued_writers_, queue_.empty() ? 0 : 1); }
  bool unplug_kick_ = false;      // appends were queued while plugged
  // The LSN after the last entry registered in streams_ (a group being written is not yet, so
  // no checkpoint can pass it).
  Offset next_lsn_;
  uint64_t groups_ = 0;
  uint64_t group_marks_ = 0;  // groups taken by write_group (mu_): Stream::group_mark
  uint64_t group_waits_ = 0;
  uint64_t stalls_ = 0;
  std::condition_variable queued_cv_;  // an append was queued (the group commit may wait for it)
  // Group-commit groups are numbered as they are taken (under write_mu_) and answered in that
  // order: a caller writing its own group and the task can both be past write_mu_ at once.
  uint64_t taken_ = 0;
  std::mutex answer_mu_;
  std::condition_variable answer_cv_;
  uint64_t answered_ = 0;              // groups whose callbacks have run (answer_mu_)
  bool leading_ = false;               // a caller is writing a group itself (caller_commits)
  std::condition_variable lead_idle_cv_;  // leading_ went false
  // Group sizing in writers (written under write_mu_ and mu_, read under either).
  std::chrono::steady_clock::duration last_round_{};  // the last group's write + sync
  size_t group_max_ = 0, prev_group_max_ = 0, rounds_in_window_ = 0;
  Offset asked_segment_{UINT64_MAX};  // the oldest segment whose holders were asked to flush
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> asked_;  // and when each
  std::condition_variable room_cv_;   // a checkpoint freed segments, a flush failed, or closed

  std::mutex release_mu_;  // one release_segments at a time

  // The group commit (on the put's path: always Scheduler::Default()) and the interval syncs
  // (on options.wal.scheduler). Last, so they stop before anything they use goes.
  BackgroundTask sync_task_;
  BackgroundTask appender_;
};

}  // namespace persisting::wal
