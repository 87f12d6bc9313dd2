// InitProducerId (key 22), v0-v4 (flexible from v2). transactional_id null = idempotent only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kafka/protocol/wire.h"

namespace persisting::kafka {

struct InitProducerIdRequest {
  bool operator==(const InitProducerIdRequest&) const = default;
  std::optional<std::string> transactional_id;
  int32_t transaction_timeout_ms = 0;
  int64_t producer_id = -1;    // v3+: the id to bump after a fatal error
  int16_t producer_epoch = -1;  // v3+
  static Result<InitProducerIdRequest> decode(Reader& r, int16_t version);
  void encode(Writer& w, int16_t version) const;
};

struct InitProducerIdResponse {
  bool operator==(const InitProducerIdResponse&) const = default;
  int32_t throttle_time_ms = 0;
  int16_t error_code = 0;
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  static Result<InitProducerIdResponse> decode(Reader& r, int16_t version);
  void encode(Writer& w, int16_t version) const;
};

}  // namespace persisting::kafka
