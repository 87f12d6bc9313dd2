// Binary record codec, format version 1: round trips, golden bytes, and corrupt input.
#include "persisting/codec.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

namespace persisting {
namespace {

// "01 02 0a" -> bytes. Spaces are ignored.
std::string unhex(std::string_view hex) {
  std::string out;
  int pending = -1;
  for (char c : hex) {
    if (c == ' ') continue;
    int n = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
    EXPECT_GE(n, 0) << "bad hex digit " << c;
    if (pending < 0) {
      pending = n;
    } else {
      out.push_back(static_cast<char>(pending * 16 + n));
      pending = -1;
    }
  }
  EXPECT_EQ(pending, -1) << "odd number of hex digits";
  return out;
}

std::string tohex(std::string_view bytes) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    if (!out.empty()) out.push_back(' ');
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

uint64_t bits_of(double d) {
  uint64_t b;
  std::memcpy(&b, &d, 8);
  return b;
}

uint32_t bits_of(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

Record round_trip(const Record& r) {
  std::string enc = encode_record(r);
  Result<Record> dec = decode_record(enc);
  EXPECT_TRUE(dec.ok()) << dec.status().to_string();
  return dec.ok() ? *dec : Record{};
}

// Expects decoding to fail with kCorruption; returns the message.
std::string expect_corruption(std::string_view bytes, std::string_view why) {
  Result<Record> r = decode_record(bytes);
  EXPECT_FALSE(r.ok()) << why << ": decoded " << tohex(bytes);
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), Code::kCorruption) << why << ": " << r.status().to_string();
  return r.status().message();
}

// A record with one field "a" holding `levels` nested lists around a null: the record is depth 1,
// so the deepest list is at depth levels + 1.
std::string nested_lists_encoding(int levels) {
  std::string out = unhex("01 01 01 61");
  for (int i = 0; i < levels; ++i) out += unhex("08 01");
  out += unhex("00");
  return out;
}

Record nested_lists_record(int levels) {
  Value v;
  for (int i = 0; i < levels; ++i) v = Value(List{std::move(v)});
  return Record{{"a", std::move(v)}};
}

Record sample_record() {
  return Record{
      {"null", nullptr},
      {"t", true},
      {"f", false},
      {"i", int64_t{-123456789}},
      {"d", 3.25},
      {"s", "héllo"},
      {"b", Bytes{std::string("\x00\x01\xff", 3)}},
      {"v", F32Vector{1.5f, -0.25f}},
      {"l", List{1, "x", List{}, Object{{"k", 2}}}},
      {"o", Object{{"inner", Object{{"deep", List{nullptr}}}}}},
  };
}

TEST(CodecTest, RoundTripsEveryType) {
  Record r = sample_record();
  EXPECT_EQ(round_trip(r), r);
}

TEST(CodecTest, RoundTripsEmptyRecordAndEmptyValues) {
  EXPECT_EQ(round_trip(Record{}), Record{});
  Record empties{{"", ""},
                 {"bytes", Bytes{}},
                 {"vec", F32Vector{}},
                 {"list", List{}},
                 {"obj", Object{}}};
  Record back = round_trip(empties);
  EXPECT_EQ(back, empties);
  ASSERT_TRUE(back.find("")->is_string());
  ASSERT_TRUE(back.find("bytes")->is_bytes());
  ASSERT_TRUE(back.find("vec")->is_vector());
}

TEST(CodecTest, RoundTripsIntegerExtremes) {
  for (int64_t i : {int64_t{0}, int64_t{1}, int64_t{-1}, int64_t{63}, int64_t{-64}, int64_t{64},
                    int64_t{-65}, int64_t{-17}, std::numeric_limits<int64_t>::max(),
                    std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::min() + 1}) {
    Record back = round_trip(Record{{"i", i}});
    ASSERT_TRUE(back.find("i")->is_int()) << i;
    EXPECT_EQ(back.find("i")->as_int(), i);
  }
}

TEST(CodecTest, DoublesAreBitExactIncludingNaNAndInfinity) {
  double quiet_nan_with_payload;
  uint64_t payload = 0x7ff8000000abcdefULL;
  std::memcpy(&quiet_nan_with_payload, &payload, 8);
  for (double d : {0.0, -0.0, 1.0, -1.5, 0.1, std::numeric_limits<double>::denorm_min(),
                   std::numeric_limits<double>::max(), std::numeric_limits<double>::infinity(),
                   -std::numeric_limits<double>::infinity(),
                   std::numeric_limits<double>::quiet_NaN(), quiet_nan_with_payload}) {
    Record back = round_trip(Record{{"d", d}});
    ASSERT_TRUE(back.find("d")->is_double());
    EXPECT_EQ(bits_of(back.find("d")->as_double()), bits_of(d)) << d;
  }
}

TEST(CodecTest, VectorsAreBitExact) {
  F32Vector v{0.0f, -0.0f, std::numeric_limits<float>::quiet_NaN(),
              std::numeric_limits<float>::infinity(), 1e-45f, 3.4e38f};
  Record back = round_trip(Record{{"v", v}});
  const F32Vector& got = back.find("v")->as_vector();
  ASSERT_EQ(got.size(), v.size());
  for (size_t i = 0; i < v.size(); ++i) EXPECT_EQ(bits_of(got[i]), bits_of(v[i])) << i;
}

TEST(CodecTest, RoundTripsLargeValues) {
  F32Vector big(100000);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<float>(i) * 0.5f;
  std::string long_string(1 << 20, 'x');
  for (size_t i = 0; i < long_string.size(); i += 7) long_string[i] = static_cast<char>(i);
  List many;
  for (int i = 0; i < 10000; ++i) many.emplace_back(i);
  Record r{{"vec", big}, {"str", long_string}, {"list", many}};
  EXPECT_EQ(round_trip(r), r);
}

TEST(CodecTest, KeepsFieldOrder) {
  Record r{{"z", 1}, {"a", 2}, {"m", 3}};
  Record back = round_trip(r);
  std::vector<std::string> keys;
  for (const auto& [k, v] : back) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"z", "a", "m"}));
}

