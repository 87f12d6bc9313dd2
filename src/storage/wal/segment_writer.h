// SegmentWriter: the appender of one WAL segment file. It knows the segment's path, first offset
// and size; it does not know about frames, offsets of records or sync policy (wal.h decides those).
// Not thread-safe: one owner at a time (the Wal's current group-commit leader), except that
// start_writeback may run alongside append.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "persisting/env.h"
#include "persisting/types.h"

namespace persisting::wal {

class SegmentWriter {
 public:
  // Creates the segment dir/<first>.wal holding the header followed by `initial` (whole frames
  // carried over from an abandoned segment, usually empty), durably: the bytes go to a .tmp file
  // that is synced and then renamed into place, and the directory is synced. A segment file
  // therefore always starts with a complete header. An existing file of that name is replaced.
  static Result<std::unique_ptr<SegmentWriter>> create(Env* env, const std::string& dir, Offset first,
                                                       std::string_view initial);
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
                                                        Offset first);
  // Opens an existing segment that recovery checked, for appending after its last frame, at byte
  // `end`; bytes past it (old frames of a recycled file) are overwritten by the appends (or cut
  // off first, when the Env cannot reuse files).
  static Result<std::unique_ptr<SegmentWriter>> reopen(Env* env, const std::string& path, Offset first, uint64_t end);

  SegmentWriter(const SegmentWriter&) = delete;
  SegmentWriter& operator=(const SegmentWriter&) = delete;

  Status append(std::string_view bytes) { return file_->append(bytes); }
  Status sync() { return file_->sync(); }
  Status start_writeback() { return file_->start_writeback(); }
  Status truncate(uint64_t size) { return file_->truncate(size); }
  Status close() { return file_->close(); }
  uint64_t size() const { return file_->size(); }
  const std::string& path() const { return path_; }
  Offset first() const { return first_; }
  // Whether old bytes may follow what was appended (a recycled file written over in place).
  bool has_old_bytes() const { return old_bytes_; }

 private:
  SegmentWriter(std::unique_ptr<WritableFile> file, std::string path, Offset first)
      : file_(std::move(file)), path_(std::move(path)), first_(first) {}

  std::unique_ptr<WritableFile> file_;
  std::string path_;
  Offset first_;
  bool old_bytes_ = false;
};

}  // namespace persisting::wal
