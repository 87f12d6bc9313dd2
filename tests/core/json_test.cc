// JSON in and out: types, the number/NaN/duplicate/depth policies, error positions, $binary.
#include "persisting/json.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "persisting/codec.h"

namespace persisting {
namespace {

Value parse_ok(std::string_view text) {
  Result<Value> r = parse_json(text);
  EXPECT_TRUE(r.ok()) << text << ": " << r.status().to_string();
  return r.ok() ? *r : Value();
}

// Parses text, expects kInvalidArgument and returns the message.
std::string parse_error(std::string_view text) {
  Result<Value> r = parse_json(text);
  EXPECT_FALSE(r.ok()) << text << " parsed";
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << text << ": " << r.status().to_string();
  return r.status().message();
}

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

// {"a":[[...[1]...]]}: the record plus `lists` nested arrays.
std::string nested_json(int lists) {
  return "{\"a\":" + std::string(static_cast<size_t>(lists), '[') + "1" +
         std::string(static_cast<size_t>(lists), ']') + "}";
}

TEST(JsonParseTest, EveryType) {
  Value v = parse_ok(R"({"n":null,"t":true,"f":false,"i":-42,"d":2.5,"s":"x","l":[1,"y",[]],"o":{"k":{}}})");
  ASSERT_TRUE(v.is_object());
  const Object& o = v.as_object();
  EXPECT_TRUE(o.find("n")->is_null());
  EXPECT_EQ(*o.find("t"), Value(true));
  EXPECT_EQ(*o.find("f"), Value(false));
  EXPECT_EQ(*o.find("i"), Value(-42));
  EXPECT_EQ(*o.find("d"), Value(2.5));
  EXPECT_EQ(*o.find("s"), Value("x"));
  EXPECT_EQ(*o.find("l"), Value(List{1, "y", List{}}));
  EXPECT_EQ(*o.find("o"), Value(Object{{"k", Object{}}}));
  // Top-level scalars and arrays are values too.
  EXPECT_EQ(parse_ok("7"), Value(7));
  EXPECT_EQ(parse_ok(" \"s\" "), Value("s"));
  EXPECT_EQ(parse_ok("[null]"), Value(List{nullptr}));
}

TEST(JsonParseTest, KeepsKeyOrder) {
  Value v = parse_ok(R"({"z":1,"a":2,"m":3})");
  std::vector<std::string> keys;
  for (const auto& [k, e] : v.as_object()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"z", "a", "m"}));
}

TEST(JsonParseTest, IntegersBecomeInt64AndFractionsOrExponentsDouble) {
  EXPECT_TRUE(parse_ok("0").is_int());
  EXPECT_EQ(parse_ok("9223372036854775807"), Value(std::numeric_limits<int64_t>::max()));
  EXPECT_EQ(parse_ok("-9223372036854775808"), Value(std::numeric_limits<int64_t>::min()));
  Value one_point_zero = parse_ok("1.0");
  ASSERT_TRUE(one_point_zero.is_double());
  EXPECT_EQ(one_point_zero.as_double(), 1.0);
  Value exp = parse_ok("1e3");
  ASSERT_TRUE(exp.is_double());
  EXPECT_EQ(exp.as_double(), 1000.0);
  EXPECT_TRUE(parse_ok("-2.5E-3").is_double());
  EXPECT_TRUE(parse_ok("1e30").is_double());
}

TEST(JsonParseTest, IntegerOutsideInt64IsAnError) {
  for (const char* text : {R"({"a":9223372036854775808})", R"({"a":18446744073709551615})",
                           R"({"a":18446744073709551616})", R"({"a":-9223372036854775809})",
                           R"({"a":1000000000000000000000000000000})", "[1,2,99999999999999999999]"}) {
    std::string m = parse_error(text);
    EXPECT_TRUE(contains(m, "int64")) << text << ": " << m;
    EXPECT_TRUE(contains(m, "byte")) << text << ": " << m;
  }
  // The position is that of the offending number, not of an earlier equal-looking string.
  std::string m = parse_error(R"({"s":"9223372036854775808","a":9223372036854775808})");
  EXPECT_TRUE(contains(m, "at byte 31")) << m;
  m = parse_error(R"({"a":1, "b":1000000000000000000000000000000})");
  EXPECT_TRUE(contains(m, "1000000000000000000000000000000 at byte 12")) << m;
}