// Golden encodings written by hand from the layout at the top of src/core/codec.cc. If one of
// these fails, the on-disk and wire format changed: that needs a new codec version, not a new
// expected string.
TEST(CodecTest, GoldenEncodings) {
  struct Case {
    Record record;
    const char* hex;
  };
  const Case cases[] = {
      {Record{}, "01 00"},
      {Record{{"a", nullptr}}, "01 01 01 61 00"},
      {Record{{"b", true}, {"f", false}}, "01 02 01 62 02 01 66 01"},
      // zigzag(-1) = 1, zigzag(300) = 600 = LEB128 d8 04
      {Record{{"n", -1}}, "01 01 01 6e 03 01"},
      {Record{{"i", 300}}, "01 01 01 69 03 d8 04"},
      {Record{{"x", std::numeric_limits<int64_t>::max()}},
       "01 01 01 78 03 fe ff ff ff ff ff ff ff ff 01"},
      {Record{{"x", std::numeric_limits<int64_t>::min()}},
       "01 01 01 78 03 ff ff ff ff ff ff ff ff ff 01"},
      // 1.0 = 0x3ff0000000000000, little-endian
      {Record{{"d", 1.0}}, "01 01 01 64 04 00 00 00 00 00 00 f0 3f"},
      {Record{{"s", "hi"}}, "01 01 01 73 05 02 68 69"},
      {Record{{"x", Bytes{std::string("\x00\xff", 2)}}}, "01 01 01 78 06 02 00 ff"},
      // 1.0f = 0x3f800000, -2.0f = 0xc0000000
      {Record{{"v", F32Vector{1.0f, -2.0f}}}, "01 01 01 76 07 02 00 00 80 3f 00 00 00 c0"},
      {Record{{"l", List{1, "a"}}, {"o", Object{{"k", nullptr}}}},
       "01 02 01 6c 08 02 03 02 05 01 61 01 6f 09 01 01 6b 00"},
  };
  for (const Case& c : cases) {
    std::string enc = encode_record(c.record);
    EXPECT_EQ(tohex(enc), c.hex);
    Result<Record> dec = decode_record(unhex(c.hex));
    ASSERT_TRUE(dec.ok()) << c.hex << ": " << dec.status().to_string();
    EXPECT_EQ(*dec, c.record) << c.hex;
  }
}

TEST(CodecTest, EncodeAppendsToOutput) {
  std::string out = "prefix";
  encode_record(Record{{"a", nullptr}}, &out);
  EXPECT_EQ(out, "prefix" + unhex("01 01 01 61 00"));
}

