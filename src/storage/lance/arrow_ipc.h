// The one Arrow IPC file Lance writes: a deletion file (docs/lance-format.md §10), an Arrow IPC
// *file* ("ARROW1" ... footer ... "ARROW1") holding one record batch of one non-null UInt32
// column, its buffers optionally ZSTD-compressed (Arrow's BodyCompression, BUFFER method).
// Only that shape is read; anything else is Corruption or NotSupported, never a misread. Every
// offset and length is checked against the bytes (fuzz-safe: tests/lance/deletion_test.cc).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "persisting/status.h"

namespace persisting::lance {

// The column's values, in file order. max_values bounds the column's length (an allocation
// bound too); `path` names the file in messages.
Result<std::vector<uint32_t>> read_arrow_uint32_column(std::string_view file, uint64_t max_values,
                                                       const std::string& path);

}  // namespace persisting::lance
