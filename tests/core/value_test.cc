#include "persisting/value.h"

#include <gtest/gtest.h>

namespace persisting {
namespace {

TEST(ValueTest, TypesAndAccessors) {
  EXPECT_TRUE(Value().is_null());
  EXPECT_TRUE(Value(nullptr).is_null());
  EXPECT_TRUE(Value(true).is_bool());
  EXPECT_TRUE(Value(7).is_int());  // int widens to int64
  EXPECT_EQ(Value(7).as_int(), 7);
  EXPECT_TRUE(Value(int64_t{1} << 40).is_int());
  EXPECT_TRUE(Value(1.5).is_double());
  EXPECT_TRUE(Value("s").is_string());  // not bool
  EXPECT_TRUE(Value(std::string_view("sv")).is_string());
  EXPECT_EQ(Value(std::string_view("sv")).as_string(), "sv");
  EXPECT_TRUE(Value(Bytes{"b"}).is_bytes());
  EXPECT_TRUE(Value(F32Vector{1.0f}).is_vector());
  EXPECT_TRUE(Value(List{}).is_list());
  EXPECT_TRUE(Value(Object{}).is_object());
}

TEST(ValueTest, TypeNames) {
  EXPECT_EQ(type_name(Value::Type::kNull), "null");
  EXPECT_EQ(type_name(Value::Type::kBool), "bool");
  EXPECT_EQ(type_name(Value::Type::kInt), "int64");
  EXPECT_EQ(type_name(Value::Type::kDouble), "double");
  EXPECT_EQ(type_name(Value::Type::kString), "string");
  EXPECT_EQ(type_name(Value::Type::kBytes), "bytes");
  EXPECT_EQ(type_name(Value::Type::kVector), "vector");
  EXPECT_EQ(type_name(Value::Type::kList), "list");
  EXPECT_EQ(type_name(Value::Type::kObject), "object");
}

TEST(ValueTest, EqualityIsTypeSensitive) {
  EXPECT_NE(Value(1), Value(1.0));
  EXPECT_NE(Value("a"), Value(Bytes{"a"}));
  EXPECT_NE(Value(List{1.0}), Value(F32Vector{1.0f}));
  EXPECT_EQ(Value(List{1, "a"}), Value(List{1, "a"}));
  EXPECT_NE(Value(List{1, "a"}), Value(List{"a", 1}));
}

TEST(ObjectTest, SetFindAndOrder) {
  Object o;
  EXPECT_TRUE(o.empty());
  o.set("b", 1);
  o.set("a", 2);
  o.set("b", 3);  // replaces in place
  ASSERT_EQ(o.size(), 2u);
  EXPECT_EQ(o.begin()->first, "b");
  EXPECT_EQ(*o.find("b"), Value(3));
  EXPECT_TRUE(o.contains("a"));
  EXPECT_FALSE(o.contains("c"));
  EXPECT_EQ(o.find("c"), nullptr);
  *o.find("a") = Value("changed");
  EXPECT_EQ(*o.find("a"), Value("changed"));
}

TEST(ObjectTest, InitializerListKeepsLastDuplicate) {
  Object o{{"k", 1}, {"j", 2}, {"k", 3}};
  ASSERT_EQ(o.size(), 2u);
  EXPECT_EQ(*o.find("k"), Value(3));
  EXPECT_EQ(o.begin()->first, "k");
}

TEST(ObjectTest, EqualityIsOrderSensitive) {
  EXPECT_EQ((Object{{"a", 1}, {"b", 2}}), (Object{{"a", 1}, {"b", 2}}));
  EXPECT_NE((Object{{"a", 1}, {"b", 2}}), (Object{{"b", 2}, {"a", 1}}));
}

TEST(ObjectTest, AppendUncheckedDoesNotDeduplicate) {
  Object o;
  o.append_unchecked("k", 1);
  o.append_unchecked("k", 2);
  EXPECT_EQ(o.size(), 2u);
  EXPECT_EQ(*o.find("k"), Value(1));  // find returns the first
}

}  // namespace
}  // namespace persisting
