#include "queue/fetch.h"

#include "core/status_macros.h"

#include <algorithm>
#include <atomic>
#include <future>
#include <mutex>

#include "runtime/bucket_storage.h"

namespace persisting::queue {

namespace {

std::atomic<uint64_t> g_next_waiter_id{1};

// What one fetch reads, shared by every bucket callback (copied once, not per bucket).
struct FetchArgs {
  Actors actors;
  std::vector<uint64_t> offsets;
  size_t limit;
  std::chrono::milliseconds timeout;
  uint64_t waiter;
};

// Collects one answer per bucket, then calls done once.
struct Gather {
  std::mutex mu;
  size_t left;
  std::vector<RecordBatch> raw;
  Status first_error;
  bool have_winner = false;
  FetchCallback done;
};

// answers: how many buckets are asked, of n.
std::shared_ptr<Gather> make_gather(size_t answers, size_t n, FetchCallback done) {
  auto g = std::make_shared<Gather>();
  g->left = answers;
  g->raw.resize(n);
  g->done = std::move(done);
  return g;
}

void park_all(std::shared_ptr<const FetchArgs> a, FetchCallback done) {
  auto g = make_gather(a->actors.size(), a->actors.size(), std::move(done));
  for (size_t i = 0; i < a->actors.size(); ++i) {
    a->actors[i]->get(Offset(a->offsets[i]), a->limit, a->timeout, a->waiter,
                      [g, i, a](Result<RecordBatch> r) {
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
        for (size_t j = 0; j < a->actors.size(); ++j)
          if (j != i) a->actors[j]->cancel_wait(a->waiter);
      if (last) {
        if (!g->have_winner && !g->first_error.ok()) return g->done(g->first_error);
        g->done(std::move(g->raw));
      }
    });
  }
}

}  // namespace

uint64_t next_waiter_id() { return g_next_waiter_id.fetch_add(1); }

void cancel_fetch(const Actors& actors, uint64_t waiter_id) {
  for (const auto& a : actors) a->cancel_wait(waiter_id);
}

void fetch(const Actors& actors, const std::vector<uint64_t>& offsets, size_t limit, bool wait,
           std::chrono::milliseconds timeout, uint64_t waiter_id, FetchCallback done) {
  if (actors.empty()) return done(std::vector<RecordBatch>());
  auto a = std::make_shared<const FetchArgs>(FetchArgs{actors, offsets, limit, timeout, waiter_id});
  // A bucket known to hold nothing past its offset is not asked (a reader caught up with 1,024
  // buckets would otherwise send a message to each of them for every few records).
  std::vector<size_t> ask;
  ask.reserve(actors.size());
  for (size_t i = 0; i < actors.size(); ++i)
    if (!actors[i]->known_empty_at(Offset(offsets[i]))) ask.push_back(i);
  if (ask.empty()) {
    if (wait && timeout.count() > 0) return park_all(std::move(a), std::move(done));
    return done(std::vector<RecordBatch>(actors.size()));
  }
  auto g = make_gather(ask.size(), actors.size(), std::move(done));
  for (size_t i : ask) {
    actors[i]->get(Offset(offsets[i]), limit, std::chrono::milliseconds(0), 0,
                   [g, i, a, wait](Result<RecordBatch> r) {
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
      if (any || !wait || a->timeout.count() <= 0) return g->done(std::move(g->raw));
      park_all(a, std::move(g->done));
    });
  }
}

Result<std::vector<Bounds>> bucket_bounds(const Actors& actors) {
  std::vector<BucketStats> stats = runtime::stats_of(actors);
  std::vector<Bounds> out;
  for (size_t i = 0; i < stats.size(); ++i) {
    const BucketStats& s = stats[i];
    if (s.closed)
      return Unavailable("topic '" + actors[i]->topic() + "' bucket " + std::to_string(actors[i]->bucket().value()) +
                         " cannot tell its end offset (closed)");
    out.push_back({Offset(s.first_offset), Offset(s.total_count)});
  }
  return out;
}

Result<std::vector<Offset>> end_offsets(const Actors& actors) {
  ASSIGN_OR_RETURN(std::vector<Bounds> bounds, bucket_bounds(actors));
  std::vector<Offset> out;
  for (const Bounds& b : bounds) out.push_back(b.end);
  return out;
}

}  // namespace persisting::queue
