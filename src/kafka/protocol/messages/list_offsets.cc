#include "kafka/protocol/messages/list_offsets.h"

#include "kafka/protocol/api.h"
#include "kafka/protocol/serde.h"

namespace persisting::kafka {

namespace {

template <class S>
Status serde(S& s, ListOffsetsRequest& m, int16_t v) {
  KAFKA_FIELD(s.i32(m.replica_id, "ListOffsets.replica_id"));
  if (v >= 2) KAFKA_FIELD(s.i8(m.isolation_level, "ListOffsets.isolation_level"));
  KAFKA_FIELD(s.array(m.topics, "ListOffsets.topics", [&](ListOffsetsRequest::Topic& t) {
    KAFKA_FIELD(s.str(t.name, "ListOffsets.topics.name"));
    KAFKA_FIELD(s.array(t.partitions, "ListOffsets.partitions", [&](ListOffsetsRequest::Partition& p) {
      KAFKA_FIELD(s.i32(p.partition_index, "ListOffsets.partitions.partition_index"));
      if (v >= 4) KAFKA_FIELD(s.i32(p.current_leader_epoch, "ListOffsets.partitions.current_leader_epoch"));
      KAFKA_FIELD(s.i64(p.timestamp, "ListOffsets.partitions.timestamp"));
      if (v == 0) KAFKA_FIELD(s.i32(p.max_num_offsets, "ListOffsets.partitions.max_num_offsets"));
      return s.tags("ListOffsets.partitions");
    }));
    return s.tags("ListOffsets.topics");
  }));
  return s.tags("ListOffsets");
}

template <class S>
Status serde(S& s, ListOffsetsResponse& m, int16_t v) {
  if (v >= 2) KAFKA_FIELD(s.i32(m.throttle_time_ms, "ListOffsetsResponse.throttle_time_ms"));
  KAFKA_FIELD(s.array(m.topics, "ListOffsetsResponse.topics", [&](ListOffsetsResponse::Topic& t) {
    KAFKA_FIELD(s.str(t.name, "ListOffsetsResponse.topics.name"));
    KAFKA_FIELD(s.array(t.partitions, "ListOffsetsResponse.partitions", [&](ListOffsetsResponse::Partition& p) {
      KAFKA_FIELD(s.i32(p.partition_index, "ListOffsetsResponse.partitions.partition_index"));
      KAFKA_FIELD(s.i16(p.error_code, "ListOffsetsResponse.partitions.error_code"));
      if (v == 0) {
        KAFKA_FIELD(s.array(p.old_style_offsets, "ListOffsetsResponse.partitions.old_style_offsets",
                            [&](int64_t& o) { return s.i64(o, "ListOffsetsResponse.partitions.old_style_offsets"); }));
      } else {
        KAFKA_FIELD(s.i64(p.timestamp, "ListOffsetsResponse.partitions.timestamp"));
        KAFKA_FIELD(s.i64(p.offset, "ListOffsetsResponse.partitions.offset"));
      }
      if (v >= 4) KAFKA_FIELD(s.i32(p.leader_epoch, "ListOffsetsResponse.partitions.leader_epoch"));
      return s.tags("ListOffsetsResponse.partitions");
    }));
    return s.tags("ListOffsetsResponse.topics");
  }));
  return s.tags("ListOffsetsResponse");
}

}  // namespace

KAFKA_DEFINE_CODEC(ListOffsetsRequest, ApiKey::kListOffsets)
KAFKA_DEFINE_CODEC(ListOffsetsResponse, ApiKey::kListOffsets)

}  // namespace persisting::kafka
