// FaultEnv: an Env for tests that fails file-system calls on demand and can simulate a power
// loss. Wrap the real Env, hand it to the code under test, and switch faults on and off:
//
//   FaultEnv env(Env::Default());
//   env.fail_writes(FaultEnv::WriteFault::kNoSpace);   // every append now fails with ENOSPC
//   env.fail_writes_at(FaultEnv::WriteFault::kNoSpace);  // every write_at (pwrite) too
//   env.clear();                                        // the fault clears
//   env.drop_unsynced();                                // "power loss": unsynced bytes vanish
//   env.stop_after(3);  // the 4th file-system change and all after it fail: a crash at step 4
//
// Faults apply to files opened through this Env. Thread-safe. Header-only so any test can use it.
// drop_unsynced() models data loss only: it does not model renames or creates that were not made
// durable by a directory sync.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "core/status_macros.h"
#include "persisting/env.h"

namespace persisting::testing {

class FaultEnv : public EnvWrapper {
 public:
  enum class WriteFault {
    kNone,
    kNoSpace,     // append writes nothing and fails with ENOSPC
    kIOError,     // append writes nothing and fails with EIO
    kShortWrite,  // append writes the first half of the bytes, then fails with ENOSPC
    kLandedThenError,  // append writes all the bytes, then reports EIO (stands in for a short
                       // write that happened to end on a record boundary)
  };

  explicit FaultEnv(Env* target) : EnvWrapper(target) {}

  // The next `count` appends fail (count < 0: until clear()).
  void fail_writes(WriteFault kind, int count = -1) {
    std::lock_guard l(mu_);
    write_fault_ = kind;
    write_count_ = count;
  }
  // The same for WritableFile::write_at (the WAL's zeros written ahead of its appends); appends
  // are not affected.
  void fail_writes_at(WriteFault kind, int count = -1) {
    std::lock_guard l(mu_);
    write_at_fault_ = kind;
    write_at_count_ = count;
  }
  // The next `count` syncs fail with EIO without syncing (count < 0: until clear()).
  void fail_syncs(int count = -1) {
    std::lock_guard l(mu_);
    sync_count_ = count;
  }
  // Truncates fail with EIO while on.
  void fail_truncates(bool on) { truncate_fault_ = on; }
  // Opening a file for writing fails with ENOSPC while on.
  void fail_creates(bool on) { create_fault_ = on; }
  // Only files created under prefix (a directory of one bucket, say) fail to open; "" clears.
  void fail_creates_under(std::string prefix) {
    std::lock_guard l(mu_);
    create_prefix_ = std::move(prefix);
  }
  // After `ops` more file-system changes (open for writing, append, sync, truncate, rename,
  // remove, link, mkdir, directory sync), every further change fails, as if the process had died
  // right there; the files keep exactly what the first `ops` changes made. Loop ops = 0, 1, 2, ...
  // and inspect (a copy of) the directory to test a crash at every step of an operation.
  // ops < 0 switches it off.
  void stop_after(int ops) { ops_left_ = ops; }
  bool stopped() const { return ops_left_ == 0; }

  // Every fault clears.
  void clear() {
    std::lock_guard l(mu_);
    ops_left_ = -1;
    write_fault_ = WriteFault::kNone;
    write_count_ = 0;
    write_at_fault_ = WriteFault::kNone;
    write_at_count_ = 0;
    sync_count_ = 0;
    truncate_fault_ = false;
    create_fault_ = false;
    create_prefix_.clear();
  }

  int injected_faults() const { return injected_; }

  // Simulates a power loss: every file written through this Env is cut back to the size it had at
  // its last successful sync (a file never synced since it was created becomes empty).
  Status drop_unsynced() {
    std::lock_guard l(mu_);
    for (const auto& [path, synced] : synced_) {
      if (!target()->file_exists(path)) continue;
      auto size = target()->file_size(path);
      if (!size.ok()) return size.status();
      if (*size <= synced) continue;
      auto f = target()->new_writable_file(path, /*truncate=*/false);
      if (!f.ok()) return f.status();
      Status s = (*f)->truncate(synced);
      if (!s.ok()) return s;
      s = (*f)->close();
      if (!s.ok()) return s;
    }
    return Status::OK();
  }