TEST(CodecTest, EveryTruncationIsCorruption) {
  std::string enc = encode_record(sample_record());
  for (size_t n = 0; n < enc.size(); ++n) {
    expect_corruption(std::string_view(enc).substr(0, n), "prefix of " + std::to_string(n) + " bytes");
  }
}

TEST(CodecTest, UnknownTagIsCorruption) {
  expect_corruption(unhex("01 01 01 61 0a"), "tag 10");
  expect_corruption(unhex("01 01 01 61 ff"), "tag 255");
  expect_corruption(unhex("01 01 01 61 08 01 0b"), "tag 11 inside a list");
}

TEST(CodecTest, BadVersionIsCorruption) {
  expect_corruption(unhex("00 00"), "version 0");
  std::string m = expect_corruption(unhex("02 00"), "version 2");
  EXPECT_NE(m.find("version 2"), std::string::npos) << m;
  expect_corruption(unhex("ff 00"), "version 255");
}

TEST(CodecTest, TrailingBytesAreCorruption) {
  expect_corruption(unhex("01 00 00"), "one trailing byte");
  std::string two = encode_record(sample_record());
  two += two;
  expect_corruption(two, "two records back to back");
}

TEST(CodecTest, DuplicateFieldIsCorruption) {
  std::string m = expect_corruption(unhex("01 02 01 61 00 01 61 02"), "duplicate top-level field");
  EXPECT_NE(m.find("'a'"), std::string::npos) << m;
  expect_corruption(unhex("01 01 01 6f 09 02 01 6b 00 01 6b 00"), "duplicate nested field");
}

TEST(CodecTest, VarintOverflowIsCorruption) {
  // 10th byte may only carry bit 63.
  expect_corruption(unhex("01 01 01 61 03 ff ff ff ff ff ff ff ff ff 02"), "int over 64 bits");
  expect_corruption(unhex("01 01 01 61 03 ff ff ff ff ff ff ff ff ff ff 01"), "11-byte varint");
  expect_corruption(unhex("01 ff ff ff ff ff ff ff ff ff 7f"), "field count over 64 bits");
  // The largest legal 10-byte varint still decodes.
  Result<Record> ok = decode_record(unhex("01 01 01 61 03 ff ff ff ff ff ff ff ff ff 01"));
  ASSERT_TRUE(ok.ok()) << ok.status().to_string();
  EXPECT_EQ(ok->find("a")->as_int(), std::numeric_limits<int64_t>::min());
}

TEST(CodecTest, LengthPastEndIsCorruption) {
  expect_corruption(unhex("01 01 01 61 05 05 68 69"), "string length 5, 2 bytes present");
  expect_corruption(unhex("01 01 01 61 06 03 00"), "bytes length 3, 1 byte present");
  expect_corruption(unhex("01 01 05 61"), "key length 5, 1 byte present");
  expect_corruption(unhex("01 01 01 61 04 00 00 00"), "double with 3 of 8 bytes");
  expect_corruption(unhex("01 01 01 61 07 02 00 00 80 3f 00"), "vector dim 2, 5 bytes present");
  // Lengths near 2^64 must neither wrap nor allocate.
  std::string huge = "ff ff ff ff ff ff ff ff ff 01";
  expect_corruption(unhex("01 01 01 61 05 " + huge), "string length 2^64-1");
  expect_corruption(unhex("01 01 01 61 07 " + huge), "vector dim 2^64-1");
  expect_corruption(unhex("01 01 01 61 07 ff ff ff ff ff ff ff ff 3f 00"), "vector dim 2^62-ish");
  expect_corruption(unhex("01 01 01 61 08 " + huge), "list count 2^64-1");
  expect_corruption(unhex("01 01 01 61 09 " + huge), "object count 2^64-1");
  expect_corruption(unhex("01 " + huge), "record field count 2^64-1");
}

TEST(CodecTest, EmptyInputIsCorruption) { expect_corruption("", "empty input"); }

TEST(CodecTest, NestingExactlyAtTheLimitDecodes) {
  // record (depth 1) + kMaxNestingDepth - 1 lists = kMaxNestingDepth levels.
  std::string at_limit = nested_lists_encoding(kMaxNestingDepth - 1);
  Result<Record> r = decode_record(at_limit);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(*r, nested_lists_record(kMaxNestingDepth - 1));
  // The encoder writes the same bytes.
  EXPECT_EQ(encode_record(nested_lists_record(kMaxNestingDepth - 1)), at_limit);
}

