#include "storage/wal/stream_entry.h"

#include "storage/wal/wal_format.h"

namespace persisting::wal {

void append_stream_entry(std::string_view stream, Offset first, int64_t time_ms, std::string_view data,
                         std::span<const uint32_t> ends, std::string* out) {
  out->reserve(out->size() + stream_entry_size(stream.size(), ends.size(), data.size()));
  out->push_back(static_cast<char>(kStreamEntryType));
  out->push_back(0);
  out->push_back(static_cast<char>(stream.size() & 0xFF));
  out->push_back(static_cast<char>((stream.size() >> 8) & 0xFF));
  out->append(stream);
  put_u64(out, first.value());
  put_u32(out, static_cast<uint32_t>(ends.size()));
  put_u64(out, static_cast<uint64_t>(time_ms));
  uint32_t prev = 0;
  for (uint32_t end : ends) {
    put_u32(out, end - prev);
    prev = end;
  }
  out->append(data);
}

Result<StreamEntryView> decode_stream_entry(std::string_view b) {
  if (b.size() < kStreamEntryUntimedFixedSize) return Corruption("stream entry shorter than its fixed part");
  const auto type = static_cast<uint8_t>(b[0]);
  if ((type != kStreamEntryType && type != kStreamEntryTypeUntimed) || b[1] != 0)
    return Corruption("stream entry of unknown type " + std::to_string(type));
  const size_t fixed = type == kStreamEntryType ? kStreamEntryFixedSize : kStreamEntryUntimedFixedSize;
  if (b.size() < fixed) return Corruption("stream entry shorter than its fixed part");
  const size_t name = static_cast<uint8_t>(b[2]) | (static_cast<size_t>(static_cast<uint8_t>(b[3])) << 8);
  if (name == 0 || name > kMaxStreamNameSize) return Corruption("stream entry name length " + std::to_string(name));
  if (b.size() < fixed + name) return Corruption("stream entry shorter than its name");
  StreamEntryView e;
  e.stream = b.substr(4, name);
  const char* p = b.data() + 4 + name;
  e.first = Offset(get_u64(p));
  e.count = get_u32(p + 8);
  if (type == kStreamEntryType) e.time_ms = static_cast<int64_t>(get_u64(p + 12));
  const uint64_t rest = b.size() - fixed - name;
  if (e.count == 0) return Corruption("stream entry holds no records");
  if (static_cast<uint64_t>(e.count) * 4 > rest) return Corruption("stream entry record count exceeds its size");
  e.lengths = p + (fixed - 4);
  e.records = e.lengths + 4 * static_cast<size_t>(e.count);
  uint64_t sum = 0;
  for (uint32_t i = 0; i < e.count; ++i) sum += get_u32(e.lengths + 4 * static_cast<size_t>(i));
  if (sum != rest - 4 * static_cast<uint64_t>(e.count))
    return Corruption("stream entry record lengths do not add up to its size");
  if (e.first.value() > UINT64_MAX - e.count) return Corruption("stream entry offsets overflow");
  return e;
}

}  // namespace persisting::wal
