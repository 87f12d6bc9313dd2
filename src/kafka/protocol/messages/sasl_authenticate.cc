#include "kafka/protocol/messages/sasl_authenticate.h"

#include "kafka/protocol/api.h"
#include "kafka/protocol/serde.h"

namespace persisting::kafka {

namespace {

template <class S>
Status serde(S& s, SaslAuthenticateRequest& m, int16_t) {
  KAFKA_FIELD(s.bytes(m.auth_bytes, "SaslAuthenticate.auth_bytes"));
  return s.tags("SaslAuthenticate");
}

template <class S>
Status serde(S& s, SaslAuthenticateResponse& m, int16_t v) {
  KAFKA_FIELD(s.i16(m.error_code, "SaslAuthenticateResponse.error_code"));
  KAFKA_FIELD(s.nstr(m.error_message, "SaslAuthenticateResponse.error_message"));
  KAFKA_FIELD(s.bytes(m.auth_bytes, "SaslAuthenticateResponse.auth_bytes"));
  if (v >= 1) KAFKA_FIELD(s.i64(m.session_lifetime_ms, "SaslAuthenticateResponse.session_lifetime_ms"));
  return s.tags("SaslAuthenticateResponse");
}

}  // namespace

KAFKA_DEFINE_CODEC(SaslAuthenticateRequest, ApiKey::kSaslAuthenticate)
KAFKA_DEFINE_CODEC(SaslAuthenticateResponse, ApiKey::kSaslAuthenticate)

}  // namespace persisting::kafka