TEST(CodecTest, NestingPastTheLimitIsCorruption) {
  std::string m = expect_corruption(nested_lists_encoding(kMaxNestingDepth), "one level past the limit");
  EXPECT_NE(m.find(std::to_string(kMaxNestingDepth)), std::string::npos) << m;
  // An empty list one level past the limit is rejected too (as JSON rejects it).
  std::string empty_inner = unhex("01 01 01 61");
  for (int i = 0; i < kMaxNestingDepth - 1; ++i) empty_inner += unhex("08 01");
  empty_inner += unhex("08 00");
  expect_corruption(empty_inner, "empty list one level past the limit");
  // Far deeper input (no stack overflow) is rejected the same way.
  expect_corruption(nested_lists_encoding(100000), "100000 levels");
  // Objects count as levels too: record + 64 objects.
  std::string objects = unhex("01 01 01 61");
  for (int i = 0; i < kMaxNestingDepth; ++i) objects += unhex("09 01 01 61");
  objects += unhex("00");
  expect_corruption(objects, "nested objects past the limit");
}

TEST(CodecTest, CheckRecordDepthAgreesWithTheDecoder) {
  for (int levels : {0, 1, kMaxNestingDepth - 2, kMaxNestingDepth - 1, kMaxNestingDepth,
                     kMaxNestingDepth + 5}) {
    Record r = nested_lists_record(levels);
    bool decodes = decode_record(encode_record(r)).ok();
    EXPECT_EQ(check_record_depth(r).ok(), decodes) << levels << " lists";
    EXPECT_EQ(decodes, levels <= kMaxNestingDepth - 1) << levels << " lists";
  }
  // Objects and an empty innermost container count the same way.
  Value v = Object{};
  for (int i = 0; i < kMaxNestingDepth - 1; ++i) v = Value(Object{{"k", std::move(v)}});
  Record too_deep{{"a", v}};
  EXPECT_FALSE(decode_record(encode_record(too_deep)).ok());
  Status s = check_record_depth(too_deep);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_TRUE(check_record_depth(sample_record()).ok());
}

TEST(CodecTest, CheckRecordDepthNamesTheField) {
  Value deep;
  for (int i = 0; i < kMaxNestingDepth; ++i) deep = Value(List{std::move(deep)});
  Record r{{"ok", List{1, 2}}, {"x", List{0, Object{{"y", std::move(deep)}}}}};
  Status s = check_record_depth(r);
  ASSERT_FALSE(s.ok());
  // x is level 2, x[1] level 3, y level 4, so y[0]...[0] with 61 indexes is level 65.
  std::string path = "x[1].y";
  for (int i = 0; i < kMaxNestingDepth - 3; ++i) path += "[0]";
  EXPECT_EQ(s.message(), "field '" + path + "': nesting deeper than 64 levels");
}

// scan_fields reports, without decoding, what decode_record would give for the top-level fields.
TEST(ScanFieldsTest, AgreesWithTheDecoderOnEveryType) {
  Record r = sample_record();
  std::string enc = encode_record(r);
  std::vector<FieldShape> shapes;
  ASSERT_TRUE(scan_fields(enc, &shapes).ok());
  ASSERT_EQ(shapes.size(), r.size());
  size_t i = 0;
  for (const auto& [name, value] : r) {
    EXPECT_EQ(shapes[i].name, name);
    EXPECT_EQ(shapes[i].type, value.type()) << name;
    EXPECT_EQ(shapes[i].dim, value.is_vector() ? value.as_vector().size() : 0u) << name;
    // The value's own encoding decodes back to it; scalars are read in place.
    auto back = decode_value(shapes[i].value);
    ASSERT_TRUE(back.ok()) << name << ": " << back.status().to_string();
    EXPECT_EQ(*back, value) << name;
    if (value.is_bool()) { EXPECT_EQ(shapes[i].b, value.as_bool()) << name; }
    if (value.is_int()) { EXPECT_EQ(shapes[i].i, value.as_int()) << name; }
    if (value.is_double()) { EXPECT_EQ(shapes[i].d, value.as_double()) << name; }
    if (value.is_string()) { EXPECT_EQ(shapes[i].bytes, value.as_string()) << name; }
    if (value.is_bytes()) { EXPECT_EQ(shapes[i].bytes, value.as_bytes().data) << name; }
    if (value.is_vector()) {
      EXPECT_EQ(shapes[i].bytes, std::string_view(reinterpret_cast<const char*>(value.as_vector().data()),
                                                   value.as_vector().size() * sizeof(float)));
    }
    ++i;
  }
  // The vector on the output is replaced, not appended to.
  const std::string x = encode_record(Record{{"x", 1}});  // the shapes point into it
  ASSERT_TRUE(scan_fields(x, &shapes).ok());
  ASSERT_EQ(shapes.size(), 1u);
  EXPECT_EQ(shapes[0].name, "x");
  EXPECT_EQ(shapes[0].type, Value::Type::kInt);
  ASSERT_TRUE(scan_fields(unhex("01 00"), &shapes).ok());
  EXPECT_TRUE(shapes.empty());
}

