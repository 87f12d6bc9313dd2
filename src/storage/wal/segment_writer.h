// SegmentWriter: the appender of one WAL segment file. It knows the segment's path, first offset
// and size; it does not know about frames, offsets of records or sync policy (wal.h decides those).
// Not thread-safe: one owner at a time (the Wal's current group-commit leader), except that
// start_writeback may run alongside append.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "persisting/env.h"
#include "persisting/types.h"

namespace persisting::wal {

// Zero-filling ahead of the appends (docs/wal-format.md, "Zero-filling"): the file is extended
// with zeros a chunk at a time, ahead of the append position, so that appends overwrite allocated
// blocks of a file whose size does not change, and an fdatasync need not journal a new size.
struct Prefill {
  uint64_t chunk = 0;  // bytes of zeros per extension; 0: off
  uint64_t limit = 0;  // no zeros past this byte (the segment size limit)
  // Told the outcome of every extension (OK too). A failed one is skipped: the appends then grow
  // the file as they go, and this segment tries no further extension.
  std::function<void(const Status&)> on_extend;
};

class SegmentWriter {
 public:
  // Creates the segment dir/<first>.wal holding the header followed by `initial` (whole frames
  // carried over from an abandoned segment, usually empty), durably: the bytes go to a .tmp file
  // that is synced and then renamed into place, and the directory is synced. A segment file
  // therefore always starts with a complete header. An existing file of that name is replaced.
  // With prefill.chunk > 0 (and an Env that can write in place), the header carries
  // kSegmentFlagRecycled and the first chunk of zeros is written (and synced) with it.
  static Result<std::unique_ptr<SegmentWriter>> create(Env* env, const std::string& dir, Offset first,
                                                       std::string_view initial, const Prefill& prefill = {});
  // Best effort, for the failure path: creates dir/<first>.wal EMPTY and unsynced (writes or
  // syncs may be what is failing). Its name alone makes recovery stop reading the segment before
  // it at `first`; recovery replaces it with a proper empty segment. Guards against a process
  // crash only.
  static Status create_fence(Env* env, const std::string& dir, Offset first);
  // Turns the spare file (an old segment wholly below the checkpoint) into the segment
  // dir/<first>.wal, durably: its header is overwritten and synced, then it is renamed into place
  // and the directory synced. Appends then overwrite the old frames in place (Env::
  // reuse_writable_file), which recovery tells apart by their offsets: all are below `first`.
  // On an error the spare may be left half rewritten (still only old frames) or already renamed
  // (then create() of the same name replaces it). NotSupported when the Env cannot reuse files.
  static Result<std::unique_ptr<SegmentWriter>> recycle(Env* env, const std::string& dir, const std::string& spare,
                                                        Offset first, const Prefill& prefill = {});
  // Opens an existing segment that recovery checked, for appending after its last frame, at byte
  // `end`. Bytes past it (old frames of a recycled file, zeros) are cut off first, and synced so:
  // recovery judged them not to continue the log only from `end` and the offset due there, and
  // what an append left of them would be judged again from a later byte and offset. `flagged`: its
  // header has kSegmentFlagRecycled, so it may be zero-filled, from `end` on (an unflagged one
  // never is: its reader would take the zeros for damage).
  static Result<std::unique_ptr<SegmentWriter>> reopen(Env* env, const std::string& path, Offset first, uint64_t end,
                                                       bool flagged = false, const Prefill& prefill = {});

  SegmentWriter(const SegmentWriter&) = delete;
  SegmentWriter& operator=(const SegmentWriter&) = delete;

  // Appends bytes; then, when zero-filling and fewer than half a chunk of zeros are left ahead,
  // writes the next chunk of zeros (its outcome goes to Prefill::on_extend, not to the caller).
  // The zeros reach the disk with the next sync.
  Status append(std::string_view bytes);
  Status sync() { return file_->sync(); }
  Status start_writeback() { return file_->start_writeback(); }
  Status truncate(uint64_t size);
  Status close() { return file_->close(); }
  uint64_t size() const { return file_->size(); }
  const std::string& path() const { return path_; }
  Offset first() const { return first_; }
  // Whether bytes may follow what was appended (old frames of a recycled file, or zeros).
  bool has_old_bytes() const { return old_bytes_; }
  // Where the file is known to end (>= size(); more when zeros or old bytes lie ahead).
  uint64_t file_end() const { return end_; }

 private:
  SegmentWriter(std::unique_ptr<WritableFile> file, std::string path, Offset first)
      : file_(std::move(file)), path_(std::move(path)), first_(first), end_(file_->size()) {}
  // Starts zero-filling a file opened by reuse_writable_file that ends at byte `end`.
  void start_prefill(const Prefill& prefill, uint64_t end);
  // Writes the next chunk of zeros if fewer than half a chunk are left ahead of size().
  void extend();

  std::unique_ptr<WritableFile> file_;
  std::string path_;
  Offset first_;
  bool old_bytes_ = false;
  uint64_t end_;
  Prefill prefill_;  // chunk 0: not zero-filling (off, unsupported, or an extension failed)
};

}  // namespace persisting::wal
