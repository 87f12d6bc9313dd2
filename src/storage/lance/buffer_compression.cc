#include "storage/lance/buffer_compression.h"

#include <lz4.h>
#include <zstd.h>

#include <cstdint>

#include "storage/lance/little_endian.h"

namespace persisting::lance {
namespace {

constexpr uint32_t kZstdMagic = 0xFD2FB528;
constexpr int kZstdLevel = 3;
constexpr uint64_t kMaxBuffer = uint64_t{1} << 32;  // far above any page Persisting writes

Result<std::string> zstd_frame(std::string_view frame, uint64_t expected, const std::string& where) {
  if (expected > kMaxBuffer) return Corruption(where + ": zstd buffer claims " + std::to_string(expected) + " bytes");
  std::string out(expected, '\0');
  const size_t n = ZSTD_decompress(out.data(), out.size(), frame.data(), frame.size());
  if (ZSTD_isError(n)) return Corruption(where + ": zstd: " + ZSTD_getErrorName(n));
  if (n != expected) return Corruption(where + ": zstd buffer holds " + std::to_string(n) + " bytes, expected " + std::to_string(expected));
  return out;
}

}  // namespace

Result<BufferCompression> parse_buffer_compression(std::string_view name) {
  if (name == "none" || name.empty()) return BufferCompression::kNone;
  if (name == "zstd") return BufferCompression::kZstd;
  if (name == "lz4") return BufferCompression::kLz4;
  return InvalidArgument("unknown compression '" + std::string(name) + "' (expected none, zstd or lz4)");
}

std::string_view buffer_compression_name(BufferCompression c) {
  switch (c) {
    case BufferCompression::kZstd: return "zstd";
    case BufferCompression::kLz4: return "lz4";
    case BufferCompression::kNone: break;
  }
  return "none";
}

std::string compress_buffer(BufferCompression c, std::string_view data) {
  std::string out;
  if (c == BufferCompression::kZstd) {
    put_le<uint64_t>(&out, data.size());
    const size_t head = out.size();
    out.resize(head + ZSTD_compressBound(data.size()));
    const size_t n = ZSTD_compress(out.data() + head, out.size() - head, data.data(), data.size(), kZstdLevel);
    out.resize(head + n);  // cannot fail with a compressBound-sized output
  } else if (c == BufferCompression::kLz4) {
    put_le<uint32_t>(&out, static_cast<uint32_t>(data.size()));
    const size_t head = out.size();
    out.resize(head + LZ4_compressBound(static_cast<int>(data.size())));
    const int n = LZ4_compress_default(data.data(), out.data() + head, static_cast<int>(data.size()),
                                       static_cast<int>(out.size() - head));
    out.resize(head + static_cast<size_t>(n));
  } else {
    out.assign(data);
  }
  return out;
}

Result<std::string> decompress_buffer(std::string_view scheme, std::string_view data, const std::string& where) {
  if (scheme == "zstd") {
    if (data.size() >= 4 && load_le<uint32_t>(data) == kZstdMagic) {
      const unsigned long long size = ZSTD_getFrameContentSize(data.data(), data.size());
      if (size == ZSTD_CONTENTSIZE_UNKNOWN || size == ZSTD_CONTENTSIZE_ERROR) {
        return NotSupported(where + ": zstd frame without a content size");
      }
      return zstd_frame(data, size, where);
    }
    if (data.size() < 8) return Corruption(where + ": zstd buffer shorter than its length prefix");
    return zstd_frame(data.substr(8), load_le<uint64_t>(data), where);
  }
  if (scheme == "lz4") {
    if (data.size() < 4) return Corruption(where + ": lz4 buffer shorter than its length prefix");
    const uint32_t size = load_le<uint32_t>(data);
    std::string out(size, '\0');
    const int n = LZ4_decompress_safe(data.data() + 4, out.data(), static_cast<int>(data.size() - 4), static_cast<int>(size));
    if (n < 0 || static_cast<uint32_t>(n) != size) return Corruption(where + ": damaged lz4 buffer");
    return out;
  }
  return NotSupported(where + ": page buffer compressed with '" + std::string(scheme) +
                      "' (only zstd and lz4 are supported)");
}

}  // namespace persisting::lance