TEST(ScanFieldsTest, RefusesWhatTheDecoderRefuses) {
  std::vector<FieldShape> shapes;
  std::string enc = encode_record(sample_record());
  for (size_t n = 0; n < enc.size(); ++n) {
    Status s = scan_fields(std::string_view(enc).substr(0, n), &shapes);
    EXPECT_EQ(s.code(), Code::kCorruption) << "prefix of " << n << " bytes";
  }
  // Every single-byte change: scan_fields fails exactly when the decoder fails and, when both
  // succeed, agrees with it.
  for (size_t at = 0; at < enc.size(); ++at) {
    for (int delta : {1, 0x40, 0x80}) {
      std::string bad = enc;
      bad[at] = static_cast<char>(bad[at] + delta);
      Result<Record> d = decode_record(bad);
      Status s = scan_fields(bad, &shapes);
      if (!d.ok()) {
        EXPECT_EQ(s.code(), Code::kCorruption) << "byte " << at << " +" << delta << ": " << d.status().to_string();
        continue;
      }
      ASSERT_TRUE(s.ok()) << "byte " << at << " +" << delta << ": " << s.to_string();
      ASSERT_EQ(shapes.size(), d->size());
      size_t i = 0;
      for (const auto& [name, value] : *d) {
        EXPECT_EQ(shapes[i].name, name);
        EXPECT_EQ(shapes[i].type, value.type());
        ++i;
      }
    }
  }
  EXPECT_EQ(scan_fields(nested_lists_encoding(kMaxNestingDepth), &shapes).code(), Code::kCorruption);
  EXPECT_TRUE(scan_fields(nested_lists_encoding(kMaxNestingDepth - 1), &shapes).ok());
  EXPECT_EQ(scan_fields(nested_lists_encoding(100000), &shapes).code(), Code::kCorruption);
  EXPECT_EQ(scan_fields(unhex("02 00"), &shapes).code(), Code::kCorruption);
  EXPECT_EQ(scan_fields("", &shapes).code(), Code::kCorruption);
  EXPECT_EQ(scan_fields(unhex("01 02 01 61 00 01 61 02"), &shapes).code(), Code::kCorruption);  // duplicate
  EXPECT_EQ(scan_fields(unhex("01 01 01 6f 09 02 01 6b 00 01 6b 00"), &shapes).code(), Code::kCorruption);
  EXPECT_TRUE(scan_fields(unhex("01 02 01 6f 09 01 01 6b 00 01 6b 00"), &shapes).ok());  // same key, other level
  EXPECT_EQ(decode_value(unhex("03")).status().code(), Code::kCorruption);     // truncated int
  EXPECT_EQ(decode_value(unhex("00 00")).status().code(), Code::kCorruption);  // trailing bytes
}

TEST(RecordBatchTest, AddEncodedAndDecode) {
  RecordBatch b;
  EXPECT_TRUE(b.empty());
  Record r0{{"a", 1}};
  Record r1 = sample_record();
  Record r2{};
  b.add(r0);
  b.add(r1);
  b.add_encoded(encode_record(r2));
  ASSERT_EQ(b.size(), 3u);
  EXPECT_FALSE(b.empty());
  EXPECT_EQ(b.encoded(0), encode_record(r0));
  EXPECT_EQ(b.encoded(1), encode_record(r1));
  EXPECT_EQ(b.encoded(2), encode_record(r2));
  EXPECT_EQ(b.byte_size(), b.encoded(0).size() + b.encoded(1).size() + b.encoded(2).size());
  EXPECT_EQ(b.data(), encode_record(r0) + encode_record(r1) + encode_record(r2));
  EXPECT_EQ(b.ends().back(), b.byte_size());
  Result<Record> one = b.decode(1);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(*one, r1);
  Result<std::vector<Record>> all = b.decode_all();
  ASSERT_TRUE(all.ok()) << all.status().to_string();
  EXPECT_EQ(*all, (std::vector<Record>{r0, r1, r2}));
}

