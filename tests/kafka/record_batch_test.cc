// RecordBatch v2: a hand-built batch, encode/decode with every codec, and every malformed field.
#include "kafka/protocol/record_batch.h"

#include <gtest/gtest.h>

#include "core/crc32c.h"
#include "kafka/protocol/wire.h"
#include "kafka/bytes.h"

namespace persisting::kafka {
namespace {

// A one-record batch written byte by byte from the message-format spec: base offset 5, leader
// epoch -1, magic 2, CRC-32C over attributes..end, attributes 0, last offset delta 0, timestamps
// 1000, no producer, count 1; the record: length 8 (zigzag 0x10), attributes 0, timestamp delta
// 0, offset delta 0, key "k" (zigzag length 2), value "v", 0 headers.
std::string hand_built_batch() {
  std::string after_crc = bytes({0, 0,  0, 0, 0, 0,  0, 0, 0, 0, 0, 0, 0x03, 0xE8,  0, 0, 0, 0, 0, 0, 0x03, 0xE8,
                                 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,  0xFF, 0xFF,  0xFF, 0xFF, 0xFF, 0xFF,
                                 0, 0, 0, 1,
                                 0x10, 0, 0, 0, 2, 'k', 2, 'v', 0});
  uint32_t crc = crc32c(after_crc);
  std::string b = bytes({0, 0, 0, 0, 0, 0, 0, 5});
  int32_t batch_length = static_cast<int32_t>(4 + 1 + 4 + after_crc.size());
  b += bytes({0, 0, 0, batch_length});
  b += bytes({0xFF, 0xFF, 0xFF, 0xFF, 2});
  b += bytes({static_cast<int>(crc >> 24), static_cast<int>((crc >> 16) & 0xFF), static_cast<int>((crc >> 8) & 0xFF),
              static_cast<int>(crc & 0xFF)});
  b += after_crc;
  return b;
}

RecordBatch sample_batch(int n) {
  RecordBatch b;
  b.base_offset = 100;
  b.base_timestamp = 1700000000000;
  b.max_timestamp = b.base_timestamp + n - 1;
  b.producer_id = 7;
  b.producer_epoch = 1;
  b.base_sequence = 10;
  for (int i = 0; i < n; ++i) {
    Record r;
    r.offset_delta = i;
    r.timestamp_delta = i;
    if (i % 3 != 0) r.key = "key-" + std::to_string(i);
    if (i % 5 != 4) r.value = "value " + std::to_string(i) + std::string(static_cast<size_t>(i % 40), 'x');
    if (i % 2 == 0) r.headers = {{"h", std::string("v")}, {"null", std::nullopt}};
    b.records.push_back(std::move(r));
  }
  b.last_offset_delta = n - 1;
  return b;
}

TEST(KafkaRecordBatch, DecodesAHandBuiltBatch) {
  std::string in = hand_built_batch();
  ASSERT_EQ(in.size(), kBatchHeaderBytes + 9);
  auto batches = decode_record_batches(in);
  ASSERT_TRUE(batches.ok()) << batches.status().to_string();
  ASSERT_EQ(batches->size(), 1u);
  const RecordBatch& b = (*batches)[0];
  EXPECT_EQ(b.base_offset, 5);
  EXPECT_EQ(b.base_timestamp, 1000);
  EXPECT_EQ(b.producer_id, -1);
  EXPECT_EQ(b.compression(), Compression::kNone);
  ASSERT_EQ(b.records.size(), 1u);
  EXPECT_EQ(b.records[0].key, "k");
  EXPECT_EQ(b.records[0].value, "v");
  EXPECT_TRUE(b.records[0].headers.empty());
  // Our encoder writes the same bytes.
  std::string out;
  ASSERT_TRUE(encode_record_batch(b, &out).ok());
  EXPECT_EQ(out, in);
}

TEST(KafkaRecordBatch, RoundTripEveryCodec) {
  RecordBatch b = sample_batch(200);
  for (Compression c : {Compression::kNone, Compression::kGzip, Compression::kSnappy, Compression::kLz4,
                        Compression::kZstd}) {
    std::string out;
    ASSERT_TRUE(encode_record_batch(b, c, &out).ok());
    auto back = decode_record_batches(out);
    ASSERT_TRUE(back.ok()) << compression_name(c) << ": " << back.status().to_string();
    ASSERT_EQ(back->size(), 1u);
    RecordBatch expected = b;
    expected.attributes = static_cast<int16_t>(c);
    EXPECT_EQ((*back)[0], expected) << compression_name(c);
  }
}

// BatchWriter (a Fetch answer built record by record) writes exactly what encode_record_batch
// writes for the same records, after whatever the output already holds.
TEST(KafkaRecordBatch, BatchWriterMatchesEncode) {
  RecordBatch b = sample_batch(50);
  b.producer_id = -1;
  b.producer_epoch = -1;
  b.base_sequence = -1;
  std::string expected = "prefix";
  ASSERT_TRUE(encode_record_batch(b, Compression::kNone, &expected).ok());
  std::string out = "prefix";
  BatchWriter w(&out, b.base_offset);
  for (const Record& r : b.records) {
    std::optional<std::string_view> key, value;
    if (r.key) key = *r.key;
    if (r.value) value = *r.value;
    w.add(r.timestamp_delta, static_cast<int32_t>(r.offset_delta), key, value, r.headers);
  }
  w.finish(b.last_offset_delta, b.base_timestamp, b.max_timestamp, static_cast<int32_t>(b.records.size()));
  EXPECT_EQ(w.size(), out.size() - 6);
  ASSERT_EQ(out, expected);
  auto back = decode_record_batches(std::string_view(out).substr(6));
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  ASSERT_EQ(back->size(), 1u);
  EXPECT_EQ((*back)[0], b);
}

TEST(KafkaRecordBatch, SeveralBatchesAndSpans) {
  std::string blob;
  RecordBatch a = sample_batch(3);
  RecordBatch b = sample_batch(5);
  b.base_offset = 103;
  ASSERT_TRUE(encode_record_batch(a, &blob).ok());
  size_t first = blob.size();
  ASSERT_TRUE(encode_record_batch(b, Compression::kZstd, &blob).ok());
  auto all = decode_record_batches(blob);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[1].base_offset, 103);
  EXPECT_EQ((*all)[1].last_offset(), 107);
  auto spans = scan_record_batches(blob);
  ASSERT_TRUE(spans.ok());
  ASSERT_EQ(spans->size(), 2u);
  EXPECT_EQ((*spans)[0].start, 0u);
  EXPECT_EQ((*spans)[0].size, first);
  EXPECT_EQ((*spans)[1].base_offset, 103);
  EXPECT_EQ((*spans)[1].last_offset_delta, 4);
  EXPECT_EQ((*spans)[1].record_count, 5);
}

TEST(KafkaRecordBatch, BaseOffsetIsOutsideTheCrc) {
  std::string blob;
  ASSERT_TRUE(encode_record_batch(sample_batch(4), Compression::kLz4, &blob).ok());
  set_base_offset(&blob, 0, 123456789);
  auto back = decode_record_batches(blob);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ((*back)[0].base_offset, 123456789);
}

TEST(KafkaRecordBatch, CrcMismatchIsCorruption) {
  std::string in = hand_built_batch();
  in[in.size() - 2] ^= 0x01;  // flip a bit in the value
  auto r = decode_record_batches(in);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kCorruption);
  EXPECT_NE(r.status().message().find("crc"), std::string::npos);
}

