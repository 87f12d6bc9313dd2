#include "storage/wal/wal_format.h"

#include <charconv>
#include <cstdio>

#include "core/crc32c.h"

namespace persisting::wal {

void put_u32(std::string* out, uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
  out->append(b, 4);
}

void put_u64(std::string* out, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
  out->append(b, 8);
}

uint32_t get_u32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

uint64_t get_u64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

std::string segment_file_name(Offset first) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%020llu", static_cast<unsigned long long>(first.value()));
  return std::string(buf) + std::string(kSegmentSuffix);
}

std::optional<Offset> parse_segment_file_name(std::string_view name) {
  if (name.size() != 20 + kSegmentSuffix.size() || !name.ends_with(kSegmentSuffix)) return std::nullopt;
  uint64_t v = 0;
  const char* begin = name.data();
  const char* end = begin + 20;
  for (const char* p = begin; p < end; ++p) {
    if (*p < '0' || *p > '9') return std::nullopt;
  }
  auto [ptr, ec] = std::from_chars(begin, end, v);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return Offset(v);
}

std::string encode_segment_header(Offset first, uint32_t flags) {
  std::string h(kSegmentMagic);
  put_u32(&h, kFormatVersion);
  put_u32(&h, flags);
  put_u64(&h, first.value());
  put_u32(&h, 0);  // reserved
  put_u32(&h, crc32c(h));
  return h;
}

Result<Offset> decode_segment_header(std::string_view b, const std::string& path, uint32_t* flags) {
  if (b.size() < kSegmentHeaderSize) {
    return Corruption("WAL segment '" + path + "': header truncated (" + std::to_string(b.size()) +
                      " of " + std::to_string(kSegmentHeaderSize) + " bytes)");
  }
  if (b.substr(0, 8) != kSegmentMagic) return Corruption("WAL segment '" + path + "': bad magic");
  if (crc32c(b.substr(0, 28)) != get_u32(b.data() + 28)) {
    return Corruption("WAL segment '" + path + "': header CRC mismatch");
  }
  uint32_t version = get_u32(b.data() + 8);
  if (version != kFormatVersion) {
    return NotSupported("WAL segment '" + path + "': format version " + std::to_string(version) +
                        " (this build reads version " + std::to_string(kFormatVersion) + ")");
  }
  const uint32_t f = get_u32(b.data() + 12);
  if ((f & ~kSegmentFlagRecycled) != 0) {
    return NotSupported("WAL segment '" + path + "': unknown header flags " + std::to_string(f));
  }
  if (flags != nullptr) *flags = f;
  return Offset(get_u64(b.data() + 16));
}

uint32_t frame_crc(uint32_t length, std::string_view payload) {
  std::string len;
  put_u32(&len, length);
  return crc32c_extend(crc32c(len), payload);
}

void append_batch_frame(Offset first, std::string_view data, std::span<const uint32_t> ends,
                        std::string* out) {
  const size_t start = out->size();
  const uint32_t length = static_cast<uint32_t>(batch_frame_size(ends.size(), data.size()) - kFrameHeaderSize);
  put_u32(out, length);
  put_u32(out, 0);  // CRC, patched below
  put_u64(out, first.value());
  put_u32(out, static_cast<uint32_t>(ends.size()));
  uint32_t prev = 0;
  for (uint32_t end : ends) {
    put_u32(out, end - prev);
    prev = end;
  }
  out->append(data);
  std::string_view payload(out->data() + start + kFrameHeaderSize, length);
  uint32_t crc = frame_crc(length, payload);
  for (int i = 0; i < 4; ++i) (*out)[start + 4 + i] = static_cast<char>((crc >> (8 * i)) & 0xFF);
}

void start_batch_frame(uint32_t count, std::string* out) {
  out->append(kFrameHeaderSize + 8, '\0');  // length, CRC, first offset: finish_batch_frame
  put_u32(out, count);
}

void finish_batch_frame(Offset first, std::string* frame) {
  const uint32_t length = static_cast<uint32_t>(frame->size() - kFrameHeaderSize);
  auto patch = [&](size_t at, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) (*frame)[at + i] = static_cast<char>((v >> (8 * i)) & 0xFF);
  };
  patch(0, length, 4);
  patch(kFrameHeaderSize, first.value(), 8);
  patch(4, frame_crc(length, std::string_view(*frame).substr(kFrameHeaderSize)), 4);
}

Result<BatchView> decode_batch(std::string_view payload) {
  if (payload.size() < kBatchFixedSize) return Corruption("batch payload shorter than its fixed part");
  BatchView b;
  b.first = Offset(get_u64(payload.data()));
  b.count = get_u32(payload.data() + 8);
  const uint64_t rest = payload.size() - kBatchFixedSize;
  if (b.count == 0) return Corruption("batch holds no records");
  if (static_cast<uint64_t>(b.count) * 4 > rest) return Corruption("batch record count exceeds payload");
  b.lengths = payload.data() + kBatchFixedSize;
  b.records = b.lengths + 4 * static_cast<size_t>(b.count);
  uint64_t sum = 0;
  for (uint32_t i = 0; i < b.count; ++i) sum += get_u32(b.lengths + 4 * static_cast<size_t>(i));
  if (sum != rest - 4 * static_cast<uint64_t>(b.count)) {
    return Corruption("batch record lengths do not add up to the payload size");
  }
  if (b.first.value() > UINT64_MAX - b.count) return Corruption("batch offsets overflow");
  return b;
}

std::string encode_checkpoint(Offset flushed) {
  std::string c(kCheckpointMagic);
  put_u32(&c, kFormatVersion);
  put_u32(&c, 0);
  put_u64(&c, flushed.value());
  put_u32(&c, crc32c(c));
  return c;
}

Result<Offset> decode_checkpoint(std::string_view b, const std::string& path) {
  if (b.size() != kCheckpointSize) {
    return Corruption("WAL checkpoint '" + path + "': size " + std::to_string(b.size()) + ", expected " +
                      std::to_string(kCheckpointSize));
  }
  if (b.substr(0, 8) != kCheckpointMagic) return Corruption("WAL checkpoint '" + path + "': bad magic");
  if (crc32c(b.substr(0, 24)) != get_u32(b.data() + 24)) {
    return Corruption("WAL checkpoint '" + path + "': CRC mismatch");
  }
  uint32_t version = get_u32(b.data() + 8);
  if (version != kFormatVersion) {
    return NotSupported("WAL checkpoint '" + path + "': format version " + std::to_string(version));
  }
  return Offset(get_u64(b.data() + 16));
}

}  // namespace persisting::wal
