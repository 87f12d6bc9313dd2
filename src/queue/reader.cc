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
#include <atomic>

#include "queue/queue_core.h"

namespace persisting {
namespace {

using Raw = std::vector<RecordBatch>;  // parallel to ReaderState::buckets
using RawCallback = std::function<void(Result<Raw>)>;

std::atomic<uint64_t> g_next_waiter_id{1};

// Collects one answer per bucket, then calls done once.
struct Gather {
  std::mutex mu;
  size_t left;
  Raw raw;
  Status first_error;
  bool have_winner = false;
  RawCallback done;
};

void park_all(detail::ReaderState& s, size_t limit, std::chrono::milliseconds timeout, RawCallback done) {
  auto g = std::make_shared<Gather>();
  g->left = s.buckets.size();
  g->raw.resize(s.buckets.size());
  g->done = std::move(done);
  uint64_t waiter = g_next_waiter_id.fetch_add(1);
  auto actors = s.actors;  // copied: the callbacks may outlive this call
  for (size_t i = 0; i < s.buckets.size(); ++i) {
    s.actors[i]->get(Offset(s.offsets[i]), limit, timeout, waiter,
                     [g, i, waiter, actors](Result<RecordBatch> r) {
      bool cancel_others = false;
      bool last;
      {
        std::lock_guard<std::mutex> lock(g->mu);
        if (!r.ok()) {
          if (g->first_error.ok()) g->first_error = r.status();
        } else if (!r->empty() && !g->have_winner) {
          g->have_winner = true;
          g->raw[i] = std::move(r).value();
          cancel_others = true;
        }
        last = --g->left == 0;
      }
      if (cancel_others)
        for (size_t j = 0; j < actors.size(); ++j)
          if (j != i) actors[j]->cancel_wait(waiter);
      if (last) {
        if (!g->have_winner && !g->first_error.ok()) return g->done(g->first_error);
        g->done(std::move(g->raw));
      }
    });
  }
}

void fetch(detail::ReaderState& s, size_t limit, bool wait, std::chrono::milliseconds timeout,
           RawCallback done) {
  auto g = std::make_shared<Gather>();
  g->left = s.buckets.size();
  g->raw.resize(s.buckets.size());
  g->done = std::move(done);
  for (size_t i = 0; i < s.buckets.size(); ++i) {
    s.actors[i]->get(Offset(s.offsets[i]), limit, std::chrono::milliseconds(0), 0,
                     [g, i, &s, limit, wait, timeout](Result<RecordBatch> r) {
      bool last;
      {
        std::lock_guard<std::mutex> lock(g->mu);
        if (!r.ok()) {
          if (g->first_error.ok()) g->first_error = r.status();
        } else {
          g->raw[i] = std::move(r).value();
        }
        last = --g->left == 0;
      }
      if (!last) return;
      if (!g->first_error.ok()) return g->done(g->first_error);
      bool any = std::any_of(g->raw.begin(), g->raw.end(), [](const RecordBatch& b) { return !b.empty(); });
      if (any || !wait || timeout.count() <= 0) return g->done(std::move(g->raw));
      park_all(s, limit, timeout, std::move(g->done));
    });
  }
}

// How many records to take from each bucket so the total is at most limit and the limit is
// shared evenly (water-filling), with odd leftovers going first to the rotation's front.
std::vector<size_t> fair_shares(const Raw& raw, size_t limit, size_t rotation) {
  size_t n = raw.size();
  std::vector<size_t> take(n, 0);
  size_t total = 0;
  for (const auto& b : raw) total += b.size();
  if (total <= limit) {
    for (size_t i = 0; i < n; ++i) take[i] = raw[i].size();
    return take;
  }
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return raw[a].size() < raw[b].size(); });
  size_t remaining = limit, k = n;
  for (size_t i : order) {
    size_t share = remaining / k;
    take[i] = std::min(raw[i].size(), share);
    remaining -= take[i];
    --k;
  }
  for (size_t j = 0; j < n && remaining > 0; ++j) {
    size_t i = (rotation + j) % n;
    if (take[i] < raw[i].size()) {
      ++take[i];
      --remaining;
    }
  }
  return take;
}

// Turns fetched batches into messages, in rotation order, and advances the offsets.
Result<std::vector<Message>> finish(detail::ReaderState& s, Result<Raw> fetched, size_t limit) {
  if (!fetched.ok()) return fetched.status();
  Raw& raw = *fetched;
  size_t n = raw.size();
  std::vector<size_t> take = fair_shares(raw, limit, s.rotation);
  std::vector<Message> out;
  size_t total = 0;
  for (size_t t : take) total += t;
  out.reserve(total);
  for (size_t j = 0; j < n; ++j) {
    size_t i = (s.rotation + j) % n;
    for (size_t k = 0; k < take[i]; ++k) {
      auto rec = raw[i].decode(k);
      if (!rec.ok())
        return rec.status().with_context("topic '" + s.info.topic + "' bucket " +
                                         std::to_string(s.buckets[i].value()) + " offset " +
                                         std::to_string(s.offsets[i] + k));
      out.push_back(Message{s.buckets[i], Offset(s.offsets[i] + k), std::move(rec).value()});
    }
  }
  for (size_t i = 0; i < n; ++i) s.offsets[i] += take[i];
  if (n > 0) s.rotation = (s.rotation + 1) % n;
  return out;
}

}  // namespace

QueueReader::QueueReader(std::unique_ptr<detail::ReaderState> s) : s_(std::move(s)) {}
QueueReader::~QueueReader() = default;
const TopicInfo& QueueReader::topic() const { return s_->info; }
const std::vector<BucketId>& QueueReader::buckets() const { return s_->buckets; }

Result<std::vector<Message>> QueueReader::get(size_t limit, bool wait, std::chrono::milliseconds timeout) {
  if (limit == 0) return std::vector<Message>();
  std::promise<Result<Raw>> p;
  auto f = p.get_future();
  fetch(*s_, limit, wait, timeout, [&p](Result<Raw> r) { p.set_value(std::move(r)); });
  return finish(*s_, f.get(), limit);  // decoding runs on the caller's thread
}

void QueueReader::get_async(size_t limit, bool wait, std::chrono::milliseconds timeout,
                            std::function<void(Result<std::vector<Message>>)> done) {
  if (limit == 0) return done(std::vector<Message>());
  detail::ReaderState* s = s_.get();
  fetch(*s, limit, wait, timeout,
        [s, limit, done = std::move(done)](Result<Raw> r) { done(finish(*s, std::move(r), limit)); });
}

void QueueReader::reset() { std::fill(s_->offsets.begin(), s_->offsets.end(), 0); }

Status QueueReader::set_offset(Offset offset, std::optional<BucketId> bucket) {
  if (!bucket.has_value()) {
    std::fill(s_->offsets.begin(), s_->offsets.end(), offset.value());
    return Status::OK();
  }
  for (size_t i = 0; i < s_->buckets.size(); ++i) {
    if (s_->buckets[i] == *bucket) {
      s_->offsets[i] = offset.value();
      return Status::OK();
    }
  }
  return InvalidArgument("reader of topic '" + s_->info.topic + "' does not cover bucket " +
                         std::to_string(bucket->value()));
}

std::vector<Offset> QueueReader::offsets() const {
  std::vector<Offset> out;
  for (uint64_t o : s_->offsets) out.emplace_back(o);
  return out;
}

}  // namespace persisting
