// Request and response headers. The header version is derived from the API and its version, never
// sent (see api.h): request v1 = api_key int16, api_version int16, correlation_id int32, client_id
// nullable string (int16 length, even in v2); v2 adds a tagged-field section. Response v0 =
// correlation_id; v1 adds a tagged-field section (never for ApiVersions).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "kafka/protocol/wire.h"
#include "persisting/status.h"

namespace persisting::kafka {

struct RequestHeader {
  bool operator==(const RequestHeader&) const = default;
  int16_t api_key = 0;
  int16_t api_version = 0;
  int32_t correlation_id = 0;
  std::optional<std::string> client_id;
};

// Reads the header at the front of a request frame (the 4-byte size already removed). For an API
// we do not know, or a version outside our range, the header is read as v1 (no tagged fields):
// the fields up to client_id are the same in every version. `flexible` tells which was read.
Result<RequestHeader> decode_request_header(Reader& r, bool* flexible = nullptr);
// Writes a request header (clients and tests): v2 when the version is one of ours and flexible
// (the same rule decode_request_header reads by).
void encode_request_header(const RequestHeader& h, Writer& w);

// Writes the response header for (api_key, api_version): correlation id, plus an empty
// tagged-field section when the response header is v1.
void encode_response_header(int16_t api_key, int16_t api_version, int32_t correlation_id, Writer& w);
// Reads a response header (clients and tests).
Result<int32_t> decode_response_header(int16_t api_key, int16_t api_version, Reader& r);

}  // namespace persisting::kafka
