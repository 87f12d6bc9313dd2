#include "kafka/protocol/messages/metadata.h"

#include "kafka/protocol/api.h"
#include "kafka/protocol/serde.h"

namespace persisting::kafka {

namespace {

template <class S>
Status serde(S& s, MetadataRequest& m, int16_t v) {
  auto topic = [&](std::string& name) {
    KAFKA_FIELD(s.str(name, "Metadata.topics.name"));
    return s.tags("Metadata.topics");
  };
  if (v == 0) {
    // v0 has no null array: an empty one means every topic.
    if constexpr (S::kDecoding) {
      std::vector<std::string> names;
      KAFKA_FIELD(s.array(names, "Metadata.topics", topic));
      if (names.empty()) {
        m.topics.reset();
      } else {
        m.topics = std::move(names);
      }
    } else {
      std::vector<std::string> names = m.topics.value_or(std::vector<std::string>());
      KAFKA_FIELD(s.array(names, "Metadata.topics", topic));
    }
  } else {
    KAFKA_FIELD(s.narray(m.topics, "Metadata.topics", topic));
  }
  if (v >= 4) KAFKA_FIELD(s.boolean(m.allow_auto_topic_creation, "Metadata.allow_auto_topic_creation"));
  if (v >= 8) {
    KAFKA_FIELD(s.boolean(m.include_cluster_authorized_operations, "Metadata.include_cluster_authorized_operations"));
    KAFKA_FIELD(s.boolean(m.include_topic_authorized_operations, "Metadata.include_topic_authorized_operations"));
  }
  return s.tags("Metadata");
}

template <class S>
Status serde(S& s, MetadataResponse& m, int16_t v) {
  if (v >= 3) KAFKA_FIELD(s.i32(m.throttle_time_ms, "MetadataResponse.throttle_time_ms"));
  KAFKA_FIELD(s.array(m.brokers, "MetadataResponse.brokers", [&](MetadataResponse::Broker& b) {
    KAFKA_FIELD(s.i32(b.node_id, "MetadataResponse.brokers.node_id"));
    KAFKA_FIELD(s.str(b.host, "MetadataResponse.brokers.host"));
    KAFKA_FIELD(s.i32(b.port, "MetadataResponse.brokers.port"));
    if (v >= 1) KAFKA_FIELD(s.nstr(b.rack, "MetadataResponse.brokers.rack"));
    return s.tags("MetadataResponse.brokers");
  }));
  if (v >= 2) KAFKA_FIELD(s.nstr(m.cluster_id, "MetadataResponse.cluster_id"));
  if (v >= 1) KAFKA_FIELD(s.i32(m.controller_id, "MetadataResponse.controller_id"));
  auto ids = [&](std::vector<int32_t>& list, std::string_view field) {
    return s.array(list, field, [&](int32_t& id) { return s.i32(id, field); });
  };
  KAFKA_FIELD(s.array(m.topics, "MetadataResponse.topics", [&](MetadataResponse::Topic& t) {
    KAFKA_FIELD(s.i16(t.error_code, "MetadataResponse.topics.error_code"));
    KAFKA_FIELD(s.str(t.name, "MetadataResponse.topics.name"));
    if (v >= 1) KAFKA_FIELD(s.boolean(t.is_internal, "MetadataResponse.topics.is_internal"));
    KAFKA_FIELD(s.array(t.partitions, "MetadataResponse.partitions", [&](MetadataResponse::Partition& p) {
      KAFKA_FIELD(s.i16(p.error_code, "MetadataResponse.partitions.error_code"));
      KAFKA_FIELD(s.i32(p.partition_index, "MetadataResponse.partitions.partition_index"));
      KAFKA_FIELD(s.i32(p.leader_id, "MetadataResponse.partitions.leader_id"));
      if (v >= 7) KAFKA_FIELD(s.i32(p.leader_epoch, "MetadataResponse.partitions.leader_epoch"));
      KAFKA_FIELD(ids(p.replica_nodes, "MetadataResponse.partitions.replica_nodes"));
      KAFKA_FIELD(ids(p.isr_nodes, "MetadataResponse.partitions.isr_nodes"));
      if (v >= 5) KAFKA_FIELD(ids(p.offline_replicas, "MetadataResponse.partitions.offline_replicas"));
      return s.tags("MetadataResponse.partitions");
    }));
    if (v >= 8) KAFKA_FIELD(s.i32(t.topic_authorized_operations, "MetadataResponse.topics.topic_authorized_operations"));
    return s.tags("MetadataResponse.topics");
  }));
  if (v >= 8) KAFKA_FIELD(s.i32(m.cluster_authorized_operations, "MetadataResponse.cluster_authorized_operations"));
  return s.tags("MetadataResponse");
}

}  // namespace

KAFKA_DEFINE_CODEC(MetadataRequest, ApiKey::kMetadata)
KAFKA_DEFINE_CODEC(MetadataResponse, ApiKey::kMetadata)

}  // namespace persisting::kafka
