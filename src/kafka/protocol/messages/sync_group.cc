#include "kafka/protocol/messages/sync_group.h"

#include "kafka/protocol/api.h"
#include "kafka/protocol/serde.h"

namespace persisting::kafka {

namespace {

template <class S>
Status serde(S& s, SyncGroupRequest& m, int16_t v) {
  KAFKA_FIELD(s.str(m.group_id, "SyncGroup.group_id"));
  KAFKA_FIELD(s.i32(m.generation_id, "SyncGroup.generation_id"));
  KAFKA_FIELD(s.str(m.member_id, "SyncGroup.member_id"));
  if (v >= 3) KAFKA_FIELD(s.nstr(m.group_instance_id, "SyncGroup.group_instance_id"));
  KAFKA_FIELD(s.array(m.assignments, "SyncGroup.assignments", [&](SyncGroupRequest::Assignment& a) {
    KAFKA_FIELD(s.str(a.member_id, "SyncGroup.assignments.member_id"));
    KAFKA_FIELD(s.bytes(a.assignment, "SyncGroup.assignments.assignment"));
    return s.tags("SyncGroup.assignments");
  }));
  return s.tags("SyncGroup");
}

template <class S>
Status serde(S& s, SyncGroupResponse& m, int16_t v) {
  if (v >= 1) KAFKA_FIELD(s.i32(m.throttle_time_ms, "SyncGroupResponse.throttle_time_ms"));
  KAFKA_FIELD(s.i16(m.error_code, "SyncGroupResponse.error_code"));
  KAFKA_FIELD(s.bytes(m.assignment, "SyncGroupResponse.assignment"));
  return s.tags("SyncGroupResponse");
}

}  // namespace

KAFKA_DEFINE_CODEC(SyncGroupRequest, ApiKey::kSyncGroup)
KAFKA_DEFINE_CODEC(SyncGroupResponse, ApiKey::kSyncGroup)

}  // namespace persisting::kafka
