#include "kafka/protocol/header.h"

#include "core/status_macros.h"
#include "kafka/protocol/api.h"

namespace persisting::kafka {

Result<RequestHeader> decode_request_header(Reader& r, bool* flexible) {
  RequestHeader h;
  ASSIGN_OR_RETURN(h.api_key, r.int16("request header api_key"));
  ASSIGN_OR_RETURN(h.api_version, r.int16("request header api_version"));
  ASSIGN_OR_RETURN(h.correlation_id, r.int32("request header correlation_id"));
  // client_id keeps its int16 length in header v2 too (it predates flexible versions).
  ASSIGN_OR_RETURN(h.client_id, r.nullable_string("request header client_id", false));
  const ApiInfo* api = find_api(h.api_key);
  bool flex = api != nullptr && version_supported(*api, h.api_version) && is_flexible(*api, h.api_version);
  if (flex) RETURN_IF_ERROR(r.skip_tagged_fields("request header"));
  if (flexible) *flexible = flex;
  return h;
}

void encode_request_header(const RequestHeader& h, Writer& w) {
  w.int16(h.api_key);
  w.int16(h.api_version);
  w.int32(h.correlation_id);
  w.nullable_string(h.client_id, false);
  const ApiInfo* api = find_api(h.api_key);
  w.tagged_fields_if(api != nullptr && version_supported(*api, h.api_version) && is_flexible(*api, h.api_version));
}

void encode_response_header(int16_t api_key, int16_t api_version, int32_t correlation_id, Writer& w) {
  w.int32(correlation_id);
  w.tagged_fields_if(response_header_version(static_cast<ApiKey>(api_key), api_version) == 1);
}

Result<int32_t> decode_response_header(int16_t api_key, int16_t api_version, Reader& r) {
  ASSIGN_OR_RETURN(int32_t correlation_id, r.int32("response header correlation_id"));
  if (response_header_version(static_cast<ApiKey>(api_key), api_version) == 1) {
    RETURN_IF_ERROR(r.skip_tagged_fields("response header"));
  }
  return correlation_id;
}

}  // namespace persisting::kafka
