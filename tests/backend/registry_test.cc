#include <gtest/gtest.h>

#include "persisting/backend.h"

using namespace persisting;

TEST(RegistryTest, MemoryIsBuiltInAndNotDurable) {
  auto& reg = BackendRegistry::global();
  EXPECT_TRUE(reg.contains("memory"));
  auto d = reg.is_durable("memory");
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(*d);
  auto b = reg.create("memory", {}, {});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ((*b)->name(), "memory");
}

TEST(RegistryTest, UnknownBackendListsKnownOnes) {
  auto r = BackendRegistry::global().create("nosuch", {}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_NE(r.status().message().find("'nosuch'"), std::string::npos);
  EXPECT_NE(r.status().message().find("memory"), std::string::npos);
}

TEST(RegistryTest, UnknownOptionIsAnError) {
  auto r = BackendRegistry::global().create("memory", {}, {{"max_size", "10"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("'max_size'"), std::string::npos);
}

TEST(RegistryTest, RegisterRejectsBadAndDuplicateNames) {
  BackendRegistry reg;  // a private registry: the global one stays untouched
  auto factory = [](const BackendContext&, const Options&) -> Result<std::unique_ptr<StorageBackend>> {
    return NotSupported("test factory");
  };
  EXPECT_EQ(reg.register_backend("Bad Name", factory, false).code(), Code::kInvalidArgument);
  EXPECT_EQ(reg.register_backend("", factory, false).code(), Code::kInvalidArgument);
  EXPECT_TRUE(reg.register_backend("mine", factory, true).ok());
  EXPECT_EQ(reg.register_backend("mine", factory, true).code(), Code::kAlreadyExists);
  EXPECT_TRUE(*reg.is_durable("mine"));
  auto created = reg.create("mine", {}, {});
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().code(), Code::kNotSupported);
  EXPECT_EQ(reg.names(), std::vector<std::string>{"mine"});
}
