// ApiVersions (key 18), v0-v3 (flexible from v3). The response header is always v0.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kafka/protocol/wire.h"

namespace persisting::kafka {

struct ApiVersionsRequest {
  bool operator==(const ApiVersionsRequest&) const = default;
  std::string client_software_name;     // v3+
  std::string client_software_version;  // v3+
  static Result<ApiVersionsRequest> decode(Reader& r, int16_t version);
  void encode(Writer& w, int16_t version) const;
};

struct ApiVersionsResponse {
  bool operator==(const ApiVersionsResponse&) const = default;
  struct ApiVersion {
    bool operator==(const ApiVersion&) const = default;
    int16_t api_key = 0;
    int16_t min_version = 0;
    int16_t max_version = 0;
  };
  int16_t error_code = 0;
  std::vector<ApiVersion> api_keys;
  int32_t throttle_time_ms = 0;  // v1+
  static Result<ApiVersionsResponse> decode(Reader& r, int16_t version);
  void encode(Writer& w, int16_t version) const;
  // The response listing every API of api.h's table.
  static ApiVersionsResponse supported(int16_t error_code = 0);
};

}  // namespace persisting::kafka
