// The bucket hash is part of the on-disk and wire contract (docs/hashing.md).
#include "core/hash.h"

#include <gtest/gtest.h>

#include <limits>
#include <vector>

namespace persisting {
namespace {

// Golden values: FNV-1a 64 + splitmix64 finaliser, cross-checked against an independent
// implementation when written. A failure here means the bucket of existing data would move.
TEST(HashTest, StableHash64GoldenValues) {
  EXPECT_EQ(stable_hash64(""), 0xf52a15e9a9b5e89bULL);
  EXPECT_EQ(stable_hash64("a"), 0x02c0bdbf481420f8ULL);
  EXPECT_EQ(stable_hash64("hello"), 0x16fe05a1c75bcd0fULL);
  EXPECT_EQ(stable_hash64("user-42"), 0x7a1596f0e94b5793ULL);
  EXPECT_EQ(stable_hash64("-17"), 0x9a189213f5c85f84ULL);
  EXPECT_EQ(stable_hash64("true"), 0x3c9b864ad65c522eULL);
  EXPECT_EQ(stable_hash64("1.5"), 0x72c3da1e057cc5c3ULL);
}

TEST(HashTest, HashesAllBytesIncludingNul) {
  EXPECT_NE(stable_hash64(std::string_view("a\0b", 3)), stable_hash64("a"));
  EXPECT_NE(stable_hash64(std::string_view("\0", 1)), stable_hash64(""));
  EXPECT_NE(stable_hash64("ab"), stable_hash64("ba"));
}

std::string key_of(const Value& v) {
  Result<std::string> r = bucket_key_bytes(v);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return r.ok() ? *r : "<error>";
}

TEST(HashTest, BucketKeyBytesPerType) {
  EXPECT_EQ(key_of(Value(-17)), "-17");
  EXPECT_EQ(key_of(Value(0)), "0");
  EXPECT_EQ(key_of(Value(std::numeric_limits<int64_t>::min())), "-9223372036854775808");
  EXPECT_EQ(key_of(Value(true)), "true");
  EXPECT_EQ(key_of(Value(false)), "false");
  EXPECT_EQ(key_of(Value(1.5)), "1.5");
  EXPECT_EQ(key_of(Value(0.1)), "0.1");
  EXPECT_EQ(key_of(Value(1.0)), "1");  // shortest round-trip text: same key as the int 1
  EXPECT_EQ(key_of(Value(-0.0)), "-0");
  EXPECT_EQ(key_of(Value(1e21)), "1e+21");
  EXPECT_EQ(key_of(Value("user-42")), "user-42");
  EXPECT_EQ(key_of(Value("")), "");
  EXPECT_EQ(key_of(Value(Bytes{std::string("\x00\xff", 2)})), std::string("\x00\xff", 2));
  // The string "-17" and the int -17 share a bucket by design.
  EXPECT_EQ(key_of(Value("-17")), key_of(Value(-17)));
}

TEST(HashTest, BucketKeyBytesRejectsNonScalars) {
  for (const Value& v : {Value(), Value(List{1}), Value(Object{{"a", 1}}), Value(F32Vector{1.0f})}) {
    Result<std::string> r = bucket_key_bytes(v);
    ASSERT_FALSE(r.ok()) << type_name(v.type());
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_NE(r.status().message().find(std::string(type_name(v.type()))), std::string::npos)
        << r.status().message();
  }
}

TEST(HashTest, BucketForKeyIsHashModuloBuckets) {
  EXPECT_EQ(bucket_for_key("a", 4), 0u);
  EXPECT_EQ(bucket_for_key("hello", 4), 3u);
  EXPECT_EQ(bucket_for_key("true", 4), 2u);
  for (const char* k : {"", "a", "hello", "user-42"}) {
    EXPECT_EQ(bucket_for_key(k, 1), 0u);
    for (uint32_t n : {2u, 3u, 7u, 16u, 1000u}) {
      EXPECT_EQ(bucket_for_key(k, n), stable_hash64(k) % n) << k << " " << n;
    }
  }
}

void expect_even_spread(uint32_t buckets, double min_share, double max_share) {
  const int kKeys = 10000;
  std::vector<int> counts(buckets, 0);
  for (int i = 0; i < kKeys; ++i) ++counts[bucket_for_key("key-" + std::to_string(i), buckets)];
  for (uint32_t b = 0; b < buckets; ++b) {
    double share = static_cast<double>(counts[b]) / kKeys;
    EXPECT_GE(share, min_share) << "bucket " << b << " of " << buckets;
    EXPECT_LE(share, max_share) << "bucket " << b << " of " << buckets;
  }
}

TEST(HashTest, BucketsSpreadEvenly) {
  expect_even_spread(4, 0.15, 0.35);        // expected 25%
  expect_even_spread(16, 0.0625 * 0.6, 0.0625 * 1.4);
}

TEST(HashTest, SequentialIntegerKeysSpreadEvenly) {
  const int kKeys = 10000;
  std::vector<int> counts(4, 0);
  for (int i = 0; i < kKeys; ++i) ++counts[bucket_for_key(key_of(Value(i)), 4)];
  for (int c : counts) {
    EXPECT_GE(c, kKeys * 15 / 100);
    EXPECT_LE(c, kKeys * 35 / 100);
  }
}

}  // namespace
}  // namespace persisting
