// SegmentReader: reads the frames of one WAL segment in order and classifies what it finds.
// It never trusts a byte it has not checked: every frame's length is bounded and its CRC verified
// before the payload is handed out. Deciding what a damaged frame means (torn tail or corruption)
// is recovery's job (recovery.h); this class only reports where and why.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "persisting/env.h"
#include "persisting/types.h"
#include "storage/wal/wal_format.h"

namespace persisting::wal {

class SegmentReader {
 public:
  enum class Kind {
    kFrame,       // a whole frame whose CRC matched; payload is valid until the next call
    kEnd,         // the segment ends exactly after the previous frame
    kIncomplete,  // the bytes run out inside a frame (what a crash mid-append leaves)
    kBad,         // a complete frame that fails a check (length bound or CRC)
  };
  struct Item {
    Kind kind = Kind::kEnd;
    uint64_t position = 0;  // byte position of the frame (or of the damage)
    std::string_view payload;
    std::string reason;     // for kIncomplete / kBad
  };

  // *file must outlive the reader. path only names the segment in messages.
  SegmentReader(const RandomAccessFile* file, std::string path);
  SegmentReader(const SegmentReader&) = delete;
  SegmentReader& operator=(const SegmentReader&) = delete;

  // Reads and checks the header; frames are then read from just after it.
  Result<Offset> read_header();
  // After read_header: whether the header says the file was recycled (kSegmentFlagRecycled).
  bool recycled() const { return (flags_ & kSegmentFlagRecycled) != 0; }
  // Reads the frame at the current position and moves past it if it is a kFrame.
  Status next(Item* item);

  uint64_t position() const { return pos_; }
  uint64_t file_size() const { return size_; }
  const std::string& path() const { return path_; }

  // Whether a valid batch frame (CRC matches, batch structure checks out) that could continue the
  // log starts anywhere after byte `from`: its first offset must lie in [lo, lo + bytes skipped].
  // Used to tell a torn tail (nothing valid follows) from damage in the middle of the log.
  // The scan's checksum work is bounded; past the bound it answers true (keep the bytes).
  Result<bool> valid_frame_follows(uint64_t from, Offset lo) const;

 private:
  // Makes buf_ hold [pos, pos + n) or as much of it as the file has.
  Status fill(uint64_t pos, size_t n);

  const RandomAccessFile* file_;
  std::string path_;
  uint64_t size_;
  uint64_t pos_ = 0;
  uint32_t flags_ = 0;
  std::string buf_;
  uint64_t buf_start_ = 0;
};

}  // namespace persisting::wal
