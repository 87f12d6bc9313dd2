#include "kafka/protocol/messages/api_versions.h"

#include "kafka/protocol/api.h"
#include "kafka/protocol/serde.h"

namespace persisting::kafka {

namespace {

template <class S>
Status serde(S& s, ApiVersionsRequest& m, int16_t v) {
  if (v >= 3) {
    KAFKA_FIELD(s.str(m.client_software_name, "ApiVersions.client_software_name"));
    KAFKA_FIELD(s.str(m.client_software_version, "ApiVersions.client_software_version"));
  }
  return s.tags("ApiVersions");
}

template <class S>
Status serde(S& s, ApiVersionsResponse& m, int16_t v) {
  KAFKA_FIELD(s.i16(m.error_code, "ApiVersions.error_code"));
  KAFKA_FIELD(s.array(m.api_keys, "ApiVersions.api_keys", [&](ApiVersionsResponse::ApiVersion& a) {
    KAFKA_FIELD(s.i16(a.api_key, "ApiVersions.api_keys.api_key"));
    KAFKA_FIELD(s.i16(a.min_version, "ApiVersions.api_keys.min_version"));
    KAFKA_FIELD(s.i16(a.max_version, "ApiVersions.api_keys.max_version"));
    return s.tags("ApiVersions.api_keys");
  }));
  if (v >= 1) KAFKA_FIELD(s.i32(m.throttle_time_ms, "ApiVersions.throttle_time_ms"));
  return s.tags("ApiVersions");
}

}  // namespace

KAFKA_DEFINE_CODEC(ApiVersionsRequest, ApiKey::kApiVersions)
KAFKA_DEFINE_CODEC(ApiVersionsResponse, ApiKey::kApiVersions)

ApiVersionsResponse ApiVersionsResponse::supported(int16_t error_code) {
  ApiVersionsResponse r;
  r.error_code = error_code;
  for (const ApiInfo& a : supported_apis()) {
    r.api_keys.push_back({static_cast<int16_t>(a.key), a.min_version, a.max_version});
  }
  return r;
}

}  // namespace persisting::kafka
