#include "kafka/protocol/messages/init_producer_id.h"

#include "kafka/protocol/api.h"
#include "kafka/protocol/serde.h"

namespace persisting::kafka {

namespace {

template <class S>
Status serde(S& s, InitProducerIdRequest& m, int16_t v) {
  KAFKA_FIELD(s.nstr(m.transactional_id, "InitProducerId.transactional_id"));
  KAFKA_FIELD(s.i32(m.transaction_timeout_ms, "InitProducerId.transaction_timeout_ms"));
  if (v >= 3) {
    KAFKA_FIELD(s.i64(m.producer_id, "InitProducerId.producer_id"));
    KAFKA_FIELD(s.i16(m.producer_epoch, "InitProducerId.producer_epoch"));
  }
  return s.tags("InitProducerId");
}

template <class S>
Status serde(S& s, InitProducerIdResponse& m, int16_t) {
  KAFKA_FIELD(s.i32(m.throttle_time_ms, "InitProducerIdResponse.throttle_time_ms"));
  KAFKA_FIELD(s.i16(m.error_code, "InitProducerIdResponse.error_code"));
  KAFKA_FIELD(s.i64(m.producer_id, "InitProducerIdResponse.producer_id"));
  KAFKA_FIELD(s.i16(m.producer_epoch, "InitProducerIdResponse.producer_epoch"));
  return s.tags("InitProducerIdResponse");
}

}  // namespace

KAFKA_DEFINE_CODEC(InitProducerIdRequest, ApiKey::kInitProducerId)
KAFKA_DEFINE_CODEC(InitProducerIdResponse, ApiKey::kInitProducerId)

}  // namespace persisting::kafka
