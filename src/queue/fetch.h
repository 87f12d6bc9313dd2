// Reading a reader's buckets from their actors: the embedded Queue's reader and the node's
// service share it. The rules of what to read (cursor, fair shares) are in read_cursor.h.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "persisting/codec.h"
#include "persisting/status.h"
#include "persisting/types.h"

namespace persisting::runtime {
class BucketStorage;
}

namespace persisting::queue {

using Actors = std::vector<std::shared_ptr<runtime::BucketStorage>>;
// Actors held by a reader and shared with its fetches in flight: a fetch takes one reference to
// the list, not one to each of its actors (whose counts the writers' threads touch too).
using SharedActors = std::shared_ptr<const Actors>;
using FetchCallback = std::function<void(Result<std::vector<RecordBatch>>)>;

// Reads up to limit records from each actor at its offset (parallel vectors). When every bucket
// is empty and wait is set, waits once on the topic's signal (the buckets' shared
// runtime::AppendSignal) and asks again the buckets that changed, until one has data or the
// deadline passes (all empty then). Actors without one shared signal park one waiter in every
// bucket instead: the first bucket that gets data answers, the others are cancelled. waiter_id
// (non-zero, unique) lets cancel_fetch() end a waiting fetch early. done runs once, on a
// runtime thread.
void fetch(SharedActors actors, const std::vector<uint64_t>& offsets, size_t limit, bool wait,
           std::chrono::milliseconds timeout, uint64_t waiter_id, FetchCallback done);
void fetch(Actors actors, const std::vector<uint64_t>& offsets, size_t limit, bool wait,
           std::chrono::milliseconds timeout, uint64_t waiter_id, FetchCallback done);
void cancel_fetch(const Actors& actors, uint64_t waiter_id);
// A fresh waiter id for fetch().
uint64_t next_waiter_id();
// Each actor's end offset (its backend's total_count), in order. Waits for the answers.
Result<std::vector<Offset>> end_offsets(const Actors& actors);
// Each actor's first available offset and end offset (retention removed the records below the
// first: docs/retention.md), in order. Waits for the answers.
struct Bounds {
  Offset first;
  Offset end;
};
Result<std::vector<Bounds>> bucket_bounds(const Actors& actors);

}  // namespace persisting::queue
