// Env: the seam through which every file-system call in Persisting passes (after LevelDB's Env).
// Production code uses Env::Default() (POSIX). Tests wrap it to inject ENOSPC, EIO, short writes,
// torn writes and failed fsyncs. Paths are plain strings; every error names the path at fault.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "persisting/status.h"

namespace persisting {

// A file opened for appending. Not thread-safe; one owner at a time.
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  // Appends all of data or returns an error. After an error the file's tail is unspecified
  // (a short write may have landed); callers that care truncate back to a known size.
  virtual Status append(std::string_view data) = 0;
  // fdatasync: the appended bytes survive a crash once this returns OK.
  virtual Status sync() = 0;
  // Shrinks the file to size bytes (used to cut a failed append back off).
  virtual Status truncate(uint64_t size) = 0;
  virtual Status close() = 0;
  // Bytes in the file (appended so far, including what existed when opened).
  virtual uint64_t size() const = 0;
  // Asks the OS to start writing the appended bytes to the device and returns without waiting
  // for them (sync_file_range SYNC_FILE_RANGE_WRITE), so that a later sync() has little left to
  // write. Makes nothing durable. May run on another thread while append() does, not with
  // close(). The default does nothing.
  virtual Status start_writeback() { return Status::OK(); }
  // Writes data at byte `offset` (pwrite) without moving size(), the append position: bytes ahead
  // of it, or past the file's end (the file grows; a gap reads as zeros). Appends later overwrite
  // them in place. Only a file opened by Env::reuse_writable_file supports it (an O_APPEND file
  // would write at its end); the default, and every other file, returns NotSupported. After an
  // error, part of data may have landed. Used to zero-fill WAL segments ahead of their appends.
  virtual Status write_at(uint64_t offset, std::string_view data);
};

// A file read at arbitrary offsets. Thread-safe.
class RandomAccessFile {
 public:
  virtual ~RandomAccessFile() = default;
  // Reads up to n bytes at offset into *out (resized to what was read; short at end of file).
  virtual Status read(uint64_t offset, size_t n, std::string* out) const = 0;
  virtual uint64_t size() const = 0;
};

// An exclusive advisory lock on a file, held until this object is destroyed (or the process
// dies: the kernel releases it, so a crashed writer never leaves a stale lock).
class FileLock {
 public:
  virtual ~FileLock() = default;
};

// What a file or directory looks like to the file system now: a value that changes when the
// file is written, or when a directory gains, loses or renames an entry, or is made afresh.
// Times are as fine as the file system's clock, so two changes within one tick may leave one
// stamp: a caller that compares stamps trusts an equal one only if its mtime is older than that.
struct FileStamp {
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  uint64_t inode = 0;
  uint64_t size = 0;
  bool operator==(const FileStamp&) const = default;
};

class Env {
 public:
  virtual ~Env() = default;
  // The process-wide POSIX environment. Never null, never deleted.
  static Env* Default();

  // Opens path for appending; creates it if absent. truncate=true empties it first.
  virtual Result<std::unique_ptr<WritableFile>> new_writable_file(const std::string& path,
                                                                  bool truncate) = 0;
  // Creates (or empties) path for a file written once and not read back soon (a Lance data
  // file). Where the file system allows, its writes bypass the page cache (O_DIRECT); the bytes
  // on disk and the WritableFile's behaviour are the same either way. The default, which every
  // EnvWrapper inherits (so fault injection sees these files too), is new_writable_file(path, true).
  virtual Result<std::unique_ptr<WritableFile>> new_unbuffered_file(const std::string& path);
  // Opens the existing file path to write over it from byte `size` on: size() starts there,
  // appends overwrite the old bytes in place (on a file whose pages are cached and blocks
  // allocated, that costs no allocation), and bytes past size() keep their old content until
  // overwritten or cut off by truncate(). Used to recycle WAL segments. The default, which every
  // EnvWrapper inherits, returns NotSupported; callers then make a new file.
  virtual Result<std::unique_ptr<WritableFile>> reuse_writable_file(const std::string& path, uint64_t size);
  virtual Result<std::unique_ptr<RandomAccessFile>> new_random_access_file(
      const std::string& path) = 0;

