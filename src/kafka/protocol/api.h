// The one table of the Kafka APIs this broker speaks: key, name, the version range we decode and
// encode, and the first flexible version (from Kafka's message schemas; compact strings/arrays and
// tagged fields from that version on). ApiVersions answers from this table; an API not in it is
// not advertised and a request for it gets UNSUPPORTED_VERSION.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace persisting::kafka {

enum class ApiKey : int16_t {
  kProduce = 0,
  kFetch = 1,
  kListOffsets = 2,
  kMetadata = 3,
  kOffsetCommit = 8,
  kOffsetFetch = 9,
  kFindCoordinator = 10,
  kJoinGroup = 11,
  kHeartbeat = 12,
  kLeaveGroup = 13,
  kSyncGroup = 14,
  kSaslHandshake = 17,
  kApiVersions = 18,
  kCreateTopics = 19,
  kDeleteTopics = 20,
  kInitProducerId = 22,
  kSaslAuthenticate = 36,
};

// For an API that has no flexible version (SaslHandshake).
inline constexpr int16_t kNeverFlexible = INT16_MAX;

struct ApiInfo {
  ApiKey key;
  std::string_view name;       // "Produce"
  int16_t min_version;         // the lowest version we decode
  int16_t max_version;         // the highest version we decode
  int16_t first_flexible;      // Kafka's first flexible version (may be > max_version)
};

// Every supported API, in ApiKey order.
std::span<const ApiInfo> supported_apis();
// nullptr when the key is not one we support.
const ApiInfo* find_api(int16_t api_key);
// "Produce", or "ApiKey(42)" for an unknown key.
std::string api_name(int16_t api_key);

inline bool version_supported(const ApiInfo& api, int16_t version) {
  return version >= api.min_version && version <= api.max_version;
}
// Whether the request and response bodies of this version use the flexible encoding.
inline bool is_flexible(const ApiInfo& api, int16_t version) { return version >= api.first_flexible; }
bool is_flexible(ApiKey key, int16_t version);

// Request header: v1 (api_key, api_version, correlation_id, client_id) for non-flexible
// versions, v2 (the same plus a tagged-field section) for flexible ones.
int16_t request_header_version(ApiKey key, int16_t version);
// Response header: v0 (correlation_id) for non-flexible, v1 (plus tagged fields) for flexible,
// except ApiVersions, whose response header is always v0 (KIP-511).
int16_t response_header_version(ApiKey key, int16_t version);

}  // namespace persisting::kafka
