#include "kafka/protocol/messages/produce.h"

#include "kafka/protocol/api.h"
#include "kafka/protocol/serde.h"

namespace persisting::kafka {

namespace {

template <class S>
Status serde(S& s, ProduceRequest& m, int16_t v) {
  if (v >= 3) KAFKA_FIELD(s.nstr(m.transactional_id, "Produce.transactional_id"));
  KAFKA_FIELD(s.i16(m.acks, "Produce.acks"));
  KAFKA_FIELD(s.i32(m.timeout_ms, "Produce.timeout_ms"));
  KAFKA_FIELD(s.array(m.topics, "Produce.topic_data", [&](ProduceRequest::Topic& t) {
    KAFKA_FIELD(s.str(t.name, "Produce.topic_data.name"));
    KAFKA_FIELD(s.array(t.partitions, "Produce.partition_data", [&](ProduceRequest::Partition& p) {
      KAFKA_FIELD(s.i32(p.index, "Produce.partition_data.index"));
      KAFKA_FIELD(s.records(p.records, "Produce.partition_data.records"));
      return s.tags("Produce.partition_data");
    }));
    return s.tags("Produce.topic_data");
  }));
  return s.tags("Produce");
}

template <class S>
Status serde(S& s, ProduceResponse& m, int16_t v) {
  KAFKA_FIELD(s.array(m.responses, "ProduceResponse.responses", [&](ProduceResponse::Topic& t) {
    KAFKA_FIELD(s.str(t.name, "ProduceResponse.responses.name"));
    KAFKA_FIELD(s.array(t.partitions, "ProduceResponse.partition_responses", [&](ProduceResponse::Partition& p) {
      KAFKA_FIELD(s.i32(p.index, "ProduceResponse.partition_responses.index"));
      KAFKA_FIELD(s.i16(p.error_code, "ProduceResponse.partition_responses.error_code"));
      KAFKA_FIELD(s.i64(p.base_offset, "ProduceResponse.partition_responses.base_offset"));
      if (v >= 2) KAFKA_FIELD(s.i64(p.log_append_time_ms, "ProduceResponse.partition_responses.log_append_time_ms"));
      if (v >= 5) KAFKA_FIELD(s.i64(p.log_start_offset, "ProduceResponse.partition_responses.log_start_offset"));
      if (v >= 8) {
        KAFKA_FIELD(s.array(p.record_errors, "ProduceResponse.record_errors", [&](ProduceResponse::RecordError& e) {
          KAFKA_FIELD(s.i32(e.batch_index, "ProduceResponse.record_errors.batch_index"));
          KAFKA_FIELD(s.nstr(e.batch_index_error_message, "ProduceResponse.record_errors.batch_index_error_message"));
          return s.tags("ProduceResponse.record_errors");
        }));
        KAFKA_FIELD(s.nstr(p.error_message, "ProduceResponse.partition_responses.error_message"));
      }
      return s.tags("ProduceResponse.partition_responses");
    }));
    return s.tags("ProduceResponse.responses");
  }));
  if (v >= 1) KAFKA_FIELD(s.i32(m.throttle_time_ms, "ProduceResponse.throttle_time_ms"));
  return s.tags("ProduceResponse");
}

}  // namespace

KAFKA_DEFINE_CODEC(ProduceRequest, ApiKey::kProduce)
KAFKA_DEFINE_CODEC(ProduceResponse, ApiKey::kProduce)

}  // namespace persisting::kafka
