#include "kafka/protocol/api.h"

#include <string>

namespace persisting::kafka {

namespace {

// Ranges cover what librdkafka 2.0.2, kafka-python 2.0.2 and kafkajs 2.x request (docs/kafka-protocol.md).
constexpr ApiInfo kApis[] = {
    {ApiKey::kProduce, "Produce", 0, 8, 9},
    {ApiKey::kFetch, "Fetch", 4, 11, 12},
    {ApiKey::kListOffsets, "ListOffsets", 0, 5, 6},
    {ApiKey::kMetadata, "Metadata", 0, 8, 9},
    {ApiKey::kOffsetCommit, "OffsetCommit", 0, 7, 8},
    {ApiKey::kOffsetFetch, "OffsetFetch", 0, 7, 6},
    {ApiKey::kFindCoordinator, "FindCoordinator", 0, 2, 3},
    {ApiKey::kJoinGroup, "JoinGroup", 0, 5, 6},
    {ApiKey::kHeartbeat, "Heartbeat", 0, 3, 4},
    {ApiKey::kLeaveGroup, "LeaveGroup", 0, 3, 4},
    {ApiKey::kSyncGroup, "SyncGroup", 0, 3, 4},
    {ApiKey::kSaslHandshake, "SaslHandshake", 0, 1, kNeverFlexible},
    {ApiKey::kApiVersions, "ApiVersions", 0, 3, 3},
    {ApiKey::kCreateTopics, "CreateTopics", 0, 4, 5},
    {ApiKey::kDeleteTopics, "DeleteTopics", 0, 3, 4},
    {ApiKey::kInitProducerId, "InitProducerId", 0, 4, 2},
    {ApiKey::kSaslAuthenticate, "SaslAuthenticate", 0, 1, 2},
};

}  // namespace

std::span<const ApiInfo> supported_apis() { return kApis; }

const ApiInfo* find_api(int16_t api_key) {
  for (const ApiInfo& a : kApis) {
    if (static_cast<int16_t>(a.key) == api_key) return &a;
  }
  return nullptr;
}

std::string api_name(int16_t api_key) {
  if (const ApiInfo* a = find_api(api_key)) return std::string(a->name);
  return "ApiKey(" + std::to_string(api_key) + ")";
}

bool is_flexible(ApiKey key, int16_t version) {
  const ApiInfo* a = find_api(static_cast<int16_t>(key));
  return a != nullptr && is_flexible(*a, version);
}

int16_t request_header_version(ApiKey key, int16_t version) { return is_flexible(key, version) ? 2 : 1; }

int16_t response_header_version(ApiKey key, int16_t version) {
  if (key == ApiKey::kApiVersions) return 0;
  return is_flexible(key, version) ? 1 : 0;
}

}  // namespace persisting::kafka
