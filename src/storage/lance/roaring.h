// A 32-bit Roaring bitmap in the portable serialization (the RoaringFormatSpec shared by CRoaring,
// Java's RoaringBitmap and Rust's roaring crate), as Lance writes a BITMAP deletion file
// (docs/lance-format.md §10). Reading only: array, bitmap and run containers, with and without
// the run-container cookie. Every length is checked against the bytes (fuzz-safe).
//
// Written here rather than taken from Debian's libroaring-dev (CRoaring 0.2.66 in bookworm): that
// version predates CRoaring's validating deserializer, and reading needs only ~100 lines.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "persisting/status.h"

namespace persisting::lance {

// The bitmap's values in ascending order. The whole input must be one bitmap (no trailing
// bytes). max_values bounds the count (an allocation bound); `path` names the file in messages.
Result<std::vector<uint32_t>> read_portable_roaring(std::string_view bytes, uint64_t max_values,
                                                    const std::string& path);

}  // namespace persisting::lance
