// decode_request: whole frames, unsupported versions, trailing bytes, and malformed frames.
#include "kafka/protocol/request.h"

#include <gtest/gtest.h>

#include "kafka/protocol/api.h"
#include "kafka/bytes.h"

namespace persisting::kafka {
namespace {

// The frame without its 4-byte size.
template <class Msg>
std::string frame(int16_t key, int16_t version, const Msg& m) {
  return encode_request_frame(RequestHeader{key, version, 77, std::string("test")}, m).substr(4);
}

TEST(KafkaRequest, DecodesEachApi) {
  MetadataRequest md;
  md.topics = std::vector<std::string>{"t"};
  auto r = decode_request(frame(3, 4, md));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->header.correlation_id, 77);
  EXPECT_EQ(r->header.client_id, "test");
  ASSERT_TRUE(std::holds_alternative<MetadataRequest>(r->body));
  EXPECT_EQ(std::get<MetadataRequest>(r->body), md);

  ApiVersionsRequest av{"c", "1"};
  auto a = decode_request(frame(18, 3, av));
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  EXPECT_TRUE(a->flexible);
  EXPECT_EQ(std::get<ApiVersionsRequest>(a->body), av);

  InitProducerIdRequest ip{std::nullopt, 1000, -1, -1};
  auto i = decode_request(frame(22, 4, ip));
  ASSERT_TRUE(i.ok()) << i.status().to_string();
  EXPECT_EQ(std::get<InitProducerIdRequest>(i->body), ip);

  SaslHandshakeRequest sh{"PLAIN"};
  auto s = decode_request(frame(17, 1, sh));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(std::get<SaslHandshakeRequest>(s->body), sh);
}

TEST(KafkaRequest, UnsupportedVersionOfAKnownApi) {
  // ApiVersions v4 from a newer client: the body is not read; the broker answers error 35.
  std::string f = bytes({0, 18, 0, 4, 0, 0, 0, 1, 0, 1, 'x', 0, 2, 'a', 2, 'b', 0});
  auto r = decode_request(f);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  ASSERT_TRUE(std::holds_alternative<UnsupportedRequest>(r->body));
  EXPECT_TRUE(std::get<UnsupportedRequest>(r->body).known_api);
  EXPECT_EQ(r->header.api_version, 4);
  EXPECT_EQ(r->header.correlation_id, 1);
  // Fetch v0 is below our range.
  auto f0 = decode_request(bytes({0, 1, 0, 0, 0, 0, 0, 2, 0xFF, 0xFF}));
  ASSERT_TRUE(f0.ok());
  EXPECT_TRUE(std::get<UnsupportedRequest>(f0->body).known_api);
}

TEST(KafkaRequest, UnsupportedVersionResponse) {
  // ApiVersions v4 -> header v0, error 35, then the v0 body listing our APIs.
  auto a = unsupported_version_response(RequestHeader{18, 4, 9, std::nullopt});
  ASSERT_TRUE(a.has_value());
  Reader r(std::string_view(*a).substr(4));
  EXPECT_EQ(*r.int32("correlation"), 9);
  auto body = ApiVersionsResponse::decode(r, 0);
  ASSERT_TRUE(body.ok());
  EXPECT_EQ(body->error_code, 35);
  EXPECT_EQ(body->api_keys.size(), supported_apis().size());
  EXPECT_TRUE(r.empty());
  // Any other API: no answer (the connection closes).
  EXPECT_FALSE(unsupported_version_response(RequestHeader{1, 0, 9, std::nullopt}).has_value());
  EXPECT_FALSE(unsupported_version_response(RequestHeader{26, 1, 9, std::nullopt}).has_value());
}

TEST(KafkaRequest, UnknownApiKey) {
  // EndTxn (26) is not in our table.
  auto r = decode_request(bytes({0, 26, 0, 1, 0, 0, 0, 3, 0xFF, 0xFF, 1, 2, 3}));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(std::get<UnsupportedRequest>(r->body).known_api);
  EXPECT_EQ(r->header.api_key, 26);
}

TEST(KafkaRequest, TrailingBytesAreAnError) {
  std::string f = frame(12, 0, HeartbeatRequest{"g", 1, "m", std::nullopt}) + "x";
  auto r = decode_request(f);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("Heartbeat v0"), std::string::npos);
}

TEST(KafkaRequest, ErrorsNameTheApiAndTheField) {
  // Produce v3 whose topic array claims 1000 elements.
  std::string f = bytes({0, 0, 0, 3, 0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0, 1, 0, 0, 0, 100, 0, 0, 3, 0xE8});
  auto r = decode_request(f);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("Produce v3"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("topic_data"), std::string::npos) << r.status().message();
}

TEST(KafkaRequest, EveryTruncationOfEveryFrameIsRefused) {
  ProduceRequest p;
  p.acks = 1;
  p.topics = {{"t", {{0, "records"}}}};
  OffsetFetchRequest of;
  of.group_id = "g";
  of.topics = std::vector<OffsetFetchRequest::Topic>{{"t", {0}}};
  std::vector<std::string> frames = {frame(0, 7, p), frame(9, 7, of), frame(18, 3, ApiVersionsRequest{"a", "b"}),
                                     frame(11, 5, JoinGroupRequest{"g", 1, 2, "", std::nullopt, "consumer", {}})};
  for (const std::string& f : frames) {
    ASSERT_TRUE(decode_request(f).ok());
    for (size_t n = 0; n < f.size(); ++n) {
      EXPECT_FALSE(decode_request(std::string_view(f).substr(0, n)).ok()) << n;
    }
  }
}

TEST(KafkaRequest, ResponseFrameCarriesSizeAndHeader) {
  HeartbeatResponse h{0, 0};
  std::string f = encode_response_frame(12, 0, 5, h);
  EXPECT_EQ(f, bytes({0, 0, 0, 6, 0, 0, 0, 5, 0, 0}));
  // ApiVersions v3: header v0 even though the body is flexible.
  ApiVersionsResponse av;
  av.api_keys = {{18, 0, 3}};
  std::string g = encode_response_frame(18, 3, 5, av);
  EXPECT_EQ(g, bytes({0, 0, 0, 19, 0, 0, 0, 5, 0, 0, 2, 0, 18, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0}));
}

}  // namespace
}  // namespace persisting::kafka
