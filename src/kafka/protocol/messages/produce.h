// Produce (key 0), v3-v8: RecordBatch v2 only (v3 is the first version that carries it).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kafka/protocol/wire.h"

namespace persisting::kafka {

struct ProduceRequest {
  bool operator==(const ProduceRequest&) const = default;
  struct Partition {
    bool operator==(const Partition&) const = default;
    int32_t index = 0;
    std::string records;  // whole RecordBatches (decode with record_batch.h); null reads as empty
  };
  struct Topic {
    bool operator==(const Topic&) const = default;
    std::string name;
    std::vector<Partition> partitions;
  };
  std::optional<std::string> transactional_id;  // v3+
  int16_t acks = -1;
  int32_t timeout_ms = 0;
  std::vector<Topic> topics;
  static Result<ProduceRequest> decode(Reader& r, int16_t version);
  void encode(Writer& w, int16_t version) const;
};

struct ProduceResponse {
  bool operator==(const ProduceResponse&) const = default;
  struct RecordError {
    bool operator==(const RecordError&) const = default;
    int32_t batch_index = 0;
    std::optional<std::string> batch_index_error_message;
  };
  struct Partition {
    bool operator==(const Partition&) const = default;
    int32_t index = 0;
    int16_t error_code = 0;
    int64_t base_offset = -1;
    int64_t log_append_time_ms = -1;  // v2+
    int64_t log_start_offset = -1;    // v5+
    std::vector<RecordError> record_errors;    // v8+
    std::optional<std::string> error_message;  // v8+
  };
  struct Topic {
    bool operator==(const Topic&) const = default;
    std::string name;
    std::vector<Partition> partitions;
  };
  std::vector<Topic> responses;
  int32_t throttle_time_ms = 0;  // v1+
  static Result<ProduceResponse> decode(Reader& r, int16_t version);
  void encode(Writer& w, int16_t version) const;
};

}  // namespace persisting::kafka
