// Every supported message at every version: encode -> decode -> encode gives the same bytes and
// the fields that version carries; every truncation is refused. Plus hand-built byte vectors
// (from the protocol guide's BNF) for a few messages, so the encoding is not only self-consistent.
#include <gtest/gtest.h>

#include <string>

#include "kafka/protocol/api.h"
#include "kafka/protocol/request.h"
#include "kafka/bytes.h"

namespace persisting::kafka {
namespace {

template <class Msg>
std::string encode(const Msg& m, int16_t v) {
  std::string out;
  Writer w(&out);
  m.encode(w, v);
  return out;
}

// Encodes, decodes, re-encodes; checks that every strict prefix fails to decode.
template <class Msg>
Msg round_trip(const Msg& m, int16_t v) {
  std::string a = encode(m, v);
  Reader r(a);
  auto d = Msg::decode(r, v);
  EXPECT_TRUE(d.ok()) << "v" << v << ": " << d.status().to_string();
  if (!d.ok()) return Msg{};
  EXPECT_TRUE(r.empty()) << "v" << v << ": " << r.remaining() << " bytes left";
  EXPECT_EQ(encode(*d, v), a) << "v" << v;
  for (size_t n = 0; n < a.size(); ++n) {
    Reader p(std::string_view(a).substr(0, n));
    EXPECT_FALSE(Msg::decode(p, v).ok()) << "v" << v << " prefix " << n << " of " << a.size();
  }
  return *d;
}

template <class Msg>
void all_versions(ApiKey key, const Msg& m) {
  const ApiInfo* api = find_api(static_cast<int16_t>(key));
  ASSERT_NE(api, nullptr);
  for (int16_t v = api->min_version; v <= api->max_version; ++v) round_trip(m, v);
}

ProduceRequest sample_produce() {
  ProduceRequest m;
  m.transactional_id = "tx";
  m.acks = -1;
  m.timeout_ms = 1500;
  m.topics = {{"orders", {{0, "batch-bytes-0"}, {3, "batch-bytes-3"}}}, {"t2", {{1, ""}}}};
  return m;
}

ProduceResponse sample_produce_response() {
  ProduceResponse m;
  ProduceResponse::Partition p;
  p.index = 2;
  p.error_code = 0;
  p.base_offset = 42;
  p.log_append_time_ms = 1000;
  p.log_start_offset = 5;
  p.record_errors = {{1, std::string("bad")}, {2, std::nullopt}};
  p.error_message = "partial";
  m.responses = {{"orders", {p}}};
  m.throttle_time_ms = 7;
  return m;
}

TEST(KafkaMessages, ProduceAllVersions) {
  all_versions(ApiKey::kProduce, sample_produce());
  all_versions(ApiKey::kProduce, sample_produce_response());
  // v3+ carries the transactional id; v0-v2 default it.
  EXPECT_EQ(round_trip(sample_produce(), 3).transactional_id, "tx");
  EXPECT_EQ(round_trip(sample_produce(), 2).transactional_id, std::nullopt);
  EXPECT_EQ(round_trip(sample_produce_response(), 8), sample_produce_response());
  auto v7 = round_trip(sample_produce_response(), 7);
  EXPECT_TRUE(v7.responses[0].partitions[0].record_errors.empty());
  EXPECT_EQ(v7.responses[0].partitions[0].log_start_offset, 5);
  auto v4 = round_trip(sample_produce_response(), 4);
  EXPECT_EQ(v4.responses[0].partitions[0].log_start_offset, -1);
  EXPECT_EQ(v4.responses[0].partitions[0].log_append_time_ms, 1000);
}

TEST(KafkaMessages, ProduceV3HandBuilt) {
  // transactional_id null, acks 1, timeout 100, [topic "t" [partition 0, records "ab"]]
  std::string in = bytes({0xFF, 0xFF, 0, 1, 0, 0, 0, 100, 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, 0, 0, 0, 0,
                          0, 0, 0, 2, 'a', 'b'});
  Reader r(in);
  auto m = ProduceRequest::decode(r, 3);
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  EXPECT_EQ(m->transactional_id, std::nullopt);
  EXPECT_EQ(m->acks, 1);
  EXPECT_EQ(m->timeout_ms, 100);
  ASSERT_EQ(m->topics.size(), 1u);
  EXPECT_EQ(m->topics[0].name, "t");
  ASSERT_EQ(m->topics[0].partitions.size(), 1u);
  EXPECT_EQ(m->topics[0].partitions[0].records, "ab");
  EXPECT_EQ(encode(*m, 3), in);
}

TEST(KafkaMessages, FetchAllVersions) {
  FetchRequest m;
  m.max_wait_ms = 500;
  m.min_bytes = 1;
  m.max_bytes = 1 << 20;
  m.isolation_level = 1;
  m.session_id = 3;
  m.session_epoch = 4;
  m.topics = {{"t", {{0, 5, 100, 7, 4096}, {1, -1, 0, -1, 4096}}}};
  m.forgotten_topics_data = {{"old", {1, 2}}};
  m.rack_id = "r1";
  all_versions(ApiKey::kFetch, m);
  EXPECT_EQ(round_trip(m, 11), m);
  auto v4 = round_trip(m, 4);
  EXPECT_EQ(v4.session_id, 0);
  EXPECT_TRUE(v4.forgotten_topics_data.empty());
  EXPECT_EQ(v4.topics[0].partitions[0].log_start_offset, -1);
  EXPECT_EQ(v4.topics[0].partitions[0].fetch_offset, 100);

  FetchResponse resp;
  resp.throttle_time_ms = 1;
  resp.error_code = 0;
  resp.session_id = 9;
  FetchResponse::Partition p;
  p.partition_index = 0;
  p.high_watermark = 10;
  p.last_stable_offset = 10;
  p.log_start_offset = 0;
  p.aborted_transactions = {{7, 3}};
  p.preferred_read_replica = -1;
  p.records = std::string(100, 'r');
  resp.responses = {{"t", {p}}};
  all_versions(ApiKey::kFetch, resp);
  EXPECT_EQ(round_trip(resp, 11), resp);
}

TEST(KafkaMessages, ListOffsetsAllVersions) {
  ListOffsetsRequest m;
  m.isolation_level = 1;
  m.topics = {{"t", {{0, 3, kListOffsetsEarliest, 1}, {1, -1, 12345, 1}}}};
  all_versions(ApiKey::kListOffsets, m);
  EXPECT_EQ(round_trip(m, 5), m);
  ListOffsetsResponse r;
  r.throttle_time_ms = 2;
  ListOffsetsResponse::Partition p;
  p.partition_index = 1;
  p.timestamp = 99;
  p.offset = 17;
  p.leader_epoch = 0;
  r.topics = {{"t", {p}}};
  all_versions(ApiKey::kListOffsets, r);
  EXPECT_EQ(round_trip(r, 5), r);
  ListOffsetsResponse v0 = r;
  v0.topics[0].partitions[0].old_style_offsets = {17};
  EXPECT_EQ(round_trip(v0, 0).topics[0].partitions[0].old_style_offsets, std::vector<int64_t>{17});
}

TEST(KafkaMessages, MetadataAllVersions) {
  MetadataRequest all;  // null topics
  MetadataRequest some;
  some.topics = std::vector<std::string>{"a", "b"};
  some.allow_auto_topic_creation = false;
  all_versions(ApiKey::kMetadata, all);
  all_versions(ApiKey::kMetadata, some);
  EXPECT_EQ(round_trip(all, 1).topics, std::nullopt);
  EXPECT_EQ(round_trip(all, 0).topics, std::nullopt);  // v0: empty array = all
  EXPECT_EQ(encode(all, 0), bytes({0, 0, 0, 0}));
  EXPECT_EQ(encode(all, 1), bytes({0xFF, 0xFF, 0xFF, 0xFF}));
  EXPECT_EQ(round_trip(some, 4).allow_auto_topic_creation, false);
  EXPECT_EQ(round_trip(some, 3).allow_auto_topic_creation, true);  // absent before v4: default

  MetadataResponse r;
  r.throttle_time_ms = 1;
  r.brokers = {{0, "127.0.0.1", 9092, std::nullopt}, {1, "h", 9093, std::string("rack")}};
  r.cluster_id = "c";
  r.controller_id = 0;
  MetadataResponse::Partition p;
  p.partition_index = 0;
  p.leader_id = 0;
  p.leader_epoch = 2;
  p.replica_nodes = {0};
  p.isr_nodes = {0};
  p.offline_replicas = {};
  r.topics = {{0, "t", false, {p}, 0}, {3, "missing", false, {}, 0}};
  r.cluster_authorized_operations = 0;
  all_versions(ApiKey::kMetadata, r);
  EXPECT_EQ(round_trip(r, 8), r);
}

TEST(KafkaMessages, MetadataV1RequestHandBuilt) {
  // Topics ["t"], v1: int32 count, int16 string.
  std::string in = bytes({0, 0, 0, 1, 0, 1, 't'});
  Reader r(in);
  auto m = MetadataRequest::decode(r, 1);
  ASSERT_TRUE(m.ok());
  ASSERT_TRUE(m->topics.has_value());
  EXPECT_EQ(*m->topics, std::vector<std::string>{"t"});
}

TEST(KafkaMessages, ApiVersionsAllVersions) {
  ApiVersionsRequest req{"librdkafka", "2.0.2"};
  all_versions(ApiKey::kApiVersions, req);
  EXPECT_EQ(round_trip(req, 3), req);
  EXPECT_EQ(round_trip(req, 2).client_software_name, "");
  ApiVersionsResponse resp = ApiVersionsResponse::supported();
  resp.throttle_time_ms = 0;
  all_versions(ApiKey::kApiVersions, resp);
  EXPECT_EQ(round_trip(resp, 3), resp);
}

TEST(KafkaMessages, ApiVersionsV0ResponseHandBuilt) {
  // The UNSUPPORTED_VERSION answer: error 35, then the classic int32-counted array.
  ApiVersionsResponse r;
  r.error_code = 35;
  r.api_keys = {{18, 0, 3}};
  EXPECT_EQ(encode(r, 0), bytes({0, 35, 0, 0, 0, 1, 0, 18, 0, 0, 0, 3}));
  // v3: compact array (count + 1), a tagged section per entry, throttle, a final tagged section.
  EXPECT_EQ(encode(r, 3), bytes({0, 35, 2, 0, 18, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0}));
}

TEST(KafkaMessages, ApiVersionsSupportedListsTheTable) {
  ApiVersionsResponse r = ApiVersionsResponse::supported(35);
  EXPECT_EQ(r.error_code, 35);
  ASSERT_EQ(r.api_keys.size(), supported_apis().size());
  for (size_t i = 0; i < r.api_keys.size(); ++i) {
    EXPECT_EQ(r.api_keys[i].api_key, static_cast<int16_t>(supported_apis()[i].key));
    EXPECT_EQ(r.api_keys[i].max_version, supported_apis()[i].max_version);
  }
}

TEST(KafkaMessages, OffsetCommitAllVersions) {
  OffsetCommitRequest m;
  m.group_id = "g";
  m.generation_id = 3;
  m.member_id = "m-1";
  m.group_instance_id = "inst";
  m.retention_time_ms = 1000;
  m.topics = {{"t", {{0, 42, 1, 555, std::string("meta")}, {1, 7, -1, -1, std::nullopt}}}};
  all_versions(ApiKey::kOffsetCommit, m);
  auto v7 = round_trip(m, 7);
  EXPECT_EQ(v7.group_instance_id, "inst");
  EXPECT_EQ(v7.retention_time_ms, -1);                     // v2-v4 only
  EXPECT_EQ(v7.topics[0].partitions[0].commit_timestamp, -1);  // v1 only
  EXPECT_EQ(round_trip(m, 1).topics[0].partitions[0].commit_timestamp, 555);
  EXPECT_EQ(round_trip(m, 2).retention_time_ms, 1000);
  auto v0 = round_trip(m, 0);
  EXPECT_EQ(v0.generation_id, -1);
  EXPECT_EQ(v0.member_id, "");
  EXPECT_EQ(v0.topics[0].partitions[0].committed_offset, 42);
  OffsetCommitResponse r;
  r.throttle_time_ms = 3;
  r.topics = {{"t", {{0, 0}, {1, 22}}}};
  all_versions(ApiKey::kOffsetCommit, r);
  EXPECT_EQ(round_trip(r, 7), r);
}

TEST(KafkaMessages, OffsetFetchAllVersionsIncludingFlexible) {
  OffsetFetchRequest m;
  m.group_id = "g";
  m.topics = std::vector<OffsetFetchRequest::Topic>{{"t", {0, 1, 2}}};
  m.require_stable = true;
  all_versions(ApiKey::kOffsetFetch, m);
  EXPECT_EQ(round_trip(m, 7), m);
  OffsetFetchRequest everything;
  everything.group_id = "g";
  EXPECT_EQ(round_trip(everything, 2).topics, std::nullopt);
  EXPECT_EQ(round_trip(everything, 6).topics, std::nullopt);

  OffsetFetchResponse r;
  r.throttle_time_ms = 1;
  r.topics = {{"t", {{0, 42, 3, std::string("m"), 0}, {1, -1, -1, std::nullopt, 0}}}};
  r.error_code = 0;
  all_versions(ApiKey::kOffsetFetch, r);
  EXPECT_EQ(round_trip(r, 7), r);
}

TEST(KafkaMessages, OffsetFetchV6HandBuilt) {
  // Flexible: compact strings and arrays (length + 1), tagged sections after each structure.
  // group "g", topics [ {"t", [0]} ], require_stable absent (v6).
  std::string in = bytes({2, 'g', 2, 2, 't', 2, 0, 0, 0, 0, 0, 0});
  Reader r(in);
  auto m = OffsetFetchRequest::decode(r, 6);
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  EXPECT_EQ(m->group_id, "g");
  ASSERT_TRUE(m->topics.has_value());
  ASSERT_EQ(m->topics->size(), 1u);
  EXPECT_EQ((*m->topics)[0].name, "t");
  EXPECT_EQ((*m->topics)[0].partition_indexes, std::vector<int32_t>{0});
  EXPECT_TRUE(r.empty());
}

TEST(KafkaMessages, FindCoordinatorAllVersions) {
  FindCoordinatorRequest m{"group-1", 0};
  all_versions(ApiKey::kFindCoordinator, m);
  EXPECT_EQ(round_trip(m, 2), m);
  FindCoordinatorResponse r;
  r.throttle_time_ms = 0;
  r.error_code = 15;
  r.error_message = "not yet";
  r.node_id = 0;
  r.host = "127.0.0.1";
  r.port = 9092;
  all_versions(ApiKey::kFindCoordinator, r);
  EXPECT_EQ(round_trip(r, 2), r);
  EXPECT_EQ(round_trip(r, 0).error_message, std::nullopt);
}

TEST(KafkaMessages, GroupMembershipAllVersions) {
  JoinGroupRequest j;
  j.group_id = "g";
  j.session_timeout_ms = 10000;
  j.rebalance_timeout_ms = 30000;
  j.member_id = "";
  j.group_instance_id = "static-1";
  j.protocol_type = "consumer";
  j.protocols = {{"range", std::string("\x00\x01\x00\x00", 4)}, {"roundrobin", "x"}};
  all_versions(ApiKey::kJoinGroup, j);
  EXPECT_EQ(round_trip(j, 5), j);
  EXPECT_EQ(round_trip(j, 0).rebalance_timeout_ms, -1);
  JoinGroupResponse jr;
  jr.throttle_time_ms = 0;
  jr.error_code = 0;
  jr.generation_id = 1;
  jr.protocol_name = "range";
  jr.leader = "m-1";
  jr.member_id = "m-1";
  jr.members = {{"m-1", std::string("static-1"), "meta1"}, {"m-2", std::nullopt, "meta2"}};
  all_versions(ApiKey::kJoinGroup, jr);
  EXPECT_EQ(round_trip(jr, 5), jr);

  SyncGroupRequest s;
  s.group_id = "g";
  s.generation_id = 1;
  s.member_id = "m-1";
  s.group_instance_id = "static-1";
  s.assignments = {{"m-1", "a1"}, {"m-2", "a2"}};
  all_versions(ApiKey::kSyncGroup, s);
  EXPECT_EQ(round_trip(s, 3), s);
  SyncGroupResponse sr{0, 0, "assignment"};
  all_versions(ApiKey::kSyncGroup, sr);
  EXPECT_EQ(round_trip(sr, 3), sr);

  HeartbeatRequest h{"g", 1, "m-1", std::string("static-1")};
  all_versions(ApiKey::kHeartbeat, h);
  EXPECT_EQ(round_trip(h, 3), h);
  EXPECT_EQ(round_trip(h, 2).group_instance_id, std::nullopt);
  HeartbeatResponse hr{0, 27};
  all_versions(ApiKey::kHeartbeat, hr);
  EXPECT_EQ(round_trip(hr, 3), hr);

  LeaveGroupRequest l;
  l.group_id = "g";
  l.member_id = "m-1";
  l.members = {{"m-1", std::nullopt}, {"m-2", std::string("static-2")}};
  all_versions(ApiKey::kLeaveGroup, l);
  EXPECT_EQ(round_trip(l, 1).member_id, "m-1");
  EXPECT_TRUE(round_trip(l, 1).members.empty());
  EXPECT_EQ(round_trip(l, 3).members, l.members);
  EXPECT_EQ(round_trip(l, 3).member_id, "");
  LeaveGroupResponse lr;
  lr.error_code = 0;
  lr.members = {{"m-1", std::nullopt, 0}};
  all_versions(ApiKey::kLeaveGroup, lr);
  EXPECT_EQ(round_trip(lr, 3), lr);
}

TEST(KafkaMessages, JoinGroupV0HandBuilt) {
  // group "g", session 6000, member "", protocol_type "consumer", [("range", bytes "m")]
  std::string in = bytes({0, 1, 'g', 0, 0, 0x17, 0x70, 0, 0, 0, 8, 'c', 'o', 'n', 's', 'u', 'm', 'e', 'r',
                          0, 0, 0, 1, 0, 5, 'r', 'a', 'n', 'g', 'e', 0, 0, 0, 1, 'm'});
  Reader r(in);
  auto m = JoinGroupRequest::decode(r, 0);
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  EXPECT_EQ(m->session_timeout_ms, 6000);
  EXPECT_EQ(m->member_id, "");
  EXPECT_EQ(m->protocol_type, "consumer");
  ASSERT_EQ(m->protocols.size(), 1u);
  EXPECT_EQ(m->protocols[0].metadata, "m");
  EXPECT_TRUE(r.empty());
}

TEST(KafkaMessages, SaslAllVersions) {
  SaslHandshakeRequest h{"PLAIN"};
  all_versions(ApiKey::kSaslHandshake, h);
  SaslHandshakeResponse hr{0, {"PLAIN"}};
  all_versions(ApiKey::kSaslHandshake, hr);
  EXPECT_EQ(round_trip(hr, 1), hr);
  SaslAuthenticateRequest a{std::string("\0user\0token", 11)};
  all_versions(ApiKey::kSaslAuthenticate, a);
  EXPECT_EQ(round_trip(a, 1), a);
  SaslAuthenticateResponse ar{58, std::string("bad password"), "", 3600000};
  all_versions(ApiKey::kSaslAuthenticate, ar);
  EXPECT_EQ(round_trip(ar, 1), ar);
  EXPECT_EQ(round_trip(ar, 0).session_lifetime_ms, 0);
}

TEST(KafkaMessages, TopicAdminAllVersions) {
  CreateTopicsRequest c;
  CreateTopicsRequest::Topic t;
  t.name = "new";
  t.num_partitions = 4;
  t.replication_factor = 1;
  t.assignments = {{0, {0}}};
  t.configs = {{"retention.ms", std::string("1000")}, {"x", std::nullopt}};
  c.topics = {t};
  c.timeout_ms = 5000;
  c.validate_only = true;
  all_versions(ApiKey::kCreateTopics, c);
  EXPECT_EQ(round_trip(c, 4), c);
  EXPECT_FALSE(round_trip(c, 0).validate_only);
  CreateTopicsResponse cr;
  cr.throttle_time_ms = 0;
  cr.topics = {{"new", 36, std::string("exists")}};
  all_versions(ApiKey::kCreateTopics, cr);
  EXPECT_EQ(round_trip(cr, 4), cr);

  DeleteTopicsRequest d{{"a", "b"}, 1000};
  all_versions(ApiKey::kDeleteTopics, d);
  EXPECT_EQ(round_trip(d, 3), d);
  DeleteTopicsResponse dr;
  dr.responses = {{"a", 0}, {"b", 3}};
  all_versions(ApiKey::kDeleteTopics, dr);
  EXPECT_EQ(round_trip(dr, 3), dr);
}

TEST(KafkaMessages, InitProducerIdAllVersionsIncludingFlexible) {
  InitProducerIdRequest m{std::nullopt, 60000, 1000, 2};
  all_versions(ApiKey::kInitProducerId, m);
  EXPECT_EQ(round_trip(m, 4), m);
  EXPECT_EQ(round_trip(m, 2).producer_id, -1);
  // v2 (flexible): compact nullable string (0 = null), int32, tagged section.
  EXPECT_EQ(encode(m, 2), bytes({0, 0, 0, 0xEA, 0x60, 0}));
  InitProducerIdResponse r{0, 0, 4000, 0};
  all_versions(ApiKey::kInitProducerId, r);
  EXPECT_EQ(round_trip(r, 4), r);
}

}  // namespace
}  // namespace persisting::kafka
