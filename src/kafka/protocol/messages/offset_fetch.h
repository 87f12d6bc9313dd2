// OffsetFetch (key 9), v0-v7 (flexible from v6). Offset -1 = nothing committed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kafka/protocol/wire.h"

namespace persisting::kafka {

struct OffsetFetchRequest {
  bool operator==(const OffsetFetchRequest&) const = default;
  struct Topic {
    bool operator==(const Topic&) const = default;
    std::string name;
    std::vector<int32_t> partition_indexes;
  };
  std::string group_id;
  // nullopt = every topic the group committed (v2+).
  std::optional<std::vector<Topic>> topics;
  bool require_stable = false;  // v7+
  static Result<OffsetFetchRequest> decode(Reader& r, int16_t version);
  void encode(Writer& w, int16_t version) const;
};

struct OffsetFetchResponse {
  bool operator==(const OffsetFetchResponse&) const = default;
  struct Partition {
    bool operator==(const Partition&) const = default;
    int32_t partition_index = 0;
    int64_t committed_offset = -1;
    int32_t committed_leader_epoch = -1;  // v5+
    std::optional<std::string> metadata;
    int16_t error_code = 0;
  };
  struct Topic {
    bool operator==(const Topic&) const = default;
    std::string name;
    std::vector<Partition> partitions;
  };
  int32_t throttle_time_ms = 0;  // v3+
  std::vector<Topic> topics;
  int16_t error_code = 0;  // v2+
  static Result<OffsetFetchResponse> decode(Reader& r, int16_t version);
  void encode(Writer& w, int16_t version) const;
};

}  // namespace persisting::kafka