TEST(JsonParseTest, NumberOutsideDoubleRangeIsAnError) {
  std::string m = parse_error(R"({"a":1e400})");
  EXPECT_TRUE(contains(m, "double")) << m;
  EXPECT_TRUE(contains(m, "at byte 5")) << m;
}

TEST(JsonParseTest, NaNAndInfinityAreRejected) {
  for (const char* text : {R"({"a":NaN})", R"({"a":Infinity})", R"({"a":-Infinity})", "NaN",
                           "[Infinity]", R"({"a":nan})", R"({"a":inf})"}) {
    parse_error(text);
  }
  EXPECT_TRUE(contains(parse_error(R"({"a":NaN})"), "NaN and Infinity")) << parse_error(R"({"a":NaN})");
  EXPECT_TRUE(contains(parse_error(R"({"a":-Infinity})"), "NaN and Infinity"));
}

TEST(JsonParseTest, DuplicateKeyIsAnErrorNamingTheKey) {
  std::string m = parse_error(R"({"name":1,"other":2,"name":3})");
  EXPECT_TRUE(contains(m, "duplicate")) << m;
  EXPECT_TRUE(contains(m, "\"name\"")) << m;
  EXPECT_TRUE(contains(m, "at byte 20")) << m;  // the second "name", not the first
  m = parse_error(R"({"o":{"k":1,"k":2}})");
  EXPECT_TRUE(contains(m, "\"k\"")) << m;
  EXPECT_TRUE(contains(m, "at byte 12")) << m;
  // Keys that are equal only after unescaping are duplicates too; the message names the key.
  m = parse_error(R"({"\u0061":1,"a":2,"c":1,"c":2})");
  EXPECT_TRUE(contains(m, "\"a\"")) << m;
  EXPECT_FALSE(contains(m, "byte")) << m;  // no position rather than that of the later "c"
  // The same key in different objects is fine.
  EXPECT_TRUE(parse_json(R"({"k":{"k":1},"l":[{"k":1},{"k":2}]})").ok());
}

TEST(JsonParseTest, SyntaxErrorsNameTheBytePosition) {
  std::string m = parse_error(R"({"a":1,})");
  EXPECT_TRUE(contains(m, "at byte 7")) << m;
  m = parse_error(R"({"a" 1})");
  EXPECT_TRUE(contains(m, "at byte 5")) << m;
  m = parse_error("{\"a\":1,\n \"b\":}");
  EXPECT_TRUE(contains(m, "line 2")) << m;
  for (const char* text : {"{", "[1,2", "{\"a\":tru}", "\"unterminated", "{} {}", "{'a':1}"}) {
    m = parse_error(text);
    EXPECT_TRUE(contains(m, "byte")) << text << ": " << m;
  }
}

TEST(JsonParseTest, EmptyInputIsAnError) {
  EXPECT_TRUE(contains(parse_error(""), "empty"));
  EXPECT_TRUE(contains(parse_error("  \n"), "empty"));
}

TEST(JsonParseTest, InvalidUtf8IsAnError) { parse_error("\"\xff\xfe\""); }

