#include "kafka/protocol/messages/sasl_handshake.h"

#include "kafka/protocol/api.h"
#include "kafka/protocol/serde.h"

namespace persisting::kafka {

namespace {

template <class S>
Status serde(S& s, SaslHandshakeRequest& m, int16_t) {
  return s.str(m.mechanism, "SaslHandshake.mechanism");
}

template <class S>
Status serde(S& s, SaslHandshakeResponse& m, int16_t) {
  KAFKA_FIELD(s.i16(m.error_code, "SaslHandshakeResponse.error_code"));
  return s.array(m.mechanisms, "SaslHandshakeResponse.mechanisms",
                 [&](std::string& name) { return s.str(name, "SaslHandshakeResponse.mechanisms"); });
}

}  // namespace

KAFKA_DEFINE_CODEC(SaslHandshakeRequest, ApiKey::kSaslHandshake)
KAFKA_DEFINE_CODEC(SaslHandshakeResponse, ApiKey::kSaslHandshake)

}  // namespace persisting::kafka
