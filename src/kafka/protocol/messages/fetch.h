// Fetch (key 1), v4-v11 (RecordBatch v2; sessions v7+ are accepted but the broker answers
// session_id 0, i.e. full fetches every time).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kafka/protocol/wire.h"

namespace persisting::kafka {

struct FetchRequest {
  bool operator==(const FetchRequest&) const = default;
  struct Partition {
    bool operator==(const Partition&) const = default;
    int32_t partition = 0;
    int32_t current_leader_epoch = -1;  // v9+
    int64_t fetch_offset = 0;
    int64_t log_start_offset = -1;      // v5+
    int32_t partition_max_bytes = 0;
  };
  struct Topic {
    bool operator==(const Topic&) const = default;
    std::string topic;
    std::vector<Partition> partitions;
  };
  struct ForgottenTopic {  // v7+
    bool operator==(const ForgottenTopic&) const = default;
    std::string topic;
    std::vector<int32_t> partitions;
  };
  int32_t replica_id = -1;
  int32_t max_wait_ms = 0;
  int32_t min_bytes = 0;
  int32_t max_bytes = 0x7fffffff;  // v3+
  int8_t isolation_level = 0;      // v4+
  int32_t session_id = 0;          // v7+
  int32_t session_epoch = -1;      // v7+
  std::vector<Topic> topics;
  std::vector<ForgottenTopic> forgotten_topics_data;  // v7+
  std::string rack_id;                                // v11+
  static Result<FetchRequest> decode(Reader& r, int16_t version);
  void encode(Writer& w, int16_t version) const;
};

struct FetchResponse {
  bool operator==(const FetchResponse&) const = default;
  struct AbortedTransaction {
    bool operator==(const AbortedTransaction&) const = default;
    int64_t producer_id = 0;
    int64_t first_offset = 0;
  };
  struct Partition {
    bool operator==(const Partition&) const = default;
    int32_t partition_index = 0;
    int16_t error_code = 0;
    int64_t high_watermark = 0;
    int64_t last_stable_offset = -1;  // v4+
    int64_t log_start_offset = -1;    // v5+
    std::vector<AbortedTransaction> aborted_transactions;  // v4+ (sent empty, never null)
    int32_t preferred_read_replica = -1;                   // v11+
    std::string records;  // whole batches (the last one may be cut short at max_bytes)
  };
  struct Topic {
    bool operator==(const Topic&) const = default;
    std::string topic;
    std::vector<Partition> partitions;
  };
  int32_t throttle_time_ms = 0;  // v1+
  int16_t error_code = 0;        // v7+
  int32_t session_id = 0;        // v7+
  std::vector<Topic> responses;
  static Result<FetchResponse> decode(Reader& r, int16_t version);
  void encode(Writer& w, int16_t version) const;
};

}  // namespace persisting::kafka