TEST(JsonParseTest, NestingLimitMatchesTheBinaryCodec) {
  // The record is depth 1: kMaxNestingDepth - 1 arrays inside it is exactly the limit.
  Result<Value> at_limit = parse_json(nested_json(kMaxNestingDepth - 1));
  ASSERT_TRUE(at_limit.ok()) << at_limit.status().to_string();
  std::string m = parse_error(nested_json(kMaxNestingDepth));
  EXPECT_TRUE(contains(m, "nesting")) << m;
  EXPECT_TRUE(contains(m, std::to_string(kMaxNestingDepth))) << m;
  // Whatever JSON accepts, the binary codec decodes (and the reverse at the boundary).
  Record deepest = at_limit->as_object();
  Result<Record> back = decode_record(encode_record(deepest));
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(*back, deepest);
  // An empty innermost container is a level too (simdjson alone would not count it).
  std::string empty_inner = "{\"a\":" + std::string(kMaxNestingDepth, '[') +
                            std::string(kMaxNestingDepth, ']') + "}";
  m = parse_error(empty_inner);
  EXPECT_TRUE(contains(m, "nesting")) << m;
  parse_error("{\"a\":" + std::string(kMaxNestingDepth - 1, '[') + "{}" +
              std::string(kMaxNestingDepth - 1, ']') + "}");
  // A bare array counts its own level the same way.
  EXPECT_TRUE(parse_json(std::string(kMaxNestingDepth, '[') + std::string(kMaxNestingDepth, ']')).ok());
  parse_error(std::string(kMaxNestingDepth + 1, '[') + std::string(kMaxNestingDepth + 1, ']'));
}

TEST(JsonParseTest, NestingLimitHoldsAfterALargeDocument) {
  // Growing the parser's buffer for a big input must not lift the depth limit.
  std::string big = "[\"" + std::string(1 << 20, 'x') + "\"]";
  EXPECT_TRUE(parse_json(big).ok());
  parse_error(nested_json(kMaxNestingDepth));
  EXPECT_TRUE(parse_json(nested_json(kMaxNestingDepth - 1)).ok());
}

TEST(JsonParseTest, ParseJsonRecordRejectsNonObjects) {
  Result<Record> ok = parse_json_record(R"({"a":1})");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, (Record{{"a", 1}}));
  for (const char* text : {"[1]", "1", "\"s\"", "null", "true", R"({"$binary":"AA=="})"}) {
    Result<Record> r = parse_json_record(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_TRUE(contains(r.status().message(), "object")) << r.status().message();
  }
  EXPECT_EQ(parse_json_record("[1]").status().message(), "a record must be a JSON object, got list");
}

TEST(JsonBinaryTest, BytesRoundTripAtEdgeLengths) {
  const std::pair<std::string, const char*> cases[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {std::string("\x00\xff\xfe", 3), "AP/+"},
  };
  for (const auto& [raw, b64] : cases) {
    std::string json = to_json(Value(Bytes{raw}));
    EXPECT_EQ(json, std::string("{\"$binary\":\"") + b64 + "\"}");
    Value back = parse_ok(json);
    ASSERT_TRUE(back.is_bytes()) << json;
    EXPECT_EQ(back.as_bytes().data, raw);
  }
}

TEST(JsonBinaryTest, InvalidBase64IsAnError) {
  for (const char* b64 : {"Zg=", "Z", "Zm9", "Zg=a", "Z===", "====", "Zm9v!A==", "Zg==Zg==", "Zm 9"}) {
    std::string text = std::string(R"({"$binary":")") + b64 + "\"}";
    std::string m = parse_error(text);
    EXPECT_TRUE(contains(m, "$binary")) << text << ": " << m;
  }
}

TEST(JsonBinaryTest, OnlyTheExactOneKeyStringFormIsBytes) {
  EXPECT_TRUE(parse_ok(R"({"$binary":"Zg==","x":1})").is_object());
  EXPECT_TRUE(parse_ok(R"({"$binary":1})").is_object());
  EXPECT_TRUE(parse_ok(R"({"binary":"Zg=="})").is_object());
  EXPECT_TRUE(parse_ok(R"([{"$binary":"Zg=="}])").as_list()[0].is_bytes());
}