TEST(KafkaRecordBatch, OldMagicIsNotSupported) {
  std::string in = hand_built_batch();
  in[16] = 1;
  auto r = decode_record_batches(in);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kNotSupported);
  EXPECT_FALSE(scan_record_batches(in).ok());
}

TEST(KafkaRecordBatch, EveryTruncationIsRefused) {
  std::string in;
  ASSERT_TRUE(encode_record_batch(sample_batch(10), &in).ok());
  for (size_t n = 1; n < in.size(); ++n) {
    EXPECT_FALSE(decode_record_batches(std::string_view(in).substr(0, n)).ok()) << n;
  }
}

// Rewrites the batch with a new records section and a fresh CRC, to reach the record checks.
std::string with_records(const std::string& batch, int32_t count, const std::string& records) {
  std::string b = batch.substr(0, kBatchHeaderBytes) + records;
  Writer w(&b);
  w.patch_int32(57, count);
  w.patch_int32(8, static_cast<int32_t>(b.size() - kBatchLengthEnd));
  w.patch_int32(17, static_cast<int32_t>(crc32c(std::string_view(b).substr(21))));
  return b;
}

TEST(KafkaRecordBatch, MalformedRecordsAreRefused) {
  std::string good = hand_built_batch();
  std::string rec = bytes({0x10, 0, 0, 0, 2, 'k', 2, 'v', 0});
  ASSERT_TRUE(decode_record_batches(with_records(good, 1, rec)).ok());
  // Count larger than the records present.
  EXPECT_FALSE(decode_record_batches(with_records(good, 2, rec)).ok());
  // A huge count: refused before any allocation.
  auto huge = decode_record_batches(with_records(good, 0x7FFFFFFF, rec));
  ASSERT_FALSE(huge.ok());
  EXPECT_NE(huge.status().message().find("records count"), std::string::npos);
  EXPECT_FALSE(decode_record_batches(with_records(good, -1, rec)).ok());
  // Negative record length.
  EXPECT_FALSE(decode_record_batches(with_records(good, 1, bytes({0x01, 0, 0, 0, 2, 'k', 2, 'v', 0}))).ok());
  // Record length shorter than its fields.
  EXPECT_FALSE(decode_record_batches(with_records(good, 1, bytes({0x0C, 0, 0, 0, 2, 'k', 2, 'v', 0}))).ok());
  // Bytes left inside the record after its headers.
  EXPECT_FALSE(decode_record_batches(with_records(good, 1, bytes({0x12, 0, 0, 0, 2, 'k', 2, 'v', 0, 0}))).ok());
  // A huge header count.
  EXPECT_FALSE(decode_record_batches(with_records(good, 1, bytes({0x10, 0, 0, 0, 2, 'k', 2, 'v', 0x7E}))).ok());
  // A null header key.
  EXPECT_FALSE(
      decode_record_batches(with_records(good, 1, bytes({0x14, 0, 0, 0, 2, 'k', 2, 'v', 2, 1, 1}))).ok());
  // Bytes after the last record.
  EXPECT_FALSE(decode_record_batches(with_records(good, 1, rec + "x")).ok());
  // Batch length shorter than the header, or past the end.
  std::string short_len = good;
  Writer(&short_len).patch_int32(8, 10);
  EXPECT_FALSE(decode_record_batches(short_len).ok());
  std::string long_len = good;
  Writer(&long_len).patch_int32(8, 1000);
  EXPECT_FALSE(decode_record_batches(long_len).ok());
  // Unknown codec 6.
  std::string codec = good;
  codec[22] = 6;
  Writer(&codec).patch_int32(17, static_cast<int32_t>(crc32c(std::string_view(codec).substr(21))));
  EXPECT_FALSE(decode_record_batches(codec).ok());
}

TEST(KafkaRecordBatch, CompressedZipBombIsRefused) {
  RecordBatch b;
  Record r;
  r.value = std::string(8u << 20, 'z');
  b.records.push_back(r);
  std::string out;
  ASSERT_TRUE(encode_record_batch(b, Compression::kGzip, &out).ok());
  EXPECT_LT(out.size(), 1u << 20);
  DecodeLimits small;
  small.max_decompressed_bytes = 1u << 20;
  auto res = decode_record_batches(out, small);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.status().code(), Code::kResourceExhausted);
  EXPECT_TRUE(decode_record_batches(out).ok());  // the default limit (64 MiB) admits it
}

}  // namespace
}  // namespace persisting::kafka
