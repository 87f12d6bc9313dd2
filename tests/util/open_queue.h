// An embedded Queue on a data dir for a test (2 actor threads); a failed open fails the test.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "persisting/queue.h"

namespace persisting::testing {

inline std::unique_ptr<Queue> open_queue(const std::string& dir) {
  auto q = Queue::open({.data_dir = dir, .threads = 2});
  EXPECT_TRUE(q.ok()) << q.status().to_string();
  return q.ok() ? std::move(q).value() : nullptr;
}

}  // namespace persisting::testing