  virtual bool file_exists(const std::string& path) = 0;
  virtual Result<uint64_t> file_size(const std::string& path) = 0;
  // path's FileStamp (NotFound when absent). The default returns NotSupported; callers then look
  // at the contents.
  virtual Result<FileStamp> stamp(const std::string& path);
  // Names (not paths) of the entries in dir, unsorted, without "." and "..".
  virtual Result<std::vector<std::string>> get_children(const std::string& dir) = 0;
  // mkdir -p.
  virtual Status create_dirs(const std::string& dir) = 0;
  virtual Status remove_file(const std::string& path) = 0;
  // rm -r. Missing path is OK.
  virtual Status remove_all(const std::string& path) = 0;
  virtual Status rename_file(const std::string& from, const std::string& to) = 0;
  // Creates a hard link to at `to`; fails with kAlreadyExists if `to` exists (create-if-absent).
  virtual Status link_file(const std::string& from, const std::string& to) = 0;
  // Moves `from` to `to` atomically if `to` does not exist (create-if-absent, like link_file),
  // kAlreadyExists otherwise (and `from` stays). Unlike link + unlink it frees no inode, which
  // keeps file creation cheap on ext4 without a journal (it skips recently freed inodes). The
  // default is link_file then remove_file.
  virtual Status rename_no_replace(const std::string& from, const std::string& to);
  // fsync on a directory, making renames/creates in it durable.
  virtual Status sync_dir(const std::string& dir) = 0;
  // Takes an exclusive lock on path (created if absent) without waiting: FailedPrecondition when
  // another process (or another lock in this one) holds it.
  virtual Result<std::unique_ptr<FileLock>> lock_file(const std::string& path) = 0;

  // Conveniences built on the primitives above (overridable for fault injection).
  virtual Result<std::string> read_file(const std::string& path);
  // Writes data to path.tmp, syncs it, renames over path and syncs the directory.
  virtual Status write_file_atomic(const std::string& path, std::string_view data);
};

// Wraps another Env and forwards everything; subclass it to override a few calls in tests.
class EnvWrapper : public Env {
 public:
  explicit EnvWrapper(Env* target) : target_(target) {}
  Env* target() const { return target_; }

  Result<std::unique_ptr<WritableFile>> new_writable_file(const std::string& p, bool t) override {
    return target_->new_writable_file(p, t);
  }
  Result<std::unique_ptr<RandomAccessFile>> new_random_access_file(const std::string& p) override {
    return target_->new_random_access_file(p);
  }
  bool file_exists(const std::string& p) override { return target_->file_exists(p); }
  Result<uint64_t> file_size(const std::string& p) override { return target_->file_size(p); }
  Result<FileStamp> stamp(const std::string& p) override { return target_->stamp(p); }
  Result<std::vector<std::string>> get_children(const std::string& d) override {
    return target_->get_children(d);
  }
  Status create_dirs(const std::string& d) override { return target_->create_dirs(d); }
  Status remove_file(const std::string& p) override { return target_->remove_file(p); }
  Status remove_all(const std::string& p) override { return target_->remove_all(p); }
  Status rename_file(const std::string& f, const std::string& t) override {
    return target_->rename_file(f, t);
  }
  Status link_file(const std::string& f, const std::string& t) override {
    return target_->link_file(f, t);
  }
  Status rename_no_replace(const std::string& f, const std::string& t) override {
    return target_->rename_no_replace(f, t);
  }
  Status sync_dir(const std::string& d) override { return target_->sync_dir(d); }
  Result<std::unique_ptr<FileLock>> lock_file(const std::string& p) override {
    return target_->lock_file(p);
  }

 private:
  Env* target_;
};

// Joins path components with '/'.
std::string join_path(std::string_view a, std::string_view b);
// The directory part of a path ("a/b/c" -> "a/b"; "c" -> ".").
std::string dir_name(std::string_view path);

}  // namespace persisting
