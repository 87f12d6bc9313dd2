#include "kafka/protocol/messages/find_coordinator.h"

#include "kafka/protocol/api.h"
#include "kafka/protocol/serde.h"

namespace persisting::kafka {

namespace {

template <class S>
Status serde(S& s, FindCoordinatorRequest& m, int16_t v) {
  KAFKA_FIELD(s.str(m.key, "FindCoordinator.key"));
  if (v >= 1) KAFKA_FIELD(s.i8(m.key_type, "FindCoordinator.key_type"));
  return s.tags("FindCoordinator");
}

template <class S>
Status serde(S& s, FindCoordinatorResponse& m, int16_t v) {
  if (v >= 1) KAFKA_FIELD(s.i32(m.throttle_time_ms, "FindCoordinatorResponse.throttle_time_ms"));
  KAFKA_FIELD(s.i16(m.error_code, "FindCoordinatorResponse.error_code"));
  if (v >= 1) KAFKA_FIELD(s.nstr(m.error_message, "FindCoordinatorResponse.error_message"));
  KAFKA_FIELD(s.i32(m.node_id, "FindCoordinatorResponse.node_id"));
  KAFKA_FIELD(s.str(m.host, "FindCoordinatorResponse.host"));
  KAFKA_FIELD(s.i32(m.port, "FindCoordinatorResponse.port"));
  return s.tags("FindCoordinatorResponse");
}

}  // namespace

KAFKA_DEFINE_CODEC(FindCoordinatorRequest, ApiKey::kFindCoordinator)
KAFKA_DEFINE_CODEC(FindCoordinatorResponse, ApiKey::kFindCoordinator)

}  // namespace persisting::kafka
