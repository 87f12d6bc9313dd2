// DeleteTopics (key 20), v0-v3.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kafka/protocol/wire.h"

namespace persisting::kafka {

struct DeleteTopicsRequest {
  bool operator==(const DeleteTopicsRequest&) const = default;
  std::vector<std::string> topic_names;
  int32_t timeout_ms = 0;
  static Result<DeleteTopicsRequest> decode(Reader& r, int16_t version);
  void encode(Writer& w, int16_t version) const;
};

struct DeleteTopicsResponse {
  bool operator==(const DeleteTopicsResponse&) const = default;
  struct TopicResult {
    bool operator==(const TopicResult&) const = default;
    std::string name;
    int16_t error_code = 0;
  };
  int32_t throttle_time_ms = 0;  // v1+
  std::vector<TopicResult> responses;
  static Result<DeleteTopicsResponse> decode(Reader& r, int16_t version);
  void encode(Writer& w, int16_t version) const;
};

}  // namespace persisting::kafka
