// The record content the kill test's child writes and the parent checks: "<tag>-<k>|" followed
// by a padding whose length is derived from the name, so a damaged or misplaced record is caught.
// (Large batches append 8192 '.' to it; the parent accepts exactly that as well.)
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <string>

namespace persisting::wal::testing {

inline std::string kill_record(const std::string& tag, size_t k) {
  std::string r = tag + "-" + std::to_string(k) + "|";
  unsigned h = 0;
  for (char c : r) h = h * 31 + static_cast<unsigned char>(c);
  r.append(h % 200, static_cast<char>('a' + h % 26));
  return r;
}

// A kill child's report line to stdout. One write() per line: under PIPE_BUF bytes, so lines
// from threads never interleave. Exits at once when stdout is gone.
inline void say(const std::string& line) {
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(STDOUT_FILENO, p, left);
    if (n <= 0) std::_Exit(3);
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace persisting::wal::testing
