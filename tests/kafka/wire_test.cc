// The primitive types: exact bytes for known values, and every malformed length refused with the
// field named.
#include "kafka/protocol/wire.h"
#include "kafka/bytes.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace persisting::kafka {
namespace {

TEST(KafkaWire, FixedWidthIntegersAreBigEndian) {
  std::string out;
  Writer w(&out);
  w.int8(-2);
  w.int16(0x0102);
  w.int32(-1);
  w.int64(0x0102030405060708LL);
  EXPECT_EQ(out, bytes({0xFE, 0x01, 0x02, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4, 5, 6, 7, 8}));
  Reader r(out);
  EXPECT_EQ(*r.int8("a"), -2);
  EXPECT_EQ(*r.int16("b"), 0x0102);
  EXPECT_EQ(*r.int32("c"), -1);
  EXPECT_EQ(*r.int64("d"), 0x0102030405060708LL);
  EXPECT_TRUE(r.empty());
}

TEST(KafkaWire, UnsignedVarintKnownEncodings) {
  struct Case {
    uint32_t v;
    std::string enc;
  } cases[] = {{0, bytes({0})}, {1, bytes({1})}, {127, bytes({0x7F})}, {128, bytes({0x80, 0x01})},
               {300, bytes({0xAC, 0x02})}, {0xFFFFFFFFu, bytes({0xFF, 0xFF, 0xFF, 0xFF, 0x0F})}};
  for (const auto& c : cases) {
    std::string out;
    Writer(&out).uvarint(c.v);
    EXPECT_EQ(out, c.enc) << c.v;
    EXPECT_EQ(uvarint_size(c.v), c.enc.size());
    Reader r(c.enc);
    EXPECT_EQ(*r.uvarint("n"), c.v);
  }
}

TEST(KafkaWire, ZigzagVarintAndVarlong) {
  // zigzag: 0->0, -1->1, 1->2, -2->3, 2->4
  struct Case {
    int64_t v;
    std::string enc;
  } cases[] = {{0, bytes({0})}, {-1, bytes({1})}, {1, bytes({2})}, {-2, bytes({3})}, {2, bytes({4})},
               {-64, bytes({0x7F})}, {64, bytes({0x80, 0x01})}};
  for (const auto& c : cases) {
    std::string a, b;
    Writer(&a).varint(static_cast<int32_t>(c.v));
    Writer(&b).varlong(c.v);
    EXPECT_EQ(a, c.enc) << c.v;
    EXPECT_EQ(b, c.enc) << c.v;
    EXPECT_EQ(*Reader(a).varint("x"), c.v);
    EXPECT_EQ(*Reader(b).varlong("x"), c.v);
  }
  for (int64_t v : {INT64_MIN, INT64_MAX, int64_t{INT32_MIN}, int64_t{1} << 40}) {
    std::string out;
    Writer(&out).varlong(v);
    EXPECT_EQ(varlong_size(v), out.size());
    EXPECT_EQ(*Reader(out).varlong("x"), v);
  }
  for (int32_t v : {INT32_MIN, INT32_MAX}) {
    std::string out;
    Writer(&out).varint(v);
    EXPECT_EQ(*Reader(out).varint("x"), v);
  }
}

TEST(KafkaWire, OverlongVarintsAreRefused) {
  auto r1 = Reader(bytes({0xFF, 0xFF, 0xFF, 0xFF, 0x1F})).uvarint("count");  // > 32 bits
  ASSERT_FALSE(r1.ok());
  EXPECT_NE(r1.status().message().find("count"), std::string::npos);
  EXPECT_FALSE(Reader(bytes({0x80, 0x80, 0x80, 0x80, 0x80, 0x01})).uvarint("n").ok());
  EXPECT_FALSE(Reader(bytes({0x80})).uvarint("n").ok());  // truncated
  std::string eleven(10, '\x80');
  eleven.push_back(1);
  EXPECT_FALSE(Reader(eleven).varlong("n").ok());
  EXPECT_FALSE(Reader(bytes({0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F})).varlong("n").ok());
}

TEST(KafkaWire, TruncatedReadsNameTheFieldAndDoNotAdvance) {
  const std::string in = bytes({0, 1, 2});  // a Reader views its bytes: keep them alive
  Reader r(in);
  auto v = r.int32("partition_index");
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("partition_index"), std::string::npos);
  EXPECT_EQ(r.position(), 0u);
  EXPECT_EQ(*r.int16("ok"), 1);
}

TEST(KafkaWire, ClassicStringsAndBytes) {
  std::string out;
  Writer w(&out);
  w.string("ab", false);
  w.nullable_string(std::nullopt, false);
  w.bytes("xyz", false);
  w.nullable_bytes(std::nullopt, false);
  EXPECT_EQ(out, bytes({0, 2, 'a', 'b', 0xFF, 0xFF, 0, 0, 0, 3, 'x', 'y', 'z', 0xFF, 0xFF, 0xFF, 0xFF}));
  Reader r(out);
  EXPECT_EQ(*r.string("s", false), "ab");
  EXPECT_EQ(*r.nullable_string("n", false), std::nullopt);
  EXPECT_EQ(*r.bytes("b", false), "xyz");
  EXPECT_EQ(*r.nullable_bytes("nb", false), std::nullopt);
  EXPECT_TRUE(r.empty());
}

