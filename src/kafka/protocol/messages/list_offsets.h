// ListOffsets (key 2), v0-v5. timestamp -1 = latest, -2 = earliest.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kafka/protocol/wire.h"

namespace persisting::kafka {

inline constexpr int64_t kListOffsetsLatest = -1;
inline constexpr int64_t kListOffsetsEarliest = -2;

struct ListOffsetsRequest {
  bool operator==(const ListOffsetsRequest&) const = default;
  struct Partition {
    bool operator==(const Partition&) const = default;
    int32_t partition_index = 0;
    int32_t current_leader_epoch = -1;  // v4+
    int64_t timestamp = kListOffsetsLatest;
    int32_t max_num_offsets = 1;        // v0 only
  };
  struct Topic {
    bool operator==(const Topic&) const = default;
    std::string name;
    std::vector<Partition> partitions;
  };
  int32_t replica_id = -1;
  int8_t isolation_level = 0;  // v2+
  std::vector<Topic> topics;
  static Result<ListOffsetsRequest> decode(Reader& r, int16_t version);
  void encode(Writer& w, int16_t version) const;
};

struct ListOffsetsResponse {
  bool operator==(const ListOffsetsResponse&) const = default;
  struct Partition {
    bool operator==(const Partition&) const = default;
    int32_t partition_index = 0;
    int16_t error_code = 0;
    std::vector<int64_t> old_style_offsets;  // v0 only
    int64_t timestamp = -1;                  // v1+
    int64_t offset = -1;                     // v1+
    int32_t leader_epoch = -1;               // v4+
  };
  struct Topic {
    bool operator==(const Topic&) const = default;
    std::string name;
    std::vector<Partition> partitions;
  };
  int32_t throttle_time_ms = 0;  // v2+
  std::vector<Topic> topics;
  static Result<ListOffsetsResponse> decode(Reader& r, int16_t version);
  void encode(Writer& w, int16_t version) const;
};

}  // namespace persisting::kafka
