// LeaveGroup (key 13), v0-v3. v0-v2 name one member_id; v3 a list of members.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kafka/protocol/wire.h"

namespace persisting::kafka {

struct LeaveGroupRequest {
  bool operator==(const LeaveGroupRequest&) const = default;
  struct Member {
    bool operator==(const Member&) const = default;
    std::string member_id;
    std::optional<std::string> group_instance_id;
  };
  std::string group_id;
  std::string member_id;         // v0-v2
  std::vector<Member> members;   // v3+
  static Result<LeaveGroupRequest> decode(Reader& r, int16_t version);
  void encode(Writer& w, int16_t version) const;
};

struct LeaveGroupResponse {
  bool operator==(const LeaveGroupResponse&) const = default;
  struct Member {
    bool operator==(const Member&) const = default;
    std::string member_id;
    std::optional<std::string> group_instance_id;
    int16_t error_code = 0;
  };
  int32_t throttle_time_ms = 0;  // v1+
  int16_t error_code = 0;
  std::vector<Member> members;   // v3+
  static Result<LeaveGroupResponse> decode(Reader& r, int16_t version);
  void encode(Writer& w, int16_t version) const;
};

}  // namespace persisting::kafka
