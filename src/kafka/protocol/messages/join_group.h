// JoinGroup (key 11), v0-v5.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kafka/protocol/wire.h"

namespace persisting::kafka {

struct JoinGroupRequest {
  bool operator==(const JoinGroupRequest&) const = default;
  struct Protocol {
    bool operator==(const Protocol&) const = default;
    std::string name;
    std::string metadata;
  };
  std::string group_id;
  int32_t session_timeout_ms = 0;
  int32_t rebalance_timeout_ms = -1;             // v1+ (v0: the session timeout applies)
  std::string member_id;
  std::optional<std::string> group_instance_id;  // v5+
  std::string protocol_type;
  std::vector<Protocol> protocols;
  static Result<JoinGroupRequest> decode(Reader& r, int16_t version);
  void encode(Writer& w, int16_t version) const;
};

struct JoinGroupResponse {
  bool operator==(const JoinGroupResponse&) const = default;
  struct Member {
    bool operator==(const Member&) const = default;
    std::string member_id;
    std::optional<std::string> group_instance_id;  // v5+
    std::string metadata;
  };
  int32_t throttle_time_ms = 0;  // v2+
  int16_t error_code = 0;
  int32_t generation_id = -1;
  std::string protocol_name;
  std::string leader;
  std::string member_id;
  std::vector<Member> members;
  static Result<JoinGroupResponse> decode(Reader& r, int16_t version);
  void encode(Writer& w, int16_t version) const;
};

}  // namespace persisting::kafka
