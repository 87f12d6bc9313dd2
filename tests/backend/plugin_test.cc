#include <gtest/gtest.h>

#include "persisting/backend.h"

using namespace persisting;

TEST(PluginTest, LoadsOutOfTreeBackendAndUsesIt) {
  BackendRegistry& reg = BackendRegistry::global();
  ASSERT_TRUE(reg.load_plugin(TEST_PLUGIN_PATH).ok());
  ASSERT_TRUE(reg.contains("vector_plugin"));

  // Options reach the plugin's factory, which validates them.
  auto missing = reg.create("vector_plugin", {}, {});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("'tag' is required"), std::string::npos);
  auto unknown = reg.create("vector_plugin", {}, {{"tag", "x"}, {"colour", "red"}});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("'colour'"), std::string::npos);

  auto b = reg.create("vector_plugin", {}, {{"tag", "t1"}});
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  ASSERT_TRUE((*b)->put(Record{{"id", "a"}, {"n", 1}}).ok());
  ASSERT_TRUE((*b)->put(Record{{"id", "b"}, {"n", 2}}).ok());
  auto got = (*b)->get(Offset(1), 10);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ(*got->decode(0), (Record{{"id", "b"}, {"n", 2}}));
  EXPECT_EQ((*b)->stats().to_object().find("tag")->as_string(), "t1");

  // Loading it again would register the same name twice: a clear error.
  Status again = reg.load_plugin(TEST_PLUGIN_PATH);
  EXPECT_FALSE(again.ok());
  EXPECT_NE(again.message().find("already registered"), std::string::npos);
}

TEST(PluginTest, RefusesLibraryWithoutEntryPoints) {
  Status s = BackendRegistry::global().load_plugin(TEST_PLUGIN_BAD_PATH);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("persisting_plugin_register"), std::string::npos);
}

TEST(PluginTest, RefusesMissingFile) {
  Status s = BackendRegistry::global().load_plugin("/nonexistent/libnothing.so");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("/nonexistent/libnothing.so"), std::string::npos);
}
