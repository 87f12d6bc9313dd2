// SaslHandshake (key 17), v0-v1 (v1: SaslAuthenticate carries the tokens; v0: raw frames).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kafka/protocol/wire.h"

namespace persisting::kafka {

struct SaslHandshakeRequest {
  bool operator==(const SaslHandshakeRequest&) const = default;
  std::string mechanism;
  static Result<SaslHandshakeRequest> decode(Reader& r, int16_t version);
  void encode(Writer& w, int16_t version) const;
};

struct SaslHandshakeResponse {
  bool operator==(const SaslHandshakeResponse&) const = default;
  int16_t error_code = 0;
  std::vector<std::string> mechanisms;
  static Result<SaslHandshakeResponse> decode(Reader& r, int16_t version);
  void encode(Writer& w, int16_t version) const;
};

}  // namespace persisting::kafka