  Result<std::unique_ptr<WritableFile>> new_writable_file(const std::string& path, bool truncate) override {
    RETURN_IF_ERROR(open_fault("open", path));
    auto f = target()->new_writable_file(path, truncate);
    if (!f.ok()) return f.status();
    {
      std::lock_guard l(mu_);
      auto it = synced_.find(path);
      if (truncate) {
        synced_[path] = 0;
      } else if (it == synced_.end()) {
        synced_[path] = (*f)->size();  // existed before we saw it: treat as durable
      }
    }
    return std::unique_ptr<WritableFile>(new File(this, path, std::move(*f)));
  }

  // Files reused in place get the same faults. For drop_unsynced, the bytes up to `size` count
  // as synced (the WAL reuses a file only after syncing them), and a power loss cuts the file
  // there: a real one could also leave old bytes after it, which recovery_test covers by hand.
  Result<std::unique_ptr<WritableFile>> reuse_writable_file(const std::string& path, uint64_t size) override {
    RETURN_IF_ERROR(open_fault("open (reuse)", path));
    auto f = target()->reuse_writable_file(path, size);
    if (!f.ok()) return f.status();
    {
      std::lock_guard l(mu_);
      synced_[path] = size;
    }
    return std::unique_ptr<WritableFile>(new File(this, path, std::move(*f)));
  }
  Status rename_file(const std::string& from, const std::string& to) override {
    if (take_stop()) return stopped_error("rename", from);
    Status s = target()->rename_file(from, to);
    if (s.ok()) moved(from, to);
    return s;
  }

  // After a successful rename: `to` has what `from` had synced.
  void moved(const std::string& from, const std::string& to) {
    std::lock_guard l(mu_);
    auto it = synced_.find(from);
    if (it != synced_.end()) {
      synced_[to] = it->second;
      synced_.erase(from);
    } else {
      synced_.erase(to);
    }
  }

  Status remove_file(const std::string& path) override {
    if (take_stop()) return stopped_error("unlink", path);
    Status s = target()->remove_file(path);
    if (s.ok()) {
      std::lock_guard l(mu_);
      synced_.erase(path);
    }
    return s;
  }

  Status remove_all(const std::string& path) override {
    if (take_stop()) return stopped_error("rm -r", path);
    return target()->remove_all(path);
  }
  Status create_dirs(const std::string& dir) override {
    if (take_stop()) return stopped_error("mkdir -p", dir);
    return target()->create_dirs(dir);
  }
  Status link_file(const std::string& from, const std::string& to) override {
    if (take_stop()) return stopped_error("link", from);
    return target()->link_file(from, to);
  }
  Status rename_no_replace(const std::string& from, const std::string& to) override {
    if (take_stop()) return stopped_error("rename (no replace)", from);
    Status s = target()->rename_no_replace(from, to);
    if (s.ok()) moved(from, to);
    return s;
  }
  Status sync_dir(const std::string& dir) override {
    if (take_stop()) return stopped_error("fsync dir", dir);
    return target()->sync_dir(dir);
  }

  // Env::write_file_atomic and read_file are built on the primitives above, so faults reach them.

 private:
  class File final : public WritableFile {
   public:
    File(FaultEnv* env, std::string path, std::unique_ptr<WritableFile> base)
        : env_(env), path_(std::move(path)), base_(std::move(base)) {}

