#include "kafka/protocol/messages/create_topics.h"

#include "kafka/protocol/api.h"
#include "kafka/protocol/serde.h"

namespace persisting::kafka {

namespace {

template <class S>
Status serde(S& s, CreateTopicsRequest& m, int16_t v) {
  KAFKA_FIELD(s.array(m.topics, "CreateTopics.topics", [&](CreateTopicsRequest::Topic& t) {
    KAFKA_FIELD(s.str(t.name, "CreateTopics.topics.name"));
    KAFKA_FIELD(s.i32(t.num_partitions, "CreateTopics.topics.num_partitions"));
    KAFKA_FIELD(s.i16(t.replication_factor, "CreateTopics.topics.replication_factor"));
    KAFKA_FIELD(s.array(t.assignments, "CreateTopics.assignments", [&](CreateTopicsRequest::Assignment& a) {
      KAFKA_FIELD(s.i32(a.partition_index, "CreateTopics.assignments.partition_index"));
      KAFKA_FIELD(s.array(a.broker_ids, "CreateTopics.assignments.broker_ids",
                          [&](int32_t& id) { return s.i32(id, "CreateTopics.assignments.broker_ids"); }));
      return s.tags("CreateTopics.assignments");
    }));
    KAFKA_FIELD(s.array(t.configs, "CreateTopics.configs", [&](CreateTopicsRequest::Config& c) {
      KAFKA_FIELD(s.str(c.name, "CreateTopics.configs.name"));
      KAFKA_FIELD(s.nstr(c.value, "CreateTopics.configs.value"));
      return s.tags("CreateTopics.configs");
    }));
    return s.tags("CreateTopics.topics");
  }));
  KAFKA_FIELD(s.i32(m.timeout_ms, "CreateTopics.timeout_ms"));
  if (v >= 1) KAFKA_FIELD(s.boolean(m.validate_only, "CreateTopics.validate_only"));
  return s.tags("CreateTopics");
}

template <class S>
Status serde(S& s, CreateTopicsResponse& m, int16_t v) {
  if (v >= 2) KAFKA_FIELD(s.i32(m.throttle_time_ms, "CreateTopicsResponse.throttle_time_ms"));
  KAFKA_FIELD(s.array(m.topics, "CreateTopicsResponse.topics", [&](CreateTopicsResponse::Topic& t) {
    KAFKA_FIELD(s.str(t.name, "CreateTopicsResponse.topics.name"));
    KAFKA_FIELD(s.i16(t.error_code, "CreateTopicsResponse.topics.error_code"));
    if (v >= 1) KAFKA_FIELD(s.nstr(t.error_message, "CreateTopicsResponse.topics.error_message"));
    return s.tags("CreateTopicsResponse.topics");
  }));
  return s.tags("CreateTopicsResponse");
}

}  // namespace

KAFKA_DEFINE_CODEC(CreateTopicsRequest, ApiKey::kCreateTopics)
KAFKA_DEFINE_CODEC(CreateTopicsResponse, ApiKey::kCreateTopics)

}  // namespace persisting::kafka
