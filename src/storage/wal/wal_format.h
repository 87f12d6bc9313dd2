// Constants and byte-level helpers shared by the WAL writer, reader and checkpoint code.
// The byte layout is specified in docs/wal-format.md (format version 1); keep the two in step.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "persisting/status.h"
#include "persisting/types.h"

namespace persisting::wal {

inline constexpr uint32_t kFormatVersion = 1;

// Segment header: magic[8] "PSTWALSG", u32 version, u32 flags, u64 first offset,
// u32 reserved (0), u32 CRC32C of the 28 bytes before it.
inline constexpr std::string_view kSegmentMagic{"PSTWALSG", 8};
inline constexpr size_t kSegmentHeaderSize = 32;
// Header flag: the bytes after the segment's last record need not continue the log: the file was
// recycled (written over an older segment: old frames, or parts of them, holding offsets below its
// first one) or zero-filled ahead of its appends (zeros, maybe a torn frame over them), or both.
inline constexpr uint32_t kSegmentFlagRecycled = 1;

// Frame: u32 payload length, u32 CRC32C over (the 4 length bytes, then the payload), payload.
inline constexpr size_t kFrameHeaderSize = 8;
// Batch payload: u64 first offset, u32 record count, count x u32 record length, record bytes.
inline constexpr size_t kBatchFixedSize = 12;
// Largest payload a writer produces and a reader accepts.
inline constexpr uint32_t kMaxFramePayload = 256u << 20;

// Checkpoint file: magic[8] "PSTWALCP", u32 version, u32 reserved (0), u64 flushed offset,
// u32 CRC32C of the 24 bytes before it.
inline constexpr std::string_view kCheckpointMagic{"PSTWALCP", 8};
inline constexpr size_t kCheckpointSize = 28;
inline constexpr std::string_view kCheckpointFileName = "CHECKPOINT";

inline constexpr std::string_view kSegmentSuffix = ".wal";
// Suffix of a segment being created (renamed into place once its header is durable).
inline constexpr std::string_view kTempSuffix = ".tmp";
// Suffix given to segments that point_in_time recovery set aside (kept for inspection).
inline constexpr std::string_view kDiscardedSuffix = ".discarded";
// A segment wholly below the checkpoint kept for reuse as the next segment instead of deleted
// (at most one per WAL). Not part of the log; recovery ignores it.
inline constexpr std::string_view kSpareFileName = "spare.free";

// Little-endian fixed-width integers.
void put_u32(std::string* out, uint32_t v);
void put_u64(std::string* out, uint64_t v);
uint32_t get_u32(const char* p);
uint64_t get_u64(const char* p);

// "<20-digit first offset>.wal" and back (nullopt for any other name).
std::string segment_file_name(Offset first);
std::optional<Offset> parse_segment_file_name(std::string_view name);

std::string encode_segment_header(Offset first, uint32_t flags = 0);
// Checks size, magic, CRC, then version and flags (unknown ones are NotSupported). path only
// names the file in errors. *flags (may be null) gets the flags.
Result<Offset> decode_segment_header(std::string_view bytes, const std::string& path, uint32_t* flags = nullptr);

// CRC of a frame: covers the length field and the payload, so a damaged length is detected.
uint32_t frame_crc(uint32_t length, std::string_view payload);

// Size of the frame append_batch_frame writes for `count` records of `bytes` bytes in all.
inline size_t batch_frame_size(size_t count, size_t bytes) {
  return kFrameHeaderSize + kBatchFixedSize + 4 * count + bytes;
}
// A batch frame built in place by its producer (the node log writes its entries straight into
// it, with no RecordBatch in between): start_batch_frame appends the frame header and the fixed
// part with zeros for length, CRC and first offset; the producer appends `count` u32 record
// lengths and the records; finish_batch_frame fills in length, first offset and CRC once the
// WAL has given the frame its offsets.
void start_batch_frame(uint32_t count, std::string* out);
void finish_batch_frame(Offset first, std::string* frame);
// Appends one frame holding a batch laid out as RecordBatch does it: the records back to back in
// data, record i ending at ends[i]. Its first record gets offset first. (Takes the raw layout so
// the format code does not depend on the record codec.)
void append_batch_frame(Offset first, std::string_view data, std::span<const uint32_t> ends,
                        std::string* out);

// A decoded batch payload. The views point into the payload passed to decode_batch.
struct BatchView {
  Offset first;
  uint32_t count = 0;
  const char* lengths = nullptr;  // count x u32
  const char* records = nullptr;  // the record bytes, back to back
};
// Validates the structure of a batch payload (count >= 1, lengths add up exactly).
Result<BatchView> decode_batch(std::string_view payload);
// Calls fn(offset, record) for the first `limit` records of a decoded batch (all of them if the
// batch holds fewer), stopping at the first error fn returns.
template <typename Fn>
Status for_each_record(const BatchView& b, uint64_t limit, Fn&& fn) {
  const char* p = b.records;
  const uint64_t n = limit < b.count ? limit : b.count;
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t len = get_u32(b.lengths + 4 * static_cast<size_t>(i));
    Status s = fn(Offset(b.first.value() + i), std::string_view(p, len));
    if (!s.ok()) return s;
    p += len;
  }
  return Status::OK();
}

std::string encode_checkpoint(Offset flushed);
Result<Offset> decode_checkpoint(std::string_view bytes, const std::string& path);

}  // namespace persisting::wal
