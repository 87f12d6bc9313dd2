// The node log (node_log.h): a Wal whose records are stream entries. On disk it is a Wal
// directory like any other (segments, CHECKPOINT, spare.free); only the records differ:
//
//   frame payload: u64 first LSN | u32 entries | u32 length x entries | entries
//   entry:         u8 type=1 | u8 0 | u16 name length | name | u64 first offset | u32 count |
//                  u32 length x count | records                        (stream_entry.h)
//
// The Wal's CHECKPOINT holds the lowest LSN some stream still needed when it was written:
// every entry below it is held elsewhere by its stream's owner. Which entries a stream still
// needs lives in memory only (the owner's flushed count is what it holds elsewhere: Lance's row
// count), so recovery replays every entry from the checkpoint on and attach skips what the owner
// already holds.
#include "storage/wal/node_log.h"

#include <algorithm>
#include <future>
#include <utility>

#include "core/status_macros.h"
#include "storage/wal/stream_entry.h"
#include "storage/wal/wal_format.h"

namespace persisting::wal {
namespace {

std::string quoted(const std::string& stream) { return "stream '" + stream + "'"; }

// Set while this thread runs a group's callbacks: a group it starts from one (an append, a last
// Plug) goes to the task, since writing it here would wait for this group's turn to end.
thread_local bool t_answering = false;

}  // namespace

NodeLog::NodeLog(NodeLogOptions options, std::unique_ptr<Wal> wal)
    : opts_(std::move(options)), wal_(std::move(wal)),
      sync_task_(opts_.wal.scheduler ? opts_.wal.scheduler : Scheduler::Default(), [this] { interval_sync(); }),
      // A put waits for the group commit: always the process pool, so a test's ManualScheduler
      // that runs only when told cannot stall puts.
      appender_(Scheduler::Default(), [this] { drain(); }) {}

Result<std::unique_ptr<NodeLog>> NodeLog::open(const std::string& dir, const NodeLogOptions& options,
                                               NodeLogReport* report) {
  NodeLogReport local;
  if (report == nullptr) report = &local;
  *report = NodeLogReport();
  Streams streams;
  std::vector<uint32_t> sizes;
  auto replay = [&](Offset lsn, std::string_view bytes) -> Status {
    auto e = decode_stream_entry(bytes);
    if (!e.ok())
      return Corruption("node log '" + dir + "': entry " + std::to_string(lsn.value()) + ": " + e.status().message());
    auto it = streams.find(e->stream);
    if (it == streams.end()) it = streams.emplace(std::string(e->stream), Stream()).first;
    Stream& s = it->second;
    const Offset end(e->first.value() + e->count);
    s.entries.emplace_back(lsn, end);
    sizes.resize(e->count);
    uint64_t bytes_total = 0;
    for (uint32_t i = 0; i < e->count; ++i) {
      sizes[i] = get_u32(e->lengths + 4 * static_cast<size_t>(i));
      bytes_total += sizes[i];
    }
    const std::string_view records(e->records, bytes_total);
    ++report->entries;
    report->records += e->count;
    // A small entry that continues the last run (same kind of times) joins it; otherwise a run
    // of its own, sized exactly: growing one buffer per stream without bound would copy large
    // entries again at every doubling (and fault in fresh pages each time).
    if (!s.parked.empty()) {
      Run& last = s.parked.back();
      if (last.end() == e->first && last.records.byte_size() + bytes_total <= kMaxJoinedRunBytes &&
          last.records.has_times() == (e->time_ms != 0)) {
        const size_t before = last.records.size();
        last.records.add_encoded_run(records, sizes);
        if (e->time_ms != 0)
          for (size_t i = before; i < last.records.size(); ++i) last.records.set_time(i, e->time_ms);
        return Status::OK();
      }
    }
    Run run{e->first, {}};
    run.records.reserve(e->count, bytes_total);
    run.records.add_encoded_run(records, sizes);
    if (e->time_ms != 0) run.records.set_times(e->time_ms);
    s.parked.push_back(std::move(run));
    return Status::OK();
  };
  WalOptions wo = options.wal;
  wo.sync_mode = SyncMode::kOs;  // each group says whether it is synced (the streams' modes)
  wo.initial_offset = 0;
  ASSIGN_OR_RETURN(auto wal, Wal::open(dir, wo, replay, &report->wal));
  std::unique_ptr<NodeLog> log(new NodeLog(options, std::move(wal)));
  for (const auto& [name, s] : streams) {
    uint64_t n = 0;
    for (const auto& run : s.parked) n += run.records.size();
    report->stream_records[name] = n;
  }
  log->streams_ = std::move(streams);
  log->next_lsn_ = log->wal_->next_offset();
  for (auto& [name, s] : log->streams_) log->set_entries_front(name, s, std::nullopt);
  return log;
}

NodeLog::~NodeLog() {
  bool open;
  {
    std::lock_guard l(mu_);
    open = !closed_;
  }
  if (open) {
    Status s = close();
    if (opts_.wal.on_background) opts_.wal.on_background("node log close", s);
  }
}

std::vector<std::string> NodeLog::unattached_streams() const {
  std::lock_guard l(mu_);
  std::vector<std::string> out;
  for (const auto& [name, s] : streams_)
    if (!s.attached && (!s.entries.empty() || !s.parked.empty())) out.push_back(name);
  std::sort(out.begin(), out.end());
  return out;
}

bool NodeLog::holds_unattached(const std::string& stream) const {
  std::lock_guard l(mu_);
  auto it = streams_.find(stream);
  return it != streams_.end() && !it->second.attached && (!it->second.entries.empty() || !it->second.parked.empty());
}

std::vector<std::pair<Offset, RecordBatch>> NodeLog::take_parked(const std::string& stream) {
  std::lock_guard l(mu_);
  std::vector<std::pair<Offset, RecordBatch>> out;
  auto it = streams_.find(stream);
  if (it == streams_.end() || it->second.attached) return out;
  out.reserve(it->second.parked.size());
  for (Run& run : it->second.parked) out.emplace_back(run.first, std::move(run.records));
  it->second.parked.clear();
  return out;
}

void NodeLog::set_entries_front(const std::string& name, Stream& s, std::optional<Offset> old_front) {
  if (old_front) fronts_.erase({*old_front, name});
  if (!s.entries.empty()) fronts_.insert({s.entries.front().first, name});
}

void NodeLog::pop_entries(const std::string& name, Stream& s, Offset flushed) {
  if (s.flushed < flushed) s.flushed = flushed;
  if (s.entries.empty() || s.entries.front().second > flushed) return;
  const Offset old = s.entries.front().first;
  while (!s.entries.empty() && s.entries.front().second <= flushed) s.entries.pop_front();
  set_entries_front(name, s, old);
}

std::pair<Offset, const std::string*> NodeLog::lowest_needed() const {
  if (fronts_.empty()) return {next_lsn_, nullptr};
  return {fronts_.begin()->first, &fronts_.begin()->second};
}

Result<Offset> NodeLog::attach(const std::string& stream, Offset from, const ReplayFn& replay, StreamOptions options) {
  return attach_with(stream, from, std::move(options), [&](std::vector<Run>& runs, const std::vector<size_t>& skip) {
    for (size_t k = 0; k < runs.size(); ++k) {
      const Run& run = runs[k];
      for (size_t i = skip[k]; i < run.records.size(); ++i)
        RETURN_IF_ERROR(replay(Offset(run.first.value() + i), run.records.encoded(i)));
    }
    return Status::OK();
  });
}

Result<Offset> NodeLog::attach_batches(const std::string& stream, Offset from, std::vector<RecordBatch>* records,
                               StreamOptions options) {
  records->clear();
  return attach_with(stream, from, std::move(options), [&](std::vector<Run>& runs, const std::vector<size_t>& skip) {
    for (size_t k = 0; k < runs.size(); ++k) {
      if (skip[k] >= runs[k].records.size()) continue;
      if (skip[k] > 0) runs[k].records.drop_front(skip[k]);
      records->push_back(std::move(runs[k].records));
    }
    return Status::OK();
  });
}

Result<Offset> NodeLog::attach_with(const std::string& stream, Offset from, StreamOptions options,
                                    const std::function<Status(std::vector<Run>&, const std::vector<size_t>&)>& deliver) {
  if (stream.empty() || stream.size() > kMaxStreamNameSize)
    return InvalidArgument("node log '" + dir() + "': stream name of " + std::to_string(stream.size()) +
                           " bytes (1 to " + std::to_string(kMaxStreamNameSize) + ")");
  std::vector<Run> runs;
  {
    std::lock_guard l(mu_);
    if (closed_) return FailedPrecondition("node log '" + dir() + "' is closed");
    Stream& s = streams_[stream];
    if (s.attached) return FailedPrecondition("node log '" + dir() + "': " + quoted(stream) + " is attached already");
    s.attached = true;  // no second attach while this one replays without the lock
    attached_.fetch_add(1);
    runs = std::move(s.parked);
    s.parked.clear();
  }
  // Without the lock: other streams go on appending meanwhile. First check that the runs
  // continue from `from` (records of each run to skip: those the owner holds), then deliver.
  Offset expected = from;
  Status status;
  std::vector<size_t> skip(runs.size(), 0);
  for (size_t k = 0; k < runs.size() && status.ok(); ++k) {
    const Run& run = runs[k];
    if (run.end() <= expected) {
      skip[k] = run.records.size();
      if (expected == from) continue;  // wholly below what the owner holds
      status = Corruption("node log '" + dir() + "': " + quoted(stream) + " holds offsets " +
                          std::to_string(run.first.value()) + ".." + std::to_string(run.end().value()) +
                          " twice");
    } else if (run.first > expected) {
      status = Corruption("node log '" + dir() + "': " + quoted(stream) + " continues at offset " +
                          std::to_string(expected.value()) + " but the log holds its records from " +
                          std::to_string(run.first.value()) + ": records missing");
    } else if (run.first < expected && expected != from) {
      status = Corruption("node log '" + dir() + "': " + quoted(stream) + " holds offsets from " +
                          std::to_string(run.first.value()) + " twice");
    } else {
      skip[k] = expected.value() - run.first.value();
      expected = run.end();
    }
  }
  if (status.ok()) status = deliver(runs, skip);
  {
    std::lock_guard l(mu_);
    Stream& s = streams_[stream];
    if (!status.ok()) {
      s.attached = false;
      attached_.fetch_sub(1);
      s.parked = std::move(runs);  // delivery failed before anything was moved out
      return status;
    }
    s.options = std::move(options);
    s.end = expected;
    pop_entries(stream, s, from);
  }
  if (Status r = release_segments(); !r.ok() && opts_.wal.on_background) opts_.wal.on_background("WAL checkpoint", r);
  return expected;
}

void NodeLog::detach(const std::string& stream, Offset first, RecordBatch unflushed) {
  {
    std::lock_guard l(mu_);
    auto it = streams_.find(stream);
    if (it == streams_.end()) return;
    Stream& s = it->second;
    if (s.attached) attached_.fetch_sub(1);
    s.attached = false;
    s.options = StreamOptions();
    s.parked.clear();
    pop_entries(stream, s, first);
    if (!unflushed.empty() && !s.entries.empty()) s.parked.push_back(Run{first, std::move(unflushed)});
    if (s.entries.empty() && s.parked.empty() && s.pinned == 0) streams_.erase(it);
  }
  if (Status r = release_segments(); !r.ok() && opts_.wal.on_background) opts_.wal.on_background("WAL checkpoint", r);
}

void NodeLog::forget(const std::string& stream) {
  {
    std::lock_guard l(mu_);
    auto it = streams_.find(stream);
    if (it == streams_.end()) return;
    if (!it->second.entries.empty()) fronts_.erase({it->second.entries.front().first, stream});
    if (it->second.attached) attached_.fetch_sub(1);
    if (it->second.pinned == 0) {
      streams_.erase(it);
    } else {
      // Appends of it are still queued: they find it unattached, and the last one erases it.
      Stream fresh;
      fresh.pinned = it->second.pinned;
      it->second = std::move(fresh);
    }
  }
  if (Status r = release_segments(); !r.ok() && opts_.wal.on_background) opts_.wal.on_background("WAL checkpoint", r);
}

void NodeLog::append_async(const std::string& stream, const RecordBatch& batch, AppendDone done) {
  append_to(nullptr, &stream, batch, std::move(done));
}

void NodeLog::append_async(StreamRef stream, RecordBatch batch, AppendDone done) {
  append_to(static_cast<StreamEntry*>(stream.entry_), nullptr, std::move(batch), std::move(done));
}

NodeLog::StreamRef NodeLog::pin(const std::string& stream) {
  std::lock_guard l(mu_);
  auto it = streams_.find(stream);
  if (it == streams_.end() || !it->second.attached) return StreamRef();
  ++it->second.pinned;
  return StreamRef(&*it);
}

void NodeLog::unpin(StreamRef stream) {
  if (!stream) return;
  std::lock_guard l(mu_);
  unpin(static_cast<StreamEntry*>(stream.entry_));
}

void NodeLog::append_to(StreamEntry* entry, const std::string* name, RecordBatch batch, AppendDone done) {
  bool kick = false, lead = false, lead_group = false;
  {
    std::lock_guard l(mu_);
    if (closed_) return done(FailedPrecondition("node log '" + dir() + "' is closed"), batch);
    if (entry == nullptr && name != nullptr) {
      auto found = streams_.find(*name);
      if (found != streams_.end()) entry = &*found;
    }
    if (entry == nullptr || !entry->second.attached) {
      const std::string what = entry ? quoted(entry->first) : name ? quoted(*name) : "an unpinned stream";
      return done(FailedPrecondition("node log '" + dir() + "': " + what + " is not attached"), batch);
    }
    Stream& st = entry->second;
    ++st.pinned;  // the Pending's
    if (synced_per_append(st.options)) {
      queue_.push_back(Pending{entry, std::move(batch), std::move(done)});
      if (plugs_ > 0) {
        ++plugged_pushes_;    // its writer is counted when its Plug goes
        unplug_kick_ = true;  // the last Plug starts the group commit
        return;
      }
      ++queued_writers_;
      kick = true;
      lead_group = take_lead();
    } else {
      direct_.push_back(Pending{entry, std::move(batch), std::move(done)});
      // Plugged: the Plug's end writes it with the rest of the put (one frame); else the caller
      // writing direct_ takes this one too.
      lead = plugs_ == 0 && !direct_writing_;
      if (lead) direct_writing_ = true;
    }
  }
  if (kick) start_group(lead_group);
  if (lead) {
    while (write_group(direct_, /*waited=*/false)) {
    }
  }
}

void NodeLog::append_async(const std::string& stream, const RecordBatch& batch,
                           std::function<void(Result<Offset>)> done) {
  append_async(stream, batch, [done = std::move(done)](Result<Offset> r, const RecordBatch&) { done(std::move(r)); });
}

NodeLog::Plug::Plug(NodeLog* log) : log_(log) {
  std::lock_guard l(log_->mu_);
  ++log_->plugs_;
  pushes_at_start_ = log_->plugged_pushes_;
}

NodeLog::Plug::~Plug() {
  bool kick, lead_group = false, lead_direct;
  {
    std::lock_guard l(log_->mu_);
    // One writer (its put's parts, however many streams they reach) if anything joined the group
    // commit while this Plug lived.
    if (log_->plugged_pushes_ != pushes_at_start_) ++log_->queued_writers_;
    kick = --log_->plugs_ == 0 && log_->unplug_kick_;
    if (kick) {
      log_->unplug_kick_ = false;
      lead_group = log_->take_lead();
    }
    // Appends not synced per append that queued meanwhile are written now, whatever other Plugs
    // live (so none waits for another writer's put): one frame for all of them.
    lead_direct = !log_->direct_.empty() && !log_->direct_writing_;
    if (lead_direct) log_->direct_writing_ = true;
  }
  if (kick) log_->start_group(lead_group);
  if (lead_direct) {
    while (log_->write_group(log_->direct_, /*waited=*/false)) {
    }
  }
}

bool NodeLog::take_lead() {
  if (!opts_.caller_commits || t_answering || leading_ || closed_ || queue_.empty() || full()) return false;
  // The group commit's own test (drain): with more writers expected than queued it would wait
  // for them, and that wait is the group-commit task's.
  const size_t expected = std::max(group_max_, prev_group_max_);
  if (expected > 1 && writers_queued() < expected && opts_.group_wait.count() > 0) return false;
  leading_ = true;
  return true;
}

void NodeLog::start_group(bool lead_here) {
  if (lead_here) return lead();
  queued_cv_.notify_one();  // an appender waiting for more writers counts this one
  appender_.run_now();
}

void NodeLog::lead() {
  // One group (the caller's append and whatever queued with it), written and synced here, its
  // callbacks run here; a group already being written is waited for (write_mu_) first.
  const bool wrote = write_group(queue_, /*waited=*/false, /*led=*/true);
  bool more;
  {
    std::lock_guard l(mu_);
    leading_ = false;
    more = !queue_.empty();
  }
  lead_idle_cv_.notify_all();
  // Appends queued meanwhile (or this one, when the log filled up: the task may stall for room,
  // the caller may not) go to the group-commit task.
  if (more || !wrote) start_group(false);
}

Result<Offset> NodeLog::append(const std::string& stream, const RecordBatch& batch) {
  std::promise<Result<Offset>> p;
  auto f = p.get_future();
  append_async(stream, batch, [&p](Result<Offset> r) { p.set_value(std::move(r)); });
  return f.get();
}

Status NodeLog::refusal() const {
  auto [lsn, holder] = lowest_needed();
  std::string who = "no stream";
  if (holder != nullptr) {
    const Stream& h = streams_.at(*holder);
    who = quoted(*holder) + " (its records from offset " + std::to_string(h.flushed.value()) + " on are not checkpointed: " +
          (h.flush_error.ok() ? std::string("are its flushes failing?") : "its flush failed: " + h.flush_error.to_string()) +
          ")";
  }
  return ResourceExhausted("node log '" + dir() + "' holds " + std::to_string(wal_->size_bytes()) +
                           " bytes, max_wal_size " + std::to_string(limit()) + ": " + who + " holds it back");
}

uint64_t NodeLog::limit() const {
  const uint64_t grown = std::min(opts_.max_size_cap, opts_.max_size_per_stream * attached_.load());
  return std::max(opts_.max_size, grown);
}

Status NodeLog::admission() const {
  std::lock_guard l(mu_);
  if (!full()) return Status::OK();
  auto [lsn, holder] = lowest_needed();
  if (holder != nullptr && !streams_.at(*holder).flush_error.ok()) return refusal();
  return Status::OK();
}

Status NodeLog::wait_for_room(std::unique_lock<std::mutex>& l) {
  if (!full()) return Status::OK();
  ++stalls_;
  const auto deadline = std::chrono::steady_clock::now() + opts_.stall;
  for (;;) {
    if (closed_) return FailedPrecondition("node log '" + dir() + "' is closed");
    auto [lsn, holder] = lowest_needed();
    if ((holder != nullptr && !streams_.at(*holder).flush_error.ok()) || std::chrono::steady_clock::now() >= deadline)
      return refusal();
    l.unlock();
    ask_holders_to_flush();
    l.lock();
    room_cv_.wait_until(l, std::min(deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds(100)));
    if (!full()) return Status::OK();
  }
}

Result<Offset> NodeLog::write_entries(const std::vector<Entry>& entries, bool sync) {
  // The frame is built in place: its record lengths (the entries' sizes) first, then each entry
  // straight from its batch, so the records are copied once on their way to the file.
  size_t bytes = 0;
  for (const Entry& e : entries)
    bytes += stream_entry_size(e.stream->first.size(), e.batch->size(), e.batch->byte_size());
  std::string frame;
  frame.reserve(kFrameHeaderSize + kBatchFixedSize + 4 * entries.size() + bytes);
  start_batch_frame(static_cast<uint32_t>(entries.size()), &frame);
  for (const Entry& e : entries)
    put_u32(&frame, static_cast<uint32_t>(stream_entry_size(e.stream->first.size(), e.batch->size(), e.batch->byte_size())));
  for (const Entry& e : entries)
    append_stream_entry(e.stream->first, e.first, e.batch->max_time(), e.batch->data(), e.batch->ends(), &frame);
  Result<Offset> lsn = wal_->append_frame(&frame, static_cast<uint32_t>(entries.size()), sync);
  std::lock_guard l(mu_);
  if (!lsn.ok()) {
    for (const Entry& e : entries) unpin(e.stream);
    return lsn;
  }
  ++groups_;
  for (size_t k = 0; k < entries.size(); ++k) {
    const Entry& e = entries[k];
    Stream& s = e.stream->second;
    const Offset end(e.first.value() + e.batch->size());
    const bool was_empty = s.entries.empty();
    s.entries.emplace_back(Offset(lsn->value() + k), end);
    if (s.end < end) s.end = end;
    if (was_empty) set_entries_front(e.stream->first, s, std::nullopt);
    unpin(e.stream);
  }
  next_lsn_ = Offset(lsn->value() + entries.size());
  return lsn;
}

void NodeLog::drain() {
  for (;;) {
    bool waited = false;
    {
      std::unique_lock l(mu_);
      if (queue_.empty()) return;
      if (plugs_ > 0) {
        unplug_kick_ = true;  // plugged meanwhile: the last Plug starts the next group
        return;
      }
      // Writers whose appends were in recent groups and are not queued yet are usually on their
      // way (building their next batch): waiting a little for them makes one sync cover them all,
      // where starting at once would sync a group of one and make them wait a whole round. The
      // wait is at most the last round's write + sync (what an append that just missed a round
      // waits anyway) and group_wait; a lone writer (recent groups of one) never waits.
      const size_t expected = std::max(group_max_, prev_group_max_);
      if (expected > 1 && writers_queued() < expected && opts_.group_wait.count() > 0 && plugs_ == 0 && !closed_) {
        const auto wait = std::min<std::chrono::steady_clock::duration>(opts_.group_wait, last_round_);
        queued_cv_.wait_for(l, wait, [&] { return closed_ || writers_queued() >= expected; });
        waited = true;
      }
    }
    if (!write_group(queue_, waited)) return;
  }
}

bool NodeLog::write_group(std::deque<Pending>& q, bool waited, bool led) {
  const bool group_commit = &q == &queue_;
  std::vector<Pending> group;
  std::vector<Result<Offset>> results;
  std::vector<Entry> entries;     // the entries to write (ok results)
  std::vector<size_t> written;    // indexes into group of the entries written
  bool want_sync = false;
  double interval = -1;           // the shortest interval of the kInterval entries
  Status refused;
  std::unique_lock w(write_mu_);  // before mu_: one frame is written at a time
  {
    std::unique_lock l(mu_);
    if (q.empty()) {
      if (!group_commit) {
        direct_writing_ = false;  // under the lock that queues: an append queued later leads
        direct_idle_cv_.notify_all();
      }
      return false;
    }
    if (led && full()) return false;  // no stall on the caller's thread: the task writes it
    refused = wait_for_room(l);  // before the group is taken: appends queued meanwhile join it
    uint64_t bytes = 0;
    while (!q.empty()) {
      const Pending& p = q.front();
      const uint64_t size = stream_entry_size(p.stream->first.size(), p.batch.size(), p.batch.byte_size());
      if (!group.empty() && bytes + size > opts_.wal.max_group_bytes) break;
      bytes += size;
      group.push_back(std::move(q.front()));
      q.pop_front();
    }
    // The group's append time, never behind an earlier group's (so per stream too): batches
    // without times of their own are stamped with it (docs/records.md, "Append time").
    const Scheduler* clock = opts_.wal.scheduler ? opts_.wal.scheduler : Scheduler::Default();
    last_time_ = std::max(last_time_, clock->wall_ms());
    for (Pending& p : group)
      if (!p.batch.has_times() && !p.batch.empty()) p.batch.set_times(last_time_);
    // Each stream's records continue from its end, counting its earlier entries in this group
    // (Stream::group_next, valid while group_mark is this group's number: nothing allocated).
    const uint64_t mark = ++group_marks_;
    for (size_t i = 0; i < group.size(); ++i) {
      const Pending& p = group[i];
      Stream& st = p.stream->second;
      if (!refused.ok()) {
        results.push_back(refused);
        unpin(p.stream);
      } else if (!st.attached) {
        results.push_back(FailedPrecondition("node log '" + dir() + "': " + quoted(p.stream->first) + " is not attached"));
        unpin(p.stream);
      } else {
        if (st.group_mark != mark) {
          st.group_mark = mark;
          st.group_next = st.end;
        }
        if (p.batch.empty()) {
          results.push_back(st.group_next);
          unpin(p.stream);
          continue;
        }
        const Offset first = st.group_next;
        st.group_next = Offset(first.value() + p.batch.size());
        entries.push_back(Entry{p.stream, first, &p.batch});
        written.push_back(i);
        results.push_back(first);
        const StreamOptions& o = st.options;
        if (synced_per_append(o)) {
          want_sync = true;
        } else if (o.sync_mode == SyncMode::kInterval && (interval < 0 || o.sync_interval_s < interval)) {
          interval = o.sync_interval_s;
        }
      }
    }
    if (group_commit) {
      // The largest group of the last 64 rounds and of the 64 before, in writers (a put spread
      // over many streams is one): how many writers are active. What the group left queued
      // (max_group_bytes) is counted as one writer.
      const size_t writers = std::max<size_t>(queued_writers_, 1);
      queued_writers_ = q.empty() ? 0 : 1;
      group_max_ = std::max(group_max_, writers);
      if (++rounds_in_window_ == 64) {
        prev_group_max_ = group_max_;
        group_max_ = 0;
        rounds_in_window_ = 0;
      }
    }
  }
  if (!entries.empty()) {
    // One frame, one write(), at most one fdatasync for every stream's entries of the group.
    const auto t0 = std::chrono::steady_clock::now();
    Result<Offset> lsn = write_entries(entries, want_sync);
    if (group_commit || (lsn.ok() && waited)) {
      std::lock_guard l(mu_);
      if (group_commit) last_round_ = std::chrono::steady_clock::now() - t0;
      if (lsn.ok() && waited) ++group_waits_;
    }
    if (!lsn.ok()) {
      for (size_t k : written) results[k] = lsn.status();
    } else if (!want_sync && interval >= 0) {
      sync_task_.run_after(std::chrono::duration_cast<Scheduler::Clock::duration>(
          std::chrono::duration<double>(interval)));
    }
  }
  // The group commit's groups are answered in the order they were taken (a caller writing its
  // own group and the task may each be past the write lock): a stream's appends in LSN order.
  const uint64_t turn = group_commit ? taken_++ : 0;
  w.unlock();
  if (group_commit) {
    std::unique_lock l(answer_mu_);
    answer_cv_.wait(l, [&] { return answered_ == turn; });
  }
  {
    const bool outer = t_answering;
    t_answering = true;  // a group started from these callbacks goes to the task (take_lead)
    for (size_t i = 0; i < group.size(); ++i) group[i].done(std::move(results[i]), group[i].batch);
    t_answering = outer;
  }
  if (group_commit) {
    {
      std::lock_guard l(answer_mu_);
      ++answered_;
    }
    answer_cv_.notify_all();
  }
  if (!entries.empty() || !refused.ok()) ask_holders_to_flush();
  return true;
}

void NodeLog::unpin(StreamEntry* stream) {
  Stream& s = stream->second;
  if (--s.pinned > 0 || s.attached || !s.entries.empty() || !s.parked.empty()) return;
  streams_.erase(streams_.find(stream->first));
}

void NodeLog::note_flush_failure(const std::string& stream, const Status& error) {
  {
    std::lock_guard l(mu_);
    auto it = streams_.find(stream);
    if (it == streams_.end()) return;
    it->second.flush_error = error;
  }
  room_cv_.notify_all();
}

Status NodeLog::checkpoint(const std::string& stream, Offset flushed) {
  {
    std::lock_guard l(mu_);
    if (closed_) return FailedPrecondition("node log '" + dir() + "' is closed");
    auto it = streams_.find(stream);
    if (it == streams_.end()) return Status::OK();  // holds nothing in the log
    Stream& s = it->second;
    if (s.attached && flushed > s.end)
      return InvalidArgument("node log '" + dir() + "': checkpoint " + std::to_string(flushed.value()) + " of " +
                             quoted(stream) + " is past its end (" + std::to_string(s.end.value()) + ")");
    pop_entries(stream, s, flushed);
    s.flush_error = Status::OK();
    if (!s.attached && s.entries.empty() && s.pinned == 0) streams_.erase(it);
  }
  return release_segments();
}

Status NodeLog::release_segments() {
  std::lock_guard r(release_mu_);
  Offset low;
  bool idle;
  {
    std::lock_guard l(mu_);
    low = lowest_needed().first;
    idle = fronts_.empty() && queue_.empty() && low == wal_->next_offset();
  }
  if (low < wal_->checkpoint_offset()) return Status::OK();  // cannot happen; never move it back
  if (wal_->checkpoint_frees_segment(low)) {
    Status s = wal_->checkpoint(low);
    room_cv_.notify_all();  // a writer waiting for room looks again (and sees the error, if any)
    RETURN_IF_ERROR(s);
  }
  if (idle && wal_->health().ok()) {
    // Nothing in the log is needed: start a fresh segment and free the rest, so no copy of the
    // records stays on disk. (An append racing with this goes into the old or the new segment;
    // a segment holding it is not wholly below `low`, so it stays.)
    const std::vector<Offset> starts = wal_->segment_starts();
    if (!starts.empty() && starts.back() < low) RETURN_IF_ERROR(wal_->rotate_active());
    RETURN_IF_ERROR(wal_->checkpoint(low, /*keep_spare=*/false));
  }
  return Status::OK();
}

void NodeLog::ask_holders_to_flush() {
  // With a size limit, not before the log is half full: asked at every new segment, a put spread
  // over 1,024 buckets flushes each of them every segment, a few hundred records (a Lance
  // fragment and its files) at a time.
  if (opts_.max_size > 0 && wal_->size_bytes() < limit() / 2) return;
  const std::vector<Offset> starts = wal_->segment_starts();
  if (starts.size() < 2) return;
  std::vector<std::function<void()>> asks;
  {
    std::lock_guard l(mu_);
    if (asked_segment_ != starts[0]) {
      asked_segment_ = starts[0];
      asked_.clear();
    }
    const auto now = std::chrono::steady_clock::now();
    // Every stream with an entry in the oldest segment holds it back: all of them flush at once
    // (a segment holds entries of many streams; asking one after another would free it only
    // after as many flushes in a row). Once per segment and stream, and again every second while
    // the same one holds it (a flush may fail).
    for (const auto& [lsn, name] : fronts_) {
      if (lsn >= starts[1]) break;
      auto [at, fresh] = asked_.try_emplace(name, now);
      if (!fresh && now - at->second < std::chrono::seconds(1)) continue;
      at->second = now;
      const Stream& s = streams_.at(name);
      if (s.attached) {
        if (s.options.flush_request) asks.push_back(s.options.flush_request);
      } else if (opts_.on_hold_back) {
        asks.push_back([f = opts_.on_hold_back, name = name] { f(name); });
      }
    }
  }
  for (auto& ask : asks) ask();
}

void NodeLog::interval_sync() {
  if (wal_->durable_offset() >= wal_->next_offset()) return;
  Status s = wal_->sync();
  if (opts_.wal.on_background) opts_.wal.on_background("WAL sync", s);
  if (!s.ok()) sync_task_.run_after(std::chrono::seconds(1));  // the records stay unsynced: again
}

Status NodeLog::sync() { return wal_->sync(); }

Status NodeLog::close() {
  bool lead;
  {
    std::lock_guard l(mu_);
    if (closed_) return FailedPrecondition("node log '" + dir() + "' is closed");
    closed_ = true;  // appends from now on are refused; those queued are written below
  }
  queued_cv_.notify_all();
  room_cv_.notify_all();
  {
    // Appends queued before the close are written by the caller writing them.
    std::unique_lock l(mu_);
    direct_idle_cv_.wait(l, [&] { return !direct_writing_; });
    lead_idle_cv_.wait(l, [&] { return !leading_; });  // a caller writing its group finishes it
    lead = direct_writing_ = !direct_.empty();  // queued under a Plug that lives on: written here
  }
  if (lead) {
    while (write_group(direct_, /*waited=*/false)) {
    }
  }
  appender_.stop();
  drain();
  sync_task_.stop();
  std::lock_guard w(write_mu_);  // a caller writing its own append finishes first
  return wal_->close();
}

Offset NodeLog::stream_end(const std::string& stream) const {
  std::lock_guard l(mu_);
  auto it = streams_.find(stream);
  if (it == streams_.end()) return Offset(0);
  if (it->second.attached) return it->second.end;
  return it->second.parked.empty() ? Offset(0) : it->second.parked.back().end();
}

std::optional<std::string> NodeLog::holding_stream() const {
  std::lock_guard l(mu_);
  auto [lsn, holder] = lowest_needed();
  if (holder == nullptr) return std::nullopt;
  return *holder;
}

uint64_t NodeLog::groups() const {
  std::lock_guard l(mu_);
  return groups_;
}

uint64_t NodeLog::stalls() const {
  std::lock_guard l(mu_);
  return stalls_;
}

uint64_t NodeLog::group_waits() const {
  std::lock_guard l(mu_);
  return group_waits_;
}

}  // namespace persisting::wal
