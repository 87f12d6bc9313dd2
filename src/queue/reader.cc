// QueueReader: one offset per covered bucket, fair reads across buckets, parked waiting.
//
// A get runs in two phases:
//  1. ask every covered bucket for up to `limit` records at its offset, without waiting;
//  2. only if all came back empty and the caller wants to wait: park one waiter in every bucket
//     (same waiter id); the first bucket that gets data answers with it, the reader cancels the
//     others, and the get completes with that bucket's records. At the deadline all answer empty.
// Reads never consume anything on the server side: records fetched but not taken (over the
// limit, or from a losing waiter) are simply read again by the next get.
#include <algorithm>
#include <future>

#include "queue/queue_core.h"
#include "queue/routing.h"

namespace persisting {
namespace {

using Raw = std::vector<RecordBatch>;  // parallel to the cursor's buckets

}  // namespace

QueueReader::QueueReader(std::unique_ptr<detail::ReaderState> s) : s_(std::move(s)) {}
QueueReader::~QueueReader() = default;
const TopicInfo& QueueReader::topic() const { return s_->info; }
const std::vector<BucketId>& QueueReader::buckets() const { return s_->cursor.buckets; }

Result<std::vector<Message>> QueueReader::get(size_t limit, bool wait, std::chrono::milliseconds timeout) {
  if (limit == 0) return std::vector<Message>();
  std::promise<Result<Raw>> p;
  auto f = p.get_future();
  queue::fetch(s_->actors, s_->cursor.offsets, limit, wait, timeout, queue::next_waiter_id(),
               [&p](Result<Raw> r) { p.set_value(std::move(r)); });
  auto raw = f.get();
  if (!raw.ok()) return raw.status();
  return queue::take_fair(s_->cursor, s_->info.topic, *raw, limit);  // decoding on the caller's thread
}

void QueueReader::get_async(size_t limit, bool wait, std::chrono::milliseconds timeout,
                            std::function<void(Result<std::vector<Message>>)> done) {
  if (limit == 0) return done(std::vector<Message>());
  detail::ReaderState* s = s_.get();
  queue::fetch(s->actors, s->cursor.offsets, limit, wait, timeout, queue::next_waiter_id(),
               [s, limit, done = std::move(done)](Result<Raw> r) {
                 if (!r.ok()) return done(r.status());
                 done(queue::take_fair(s->cursor, s->info.topic, *r, limit));
               });
}

void QueueReader::reset() { s_->cursor.reset(); }

Status QueueReader::set_offset(Offset offset, std::optional<BucketId> bucket) {
  return s_->cursor.set_offset(offset, bucket, s_->info.topic);
}

std::vector<Offset> QueueReader::offsets() const { return s_->cursor.offset_list(); }

}  // namespace persisting
