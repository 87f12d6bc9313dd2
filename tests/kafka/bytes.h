// bytes({0, 3, 0xEE}): a byte string written out by hand, as the protocol guide shows frames.
#pragma once

#include <initializer_list>
#include <string>

namespace persisting::kafka {

inline std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s.push_back(static_cast<char>(c));
  return s;
}

}  // namespace persisting::kafka
