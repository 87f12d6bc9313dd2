// Decoding a whole request frame (what the broker's connection hands over, and what the fuzzer
// drives): the header, then the body of one of the supported APIs at its version.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "kafka/protocol/header.h"
#include "kafka/protocol/messages/api_versions.h"
#include "kafka/protocol/messages/create_topics.h"
#include "kafka/protocol/messages/delete_topics.h"
#include "kafka/protocol/messages/fetch.h"
#include "kafka/protocol/messages/find_coordinator.h"
#include "kafka/protocol/messages/heartbeat.h"
#include "kafka/protocol/messages/init_producer_id.h"
#include "kafka/protocol/messages/join_group.h"
#include "kafka/protocol/messages/leave_group.h"
#include "kafka/protocol/messages/list_offsets.h"
#include "kafka/protocol/messages/metadata.h"
#include "kafka/protocol/messages/offset_commit.h"
#include "kafka/protocol/messages/offset_fetch.h"
#include "kafka/protocol/messages/produce.h"
#include "kafka/protocol/messages/sasl_authenticate.h"
#include "kafka/protocol/messages/sasl_handshake.h"
#include "kafka/protocol/messages/sync_group.h"
#include "kafka/protocol/wire.h"
#include "persisting/status.h"

namespace persisting::kafka {

// A request we cannot decode because its API or version is outside api.h's table. The body was
// not read. For ApiVersions the broker answers UNSUPPORTED_VERSION (35) with a v0 body that still
// lists our APIs (unsupported_version_response; the client retries at a version it finds there).
// For any other API there is no response shape for a version we do not speak, so the broker
// closes the connection, as Kafka does. Clients send only versions from our ApiVersions answer,
// and APIs absent from it are refused client-side.
struct UnsupportedRequest {
  bool operator==(const UnsupportedRequest&) const = default;
  bool known_api = false;
};

using RequestBody =
    std::variant<UnsupportedRequest, ProduceRequest, FetchRequest, ListOffsetsRequest, MetadataRequest,
                 OffsetCommitRequest, OffsetFetchRequest, FindCoordinatorRequest, JoinGroupRequest,
                 HeartbeatRequest, LeaveGroupRequest, SyncGroupRequest, SaslHandshakeRequest,
                 ApiVersionsRequest, CreateTopicsRequest, DeleteTopicsRequest, InitProducerIdRequest,
                 SaslAuthenticateRequest>;

struct DecodedRequest {
  RequestHeader header;
  bool operator==(const DecodedRequest&) const = default;
  bool flexible = false;  // the body's encoding
  RequestBody body;
};

// Decodes one request frame (without its 4-byte size prefix). A malformed header or body, or
// bytes left after the body, is an InvalidArgument error naming the API, version and field; the
// broker closes the connection on it.
Result<DecodedRequest> decode_request(std::string_view frame);

// The answer to an UnsupportedRequest with this header: for ApiVersions a complete frame
// (response header v0, error 35, our API list in the v0 body); nullopt for anything else (close
// the connection).
std::optional<std::string> unsupported_version_response(const RequestHeader& header);

// Encodes a complete response frame: 4-byte size, the response header for (api_key,
// api_version), then the body. Msg is one of the *Response structs.
template <class Msg>
std::string encode_response_frame(int16_t api_key, int16_t api_version, int32_t correlation_id, const Msg& body) {
  std::string out;
  Writer w(&out);
  w.int32(0);
  encode_response_header(api_key, api_version, correlation_id, w);
  body.encode(w, api_version);
  w.patch_int32(0, static_cast<int32_t>(out.size() - 4));
  return out;
}

// Encodes a complete request frame (clients, tests, the fuzzer's seeds): 4-byte size, header,
// body. Msg is one of the *Request structs.
template <class Msg>
std::string encode_request_frame(const RequestHeader& header, const Msg& body) {
  std::string out;
  Writer w(&out);
  w.int32(0);
  encode_request_header(header, w);
  body.encode(w, header.api_version);
  w.patch_int32(0, static_cast<int32_t>(out.size() - 4));
  return out;
}

}  // namespace persisting::kafka
