// Conversions between the persisting.v1 messages and the core types. Record runs carry the
// binary codec's bytes unchanged: the client's encoding is what the node appends.
#pragma once

#include <functional>

#include "persisting/v1/queue.pb.h"
#include "persisting/codec.h"
#include "persisting/queue.h"

namespace persisting::net {

// The most records one Get may ask for: a node refuses more (ServiceConfig::max_get_limit),
// and a remote reader's read_ahead stays within it.
inline constexpr uint32_t kMaxGetLimit = 100000;

void to_wire(const RecordBatch& batch, v1::RecordRun* run);
// Records [first, first + n) of batch.
void to_wire(const RecordBatch& batch, size_t first, size_t n, v1::RecordRun* run);
// Checks the run's framing (ends ascending, last end = size) and that every record is well
// formed (scan_fields: exactly decode_record's checks, without building the records). what
// names the run in errors ("topic 't' bucket 3").
Result<RecordBatch> from_wire(const v1::RecordRun& run, const std::string& what);
// The same for a run sent to bucket `bucket` of topic `info`: every record must also have a
// usable bucket column that hashes to that bucket.
Result<RecordBatch> from_wire(const v1::RecordRun& run, const std::string& what, const TopicInfo& info,
                              uint32_t bucket);

void to_wire(const TopicInfo& info, v1::TopicSpec* spec);
TopicInfo from_wire(const v1::TopicSpec& spec);
// Retention limits (v1::Retention): a field set on one side is set on the other.
void to_wire(const Retention& r, v1::Retention* out);
Retention from_wire(const v1::Retention& r);

}  // namespace persisting::net
