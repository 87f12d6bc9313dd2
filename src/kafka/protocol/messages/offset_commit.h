// OffsetCommit (key 8), v0-v7.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kafka/protocol/wire.h"

namespace persisting::kafka {

struct OffsetCommitRequest {
  bool operator==(const OffsetCommitRequest&) const = default;
  struct Partition {
    bool operator==(const Partition&) const = default;
    int32_t partition_index = 0;
    int64_t committed_offset = 0;
    int32_t committed_leader_epoch = -1;  // v6+
    int64_t commit_timestamp = -1;        // v1 only
    std::optional<std::string> committed_metadata;
  };
  struct Topic {
    bool operator==(const Topic&) const = default;
    std::string name;
    std::vector<Partition> partitions;
  };
  std::string group_id;
  int32_t generation_id = -1;                   // v1+
  std::string member_id;                        // v1+
  std::optional<std::string> group_instance_id;  // v7+
  int64_t retention_time_ms = -1;               // v2-v4
  std::vector<Topic> topics;
  static Result<OffsetCommitRequest> decode(Reader& r, int16_t version);
  void encode(Writer& w, int16_t version) const;
};

struct OffsetCommitResponse {
  bool operator==(const OffsetCommitResponse&) const = default;
  struct Partition {
    bool operator==(const Partition&) const = default;
    int32_t partition_index = 0;
    int16_t error_code = 0;
  };
  struct Topic {
    bool operator==(const Topic&) const = default;
    std::string name;
    std::vector<Partition> partitions;
  };
  int32_t throttle_time_ms = 0;  // v3+
  std::vector<Topic> topics;
  static Result<OffsetCommitResponse> decode(Reader& r, int16_t version);
  void encode(Writer& w, int16_t version) const;
};

}  // namespace persisting::kafka
