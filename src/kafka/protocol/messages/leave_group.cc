#include "kafka/protocol/messages/leave_group.h"

#include "kafka/protocol/api.h"
#include "kafka/protocol/serde.h"

namespace persisting::kafka {

namespace {

template <class S>
Status serde(S& s, LeaveGroupRequest& m, int16_t v) {
  KAFKA_FIELD(s.str(m.group_id, "LeaveGroup.group_id"));
  if (v <= 2) {
    KAFKA_FIELD(s.str(m.member_id, "LeaveGroup.member_id"));
  } else {
    KAFKA_FIELD(s.array(m.members, "LeaveGroup.members", [&](LeaveGroupRequest::Member& p) {
      KAFKA_FIELD(s.str(p.member_id, "LeaveGroup.members.member_id"));
      KAFKA_FIELD(s.nstr(p.group_instance_id, "LeaveGroup.members.group_instance_id"));
      return s.tags("LeaveGroup.members");
    }));
  }
  return s.tags("LeaveGroup");
}

template <class S>
Status serde(S& s, LeaveGroupResponse& m, int16_t v) {
  if (v >= 1) KAFKA_FIELD(s.i32(m.throttle_time_ms, "LeaveGroupResponse.throttle_time_ms"));
  KAFKA_FIELD(s.i16(m.error_code, "LeaveGroupResponse.error_code"));
  if (v >= 3) {
    KAFKA_FIELD(s.array(m.members, "LeaveGroupResponse.members", [&](LeaveGroupResponse::Member& p) {
      KAFKA_FIELD(s.str(p.member_id, "LeaveGroupResponse.members.member_id"));
      KAFKA_FIELD(s.nstr(p.group_instance_id, "LeaveGroupResponse.members.group_instance_id"));
      KAFKA_FIELD(s.i16(p.error_code, "LeaveGroupResponse.members.error_code"));
      return s.tags("LeaveGroupResponse.members");
    }));
  }
  return s.tags("LeaveGroupResponse");
}

}  // namespace

KAFKA_DEFINE_CODEC(LeaveGroupRequest, ApiKey::kLeaveGroup)
KAFKA_DEFINE_CODEC(LeaveGroupResponse, ApiKey::kLeaveGroup)

}  // namespace persisting::kafka
