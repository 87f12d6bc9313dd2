// Which bucket a record goes to and which buckets a reader covers: the one copy of these rules,
// shared by the embedded Queue (writer.cc, reader.cc) and the remote Client (src/net), built on
// the records alone (library persisting_routing) so a client links no runtime or storage code.
#pragma once

#include <string>
#include <vector>

#include "persisting/codec.h"
#include "persisting/queue.h"

namespace persisting::queue {

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
// The same, one entry per bucket the records reach (in bucket order), so a put into a topic of
// many buckets costs what its records reach, not one batch per bucket of the topic: buckets[k]
// gets parts[k] (and indexes[k], optional: the indexes of its records in records).
Status route_parts(const TopicInfo& info, const std::vector<Record>& records, std::vector<uint32_t>* buckets,
                   std::vector<RecordBatch>* parts, std::vector<std::vector<size_t>>* indexes = nullptr,
                   const std::vector<uint64_t>* numbers = nullptr);
// A PutReport's parts for a routed batch: one per non-empty bucket, nothing acknowledged yet.
std::vector<PutReport::Part> report_parts(const std::vector<std::vector<size_t>>& indexes);

// The buckets a reader covers (all, an explicit list, or rank of world_size), validated against
// the topic; errors name the topic.
Result<std::vector<BucketId>> reader_buckets(const TopicInfo& info, const ReaderOptions& options);

}  // namespace persisting::queue
