// QueueReader: one offset per covered bucket, fair reads across buckets, parked waiting.
//
// A get runs in two phases:
//  1. ask every covered bucket for up to `limit` records at its offset, without waiting;
//  2. only if all came back empty and the caller wants to wait: park one waiter in every bucket
//     (same waiter id); the first bucket that gets data answers with it, the reader cancels the
//     others, and the get completes with that bucket's records. At the deadline all answer empty.
// Reads never consume anything on the server side. Records fetched but not returned (over the
// limit) stay in the cursor's read-ahead (routing.h) and are returned by the next gets, which
// fetch only the buckets with nothing ahead; a losing waiter's records are simply read again.
#include <algorithm>
#include <future>

#include "queue/fetch.h"
#include "queue/queue_core.h"
#include "queue/routing.h"

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
  bool any_ahead = false;
  for (size_t i = 0; i < n; ++i) any_ahead |= s->cursor.ahead_count(i) > 0;
  if (!any_ahead)  // then every bucket is to be fetched
    return queue::fetch(s->actors, s->cursor.offsets, limit, wait, timeout, queue::next_waiter_id(), std::move(done));
  queue::Actors actors;
  std::vector<uint64_t> offsets;
  for (size_t i : which) {
    actors.push_back(s->actors[i]);
    offsets.push_back(s->cursor.offsets[i]);
  }
  queue::fetch(actors, offsets, limit, /*wait=*/false, timeout, 0,
               [n, which = std::move(which), done = std::move(done)](Result<Raw> r) {
                 if (!r.ok()) return done(r.status());
                 Raw all(n);
                 for (size_t k = 0; k < which.size(); ++k) all[which[k]] = std::move((*r)[k]);
                 done(std::move(all));
               });
}

}  // namespace

QueueReader::QueueReader(std::unique_ptr<detail::ReaderState> s) : s_(std::move(s)) {}
QueueReader::~QueueReader() = default;
const TopicInfo& QueueReader::topic() const { return s_->info; }
const std::vector<BucketId>& QueueReader::buckets() const { return s_->cursor.buckets; }

Result<std::vector<Message>> QueueReader::get(size_t limit, bool wait, std::chrono::milliseconds timeout) {
  if (limit == 0) return std::vector<Message>();
  std::promise<Result<Raw>> p;
  auto f = p.get_future();
  fetch_missing(s_.get(), limit, wait, timeout, [&p](Result<Raw> r) { p.set_value(std::move(r)); });
  auto raw = f.get();
  if (!raw.ok()) return raw.status();
  return queue::take_fair(s_->cursor, s_->info.topic, *raw, limit);  // decoding on the caller's thread
}

void QueueReader::get_async(size_t limit, bool wait, std::chrono::milliseconds timeout,
                            std::function<void(Result<std::vector<Message>>)> done) {
  if (limit == 0) return done(std::vector<Message>());
  detail::ReaderState* s = s_.get();
  fetch_missing(s, limit, wait, timeout, [s, limit, done = std::move(done)](Result<Raw> r) {
    if (!r.ok()) return done(r.status());
    done(queue::take_fair(s->cursor, s->info.topic, *r, limit));
  });
}

void QueueReader::reset() { s_->cursor.reset(); }

Status QueueReader::set_offset(Offset offset, std::optional<BucketId> bucket) {
  return s_->cursor.set_offset(offset, bucket, s_->info.topic);
}

std::vector<Offset> QueueReader::offsets() const { return s_->cursor.offset_list(); }

// TEMPORARY (G1 step 1): groups not wired yet.
Status QueueReader::commit() { return NotSupported("consumer groups: not yet"); }
Status QueueReader::close() { return Status::OK(); }

}  // namespace persisting
