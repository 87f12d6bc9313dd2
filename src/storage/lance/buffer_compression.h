// General-purpose compression of one page buffer, as Lance 2.0 describes it with
// Flat.compression{1 scheme} (docs/lance-format.md §8):
//   "zstd": u64 LE uncompressed length, then one zstd frame (a bare frame, starting with the
//           zstd magic, is also read: older Lance writers produced that);
//   "lz4" : u32 LE uncompressed length, then one LZ4 block.
#pragma once

#include <string>
#include <string_view>

#include "persisting/status.h"

namespace persisting::lance {

enum class BufferCompression { kNone, kZstd, kLz4 };

// "none", "zstd" or "lz4"; anything else is InvalidArgument.
Result<BufferCompression> parse_buffer_compression(std::string_view name);
std::string_view buffer_compression_name(BufferCompression c);

std::string compress_buffer(BufferCompression c, std::string_view data);

// Decompresses a buffer stored with `scheme`. Unknown schemes are NotSupported; damaged data is
// Corruption. `where` prefixes the messages.
Result<std::string> decompress_buffer(std::string_view scheme, std::string_view data, const std::string& where);

}  // namespace persisting::lance
