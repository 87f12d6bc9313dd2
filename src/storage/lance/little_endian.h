// Little-endian integers in byte strings, for the Lance footers, tables and buffers.
// (Persisting builds only for little-endian hosts: x86-64 and arm64.)
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace persisting::lance {

template <typename T>
void put_le(std::string* out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out->append(b, sizeof(T));
}

// The T at byte `pos` of s; the caller checks that s holds pos + sizeof(T) bytes.
template <typename T>
T load_le(std::string_view s, uint64_t pos = 0) {
  T v;
  std::memcpy(&v, s.data() + pos, sizeof(T));
  return v;
}

}  // namespace persisting::lance
