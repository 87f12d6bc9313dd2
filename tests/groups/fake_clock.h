// A clock the groups tests move by hand (no sleeping).
#pragma once

#include <chrono>

#include "groups/group_types.h"

namespace persisting::testing {

struct FakeClock {
  std::chrono::steady_clock::time_point now = std::chrono::steady_clock::time_point() + std::chrono::hours(1);
  groups::Clock fn() {
    return [this] { return now; };
  }
  void advance(std::chrono::milliseconds d) { now += d; }
};

}  // namespace persisting::testing
