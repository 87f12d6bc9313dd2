// Heartbeat (key 12), v0-v3.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kafka/protocol/wire.h"

namespace persisting::kafka {

struct HeartbeatRequest {
  bool operator==(const HeartbeatRequest&) const = default;
  std::string group_id;
  int32_t generation_id = 0;
  std::string member_id;
  std::optional<std::string> group_instance_id;  // v3+
  static Result<HeartbeatRequest> decode(Reader& r, int16_t version);
  void encode(Writer& w, int16_t version) const;
};

struct HeartbeatResponse {
  bool operator==(const HeartbeatResponse&) const = default;
  int32_t throttle_time_ms = 0;  // v1+
  int16_t error_code = 0;
  static Result<HeartbeatResponse> decode(Reader& r, int16_t version);
  void encode(Writer& w, int16_t version) const;
};

}  // namespace persisting::kafka
