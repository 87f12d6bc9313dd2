// Metadata (key 3), v0-v8. A null topic list (v1+) or an empty one (v0) asks for every topic.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kafka/protocol/wire.h"

namespace persisting::kafka {

struct MetadataRequest {
  bool operator==(const MetadataRequest&) const = default;
  // nullopt = all topics (v1+: null array; v0: an empty array decodes as nullopt too).
  std::optional<std::vector<std::string>> topics;
  bool allow_auto_topic_creation = true;             // v4+
  bool include_cluster_authorized_operations = false;  // v8+
  bool include_topic_authorized_operations = false;    // v8+
  static Result<MetadataRequest> decode(Reader& r, int16_t version);
  void encode(Writer& w, int16_t version) const;
};

struct MetadataResponse {
  bool operator==(const MetadataResponse&) const = default;
  struct Broker {
    bool operator==(const Broker&) const = default;
    int32_t node_id = 0;
    std::string host;
    int32_t port = 0;
    std::optional<std::string> rack;  // v1+
  };
  struct Partition {
    bool operator==(const Partition&) const = default;
    int16_t error_code = 0;
    int32_t partition_index = 0;
    int32_t leader_id = -1;
    int32_t leader_epoch = -1;  // v7+
    std::vector<int32_t> replica_nodes;
    std::vector<int32_t> isr_nodes;
    std::vector<int32_t> offline_replicas;  // v5+
  };
  struct Topic {
    bool operator==(const Topic&) const = default;
    int16_t error_code = 0;
    std::string name;
    bool is_internal = false;  // v1+
    std::vector<Partition> partitions;
    int32_t topic_authorized_operations = INT32_MIN;  // v8+
  };
  int32_t throttle_time_ms = 0;  // v3+
  std::vector<Broker> brokers;
  std::optional<std::string> cluster_id;  // v2+
  int32_t controller_id = -1;             // v1+
  std::vector<Topic> topics;
  int32_t cluster_authorized_operations = INT32_MIN;  // v8+
  static Result<MetadataResponse> decode(Reader& r, int16_t version);
  void encode(Writer& w, int16_t version) const;
};

}  // namespace persisting::kafka
