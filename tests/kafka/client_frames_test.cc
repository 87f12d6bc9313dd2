// Request frames captured from real clients talking to a stand-in broker on loopback
// (data/README.md): librdkafka 2.0.2 (kcat 1.7.1) and kafka-python 2.0.2. Each must decode, and
// its record batches must pass the CRC check and decompress to the messages that were sent.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "kafka/protocol/record_batch.h"
#include "kafka/protocol/request.h"

namespace persisting::kafka {
namespace {

std::string read_file(const std::string& name) {
  std::ifstream in(std::string(KAFKA_TEST_DATA) + "/" + name, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string expected_value(int i) {
  std::string v = "value " + std::to_string(i) + " ";
  for (int k = 0; k < 4; ++k) v += "abcdefgh";
  return v;
}

// The 21 messages both producers sent: key{i} -> "value {i} abcdefgh x4", then one without a key.
void check_records(const std::vector<RecordBatch>& batches, const std::string& file) {
  std::vector<Record> all;
  for (const RecordBatch& b : batches) {
    for (const Record& r : b.records) all.push_back(r);
  }
  ASSERT_EQ(all.size(), 21u) << file;
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(all[i].offset_delta, i) << file;
    EXPECT_EQ(all[i].key, "key" + std::to_string(i)) << file;
    EXPECT_EQ(all[i].value, expected_value(i)) << file;
    ASSERT_FALSE(all[i].headers.empty()) << file;
    EXPECT_EQ(all[i].headers[0].key, "h1") << file;
    EXPECT_EQ(all[i].headers[0].value, "v1") << file;
  }
  EXPECT_FALSE(all[20].key.has_value() && !all[20].key->empty()) << file;
  EXPECT_EQ(all[20].value, "nullkey") << file;
}

void check_produce(const std::string& file, Compression codec) {
  std::string f = read_file(file);
  ASSERT_FALSE(f.empty()) << file;
  auto req = decode_request(f);
  ASSERT_TRUE(req.ok()) << file << ": " << req.status().to_string();
  EXPECT_EQ(req->header.api_key, 0);
  EXPECT_EQ(req->header.api_version, 7);
  const auto& p = std::get<ProduceRequest>(req->body);
  ASSERT_EQ(p.topics.size(), 1u);
  EXPECT_EQ(p.topics[0].name, "t");
  ASSERT_EQ(p.topics[0].partitions.size(), 1u);
  auto batches = decode_record_batches(p.topics[0].partitions[0].records);
  ASSERT_TRUE(batches.ok()) << file << ": " << batches.status().to_string();
  ASSERT_FALSE(batches->empty());
  EXPECT_EQ((*batches)[0].compression(), codec) << file;
  check_records(*batches, file);
}

TEST(KafkaClientFrames, LibrdkafkaProduceEveryCodec) {
  check_produce("librdkafka-produce-v7-none.bin", Compression::kNone);
  check_produce("librdkafka-produce-v7-gzip.bin", Compression::kGzip);
  check_produce("librdkafka-produce-v7-snappy.bin", Compression::kSnappy);  // raw snappy
  check_produce("librdkafka-produce-v7-lz4.bin", Compression::kLz4);
  check_produce("librdkafka-produce-v7-zstd.bin", Compression::kZstd);
}

TEST(KafkaClientFrames, KafkaPythonProduce) {
  check_produce("kafka-python-produce-v7-none.bin", Compression::kNone);
  check_produce("kafka-python-produce-v7-gzip.bin", Compression::kGzip);
}

TEST(KafkaClientFrames, CorruptedCapturedBatchFailsItsCrc) {
  std::string f = read_file("librdkafka-produce-v7-zstd.bin");
  auto req = decode_request(f);
  ASSERT_TRUE(req.ok());
  std::string records = std::get<ProduceRequest>(req->body).topics[0].partitions[0].records;
  records[records.size() - 3] ^= 0x40;
  auto batches = decode_record_batches(records);
  ASSERT_FALSE(batches.ok());
  EXPECT_EQ(batches.status().code(), Code::kCorruption);
}

TEST(KafkaClientFrames, ApiVersionsAndMetadataRequests) {
  auto av = decode_request(read_file("librdkafka-apiversions-v3.bin"));
  ASSERT_TRUE(av.ok()) << av.status().to_string();
  EXPECT_EQ(av->header.client_id, "rdkafka");
  EXPECT_EQ(std::get<ApiVersionsRequest>(av->body).client_software_name, "librdkafka");
  EXPECT_EQ(std::get<ApiVersionsRequest>(av->body).client_software_version, "2.0.2");

  auto md = decode_request(read_file("librdkafka-metadata-v4.bin"));
  ASSERT_TRUE(md.ok()) << md.status().to_string();
  const auto& m = std::get<MetadataRequest>(md->body);
  ASSERT_TRUE(m.topics.has_value());
  EXPECT_EQ(*m.topics, std::vector<std::string>{"t"});

  auto av0 = decode_request(read_file("kafka-python-apiversions-v0.bin"));
  ASSERT_TRUE(av0.ok()) << av0.status().to_string();
  EXPECT_EQ(av0->header.api_version, 0);
  auto md1 = decode_request(read_file("kafka-python-metadata-v1.bin"));
  ASSERT_TRUE(md1.ok()) << md1.status().to_string();
  EXPECT_TRUE(std::holds_alternative<MetadataRequest>(md1->body));
}

}  // namespace
}  // namespace persisting::kafka
