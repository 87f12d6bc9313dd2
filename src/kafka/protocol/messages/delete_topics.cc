#include "kafka/protocol/messages/delete_topics.h"

#include "kafka/protocol/api.h"
#include "kafka/protocol/serde.h"

namespace persisting::kafka {

namespace {

template <class S>
Status serde(S& s, DeleteTopicsRequest& m, int16_t) {
  KAFKA_FIELD(s.array(m.topic_names, "DeleteTopics.topic_names",
                      [&](std::string& name) { return s.str(name, "DeleteTopics.topic_names"); }));
  KAFKA_FIELD(s.i32(m.timeout_ms, "DeleteTopics.timeout_ms"));
  return s.tags("DeleteTopics");
}

template <class S>
Status serde(S& s, DeleteTopicsResponse& m, int16_t v) {
  if (v >= 1) KAFKA_FIELD(s.i32(m.throttle_time_ms, "DeleteTopicsResponse.throttle_time_ms"));
  KAFKA_FIELD(s.array(m.responses, "DeleteTopicsResponse.responses", [&](DeleteTopicsResponse::TopicResult& t) {
    KAFKA_FIELD(s.str(t.name, "DeleteTopicsResponse.responses.name"));
    KAFKA_FIELD(s.i16(t.error_code, "DeleteTopicsResponse.responses.error_code"));
    return s.tags("DeleteTopicsResponse.responses");
  }));
  return s.tags("DeleteTopicsResponse");
}

}  // namespace

KAFKA_DEFINE_CODEC(DeleteTopicsRequest, ApiKey::kDeleteTopics)
KAFKA_DEFINE_CODEC(DeleteTopicsResponse, ApiKey::kDeleteTopics)

}  // namespace persisting::kafka
