// Header versions are derived from the API and version, never sent (notes/kafka.md).
#include "kafka/protocol/header.h"

#include <gtest/gtest.h>

#include "kafka/protocol/api.h"
#include "kafka/bytes.h"

namespace persisting::kafka {
namespace {

TEST(KafkaHeader, RequestHeaderV1HasNoTaggedFields) {
  // Metadata v4 (not flexible): key 3, version 4, correlation 7, client_id "ab", then the body.
  std::string in = bytes({0, 3, 0, 4, 0, 0, 0, 7, 0, 2, 'a', 'b', 0xEE});
  Reader r(in);
  bool flexible = true;
  auto h = decode_request_header(r, &flexible);
  ASSERT_TRUE(h.ok()) << h.status().to_string();
  EXPECT_EQ(h->api_key, 3);
  EXPECT_EQ(h->api_version, 4);
  EXPECT_EQ(h->correlation_id, 7);
  EXPECT_EQ(h->client_id, "ab");
  EXPECT_FALSE(flexible);
  EXPECT_EQ(*r.int8("body"), static_cast<int8_t>(0xEE));  // the body starts right after client_id
}

TEST(KafkaHeader, RequestHeaderV2KeepsAClassicClientIdAndAddsTaggedFields) {
  // ApiVersions v3 (flexible): client_id keeps its int16 length, then a tagged-field section.
  std::string in = bytes({0, 18, 0, 3, 0, 0, 0, 1, 0xFF, 0xFF, /*tags*/ 1, 0, 1, 'x', 0xEE});
  Reader r(in);
  bool flexible = false;
  auto h = decode_request_header(r, &flexible);
  ASSERT_TRUE(h.ok()) << h.status().to_string();
  EXPECT_EQ(h->client_id, std::nullopt);
  EXPECT_TRUE(flexible);
  EXPECT_EQ(*r.int8("body"), static_cast<int8_t>(0xEE));
}

TEST(KafkaHeader, UnknownVersionIsReadAsV1) {
  // ApiVersions v9: beyond our table, so no tagged section is read (the broker answers v0).
  std::string in = bytes({0, 18, 0, 9, 0, 0, 0, 1, 0, 0, 0xEE});
  Reader r(in);
  bool flexible = true;
  ASSERT_TRUE(decode_request_header(r, &flexible).ok());
  EXPECT_FALSE(flexible);
  EXPECT_EQ(r.remaining(), 1u);
}

TEST(KafkaHeader, TruncatedHeaderIsAnError) {
  std::string full = bytes({0, 3, 0, 4, 0, 0, 0, 7, 0, 2, 'a', 'b'});
  for (size_t n = 0; n < full.size(); ++n) {
    Reader r(std::string_view(full).substr(0, n));
    EXPECT_FALSE(decode_request_header(r).ok()) << n;
  }
}

TEST(KafkaHeader, ResponseHeaderVersions) {
  // Metadata v4: header v0, just the correlation id.
  std::string a;
  Writer wa(&a);
  encode_response_header(3, 4, 9, wa);
  EXPECT_EQ(a, bytes({0, 0, 0, 9}));
  // OffsetFetch v6 (flexible): header v1, plus an empty tagged section.
  std::string b;
  Writer wb(&b);
  encode_response_header(9, 6, 9, wb);
  EXPECT_EQ(b, bytes({0, 0, 0, 9, 0}));
  // ApiVersions v3 is flexible, but its response header is always v0 (KIP-511).
  std::string c;
  Writer wc(&c);
  encode_response_header(18, 3, 9, wc);
  EXPECT_EQ(c, bytes({0, 0, 0, 9}));
  EXPECT_EQ(response_header_version(ApiKey::kApiVersions, 3), 0);
  EXPECT_EQ(request_header_version(ApiKey::kApiVersions, 3), 2);
  EXPECT_EQ(request_header_version(ApiKey::kProduce, 8), 1);
  EXPECT_EQ(response_header_version(ApiKey::kInitProducerId, 2), 1);
}

TEST(KafkaHeader, RoundTrip) {
  for (auto [key, version] : {std::pair<int16_t, int16_t>{0, 7}, {18, 3}, {9, 7}, {22, 4}, {17, 1}}) {
    RequestHeader h{key, version, 1234, std::string("client")};
    std::string out;
    Writer w(&out);
    encode_request_header(h, w);
    Reader r(out);
    auto back = decode_request_header(r);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, h);
    EXPECT_TRUE(r.empty());
  }
}

TEST(KafkaApiTable, FlexibleVersionsFollowKafkasSchemas) {
  EXPECT_FALSE(is_flexible(ApiKey::kProduce, 8));
  EXPECT_TRUE(is_flexible(ApiKey::kProduce, 9));
  EXPECT_TRUE(is_flexible(ApiKey::kOffsetFetch, 6));
  EXPECT_FALSE(is_flexible(ApiKey::kOffsetFetch, 5));
  EXPECT_TRUE(is_flexible(ApiKey::kInitProducerId, 2));
  EXPECT_FALSE(is_flexible(ApiKey::kSaslHandshake, 1));
  EXPECT_EQ(find_api(42), nullptr);
  EXPECT_EQ(api_name(0), "Produce");
  EXPECT_EQ(api_name(42), "ApiKey(42)");
}

TEST(KafkaApiTable, CoversWhatTheClientsRequest) {
  // librdkafka 2.0.2's maxima (INTRODUCTION.md) for the APIs we serve, and kafka-python 2.0.2's
  // (Produce 8, Fetch 11, ListOffsets 5, Metadata 5), and kafkajs 2.2's.
  struct Need {
    ApiKey key;
    int16_t version;
  } needs[] = {{ApiKey::kProduce, 7},         {ApiKey::kProduce, 8},       {ApiKey::kFetch, 11},
               {ApiKey::kListOffsets, 2},     {ApiKey::kListOffsets, 5},   {ApiKey::kMetadata, 4},
               {ApiKey::kMetadata, 5},        {ApiKey::kOffsetCommit, 7},  {ApiKey::kOffsetFetch, 7},
               {ApiKey::kFindCoordinator, 2}, {ApiKey::kJoinGroup, 5},     {ApiKey::kHeartbeat, 3},
               {ApiKey::kLeaveGroup, 1},      {ApiKey::kSyncGroup, 3},     {ApiKey::kSaslHandshake, 1},
               {ApiKey::kApiVersions, 3},     {ApiKey::kCreateTopics, 4},  {ApiKey::kDeleteTopics, 1},
               {ApiKey::kInitProducerId, 4},  {ApiKey::kSaslAuthenticate, 1},
               // kafkajs 2.2 (src/protocol/requests/*/v*)
               {ApiKey::kMetadata, 6},        {ApiKey::kOffsetCommit, 5},  {ApiKey::kOffsetFetch, 4},
               {ApiKey::kLeaveGroup, 3},      {ApiKey::kApiVersions, 2},   {ApiKey::kCreateTopics, 3},
               {ApiKey::kInitProducerId, 1},  {ApiKey::kListOffsets, 3}};
  for (const Need& n : needs) {
    const ApiInfo* a = find_api(static_cast<int16_t>(n.key));
    ASSERT_NE(a, nullptr);
    EXPECT_TRUE(version_supported(*a, n.version)) << a->name << " v" << n.version;
  }
  // librdkafka enables gzip and snappy only when the broker's Produce range includes v0.
  EXPECT_EQ(find_api(0)->min_version, 0);
}

}  // namespace
}  // namespace persisting::kafka
