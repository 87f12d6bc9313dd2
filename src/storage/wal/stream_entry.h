// Stream entries: what the node log (node_log.h) stores as the records of its frames. Each entry
// holds one batch of one stream: the stream's name (opaque to the WAL: the persisting backend
// names a bucket), the stream offset of the batch's first record, the batch's append time, and
// the records. Layout (docs/wal-format.md, "The node log"), all integers little-endian:
//
//   u8 type (2) | u8 reserved (0) | u16 name length | name | u64 first offset | u32 count |
//   i64 append time (ms since the Unix epoch) | count x u32 record length | record bytes
//
// Type 1 (written before append times) has no time field; it decodes with time 0 (unknown).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "persisting/status.h"
#include "persisting/types.h"

namespace persisting::wal {

inline constexpr uint8_t kStreamEntryTypeUntimed = 1;
inline constexpr uint8_t kStreamEntryType = 2;
inline constexpr size_t kStreamEntryUntimedFixedSize = 16;  // type, reserved, name length, first, count
inline constexpr size_t kStreamEntryFixedSize = 24;         // ... and the append time
inline constexpr size_t kMaxStreamNameSize = 1024;

// Size of the entry append_stream_entry writes.
inline size_t stream_entry_size(size_t name, size_t count, size_t bytes) {
  return kStreamEntryFixedSize + name + 4 * count + bytes;
}
// Appends one entry (type 2) for the records laid out as RecordBatch does it (record i ends at
// ends[i]), appended at time_ms.
void append_stream_entry(std::string_view stream, Offset first, int64_t time_ms, std::string_view data,
                         std::span<const uint32_t> ends, std::string* out);

// A decoded entry; the views point into the bytes given to decode_stream_entry.
struct StreamEntryView {
  std::string_view stream;
  Offset first;
  uint32_t count = 0;
  int64_t time_ms = 0;  // every record's append time (0: a type 1 entry, unknown)
  const char* lengths = nullptr;  // count x u32
  const char* records = nullptr;
};
// Checks the structure (type 1 or 2, name length 1..kMaxStreamNameSize, count >= 1, lengths add up
// exactly, offsets do not overflow): Corruption otherwise.
Result<StreamEntryView> decode_stream_entry(std::string_view bytes);

}  // namespace persisting::wal
