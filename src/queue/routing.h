// Record routing and fair reads, shared by the embedded Queue (writer.cc, reader.cc) and the
// remote Client (src/net): one copy of the rules that decide which bucket a record goes to and
// how a get's limit is split across buckets. Built as its own library (persisting_routing) on
// the records alone, so the client links no runtime or storage code; reading from bucket actors is
// in fetch.h.
#pragma once

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "persisting/codec.h"
#include "persisting/queue.h"

namespace persisting::queue {

// A topic's settings as writer options, and back (durable stays false: the registry knows it).
WriterOptions writer_options(const TopicInfo& info);
TopicInfo topic_settings(const WriterOptions& options);

// {"topic","backend","num_buckets","bucket_column","total_count","buckets":[...]} from the
// buckets' stats objects (in bucket order): the shape of Queue::stats and Client::stats.
Object topic_stats(const TopicInfo& info, std::vector<Object> bucket_stats);

// The bucket of r, or an error saying what is wrong with its bucket column.
Result<uint32_t> bucket_of(const TopicInfo& info, const Record& r);
// The same for an encoded record given its top-level fields (scan_fields, which has also checked
// its nesting depth).
Result<uint32_t> bucket_of(const TopicInfo& info, const std::vector<FieldShape>& fields);

// Splits records into one RecordBatch per bucket (index = bucket id). Fails, naming the record,
// before anything is sent when a record lacks a usable bucket column.
// indexes (optional) gets, per bucket, the indexes of its records in records. numbers (optional,
// one per record) is how errors name the records (default: their index).
Status route(const TopicInfo& info, const std::vector<Record>& records,
             std::vector<RecordBatch>* per_bucket, std::vector<std::vector<size_t>>* indexes = nullptr,
             const std::vector<uint64_t>* numbers = nullptr);
// A PutReport's parts for a routed batch: one per non-empty bucket, nothing acknowledged yet.
std::vector<PutReport::Part> report_parts(const std::vector<std::vector<size_t>>& indexes);

// The buckets a reader covers (all, an explicit list, or rank of world_size), validated against
// the topic; errors name the topic.
Result<std::vector<BucketId>> reader_buckets(const TopicInfo& info, const ReaderOptions& options);

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
  // Indexes of the buckets a get of limit has to fetch: those with fewer than ceil(limit / n)
  // records ahead.
  std::vector<size_t> to_fetch(size_t limit) const;
};

// Turns fetched batches (parallel to cursor.buckets; a non-empty raw[i] holds the records at
// offsets[i], ... and replaces bucket i's read-ahead, an empty one keeps it) into messages in rotation
// order, taking fair shares of limit, and advances the cursor; the rest stays ahead. topic names
// errors.
Result<std::vector<Message>> take_fair(Cursor& cursor, const std::string& topic,
                                       std::vector<RecordBatch>& raw, size_t limit);

}  // namespace persisting::queue