TEST(RecordBatchTest, AppendRebasesOffsets) {
  RecordBatch a, b;
  a.add(Record{{"x", 1}});
  b.add(Record{{"y", "two"}});
  b.add(Record{{"z", 3.0}});
  a.append(b);
  ASSERT_EQ(a.size(), 3u);
  Result<std::vector<Record>> all = a.decode_all();
  ASSERT_TRUE(all.ok()) << all.status().to_string();
  EXPECT_EQ(*all, (std::vector<Record>{Record{{"x", 1}}, Record{{"y", "two"}}, Record{{"z", 3.0}}}));
  RecordBatch empty;
  a.append(empty);
  EXPECT_EQ(a.size(), 3u);
  empty.append(a);
  EXPECT_EQ(empty.data(), a.data());
  EXPECT_EQ(empty.ends(), a.ends());
}

TEST(RecordBatchTest, AppendRangeCopiesASliceAsRecordByRecordWould) {
  RecordBatch src;
  for (int i = 0; i < 7; ++i) src.add(Record{{"i", i}, {"pad", std::string(static_cast<size_t>(i) * 3, 'p')}});
  for (size_t from = 0; from <= 8; ++from) {
    for (size_t n = 0; n <= 9; ++n) {
      RecordBatch got, want;
      got.add(Record{{"first", true}});  // appended after a record already there
      want.add(Record{{"first", true}});
      got.append_range(src, from, n);
      for (size_t k = from; k < std::min<size_t>(from + n, src.size()); ++k) want.add_encoded(src.encoded(k));
      ASSERT_EQ(got.data(), want.data()) << from << "+" << n;
      ASSERT_EQ(got.ends(), want.ends()) << from << "+" << n;
    }
  }
}

TEST(RecordBatchTest, AViewReadsLikeACopyAndCopiesItsBytesInBeforeAChange) {
  RecordBatch src;
  for (int i = 0; i < 4; ++i) src.add(Record{{"i", i}});
  auto bytes = std::make_shared<std::string>(src.data());
  std::vector<uint32_t> sizes;
  for (size_t i = 0; i < src.size(); ++i) sizes.push_back(static_cast<uint32_t>(src.encoded(i).size()));
  RecordBatch v = RecordBatch::view_of(bytes, *bytes, sizes);
  EXPECT_TRUE(v.is_view());
  EXPECT_EQ(v.data().data(), bytes->data());  // no copy
  EXPECT_EQ(v.ends(), src.ends());
  EXPECT_EQ(*v.decode_all(), *src.decode_all());
  RecordBatch copy = v;  // shares the owner
  EXPECT_EQ(bytes.use_count(), 3);
  v.add(Record{{"i", 4}});  // copies the bytes in, then appends
  EXPECT_FALSE(v.is_view());
  EXPECT_EQ(bytes.use_count(), 2);
  ASSERT_EQ(v.size(), 5u);
  EXPECT_EQ(*v.decode(4), (Record{{"i", 4}}));
  EXPECT_EQ(*v.decode(3), (Record{{"i", 3}}));
  bytes.reset();  // the copy keeps the bytes alive on its own
  EXPECT_EQ(*copy.decode_all(), *src.decode_all());
  copy.drop_front(1);
  EXPECT_EQ(*copy.decode(0), (Record{{"i", 1}}));
}

TEST(RecordBatchTest, ClearAndEmptyDecode) {
  RecordBatch b;
  Result<std::vector<Record>> none = b.decode_all();
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  b.reserve(4, 64);
  b.add(Record{{"a", 1}});
  b.clear();
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.byte_size(), 0u);
}

TEST(RecordBatchTest, DecodeAllFailsOnABadRecord) {
  RecordBatch b;
  b.add(Record{{"a", 1}});
  b.add_encoded(unhex("01 01 01 61 0a"));  // unknown tag
  b.add(Record{{"c", 3}});
  Result<std::vector<Record>> all = b.decode_all();
  ASSERT_FALSE(all.ok());
  EXPECT_EQ(all.status().code(), Code::kCorruption);
  EXPECT_TRUE(b.decode(0).ok());
  EXPECT_TRUE(b.decode(2).ok());
}

}  // namespace
}  // namespace persisting
