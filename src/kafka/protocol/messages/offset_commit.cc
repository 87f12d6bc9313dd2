#include "kafka/protocol/messages/offset_commit.h"

#include "kafka/protocol/api.h"
#include "kafka/protocol/serde.h"

namespace persisting::kafka {

namespace {

template <class S>
Status serde(S& s, OffsetCommitRequest& m, int16_t v) {
  KAFKA_FIELD(s.str(m.group_id, "OffsetCommit.group_id"));
  if (v >= 1) {
    KAFKA_FIELD(s.i32(m.generation_id, "OffsetCommit.generation_id"));
    KAFKA_FIELD(s.str(m.member_id, "OffsetCommit.member_id"));
  }
  if (v >= 7) KAFKA_FIELD(s.nstr(m.group_instance_id, "OffsetCommit.group_instance_id"));
  if (v >= 2 && v <= 4) KAFKA_FIELD(s.i64(m.retention_time_ms, "OffsetCommit.retention_time_ms"));
  KAFKA_FIELD(s.array(m.topics, "OffsetCommit.topics", [&](OffsetCommitRequest::Topic& t) {
    KAFKA_FIELD(s.str(t.name, "OffsetCommit.topics.name"));
    KAFKA_FIELD(s.array(t.partitions, "OffsetCommit.partitions", [&](OffsetCommitRequest::Partition& p) {
      KAFKA_FIELD(s.i32(p.partition_index, "OffsetCommit.partitions.partition_index"));
      KAFKA_FIELD(s.i64(p.committed_offset, "OffsetCommit.partitions.committed_offset"));
      if (v >= 6) KAFKA_FIELD(s.i32(p.committed_leader_epoch, "OffsetCommit.partitions.committed_leader_epoch"));
      if (v == 1) KAFKA_FIELD(s.i64(p.commit_timestamp, "OffsetCommit.partitions.commit_timestamp"));
      KAFKA_FIELD(s.nstr(p.committed_metadata, "OffsetCommit.partitions.committed_metadata"));
      return s.tags("OffsetCommit.partitions");
    }));
    return s.tags("OffsetCommit.topics");
  }));
  return s.tags("OffsetCommit");
}

template <class S>
Status serde(S& s, OffsetCommitResponse& m, int16_t v) {
  if (v >= 3) KAFKA_FIELD(s.i32(m.throttle_time_ms, "OffsetCommitResponse.throttle_time_ms"));
  KAFKA_FIELD(s.array(m.topics, "OffsetCommitResponse.topics", [&](OffsetCommitResponse::Topic& t) {
    KAFKA_FIELD(s.str(t.name, "OffsetCommitResponse.topics.name"));
    KAFKA_FIELD(s.array(t.partitions, "OffsetCommitResponse.partitions", [&](OffsetCommitResponse::Partition& p) {
      KAFKA_FIELD(s.i32(p.partition_index, "OffsetCommitResponse.partitions.partition_index"));
      KAFKA_FIELD(s.i16(p.error_code, "OffsetCommitResponse.partitions.error_code"));
      return s.tags("OffsetCommitResponse.partitions");
    }));
    return s.tags("OffsetCommitResponse.topics");
  }));
  return s.tags("OffsetCommitResponse");
}

}  // namespace

KAFKA_DEFINE_CODEC(OffsetCommitRequest, ApiKey::kOffsetCommit)
KAFKA_DEFINE_CODEC(OffsetCommitResponse, ApiKey::kOffsetCommit)

}  // namespace persisting::kafka
