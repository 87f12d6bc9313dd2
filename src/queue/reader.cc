// QueueReader: one offset per covered bucket, fair reads across buckets, parked waiting.
//
// A get runs in two phases:
//  1. ask every covered bucket for up to `limit` records at its offset, without waiting;
//  2. only if all came back empty and the caller wants to wait: park one waiter in every bucket
//     (same waiter id); the first bucket that gets data answers with it, the reader cancels the
//     others, and the get completes with that bucket's records. At the deadline all answer empty.
// Reads never consume anything on the server side. Records fetched but not returned (over the
// limit) stay in the cursor's read-ahead (read_cursor.h) and are returned by the next gets, which
// fetch only the buckets with nothing ahead; a losing waiter's records are simply read again.
#include <algorithm>
#include <future>
#include <thread>

#include "core/log.h"
#include "core/status_macros.h"

#include "queue/fetch.h"
#include "queue/queue_core.h"
#include "queue/read_cursor.h"

namespace persisting {
namespace {

using Raw = std::vector<RecordBatch>;  // parallel to the cursor's buckets

// Fetches the buckets without their share of limit read ahead (all of them, usually) and calls
// done with a batch per covered bucket (empty for the others). Waits only if nothing at all is
// ahead: records already fetched are an answer.
void fetch_missing(detail::ReaderState* s, size_t limit, bool wait, std::chrono::milliseconds timeout,
                   std::function<void(Result<Raw>)> done) {
  std::vector<size_t> which = s->cursor.to_fetch(limit);
  size_t n = s->cursor.buckets.size();
  if (which.empty()) return done(Raw(n));
  if (!s->cursor.any_ahead())  // then every bucket is to be fetched
    return queue::fetch(s->actors, s->cursor.offsets, limit, wait, timeout, queue::next_waiter_id(), std::move(done));
  queue::Actors actors;
  std::vector<uint64_t> offsets;
  for (size_t i : which) {
    actors.push_back((*s->actors)[i]);
    offsets.push_back(s->cursor.offsets[i]);
  }
  queue::fetch(std::move(actors), offsets, limit, /*wait=*/false, timeout, 0,
               [n, which = std::move(which), done = std::move(done)](Result<Raw> r) {
                 if (!r.ok()) return done(r.status());
                 Raw all(n);
                 for (size_t k = 0; k < which.size(); ++k) all[which[k]] = std::move((*r)[k]);
                 done(std::move(all));
               });
}

using Clock = std::chrono::steady_clock;

Clock::time_point deadline_of(bool wait, std::chrono::milliseconds timeout) {
  return Clock::now() + (wait ? std::max(timeout, std::chrono::milliseconds(0)) : std::chrono::milliseconds(0));
}

std::chrono::milliseconds left_until(Clock::time_point deadline) {
  return std::chrono::ceil<std::chrono::milliseconds>(std::max(Clock::duration(0), deadline - Clock::now()));
}

// Whether a fetch brought any entry (a record or a gap).
bool any_entries(const Raw& raw) {
  return std::any_of(raw.begin(), raw.end(), [](const RecordBatch& b) { return !b.empty(); });
}

// Whether a get asks again after one fetch: what came back were only gaps (rows LanceDB
// deleted: entries without a record), the cursor has moved past them, and the get waits, so it
// waits on for what is left of its time. It answers with the records after the gaps, or empty
// at its deadline, never early and empty. (A get that does not wait answers empty, moved on.)
bool only_gaps_and_time_left(const Result<std::vector<Message>>& got, bool entries, bool wait,
                             Clock::time_point deadline) {
  return wait && entries && got.ok() && got->empty() && Clock::now() < deadline;
}

Result<std::vector<Message>> get_now(detail::ReaderState* s, size_t limit, bool wait, std::chrono::milliseconds timeout) {
  const auto deadline = deadline_of(wait, timeout);
  for (;;) {
    std::promise<Result<Raw>> p;
    auto f = p.get_future();
    fetch_missing(s, limit, wait, left_until(deadline), [&p](Result<Raw> r) { p.set_value(std::move(r)); });
    auto raw = f.get();
    if (!raw.ok()) return raw.status();
    const bool entries = any_entries(*raw);
    auto got = queue::take_fair(s->cursor, s->info.topic, *raw, limit);  // decoding on the caller's thread
    if (!only_gaps_and_time_left(got, entries, wait, deadline)) return got;
  }
}

void get_later(detail::ReaderState* s, size_t limit, bool wait, Clock::time_point deadline,
               std::function<void(Result<std::vector<Message>>)> done) {
  fetch_missing(s, limit, wait, left_until(deadline),
                [s, limit, wait, deadline, done = std::move(done)](Result<Raw> r) mutable {
                  if (!r.ok()) return done(r.status());
                  const bool entries = any_entries(*r);
                  auto got = queue::take_fair(s->cursor, s->info.topic, *r, limit);
                  if (only_gaps_and_time_left(got, entries, wait, deadline))
                    return get_later(s, limit, wait, deadline, std::move(done));
                  done(std::move(got));
                });
}

Status closed_error(const detail::ReaderState& s) {
  return FailedPrecondition("the reader of group '" + s.member->options().group + "' of topic '" + s.info.topic +
                            "' is closed");
}

}  // namespace

namespace detail {

groups::Commits ReaderState::positions() const {
  groups::Commits out;
  for (size_t i = 0; i < cursor.buckets.size(); ++i) out.emplace_back(cursor.buckets[i], Offset(cursor.offsets[i]));
  return out;
}

Status ReaderState::apply(const groups::AssignmentChange& change) {
  groups::Committed current;
  for (size_t i = 0; i < cursor.buckets.size(); ++i) current[cursor.buckets[i]] = Offset(cursor.offsets[i]);
  ASSIGN_OR_RETURN(auto next_actors, core->actors(info, change.buckets, {}, QueueCore::Access::kRead));
  auto ends = [&](const std::vector<BucketId>& buckets) -> Result<std::vector<Offset>> {
    queue::Actors which;
    for (BucketId b : buckets)
      for (size_t i = 0; i < change.buckets.size(); ++i)
        if (change.buckets[i] == b) which.push_back(next_actors[i]);
    return queue::end_offsets(which);
  };
  ASSIGN_OR_RETURN(std::vector<Offset> offsets, groups::start_offsets(change, current, start, ends));
  if (info.durable) {
    // A commit (or earliest's 0) below a bucket's first available offset: retention removed
    // those records, so the start rule decides where the member goes (docs/retention.md).
    ASSIGN_OR_RETURN(std::vector<queue::Bounds> bounds, queue::bucket_bounds(next_actors));
    for (size_t i = 0; i < offsets.size() && i < bounds.size(); ++i)
      if (offsets[i] < bounds[i].first) offsets[i] = start == OffsetReset::kLatest ? bounds[i].end : bounds[i].first;
  }
  cursor.init(change.buckets);
  for (size_t i = 0; i < offsets.size(); ++i) cursor.offsets[i] = offsets[i].value();
  actors = std::make_shared<const queue::Actors>(std::move(next_actors));
  member->note_positions(positions());
  return Status::OK();
}

Status ReaderState::sync_group() {
  ASSIGN_OR_RETURN(std::optional<groups::AssignmentChange> change, member->poll(positions()));
  if (change) return apply(*change);
  return Status::OK();
}

}  // namespace detail

QueueReader::QueueReader(std::unique_ptr<detail::ReaderState> s) : s_(std::move(s)) {}
QueueReader::~QueueReader() {
  if (!s_->member || s_->closed) return;
  if (Status s = close(); !s.ok())
    log_warning(s_->core->options.logger.get(), "closing the reader of group '" + s_->member->options().group +
                                                    "' of topic '" + s_->info.topic + "': " + s.to_string());
}
const TopicInfo& QueueReader::topic() const { return s_->info; }
const std::vector<BucketId>& QueueReader::buckets() const { return s_->cursor.buckets; }

Result<std::vector<Message>> QueueReader::get(size_t limit, bool wait, std::chrono::milliseconds timeout) {
  if (!s_->member) {
    if (limit == 0) return std::vector<Message>();
    return get_now(s_.get(), limit, wait, timeout);
  }
  // A group reader waits in slices of at most the heartbeat interval, polling the group between
  // them, so a waiting member neither expires nor misses a new assignment.
  if (s_->closed) return closed_error(*s_);
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + (wait ? std::max(timeout, std::chrono::milliseconds(0)) : Clock::duration(0));
  for (;;) {
    RETURN_IF_ERROR(s_->sync_group());
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() < 0) left = std::chrono::milliseconds(0);
    auto slice = std::min(left, s_->member->heartbeat_interval());
    if (limit == 0) return std::vector<Message>();
    if (s_->cursor.buckets.empty()) {  // no share of the buckets (more members than buckets)
      if (slice.count() == 0) return std::vector<Message>();
      std::this_thread::sleep_for(slice);
      continue;
    }
    ASSIGN_OR_RETURN(std::vector<Message> got, get_now(s_.get(), limit, slice.count() > 0, slice));
    if (!got.empty() || Clock::now() >= deadline) return got;
  }
}

