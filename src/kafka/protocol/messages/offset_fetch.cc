#include "kafka/protocol/messages/offset_fetch.h"

#include "kafka/protocol/api.h"
#include "kafka/protocol/serde.h"

namespace persisting::kafka {

namespace {

template <class S>
Status serde(S& s, OffsetFetchRequest& m, int16_t v) {
  KAFKA_FIELD(s.str(m.group_id, "OffsetFetch.group_id"));
  auto topic = [&](OffsetFetchRequest::Topic& t) {
    KAFKA_FIELD(s.str(t.name, "OffsetFetch.topics.name"));
    KAFKA_FIELD(s.array(t.partition_indexes, "OffsetFetch.topics.partition_indexes",
                        [&](int32_t& p) { return s.i32(p, "OffsetFetch.topics.partition_indexes"); }));
    return s.tags("OffsetFetch.topics");
  };
  if (v >= 2) {
    KAFKA_FIELD(s.narray(m.topics, "OffsetFetch.topics", topic));
  } else if constexpr (S::kDecoding) {
    m.topics.emplace();  // v0-v1 always name the topics
    KAFKA_FIELD(s.array(*m.topics, "OffsetFetch.topics", topic));
  } else {
    std::vector<OffsetFetchRequest::Topic> none;
    KAFKA_FIELD(s.array(m.topics ? *m.topics : none, "OffsetFetch.topics", topic));
  }
  if (v >= 7) KAFKA_FIELD(s.boolean(m.require_stable, "OffsetFetch.require_stable"));
  return s.tags("OffsetFetch");
}

template <class S>
Status serde(S& s, OffsetFetchResponse& m, int16_t v) {
  if (v >= 3) KAFKA_FIELD(s.i32(m.throttle_time_ms, "OffsetFetchResponse.throttle_time_ms"));
  KAFKA_FIELD(s.array(m.topics, "OffsetFetchResponse.topics", [&](OffsetFetchResponse::Topic& t) {
    KAFKA_FIELD(s.str(t.name, "OffsetFetchResponse.topics.name"));
    KAFKA_FIELD(s.array(t.partitions, "OffsetFetchResponse.partitions", [&](OffsetFetchResponse::Partition& p) {
      KAFKA_FIELD(s.i32(p.partition_index, "OffsetFetchResponse.partitions.partition_index"));
      KAFKA_FIELD(s.i64(p.committed_offset, "OffsetFetchResponse.partitions.committed_offset"));
      if (v >= 5) KAFKA_FIELD(s.i32(p.committed_leader_epoch, "OffsetFetchResponse.partitions.committed_leader_epoch"));
      KAFKA_FIELD(s.nstr(p.metadata, "OffsetFetchResponse.partitions.metadata"));
      KAFKA_FIELD(s.i16(p.error_code, "OffsetFetchResponse.partitions.error_code"));
      return s.tags("OffsetFetchResponse.partitions");
    }));
    return s.tags("OffsetFetchResponse.topics");
  }));
  if (v >= 2) KAFKA_FIELD(s.i16(m.error_code, "OffsetFetchResponse.error_code"));
  return s.tags("OffsetFetchResponse");
}

}  // namespace

KAFKA_DEFINE_CODEC(OffsetFetchRequest, ApiKey::kOffsetFetch)
KAFKA_DEFINE_CODEC(OffsetFetchResponse, ApiKey::kOffsetFetch)

}  // namespace persisting::kafka
