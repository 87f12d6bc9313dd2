// The record content the kill test's child writes and the parent checks: "<tag>-<k>|" followed
// by a padding whose length is derived from the name, so a damaged or misplaced record is caught.
// (Large batches append 8192 '.' to it; the parent accepts exactly that as well.)
#pragma once

#include <string>

namespace persisting::wal::testing {

inline std::string kill_record(const std::string& tag, size_t k) {
  std::string r = tag + "-" + std::to_string(k) + "|";
  unsigned h = 0;
  for (char c : r) h = h * 31 + static_cast<unsigned char>(c);
  r.append(h % 200, static_cast<char>('a' + h % 26));
  return r;
}

}  // namespace persisting::wal::testing
