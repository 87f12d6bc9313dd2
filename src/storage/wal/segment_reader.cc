#include "storage/wal/segment_reader.h"

#include <algorithm>

#include "core/status_macros.h"
#include "storage/wal/wal_format.h"

namespace persisting::wal {
namespace {
constexpr size_t kReadChunk = 1 << 20;
}

SegmentReader::SegmentReader(const RandomAccessFile* file, std::string path)
    : file_(file), path_(std::move(path)), size_(file->size()) {}

Status SegmentReader::fill(uint64_t pos, size_t n) {
  if (pos >= buf_start_ && pos + n <= buf_start_ + buf_.size()) return Status::OK();
  uint64_t want = std::max<uint64_t>(n, kReadChunk);
  want = std::min<uint64_t>(want, size_ > pos ? size_ - pos : 0);
  buf_start_ = pos;
  return file_->read(pos, static_cast<size_t>(want), &buf_);
}

Result<Offset> SegmentReader::read_header() {
  RETURN_IF_ERROR(fill(0, kSegmentHeaderSize));
  std::string_view b(buf_.data(), std::min(buf_.size(), kSegmentHeaderSize));
  ASSIGN_OR_RETURN(Offset first, decode_segment_header(b, path_, &flags_));
  pos_ = kSegmentHeaderSize;
  return first;
}

Status SegmentReader::next(Item* item) {
  item->position = pos_;
  item->payload = {};
  item->reason.clear();
  const uint64_t left = size_ - pos_;
  if (left == 0) {
    item->kind = Kind::kEnd;
    return Status::OK();
  }
  if (left < kFrameHeaderSize) {
    item->kind = Kind::kIncomplete;
    item->reason = std::to_string(left) + " bytes after the last frame, less than a frame header";
    return Status::OK();
  }
  RETURN_IF_ERROR(fill(pos_, kFrameHeaderSize));
  const char* h = buf_.data() + (pos_ - buf_start_);
  const uint32_t length = get_u32(h);
  const uint32_t crc = get_u32(h + 4);
  if (length < kBatchFixedSize || length > kMaxFramePayload) {
    item->kind = Kind::kBad;
    item->reason = "frame length " + std::to_string(length) + " out of bounds";
    return Status::OK();
  }
  if (kFrameHeaderSize + static_cast<uint64_t>(length) > left) {
    item->kind = Kind::kIncomplete;
    item->reason = "frame of " + std::to_string(length) + " bytes runs past the end of the segment";
    return Status::OK();
  }
  RETURN_IF_ERROR(fill(pos_, kFrameHeaderSize + length));
  std::string_view payload(buf_.data() + (pos_ - buf_start_) + kFrameHeaderSize, length);
  if (frame_crc(length, payload) != crc) {
    item->kind = Kind::kBad;
    item->reason = "frame CRC mismatch";
    return Status::OK();
  }
  item->kind = Kind::kFrame;
  item->payload = payload;
  pos_ += kFrameHeaderSize + length;
  return Status::OK();
}

Result<bool> SegmentReader::valid_frame_follows(uint64_t from, Offset lo) const {
  if (from >= size_) return false;
  std::string rest;
  RETURN_IF_ERROR(file_->read(from, static_cast<size_t>(size_ - from), &rest));
  const uint64_t n = rest.size();
  const uint64_t min_frame = kFrameHeaderSize + kBatchFixedSize + 4;
  // Bytes we are willing to checksum while scanning. Ordinary damage costs a few frames' worth;
  // only a file crafted to pass the cheap filters everywhere runs out, and then we answer "yes"
  // (the safe answer: it keeps the bytes instead of cutting them off as a torn tail).
  uint64_t budget = 16 * n + (1 << 20);
  for (uint64_t p = 1; p + min_frame <= n; ++p) {
    const char* h = rest.data() + p;
    const uint32_t length = get_u32(h);
    if (length < kBatchFixedSize + 4 || length > kMaxFramePayload) continue;
    if (p + kFrameHeaderSize + length > n) continue;
    // Cheap filters before the CRC: the frame must continue the log from lo, and the damaged
    // bytes in between (p of them) can hold at most p records.
    const uint64_t first = get_u64(h + kFrameHeaderSize);
    if (first < lo.value() || first - lo.value() > p) continue;
    if (length > budget) return true;
    budget -= length;
    std::string_view payload(h + kFrameHeaderSize, length);
    if (frame_crc(length, payload) != get_u32(h + 4)) continue;
    if (decode_batch(payload).ok()) return true;
  }
  return false;
}

}  // namespace persisting::wal