    Status append(std::string_view data) override {
      if (env_->take_stop()) return stopped_error("write", path_);
      WriteFault f = env_->take_write_fault();
      switch (f) {
        case WriteFault::kNone:
          return base_->append(data);
        case WriteFault::kNoSpace:
          return IOError("write '" + path_ + "': No space left on device (injected)");
        case WriteFault::kIOError:
          return IOError("write '" + path_ + "': Input/output error (injected)");
        case WriteFault::kLandedThenError: {
          Status s = base_->append(data);
          if (!s.ok()) return s;
          return IOError("write '" + path_ + "': Input/output error after the data landed (injected)");
        }
        case WriteFault::kShortWrite: {
          Status s = base_->append(data.substr(0, data.size() / 2));
          if (!s.ok()) return s;
          return IOError("write '" + path_ + "': No space left on device after a short write (injected)");
        }
      }
      return Internal("unreachable");
    }
    Status sync() override {
      if (env_->take_stop()) return stopped_error("fdatasync", path_);
      if (env_->take_sync_fault()) return IOError("fdatasync '" + path_ + "': Input/output error (injected)");
      Status s = base_->sync();
      if (s.ok()) env_->note_synced(path_, base_->size());
      return s;
    }
    Status truncate(uint64_t size) override {
      if (env_->take_stop()) return stopped_error("ftruncate", path_);
      if (env_->truncate_fault_) {
        ++env_->injected_;
        return IOError("ftruncate '" + path_ + "': Input/output error (injected)");
      }
      Status s = base_->truncate(size);
      if (s.ok()) env_->note_truncated(path_, size);
      return s;
    }
    Status close() override { return base_->close(); }
    uint64_t size() const override { return base_->size(); }
    Status start_writeback() override { return base_->start_writeback(); }
    // The faults of fail_writes_at, as append has those of fail_writes. The bytes it writes do
    // not move what drop_unsynced keeps: a power loss still cuts the file at size() as of its
    // last sync (bytes written ahead of the appends vanish with it).
    Status write_at(uint64_t offset, std::string_view data) override {
      if (env_->take_stop()) return stopped_error("pwrite", path_);
      WriteFault f = env_->take_write_at_fault();
      switch (f) {
        case WriteFault::kNone:
          return base_->write_at(offset, data);
        case WriteFault::kNoSpace:
          return IOError("pwrite '" + path_ + "': No space left on device (injected)");
        case WriteFault::kIOError:
          return IOError("pwrite '" + path_ + "': Input/output error (injected)");
        case WriteFault::kLandedThenError: {
          Status s = base_->write_at(offset, data);
          if (!s.ok()) return s;
          return IOError("pwrite '" + path_ + "': Input/output error after the data landed (injected)");
        }
        case WriteFault::kShortWrite: {
          Status s = base_->write_at(offset, data.substr(0, data.size() / 2));
          if (!s.ok()) return s;
          return IOError("pwrite '" + path_ + "': No space left on device after a short write (injected)");
        }
      }
      return Internal("unreachable");
    }

   private:
    FaultEnv* env_;
    std::string path_;
    std::unique_ptr<WritableFile> base_;
  };

  // The faults every open for writing may meet: the stop budget, then fail_creates.
  Status open_fault(const char* what, const std::string& path) {
    if (take_stop()) return stopped_error(what, path);
    bool under = false;
    {
      std::lock_guard l(mu_);
      under = !create_prefix_.empty() && path.compare(0, create_prefix_.size(), create_prefix_) == 0;
    }
    if (create_fault_ || under) {
      ++injected_;
      return IOError("open '" + path + "': No space left on device (injected)");
    }
    return Status::OK();
  }
  static Status stopped_error(const char* what, const std::string& path) {
    return IOError(std::string(what) + " '" + path + "': the process stopped here (injected)");
  }
  // Counts one file-system change; true once the budget set by stop_after() is spent.
  bool take_stop() {
    int left = ops_left_.load();
    while (left > 0 && !ops_left_.compare_exchange_weak(left, left - 1)) {
    }
    return left == 0;
  }

  WriteFault take_write_fault() {
    std::lock_guard l(mu_);
    if (write_fault_ == WriteFault::kNone || write_count_ == 0) return WriteFault::kNone;
    if (write_count_ > 0) --write_count_;
    ++injected_;
    return write_fault_;
  }
  WriteFault take_write_at_fault() {
    std::lock_guard l(mu_);
    if (write_at_fault_ == WriteFault::kNone || write_at_count_ == 0) return WriteFault::kNone;
    if (write_at_count_ > 0) --write_at_count_;
    ++injected_;
    return write_at_fault_;
  }
  bool take_sync_fault() {
    std::lock_guard l(mu_);
    if (sync_count_ == 0) return false;
    if (sync_count_ > 0) --sync_count_;
    ++injected_;
    return true;
  }
  void note_synced(const std::string& path, uint64_t size) {
    std::lock_guard l(mu_);
    synced_[path] = size;
  }
  void note_truncated(const std::string& path, uint64_t size) {
    std::lock_guard l(mu_);
    auto it = synced_.find(path);
    if (it != synced_.end() && it->second > size) it->second = size;
  }

  std::mutex mu_;
  WriteFault write_fault_ = WriteFault::kNone;
  int write_count_ = 0;
  WriteFault write_at_fault_ = WriteFault::kNone;
  int write_at_count_ = 0;
  int sync_count_ = 0;
  std::atomic<bool> truncate_fault_{false};
  std::atomic<bool> create_fault_{false};
  std::string create_prefix_;  // under mu_
  std::atomic<int> injected_{0};
  std::atomic<int> ops_left_{-1};
  std::map<std::string, uint64_t> synced_;  // path -> size at its last successful sync
};

}  // namespace persisting::testing
