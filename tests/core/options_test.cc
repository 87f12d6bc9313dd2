#include "persisting/options.h"

#include <gtest/gtest.h>

#include <limits>

namespace persisting {
namespace {

bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(OptionReaderTest, DefaultsWhenAbsent) {
  Options none;
  OptionReader r(none, "backend 'memory'");
  EXPECT_EQ(*r.get_string("s", "dflt"), "dflt");
  EXPECT_EQ(*r.get_int("i", 7, 0, 10), 7);
  EXPECT_EQ(*r.get_double("d", 0.5, 0, 1), 0.5);
  EXPECT_EQ(*r.get_bool("b", true), true);
  EXPECT_EQ(*r.get_bytes("n", 4096), 4096u);
  EXPECT_EQ(*r.get_choice("c", "os", {"os", "always"}), "os");
  EXPECT_TRUE(r.finish().ok());
}

TEST(OptionReaderTest, IntegersAndRanges) {
  Options o{{"a", "5"}, {"b", "-3"}, {"lo", "-1"}, {"hi", "11"}, {"junk", "5x"}, {"empty", ""},
            {"huge", "99999999999999999999"}, {"frac", "1.5"}};
  OptionReader r(o, "backend 'x'");
  EXPECT_EQ(*r.get_int("a", 0, 0, 10), 5);
  EXPECT_EQ(*r.get_int("b", 0, -10, 10), -3);
  EXPECT_EQ(*r.get_int("a", 0, 5, 5), 5);  // bounds are inclusive
  for (const char* key : {"lo", "hi", "junk", "empty", "huge", "frac"}) {
    Result<int64_t> v = r.get_int(key, 0, 0, 10);
    ASSERT_FALSE(v.ok()) << key;
    EXPECT_EQ(v.status().code(), Code::kInvalidArgument);
    EXPECT_TRUE(contains(v.status().message(), std::string("'") + key + "'")) << v.status().message();
    EXPECT_TRUE(contains(v.status().message(), "backend 'x'")) << v.status().message();
    EXPECT_TRUE(contains(v.status().message(), "[0, 10]")) << v.status().message();
  }
  Options extreme{{"max", "9223372036854775807"}, {"min", "-9223372036854775808"}};
  OptionReader e(extreme, "t");
  int64_t kMax = std::numeric_limits<int64_t>::max(), kMin = std::numeric_limits<int64_t>::min();
  EXPECT_EQ(*e.get_int("max", 0, kMin, kMax), kMax);
  EXPECT_EQ(*e.get_int("min", 0, kMin, kMax), kMin);
}

TEST(OptionReaderTest, Doubles) {
  Options o{{"d", "0.25"}, {"e", "1e-3"}, {"out", "2"}, {"nan", "nan"}, {"bad", "0.5s"}, {"empty", ""}};
  OptionReader r(o, "t");
  EXPECT_EQ(*r.get_double("d", 0, 0, 1), 0.25);
  EXPECT_EQ(*r.get_double("e", 0, 0, 1), 0.001);
  for (const char* key : {"out", "nan", "bad", "empty"}) {
    Result<double> v = r.get_double(key, 0, 0, 1);
    ASSERT_FALSE(v.ok()) << key;
    EXPECT_EQ(v.status().code(), Code::kInvalidArgument);
    EXPECT_TRUE(contains(v.status().message(), std::string("'") + key + "'"));
  }
}

TEST(OptionReaderTest, Bools) {
  Options o{{"t1", "true"}, {"t2", "1"}, {"t3", "yes"}, {"t4", "on"},
            {"f1", "false"}, {"f2", "0"}, {"f3", "no"}, {"f4", "off"},
            {"bad", "TRUE"}, {"bad2", "2"}};
  OptionReader r(o, "t");
  for (const char* key : {"t1", "t2", "t3", "t4"}) EXPECT_TRUE(*r.get_bool(key, false)) << key;
  for (const char* key : {"f1", "f2", "f3", "f4"}) EXPECT_FALSE(*r.get_bool(key, true)) << key;
  EXPECT_FALSE(r.get_bool("bad", false).ok());
  EXPECT_FALSE(r.get_bool("bad2", false).ok());
  EXPECT_TRUE(r.finish().ok());
}

TEST(OptionReaderTest, ByteSizesWithSuffixes) {
  Options o{{"plain", "1048576"}, {"k", "512K"}, {"k2", "2k"}, {"m", "100M"}, {"m2", "3m"},
            {"g", "2G"}, {"g2", "1g"}, {"zero", "0"}, {"max", "18446744073709551615"}};
  OptionReader r(o, "t");
  EXPECT_EQ(*r.get_bytes("plain", 0), 1048576u);
  EXPECT_EQ(*r.get_bytes("k", 0), 512u * 1024);
  EXPECT_EQ(*r.get_bytes("k2", 0), 2048u);
  EXPECT_EQ(*r.get_bytes("m", 0), 100u * 1024 * 1024);
  EXPECT_EQ(*r.get_bytes("m2", 0), 3u * 1024 * 1024);
  EXPECT_EQ(*r.get_bytes("g", 0), 2ULL * 1024 * 1024 * 1024);
  EXPECT_EQ(*r.get_bytes("g2", 0), 1ULL << 30);
  EXPECT_EQ(*r.get_bytes("zero", 7), 0u);
  EXPECT_EQ(*r.get_bytes("max", 0), std::numeric_limits<uint64_t>::max());
}

TEST(OptionReaderTest, BadByteSizes) {
  Options o{{"neg", "-1"}, {"blank_neg", " -1"}, {"plus", "+5"}, {"space", " 5"},
            {"suffix", "10X"}, {"kb", "10KB"}, {"frac", "1.5G"}, {"alone", "M"}, {"empty", ""},
            {"overflow", "18446744073709551616"}, {"overflow_g", "17179869184G"}};
  OptionReader r(o, "backend 'lance'");
  for (const auto& [key, value] : o) {
    Result<uint64_t> v = r.get_bytes(key, 0);
    ASSERT_FALSE(v.ok()) << key << " = '" << value << "' gave " << *v;
    EXPECT_EQ(v.status().code(), Code::kInvalidArgument);
    EXPECT_TRUE(contains(v.status().message(), "'" + key + "'")) << v.status().message();
    EXPECT_TRUE(contains(v.status().message(), "'" + value + "'")) << v.status().message();
  }
}

TEST(OptionReaderTest, Choices) {
  Options o{{"mode", "always"}, {"bad", "sometimes"}};
  OptionReader r(o, "t");
  EXPECT_EQ(*r.get_choice("mode", "os", {"always", "interval", "os"}), "always");
  Result<std::string> bad = r.get_choice("bad", "os", {"always", "interval", "os"});
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(contains(bad.status().message(), "sometimes")) << bad.status().message();
  EXPECT_TRUE(contains(bad.status().message(), "always interval os")) << bad.status().message();
}

TEST(OptionReaderTest, FinishNamesEveryUnknownKey) {
  Options o{{"known", "1"}, {"typo_one", "x"}, {"typo_two", "y"}};
  OptionReader r(o, "backend 'memory'");
  EXPECT_EQ(*r.get_string("known", ""), "1");
  Status s = r.finish();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_TRUE(contains(s.message(), "backend 'memory'")) << s.message();
  EXPECT_TRUE(contains(s.message(), "'typo_one'")) << s.message();
  EXPECT_TRUE(contains(s.message(), "'typo_two'")) << s.message();
  EXPECT_FALSE(contains(s.message(), "'known'")) << s.message();
}

TEST(OptionReaderTest, AKeyWithABadValueCountsAsTaken) {
  Options o{{"n", "abc"}};
  OptionReader r(o, "t");
  EXPECT_FALSE(r.get_int("n", 0, 0, 1).ok());
  EXPECT_TRUE(r.finish().ok());
}

TEST(ParseOptionAssignmentTest, SplitsAtTheFirstEquals) {
  auto kv = parse_option_assignment("wal_sync_mode=always");
  ASSERT_TRUE(kv.ok());
  EXPECT_EQ(kv->first, "wal_sync_mode");
  EXPECT_EQ(kv->second, "always");
  kv = parse_option_assignment("a=b=c");
  ASSERT_TRUE(kv.ok());
  EXPECT_EQ(kv->first, "a");
  EXPECT_EQ(kv->second, "b=c");
  kv = parse_option_assignment("empty=");
  ASSERT_TRUE(kv.ok());
  EXPECT_EQ(kv->second, "");
}

TEST(ParseOptionAssignmentTest, RejectsMissingKeyOrEquals) {
  for (const char* text : {"novalue", "=v", ""}) {
    auto kv = parse_option_assignment(text);
    ASSERT_FALSE(kv.ok()) << text;
    EXPECT_EQ(kv.status().code(), Code::kInvalidArgument);
    EXPECT_TRUE(contains(kv.status().message(), std::string("'") + text + "'"));
  }
}

}  // namespace
}  // namespace persisting
