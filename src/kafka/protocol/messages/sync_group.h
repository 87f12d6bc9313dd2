// SyncGroup (key 14), v0-v3.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kafka/protocol/wire.h"

namespace persisting::kafka {

struct SyncGroupRequest {
  bool operator==(const SyncGroupRequest&) const = default;
  struct Assignment {
    bool operator==(const Assignment&) const = default;
    std::string member_id;
    std::string assignment;
  };
  std::string group_id;
  int32_t generation_id = 0;
  std::string member_id;
  std::optional<std::string> group_instance_id;  // v3+
  std::vector<Assignment> assignments;           // the leader's; empty from followers
  static Result<SyncGroupRequest> decode(Reader& r, int16_t version);
  void encode(Writer& w, int16_t version) const;
};

struct SyncGroupResponse {
  bool operator==(const SyncGroupResponse&) const = default;
  int32_t throttle_time_ms = 0;  // v1+
  int16_t error_code = 0;
  std::string assignment;
  static Result<SyncGroupResponse> decode(Reader& r, int16_t version);
  void encode(Writer& w, int16_t version) const;
};

}  // namespace persisting::kafka