void QueueReader::get_async(size_t limit, bool wait, std::chrono::milliseconds timeout,
                            std::function<void(Result<std::vector<Message>>)> done) {
  if (s_->member) {
    // Group readers: the group is polled here, and the wait is cut to the heartbeat interval
    // (an empty answer sooner; the caller asks again).
    if (s_->closed) return done(closed_error(*s_));
    if (Status st = s_->sync_group(); !st.ok()) return done(st);
    timeout = std::min(timeout, s_->member->heartbeat_interval());
  }
  if (limit == 0) return done(std::vector<Message>());
  get_later(s_.get(), limit, wait, deadline_of(wait, timeout), std::move(done));
}

void QueueReader::reset() {
  s_->cursor.reset();
  if (!s_->member && s_->firsts.size() == s_->cursor.offsets.size()) s_->cursor.offsets = s_->firsts;
}

Status QueueReader::set_offset(Offset offset, std::optional<BucketId> bucket) {
  return s_->cursor.set_offset(offset, bucket, s_->info.topic);
}

Status QueueReader::seek_to_time(int64_t time_ms) {
  if (time_ms < 0)
    return InvalidArgument("topic '" + s_->info.topic + "': time " + std::to_string(time_ms) +
                           " is negative (milliseconds since the Unix epoch)");
  if (s_->closed) return closed_error(*s_);
  ASSIGN_OR_RETURN(std::vector<Offset> offsets, runtime::offsets_for_time(*s_->actors, time_ms));
  for (size_t i = 0; i < offsets.size() && i < s_->cursor.buckets.size(); ++i)
    RETURN_IF_ERROR(s_->cursor.set_offset(offsets[i], s_->cursor.buckets[i], s_->info.topic));
  return Status::OK();
}

std::vector<Offset> QueueReader::offsets() const { return s_->cursor.offset_list(); }

Status QueueReader::commit() {
  if (!s_->member) return FailedPrecondition("reader of topic '" + s_->info.topic + "' has no group");
  if (s_->closed) return closed_error(*s_);
  return s_->member->commit(s_->positions());
}

Status QueueReader::close() {
  if (!s_->member || s_->closed) return Status::OK();
  s_->closed = true;
  return s_->member->close(s_->positions());
}

}  // namespace persisting
