// SaslAuthenticate (key 36), v0-v1. For PLAIN, auth_bytes = authzid NUL authcid NUL password.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kafka/protocol/wire.h"

namespace persisting::kafka {

struct SaslAuthenticateRequest {
  bool operator==(const SaslAuthenticateRequest&) const = default;
  std::string auth_bytes;
  static Result<SaslAuthenticateRequest> decode(Reader& r, int16_t version);
  void encode(Writer& w, int16_t version) const;
};

struct SaslAuthenticateResponse {
  bool operator==(const SaslAuthenticateResponse&) const = default;
  int16_t error_code = 0;
  std::optional<std::string> error_message;
  std::string auth_bytes;
  int64_t session_lifetime_ms = 0;  // v1+
  static Result<SaslAuthenticateResponse> decode(Reader& r, int16_t version);
  void encode(Writer& w, int16_t version) const;
};

}  // namespace persisting::kafka
