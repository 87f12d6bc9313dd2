// CreateTopics (key 19), v0-v4. num_partitions -1 / replication_factor -1 = broker defaults (v4+).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kafka/protocol/wire.h"

namespace persisting::kafka {

struct CreateTopicsRequest {
  bool operator==(const CreateTopicsRequest&) const = default;
  struct Assignment {
    bool operator==(const Assignment&) const = default;
    int32_t partition_index = 0;
    std::vector<int32_t> broker_ids;
  };
  struct Config {
    bool operator==(const Config&) const = default;
    std::string name;
    std::optional<std::string> value;
  };
  struct Topic {
    bool operator==(const Topic&) const = default;
    std::string name;
    int32_t num_partitions = -1;
    int16_t replication_factor = -1;
    std::vector<Assignment> assignments;
    std::vector<Config> configs;
  };
  std::vector<Topic> topics;
  int32_t timeout_ms = 60000;
  bool validate_only = false;  // v1+
  static Result<CreateTopicsRequest> decode(Reader& r, int16_t version);
  void encode(Writer& w, int16_t version) const;
};

struct CreateTopicsResponse {
  bool operator==(const CreateTopicsResponse&) const = default;
  struct Topic {
    bool operator==(const Topic&) const = default;
    std::string name;
    int16_t error_code = 0;
    std::optional<std::string> error_message;  // v1+
  };
  int32_t throttle_time_ms = 0;  // v2+
  std::vector<Topic> topics;
  static Result<CreateTopicsResponse> decode(Reader& r, int16_t version);
  void encode(Writer& w, int16_t version) const;
};

}  // namespace persisting::kafka
