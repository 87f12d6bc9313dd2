#include "queue/fetch.h"

#include "core/status_macros.h"

#include <algorithm>
#include <atomic>
#include <future>
#include <mutex>

#include "runtime/append_signal.h"
#include "runtime/bucket_storage.h"

namespace persisting::queue {

namespace {

using Clock = std::chrono::steady_clock;

std::atomic<uint64_t> g_next_waiter_id{1};

// What one fetch reads, shared by every bucket callback (copied once, not per bucket).
struct FetchArgs {
  SharedActors all;
  const Actors& actors;  // *all
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

// The signal every actor shares, or null.
std::shared_ptr<runtime::AppendSignal> shared_signal(const Actors& actors) {
  if (actors.empty()) return nullptr;
  const std::shared_ptr<runtime::AppendSignal>& s = actors.front()->signal();
  if (!s) return nullptr;
  for (const auto& a : actors)
    if (a->signal() != s) return nullptr;
  return s;
}

// How a fetch waits on its topic's signal: on which, until when.
struct SignalWait {
  std::shared_ptr<runtime::AppendSignal> signal;
  Clock::time_point deadline;
};

void fetch_until(std::shared_ptr<const FetchArgs> a, std::shared_ptr<const SignalWait> w, FetchCallback done);

// Every bucket was empty when looked at after counts were seen: waits for the next change of
// one of them, then asks again (the buckets that changed).
void wait_for_change(std::shared_ptr<const FetchArgs> a, std::shared_ptr<const SignalWait> w,
                     const std::vector<uint64_t>& seen, FetchCallback done) {
  // Built here, not per fetch: most fetches find records and never wait.
  std::vector<BucketId> ids;
  ids.reserve(a->actors.size());
  for (const auto& actor : a->actors) ids.push_back(actor->bucket());
  auto buckets = std::make_shared<const runtime::AppendSignal::Buckets>(runtime::AppendSignal::buckets_of(ids));
  w->signal->wait(a->waiter, std::move(buckets), w->deadline, [a, w, done = std::move(done)](bool woke) mutable {
    if (!woke || Clock::now() >= w->deadline) return done(std::vector<RecordBatch>(a->actors.size()));
    fetch_until(std::move(a), std::move(w), std::move(done));
  });
  // A change completed before the wait was registered did not see it: caught here.
  for (size_t i = 0; i < a->actors.size(); ++i)
    if (a->actors[i]->changes() != seen[i]) return w->signal->wake(a->waiter);
}

// Asks the buckets not known to be empty at their offsets, without waiting; with w, waits on
// the topic's signal when all are empty, until its deadline.
void fetch_until(std::shared_ptr<const FetchArgs> a, std::shared_ptr<const SignalWait> w, FetchCallback done) {
  const Actors& actors = a->actors;
  // Before any bucket is looked at: a put completed after this wakes the wait below.
  std::vector<uint64_t> seen;
  if (w) {
    seen.reserve(actors.size());
    for (const auto& actor : actors) seen.push_back(actor->changes());
  }
  // A bucket known to hold nothing past its offset is not asked (a reader caught up with 1,024
  // buckets would otherwise send a message to each of them for every few records).
  std::vector<size_t> ask;
  ask.reserve(actors.size());
  for (size_t i = 0; i < actors.size(); ++i)
    if (!actors[i]->known_empty_at(Offset(a->offsets[i]))) ask.push_back(i);
  const bool wait = a->timeout.count() > 0;
  if (ask.empty()) {
    if (w) return wait_for_change(std::move(a), std::move(w), seen, std::move(done));
    if (wait) return park_all(std::move(a), std::move(done));
    return done(std::vector<RecordBatch>(actors.size()));
  }
  auto g = make_gather(ask.size(), actors.size(), std::move(done));
  auto seen_then = std::make_shared<const std::vector<uint64_t>>(std::move(seen));
  for (size_t i : ask) {
    actors[i]->get(Offset(a->offsets[i]), a->limit, std::chrono::milliseconds(0), 0,
                   [g, i, a, w, seen_then, wait](Result<RecordBatch> r) mutable {
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
      if (any || !wait) return g->done(std::move(g->raw));
      if (w) return wait_for_change(std::move(a), std::move(w), *seen_then, std::move(g->done));
      park_all(a, std::move(g->done));
    });
  }
}

}  // namespace

uint64_t next_waiter_id() { return g_next_waiter_id.fetch_add(1); }

void cancel_fetch(const Actors& actors, uint64_t waiter_id) {
  if (auto signal = shared_signal(actors)) signal->cancel(waiter_id);
  for (const auto& a : actors) a->cancel_wait(waiter_id);  // waits parked in the buckets
}

void fetch(SharedActors actors, const std::vector<uint64_t>& offsets, size_t limit, bool wait,
           std::chrono::milliseconds timeout, uint64_t waiter_id, FetchCallback done) {
  if (actors->empty()) return done(std::vector<RecordBatch>());
  if (!wait) timeout = std::chrono::milliseconds(0);
  std::shared_ptr<SignalWait> w;
  if (timeout.count() > 0) {
    if (waiter_id == 0) waiter_id = next_waiter_id();
    if (auto signal = shared_signal(*actors))
      w = std::make_shared<SignalWait>(SignalWait{std::move(signal), Clock::now() + timeout});
  }
  const Actors& list = *actors;
  auto a = std::make_shared<const FetchArgs>(FetchArgs{std::move(actors), list, offsets, limit, timeout, waiter_id});
  fetch_until(std::move(a), std::move(w), std::move(done));
}

void fetch(Actors actors, const std::vector<uint64_t>& offsets, size_t limit, bool wait,
           std::chrono::milliseconds timeout, uint64_t waiter_id, FetchCallback done) {
  fetch(std::make_shared<const Actors>(std::move(actors)), offsets, limit, wait, timeout, waiter_id, std::move(done));
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
