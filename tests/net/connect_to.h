// A Client of a node for the cluster tests; a failed connect fails the test.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "persisting/client.h"

namespace persisting::testing {

inline std::unique_ptr<Client> connect_to(const std::string& address) {
  auto c = Client::connect({.server = address});
  EXPECT_TRUE(c.ok()) << c.status().to_string();
  return c.ok() ? std::move(c).value() : nullptr;
}

}  // namespace persisting::testing
