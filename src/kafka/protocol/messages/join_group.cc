#include "kafka/protocol/messages/join_group.h"

#include "kafka/protocol/api.h"
#include "kafka/protocol/serde.h"

namespace persisting::kafka {

namespace {

template <class S>
Status serde(S& s, JoinGroupRequest& m, int16_t v) {
  KAFKA_FIELD(s.str(m.group_id, "JoinGroup.group_id"));
  KAFKA_FIELD(s.i32(m.session_timeout_ms, "JoinGroup.session_timeout_ms"));
  if (v >= 1) KAFKA_FIELD(s.i32(m.rebalance_timeout_ms, "JoinGroup.rebalance_timeout_ms"));
  KAFKA_FIELD(s.str(m.member_id, "JoinGroup.member_id"));
  if (v >= 5) KAFKA_FIELD(s.nstr(m.group_instance_id, "JoinGroup.group_instance_id"));
  KAFKA_FIELD(s.str(m.protocol_type, "JoinGroup.protocol_type"));
  KAFKA_FIELD(s.array(m.protocols, "JoinGroup.protocols", [&](JoinGroupRequest::Protocol& p) {
    KAFKA_FIELD(s.str(p.name, "JoinGroup.protocols.name"));
    KAFKA_FIELD(s.bytes(p.metadata, "JoinGroup.protocols.metadata"));
    return s.tags("JoinGroup.protocols");
  }));
  return s.tags("JoinGroup");
}

template <class S>
Status serde(S& s, JoinGroupResponse& m, int16_t v) {
  if (v >= 2) KAFKA_FIELD(s.i32(m.throttle_time_ms, "JoinGroupResponse.throttle_time_ms"));
  KAFKA_FIELD(s.i16(m.error_code, "JoinGroupResponse.error_code"));
  KAFKA_FIELD(s.i32(m.generation_id, "JoinGroupResponse.generation_id"));
  KAFKA_FIELD(s.str(m.protocol_name, "JoinGroupResponse.protocol_name"));
  KAFKA_FIELD(s.str(m.leader, "JoinGroupResponse.leader"));
  KAFKA_FIELD(s.str(m.member_id, "JoinGroupResponse.member_id"));
  KAFKA_FIELD(s.array(m.members, "JoinGroupResponse.members", [&](JoinGroupResponse::Member& p) {
    KAFKA_FIELD(s.str(p.member_id, "JoinGroupResponse.members.member_id"));
    if (v >= 5) KAFKA_FIELD(s.nstr(p.group_instance_id, "JoinGroupResponse.members.group_instance_id"));
    KAFKA_FIELD(s.bytes(p.metadata, "JoinGroupResponse.members.metadata"));
    return s.tags("JoinGroupResponse.members");
  }));
  return s.tags("JoinGroupResponse");
}

}  // namespace

KAFKA_DEFINE_CODEC(JoinGroupRequest, ApiKey::kJoinGroup)
KAFKA_DEFINE_CODEC(JoinGroupResponse, ApiKey::kJoinGroup)

}  // namespace persisting::kafka
