// RecordBatch v2 (magic 2), the only record format this broker accepts and serves.
//
// Layout (big-endian): baseOffset int64, batchLength int32, partitionLeaderEpoch int32, magic int8,
// crc uint32 (CRC-32C of everything after it), attributes int16, lastOffsetDelta int32,
// baseTimestamp int64, maxTimestamp int64, producerId int64, producerEpoch int16, baseSequence
// int32, records count int32, then the records (compressed as one block when attributes say so).
// Each record: length varint, attributes int8, timestampDelta varlong, offsetDelta varint,
// key (varint length, -1 null), value (likewise), headers count varint, each header key/value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kafka/protocol/compression.h"
#include "persisting/status.h"

namespace persisting::kafka {

struct RecordHeader {
  std::string key;
  std::optional<std::string> value;
  bool operator==(const RecordHeader&) const = default;
};

struct Record {
  int64_t offset_delta = 0;
  int64_t timestamp_delta = 0;
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<RecordHeader> headers;
  bool operator==(const Record&) const = default;
};

// Attribute bits.
inline constexpr int16_t kCompressionMask = 0x07;
inline constexpr int16_t kTimestampTypeLogAppend = 0x08;  // 0 = CreateTime
inline constexpr int16_t kTransactionalBit = 0x10;
inline constexpr int16_t kControlBit = 0x20;

// Size of the fixed batch header, baseOffset through records count.
inline constexpr size_t kBatchHeaderBytes = 61;
// Offset of batchLength's end: batchLength counts the bytes after this point.
inline constexpr size_t kBatchLengthEnd = 12;

struct RecordBatch {
  int64_t base_offset = 0;
  int32_t partition_leader_epoch = -1;
  int16_t attributes = 0;
  int32_t last_offset_delta = 0;
  int64_t base_timestamp = 0;
  int64_t max_timestamp = 0;
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  int32_t base_sequence = -1;
  std::vector<Record> records;

  Compression compression() const { return static_cast<Compression>(attributes & kCompressionMask); }
  bool is_transactional() const { return (attributes & kTransactionalBit) != 0; }
  bool is_control() const { return (attributes & kControlBit) != 0; }
  bool log_append_time() const { return (attributes & kTimestampTypeLogAppend) != 0; }
  // base_offset + last_offset_delta.
  int64_t last_offset() const { return base_offset + last_offset_delta; }
  bool operator==(const RecordBatch&) const = default;
};

struct DecodeLimits {
  // The most decompressed bytes one batch may expand to.
  size_t max_decompressed_bytes = 64u << 20;
};

// Decodes every batch of a Produce's records blob (the whole blob must be whole batches): checks
// magic 2, the CRC-32C, the batch length, decompresses, and decodes the records. Errors name the
// batch index and the field.
Result<std::vector<RecordBatch>> decode_record_batches(std::string_view bytes,
                                                       const DecodeLimits& limits = {});
// One batch from the front of `bytes`; *consumed gets its total size.
Result<RecordBatch> decode_record_batch(std::string_view bytes, size_t* consumed,
                                        const DecodeLimits& limits = {});

// Appends one encoded batch to *out. The compression argument replaces the low bits of
// batch.attributes; the CRC is computed. last_offset_delta is written as given (callers set it to
// the last record's offset_delta). Fails only if the compressor does (then *out is unchanged).
Status encode_record_batch(const RecordBatch& batch, Compression compression, std::string* out);
inline Status encode_record_batch(const RecordBatch& batch, std::string* out) {
  return encode_record_batch(batch, batch.compression(), out);
}

// Writes one uncompressed batch in place at the end of *out a record at a time, without building
// Records (a Fetch answer). The header is reserved at construction and filled by finish(), which
// also computes the CRC; out must not be touched by others in between.
class BatchWriter {
 public:
  BatchWriter(std::string* out, int64_t base_offset);
  void add(int64_t timestamp_delta, int32_t offset_delta, std::optional<std::string_view> key,
           std::optional<std::string_view> value, const std::vector<RecordHeader>& headers);
  // Bytes written so far, header included.
  size_t size() const { return out_->size() - start_; }
  void finish(int32_t last_offset_delta, int64_t base_timestamp, int64_t max_timestamp, int32_t count);

 private:
  std::string* out_;
  size_t start_;
  int64_t base_offset_;
  std::string body_;
};

// Rewrites the baseOffset of the batch that starts at `batch` (>= 12 bytes). The CRC does not
// cover it, so a broker can assign offsets without re-encoding.
void set_base_offset(std::string* bytes, size_t batch_start, int64_t base_offset);

// What a Fetch path needs without decoding: each batch's span in a blob of whole batches.
struct BatchSpan {
  size_t start = 0;
  size_t size = 0;
  int64_t base_offset = 0;
  int32_t last_offset_delta = 0;
  int32_t record_count = 0;
};
// Walks the headers only (magic checked, no CRC, no decompression). Stops with an error at a
// truncated or malformed header.
Result<std::vector<BatchSpan>> scan_record_batches(std::string_view bytes);

}  // namespace persisting::kafka
