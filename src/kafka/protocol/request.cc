#include "kafka/protocol/request.h"

#include "core/status_macros.h"
#include "kafka/protocol/api.h"

namespace persisting::kafka {

namespace {

template <class Msg>
Result<RequestBody> body_of(Reader& r, int16_t version) {
  auto m = Msg::decode(r, version);
  if (!m.ok()) return m.status();
  return RequestBody(std::move(*m));
}

Result<RequestBody> decode_body(ApiKey key, Reader& r, int16_t v) {
  switch (key) {
    case ApiKey::kProduce: return body_of<ProduceRequest>(r, v);
    case ApiKey::kFetch: return body_of<FetchRequest>(r, v);
    case ApiKey::kListOffsets: return body_of<ListOffsetsRequest>(r, v);
    case ApiKey::kMetadata: return body_of<MetadataRequest>(r, v);
    case ApiKey::kOffsetCommit: return body_of<OffsetCommitRequest>(r, v);
    case ApiKey::kOffsetFetch: return body_of<OffsetFetchRequest>(r, v);
    case ApiKey::kFindCoordinator: return body_of<FindCoordinatorRequest>(r, v);
    case ApiKey::kJoinGroup: return body_of<JoinGroupRequest>(r, v);
    case ApiKey::kHeartbeat: return body_of<HeartbeatRequest>(r, v);
    case ApiKey::kLeaveGroup: return body_of<LeaveGroupRequest>(r, v);
    case ApiKey::kSyncGroup: return body_of<SyncGroupRequest>(r, v);
    case ApiKey::kSaslHandshake: return body_of<SaslHandshakeRequest>(r, v);
    case ApiKey::kApiVersions: return body_of<ApiVersionsRequest>(r, v);
    case ApiKey::kCreateTopics: return body_of<CreateTopicsRequest>(r, v);
    case ApiKey::kDeleteTopics: return body_of<DeleteTopicsRequest>(r, v);
    case ApiKey::kInitProducerId: return body_of<InitProducerIdRequest>(r, v);
    case ApiKey::kSaslAuthenticate: return body_of<SaslAuthenticateRequest>(r, v);
  }
  return Internal("kafka: no decoder for " + api_name(static_cast<int16_t>(key)));
}

}  // namespace

Result<DecodedRequest> decode_request(std::string_view frame) {
  Reader r(frame);
  DecodedRequest req;
  ASSIGN_OR_RETURN(req.header, decode_request_header(r, &req.flexible));
  const ApiInfo* api = find_api(req.header.api_key);
  if (api == nullptr || !version_supported(*api, req.header.api_version)) {
    req.body = UnsupportedRequest{api != nullptr};
    return req;
  }
  const std::string what = std::string(api->name) + " v" + std::to_string(req.header.api_version);
  auto body = decode_body(api->key, r, req.header.api_version);
  if (!body.ok()) return body.status().with_context(what);
  if (!r.empty()) {
    return InvalidArgument("kafka: " + what + ": " + std::to_string(r.remaining()) + " bytes after the body");
  }
  req.body = std::move(*body);
  return req;
}

std::optional<std::string> unsupported_version_response(const RequestHeader& header) {
  if (header.api_key != static_cast<int16_t>(ApiKey::kApiVersions)) return std::nullopt;
  return encode_response_frame(header.api_key, 0, header.correlation_id, ApiVersionsResponse::supported(35));
}

}  // namespace persisting::kafka