TEST(JsonOutputTest, RoundTripsJsonRepresentableValues) {
  Record r{{"n", nullptr},
           {"t", true},
           {"f", false},
           {"i", std::numeric_limits<int64_t>::min()},
           {"j", std::numeric_limits<int64_t>::max()},
           {"d", 0.1},
           {"one", 1.0},
           {"neg", -2.0},
           {"big", 1e300},
           {"tiny", 5e-324},
           {"e21", 1e21},
           {"s", "quote\" backslash\\ nl\n tab\t ctrl\x01\x1f del\x7f é 中 🎉"},
           {"empty", ""},
           {"b", Bytes{std::string("\x00\x01", 2)}},
           {"l", List{1, 2.5, "x", List{}, Object{}}},
           {"o", Object{{"nested", Object{{"k", List{nullptr, true}}}}}}};
  std::string json = to_json(r);
  Result<Record> back = parse_json_record(json);
  ASSERT_TRUE(back.ok()) << json << ": " << back.status().to_string();
  EXPECT_EQ(*back, r) << json;
  EXPECT_EQ(to_json(*back), json);
}

TEST(JsonOutputTest, DoublesKeepTheirType) {
  EXPECT_EQ(to_json(Value(1.0)), "1.0");
  EXPECT_EQ(to_json(Value(-3.0)), "-3.0");
  EXPECT_EQ(to_json(Value(0.5)), "0.5");
  EXPECT_EQ(to_json(Value(1)), "1");
  Value back = parse_ok(to_json(Value(1.0)));
  ASSERT_TRUE(back.is_double());
  EXPECT_EQ(back.as_double(), 1.0);
  Value negzero = parse_ok(to_json(Value(-0.0)));
  ASSERT_TRUE(negzero.is_double());
  EXPECT_TRUE(std::signbit(negzero.as_double()));
  Value big = parse_ok(to_json(Value(1e21)));
  ASSERT_TRUE(big.is_double());
  EXPECT_EQ(big.as_double(), 1e21);
}

TEST(JsonOutputTest, NonFiniteDoublesPrintNull) {
  EXPECT_EQ(to_json(Value(std::numeric_limits<double>::quiet_NaN())), "null");
  EXPECT_EQ(to_json(Value(std::numeric_limits<double>::infinity())), "null");
  EXPECT_EQ(to_json(Value(-std::numeric_limits<double>::infinity())), "null");
  EXPECT_EQ(to_json(Value(F32Vector{1.0f, std::numeric_limits<float>::quiet_NaN()})), "[1,null]");
}

TEST(JsonOutputTest, VectorsPrintAsArraysAndReadBackAsLists) {
  std::string json = to_json(Value(F32Vector{0.5f, -2.0f, 0.25f}));
  EXPECT_EQ(json, "[0.5,-2,0.25]");
  EXPECT_EQ(parse_ok(json), Value(List{0.5, -2, 0.25}));
  EXPECT_EQ(to_json(Value(F32Vector{})), "[]");
}

TEST(JsonOutputTest, StringEscaping) {
  EXPECT_EQ(to_json(Value("a\"b")), R"("a\"b")");
  EXPECT_EQ(to_json(Value("a\\b")), R"("a\\b")");
  EXPECT_EQ(to_json(Value("\n\r\t\b\f")), R"("\n\r\t\b\f")");
  EXPECT_EQ(to_json(Value(std::string("\x00\x01\x1f", 3))), R"("\u0000\u0001\u001f")");
  EXPECT_EQ(to_json(Value("é中🎉")), "\"é中🎉\"");  // UTF-8 passes through unescaped
  EXPECT_EQ(to_json(Value("/")), "\"/\"");
  EXPECT_EQ(to_json(Record{{"k\"ey", 1}}), R"({"k\"ey":1})");
  // Escapes in input decode to the same bytes.
  EXPECT_EQ(parse_ok(R"("\u00e9\ud83c\udf89\/\u0000")"), Value(std::string("é🎉/\0", 8)));
}

TEST(JsonOutputTest, RecordAndValueFormsAgree) {
  Record r{{"a", 1}, {"b", List{}}};
  EXPECT_EQ(to_json(r), R"({"a":1,"b":[]})");
  EXPECT_EQ(to_json(Value(r)), to_json(r));
  std::string out = "x";
  to_json(Value(true), &out);
  EXPECT_EQ(out, "xtrue");
  EXPECT_EQ(to_json(Record{}), "{}");
}

}  // namespace
}  // namespace persisting
