// ApiVersions and the SASL/PLAIN handshake.
#include "kafka/broker/dispatcher.h"

namespace persisting::kafka {

void Dispatcher::handle(Session&, const RequestHeader& h, ApiVersionsRequest, const Reply& reply) {
  ApiVersionsResponse r = ApiVersionsResponse::supported();
  std::erase_if(r.api_keys, [](const auto& a) { return !handled(static_cast<ApiKey>(a.api_key)); });
  reply.send(response_frame(h, r));
}

void Dispatcher::handle(Session& s, const RequestHeader& h, SaslHandshakeRequest req, const Reply& reply) {
  SaslHandshakeResponse r;
  r.mechanisms = {"PLAIN"};
  if (req.mechanism != "PLAIN") {
    r.error_code = error_value(ErrorCode::UNSUPPORTED_SASL_MECHANISM);
    return reply.send_and_close(response_frame(h, r));
  }
  // v0: the token follows as a bare frame, not wrapped in SaslAuthenticate.
  if (h.api_version == 0) s.raw_sasl_next = true;
  reply.send(response_frame(h, r));
}

bool Dispatcher::check_plain(std::string_view token, std::string* why) const {
  // PLAIN (RFC 4616): [authzid] NUL authcid NUL passwd. Any user name; the password is the token.
  const size_t a = token.find('\0');
  const size_t b = a == std::string_view::npos ? a : token.find('\0', a + 1);
  if (b == std::string_view::npos) {
    *why = "malformed SASL/PLAIN token";
    return false;
  }
  const std::string_view got = token.substr(b + 1);
  const std::string& want = config_.token;
  unsigned char diff = got.size() != want.size();
  for (size_t i = 0; i < want.size(); ++i)
    diff |= static_cast<unsigned char>(want[i] ^ (i < got.size() ? got[i] : 0));
  if (diff != 0) {
    *why = "wrong password (the node's access token)";
    return false;
  }
  return true;
}

void Dispatcher::handle(Session& s, const RequestHeader& h, SaslAuthenticateRequest req, const Reply& reply) {
  SaslAuthenticateResponse r;
  std::string why;
  if (config_.token.empty() || check_plain(req.auth_bytes, &why)) {
    s.authenticated = true;
    return reply.send(response_frame(h, r));
  }
  r.error_code = error_value(ErrorCode::SASL_AUTHENTICATION_FAILED);
  r.error_message = "authentication failed: " + why;
  reply.send_and_close(response_frame(h, r));
}

void Dispatcher::handle_raw_sasl(Session& s, std::string_view token, const Reply& reply) {
  std::string why;
  if (!config_.token.empty() && !check_plain(token, &why)) return refuse(s, reply, "SASL/PLAIN: " + why);
  s.authenticated = true;
  reply.send(std::string(4, '\0'));  // an empty frame: success
}

}  // namespace persisting::kafka
