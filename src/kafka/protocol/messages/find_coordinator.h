// FindCoordinator (key 10), v0-v2. key_type 0 = group, 1 = transaction.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kafka/protocol/wire.h"

namespace persisting::kafka {

struct FindCoordinatorRequest {
  bool operator==(const FindCoordinatorRequest&) const = default;
  std::string key;
  int8_t key_type = 0;  // v1+
  static Result<FindCoordinatorRequest> decode(Reader& r, int16_t version);
  void encode(Writer& w, int16_t version) const;
};

struct FindCoordinatorResponse {
  bool operator==(const FindCoordinatorResponse&) const = default;
  int32_t throttle_time_ms = 0;  // v1+
  int16_t error_code = 0;
  std::optional<std::string> error_message;  // v1+
  int32_t node_id = -1;
  std::string host;
  int32_t port = -1;
  static Result<FindCoordinatorResponse> decode(Reader& r, int16_t version);
  void encode(Writer& w, int16_t version) const;
};

}  // namespace persisting::kafka
