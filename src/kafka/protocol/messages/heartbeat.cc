#include "kafka/protocol/messages/heartbeat.h"

#include "kafka/protocol/api.h"
#include "kafka/protocol/serde.h"

namespace persisting::kafka {

namespace {

template <class S>
Status serde(S& s, HeartbeatRequest& m, int16_t v) {
  KAFKA_FIELD(s.str(m.group_id, "Heartbeat.group_id"));
  KAFKA_FIELD(s.i32(m.generation_id, "Heartbeat.generation_id"));
  KAFKA_FIELD(s.str(m.member_id, "Heartbeat.member_id"));
  if (v >= 3) KAFKA_FIELD(s.nstr(m.group_instance_id, "Heartbeat.group_instance_id"));
  return s.tags("Heartbeat");
}

template <class S>
Status serde(S& s, HeartbeatResponse& m, int16_t v) {
  if (v >= 1) KAFKA_FIELD(s.i32(m.throttle_time_ms, "HeartbeatResponse.throttle_time_ms"));
  KAFKA_FIELD(s.i16(m.error_code, "HeartbeatResponse.error_code"));
  return s.tags("HeartbeatResponse");
}

}  // namespace

KAFKA_DEFINE_CODEC(HeartbeatRequest, ApiKey::kHeartbeat)
KAFKA_DEFINE_CODEC(HeartbeatResponse, ApiKey::kHeartbeat)

}  // namespace persisting::kafka
