// BucketStats: what a bucket reports about itself (StorageBackend::stats, then the bucket's actor).
// Typed fields are what the node's metrics and the engine read; counters only one backend has go in
// `extra`. JSON is made only at the edges (CLI, RPC, Python) by to_object(), whose keys are the
// ones documented in docs/backends.md "Stats".
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "persisting/value.h"

namespace persisting {

// Declared outside BucketStats: an optional of a nested struct with member initializers is not
// default-constructible inside the enclosing class for clang 14 (the fuzzers' compiler).
struct BucketBufferStats {
  uint64_t persisted = 0;  // records in the durable store (the Lance dataset)
  uint64_t buffered = 0;   // records appended and not yet there
  uint64_t flush_count = 0;
  double last_flush_duration_s = 0;
  std::string last_flush_error;  // empty: the last flush succeeded
};

// The current background failure and how many there were.
struct BucketBackgroundStats {
  std::string error;  // empty: the last task of each kind succeeded
  uint64_t error_count = 0;
};

struct BucketStats {
  // Filled by the bucket's actor.
  std::string topic;
  uint32_t bucket = 0;
  bool closed = false;          // the bucket's backend is closed: nothing below is known
  uint64_t parked_readers = 0;  // gets waiting for data

  // Filled by the backend.
  std::string backend;
  uint64_t total_count = 0;  // records ever appended: the next offset
  // The first offset still readable: retention removed [0, first_offset) (docs/retention.md).
  uint64_t first_offset = 0;
  bool durable = false;

  // Backends that buffer records before a durable store (lance, persisting).
  using Buffer = BucketBufferStats;
  std::optional<Buffer> buffer;

  // Backends with a write-ahead log: the bytes of log this bucket holds.
  std::optional<uint64_t> wal_size;

  // Backends with background work (flushes, syncs).
  using Background = BucketBackgroundStats;
  std::optional<Background> background;

  Object extra;  // backend-specific counters, shown as they are

  // The JSON shape: typed fields under their documented keys, then extra.
  Object to_object() const;
};

}  // namespace persisting