TEST(KafkaWire, CompactStringsAndBytes) {
  std::string out;
  Writer w(&out);
  w.string("ab", true);
  w.nullable_string(std::nullopt, true);
  w.string("", true);
  EXPECT_EQ(out, bytes({3, 'a', 'b', 0, 1}));
  Reader r(out);
  EXPECT_EQ(*r.string("s", true), "ab");
  EXPECT_EQ(*r.nullable_string("n", true), std::nullopt);
  EXPECT_EQ(*r.string("e", true), "");
}

TEST(KafkaWire, NullWhereRequiredIsAnError) {
  auto s = Reader(bytes({0xFF, 0xFF})).string("group_id", false);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("group_id"), std::string::npos);
  EXPECT_FALSE(Reader(bytes({0})).string("group_id", true).ok());
  EXPECT_FALSE(Reader(bytes({0xFF, 0xFF, 0xFF, 0xFF})).non_null_array_length("topics", false).ok());
}

TEST(KafkaWire, NegativeAndOversizedLengthsAreRefused) {
  // int16 length -2: negative, not null.
  auto neg = Reader(bytes({0xFF, 0xFE, 'a'})).nullable_string("client_id", false);
  ASSERT_FALSE(neg.ok());
  EXPECT_NE(neg.status().message().find("negative"), std::string::npos);
  // int32 length larger than the input.
  auto big = Reader(bytes({0x7F, 0xFF, 0xFF, 0xFF, 'a'})).bytes("records", false);
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.status().message().find("records"), std::string::npos);
  // Compact length past the end.
  EXPECT_FALSE(Reader(bytes({0x10, 'a'})).string("name", true).ok());
  // Varint-length bytes: -2 refused, past the end refused.
  EXPECT_FALSE(Reader(bytes({3})).varint_bytes("key").ok());
  EXPECT_FALSE(Reader(bytes({0x10, 'a'})).varint_bytes("key").ok());
}

TEST(KafkaWire, ArrayLengthIsCheckedAgainstTheBytesLeft) {
  // 2^31-1 elements announced in 4 bytes: refused before anything is allocated.
  auto huge = Reader(bytes({0x7F, 0xFF, 0xFF, 0xFF})).array_length("topics", false);
  ASSERT_FALSE(huge.ok());
  EXPECT_NE(huge.status().message().find("topics"), std::string::npos);
  EXPECT_FALSE(Reader(bytes({0xFF, 0xFF, 0xFF, 0xFE})).array_length("topics", false).ok());  // -2
  EXPECT_EQ(*Reader(bytes({0xFF, 0xFF, 0xFF, 0xFF})).array_length("topics", false), -1);
  EXPECT_EQ(*Reader(bytes({0})).array_length("topics", true), -1);
  EXPECT_EQ(*Reader(bytes({3, 0, 0})).array_length("topics", true), 2);
  EXPECT_FALSE(Reader(bytes({3, 0, 0})).array_length("topics", true, 2).ok());  // 2 x 2 bytes > 2 left
  // A compact length of 2^32-1 (5-byte varint) with nothing after it.
  EXPECT_FALSE(Reader(bytes({0xFF, 0xFF, 0xFF, 0xFF, 0x0F})).array_length("topics", true).ok());
}

TEST(KafkaWire, TaggedFieldsAreSkipped) {
  // Two tagged fields: tag 0 (2 bytes), tag 5 (1 byte), then an int8.
  std::string in = bytes({2, 0, 2, 'x', 'y', 5, 1, 'z', 42});
  Reader r(in);
  ASSERT_TRUE(r.skip_tagged_fields("t").ok());
  EXPECT_EQ(*r.int8("after"), 42);
  // Out of order tags are refused; a size past the end too.
  EXPECT_FALSE(Reader(bytes({2, 5, 0, 1, 0})).skip_tagged_fields("t").ok());
  EXPECT_FALSE(Reader(bytes({1, 0, 9, 'a'})).skip_tagged_fields("t").ok());
  EXPECT_FALSE(Reader(bytes({100, 0, 0})).skip_tagged_fields("t").ok());
  // Not flexible: nothing is read.
  const std::string seven = bytes({7});
  Reader none(seven);
  ASSERT_TRUE(none.tagged_fields_if(false, "t").ok());
  EXPECT_EQ(none.position(), 0u);
}

TEST(KafkaWire, WriterPatchesAPlaceholder) {
  std::string out;
  Writer w(&out);
  w.int32(0);
  w.raw("abc");
  w.patch_int32(0, static_cast<int32_t>(out.size() - 4));
  EXPECT_EQ(out, bytes({0, 0, 0, 3, 'a', 'b', 'c'}));
}

}  // namespace
}  // namespace persisting::kafka
