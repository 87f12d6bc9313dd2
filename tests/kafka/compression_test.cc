// The codecs: round trips, the framings each client emits, corrupt input, and a bound on output.
#include "kafka/protocol/compression.h"

#include <gtest/gtest.h>
#include <snappy.h>

#include <string>

namespace persisting::kafka {
namespace {

constexpr Compression kCodecs[] = {Compression::kGzip, Compression::kSnappy, Compression::kLz4, Compression::kZstd};

std::string sample(size_t n) {
  std::string s;
  for (size_t i = 0; s.size() < n; ++i) s += "record " + std::to_string(i % 97) + " payload;";
  s.resize(n);
  return s;
}

TEST(KafkaCompression, RoundTripEveryCodec) {
  for (Compression c : kCodecs) {
    for (size_t n : {size_t{1}, size_t{1000}, size_t{200000}}) {
      std::string in = sample(n);
      std::string packed;
      ASSERT_TRUE(compress(c, in, &packed).ok()) << compression_name(c);
      if (n >= 1000) {
        EXPECT_LT(packed.size(), in.size()) << compression_name(c);
      }
      std::string out = "prefix";
      ASSERT_TRUE(decompress(c, packed, 1 << 20, &out).ok()) << compression_name(c);
      EXPECT_EQ(out, "prefix" + in) << compression_name(c) << " " << n;
    }
  }
}

TEST(KafkaCompression, SnappyWritesXerialFraming) {
  std::string packed;
  ASSERT_TRUE(compress(Compression::kSnappy, sample(100000), &packed).ok());
  ASSERT_GE(packed.size(), 16u);
  EXPECT_EQ(packed.substr(0, 8), std::string("\x82SNAPPY\0", 8));
}

TEST(KafkaCompression, SnappyReadsRawAndHandBuiltXerial) {
  std::string in = sample(70000);
  // Raw snappy: what librdkafka sends.
  std::string raw;
  snappy::Compress(in.data(), in.size(), &raw);
  std::string out;
  ASSERT_TRUE(decompress(Compression::kSnappy, raw, 1 << 20, &out).ok());
  EXPECT_EQ(out, in);
  // Xerial: magic, version 1, compatible 1, then (int32 length, raw block) per 32 KiB chunk.
  std::string x("\x82SNAPPY\0\0\0\0\1\0\0\0\1", 16);
  for (size_t pos = 0; pos < in.size(); pos += 32768) {
    std::string block;
    std::string chunk = in.substr(pos, 32768);
    snappy::Compress(chunk.data(), chunk.size(), &block);
    uint32_t n = static_cast<uint32_t>(block.size());
    x.push_back(static_cast<char>(n >> 24));
    x.push_back(static_cast<char>(n >> 16));
    x.push_back(static_cast<char>(n >> 8));
    x.push_back(static_cast<char>(n));
    x += block;
  }
  out.clear();
  ASSERT_TRUE(decompress(Compression::kSnappy, x, 1 << 20, &out).ok());
  EXPECT_EQ(out, in);
  // A xerial block length past the end.
  std::string bad = x.substr(0, 16) + std::string("\x7F\0\0\0", 4) + "abc";
  out.clear();
  EXPECT_FALSE(decompress(Compression::kSnappy, bad, 1 << 20, &out).ok());
  EXPECT_TRUE(out.empty());
}

TEST(KafkaCompression, CorruptAndTruncatedInputIsAnError) {
  std::string in = sample(50000);
  for (Compression c : kCodecs) {
    std::string packed;
    ASSERT_TRUE(compress(c, in, &packed).ok());
    std::string out;
    Status st = decompress(c, std::string_view(packed).substr(0, packed.size() / 2), 1 << 20, &out);
    EXPECT_FALSE(st.ok()) << compression_name(c) << " truncated";
    EXPECT_TRUE(out.empty()) << compression_name(c);  // nothing appended on error
    out.clear();
    EXPECT_FALSE(decompress(c, "this is not compressed data at all", 1 << 20, &out).ok()) << compression_name(c);
    EXPECT_FALSE(decompress(c, "", 1 << 20, &out).ok()) << compression_name(c) << " empty";
  }
}

TEST(KafkaCompression, ZipBombStopsAtTheLimit) {
  std::string zeros(16u << 20, '\0');
  for (Compression c : kCodecs) {
    std::string packed;
    ASSERT_TRUE(compress(c, zeros, &packed).ok());
    EXPECT_LT(packed.size(), 1u << 20) << compression_name(c);
    std::string out;
    Status st = decompress(c, packed, 1u << 20, &out);
    ASSERT_FALSE(st.ok()) << compression_name(c);
    EXPECT_EQ(st.code(), Code::kResourceExhausted) << compression_name(c);
    EXPECT_TRUE(out.empty());
  }
}

TEST(KafkaCompression, AttributesSelectTheCodec) {
  EXPECT_EQ(*compression_from_attributes(0x0000), Compression::kNone);
  EXPECT_EQ(*compression_from_attributes(0x0012), Compression::kSnappy);  // transactional + snappy
  EXPECT_EQ(*compression_from_attributes(0x0004), Compression::kZstd);
  EXPECT_FALSE(compression_from_attributes(0x0005).ok());
  EXPECT_FALSE(compression_from_attributes(0x0007).ok());
}

}  // namespace
}  // namespace persisting::kafka
