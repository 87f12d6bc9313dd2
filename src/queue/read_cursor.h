// A reader's fair read over several buckets: how a get's limit is shared across them, and the
// cursor (offsets, rotation, read-ahead) that take_fair advances. Shared by the embedded Queue and
// the remote Client (library persisting_routing); reading from bucket actors is in fetch.h.
#pragma once

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "persisting/codec.h"
#include "persisting/queue.h"

namespace persisting::queue {

// How many records to take from each bucket (sizes: records available in each) so the total is
// at most limit and the limit is shared evenly (water-filling), odd leftovers going first to the
// rotation's front.
std::vector<size_t> fair_shares(const std::vector<size_t>& sizes, size_t limit, size_t rotation);
std::vector<size_t> fair_shares(const std::vector<RecordBatch>& raw, size_t limit, size_t rotation);

// A reader's cursor over some buckets: what take_fair() advances.
//
// Read-ahead: a get fetches up to `limit` records from every bucket but returns only a fair share
// of limit in all. What it fetched and did not return stays in ahead[i] (from index
// ahead_from[i]: the records at offsets[i], offsets[i] + 1, ...) and is returned by later gets.
// A get fetches only the buckets with less than their even share of its limit ahead (and those
// from offsets[i] again, replacing the little that was ahead), so a bucket is not read twice for
// the records a get leaves over. Records at an offset never change, so what is ahead never goes
// stale. reset() and set_offset() drop the read-ahead of the buckets they move.
struct Cursor {
  std::vector<BucketId> buckets;
  std::vector<uint64_t> offsets;  // parallel to buckets: the next offset a get returns
  size_t rotation = 0;            // index into buckets served first by the next get
  std::vector<RecordBatch> ahead;  // parallel to buckets (sized on first use)
  std::vector<size_t> ahead_from;

  void init(std::vector<BucketId> covered);
  void reset();
  // Sets the next offset of one covered bucket, or of all when bucket is empty. topic names errors.
  Status set_offset(Offset offset, std::optional<BucketId> bucket, const std::string& topic);
  std::vector<Offset> offset_list() const;
  // Records of bucket index i already fetched and not yet returned.
  size_t ahead_count(size_t i) const { return i < ahead.size() ? ahead[i].size() - ahead_from[i] : 0; }
  // Whether any bucket has records ahead.
  bool any_ahead() const;
  // Indexes of the buckets a get of limit has to fetch: those with fewer than ceil(limit / n)
  // records ahead.
  std::vector<size_t> to_fetch(size_t limit) const;
};

// Turns fetched batches (parallel to cursor.buckets; a non-empty raw[i] holds the records at
// offsets[i], ... and replaces bucket i's read-ahead, an empty one keeps it) into messages in rotation
// order, taking fair shares of limit, and advances the cursor; the rest stays ahead. A gap (an
// empty entry: StorageBackend::get) gives no message but moves the cursor past its offset, so a
// get may return fewer messages than it took entries. topic names errors.
Result<std::vector<Message>> take_fair(Cursor& cursor, const std::string& topic,
                                       std::vector<RecordBatch>& raw, size_t limit);

}  // namespace persisting::queue
