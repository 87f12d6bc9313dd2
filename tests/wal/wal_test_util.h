// Helpers shared by the WAL tests: scratch directories, deterministic records, replay capture.
#pragma once

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "persisting/codec.h"
#include "persisting/env.h"
#include "storage/wal/wal.h"
#include "storage/wal/wal_format.h"

namespace persisting::wal::testing {

// A fresh directory under $TMPDIR, removed when the object goes out of scope. prefer_memory
// puts it on /dev/shm when that is usable (for tests that open a WAL thousands of times).
class ScratchDir {
 public:
  explicit ScratchDir(bool prefer_memory = false) {
    std::filesystem::path base = std::filesystem::temp_directory_path();
    if (prefer_memory && ::access("/dev/shm", W_OK) == 0) base = "/dev/shm";
    std::string tmpl = (base / "wal-test-XXXXXX").string();
    char* p = ::mkdtemp(tmpl.data());
    EXPECT_NE(p, nullptr);
    path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// The record stored at offset o in every test: its content names its offset, so a record that
// shows up at the wrong offset, or damaged, is caught by comparison.
inline std::string record_for(uint64_t o, size_t pad = 0) {
  std::string r = "record-" + std::to_string(o) + "|";
  r.append(pad + (o % 7), static_cast<char>('a' + o % 26));
  return r;
}

inline RecordBatch batch_for(uint64_t first, size_t count, size_t pad = 0) {
  RecordBatch b;
  for (size_t i = 0; i < count; ++i) b.add_encoded(record_for(first + i, pad));
  return b;
}

// Appends the frame the WAL would write for batch (for hand-built segments).
inline void append_frame(Offset first, const RecordBatch& batch, std::string* out) {
  append_batch_frame(first, batch.data(), batch.ends(), out);
}

// Waits (bounded; a hang guard, not a timing assertion) until pred holds.
template <typename Pred>
bool eventually(Pred pred) {
  for (int i = 0; i < 20000 && !pred(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return pred();
}

using Replayed = std::vector<std::pair<uint64_t, std::string>>;

inline ReplayFn capture(Replayed* out) {
  return [out](Offset o, std::string_view rec) {
    out->emplace_back(o.value(), std::string(rec));
    return Status::OK();
  };
}

// Every replayed record is the original of its offset and offsets run consecutively from `from`.
inline void expect_prefix_of_originals(const Replayed& got, uint64_t from, size_t pad = 0) {
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].first, from + i) << "record " << i;
    ASSERT_EQ(got[i].second, record_for(got[i].first, pad)) << "offset " << got[i].first;
  }
}

struct Recovered {
  Replayed got;
  RecoveryReport report;
};

// Recovers a copy of dir with the plain POSIX Env and default options (what a restarted process
// would see), leaving dir itself alone. Expects the open to succeed.
inline Recovered recover_copy(const std::string& dir, const std::string& copy) {
  std::filesystem::remove_all(copy);
  std::filesystem::copy(dir, copy, std::filesystem::copy_options::recursive);
  Recovered r;
  auto w = Wal::open(copy, {}, capture(&r.got), &r.report);
  EXPECT_TRUE(w.ok()) << w.status().to_string();
  return r;
}

inline std::vector<std::string> segment_files(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".wal") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

inline std::string read_all(const std::string& path) {
  auto r = Env::Default()->read_file(path);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return r.ok() ? *r : std::string();
}

inline void write_all(const std::string& path, const std::string& data) {
  auto f = Env::Default()->new_writable_file(path, /*truncate=*/true);
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->append(data).ok());
  ASSERT_TRUE((*f)->close().ok());
}

// Counts syncs of writable files; while the gate is closed a sync waits (before syncing) until it
// opens. Lets a test hold a group commit in its sync while more appends queue up behind it.
class SyncGateEnv : public EnvWrapper {
 public:
  explicit SyncGateEnv(Env* target) : EnvWrapper(target) {}
  void close_gate() {
    std::lock_guard l(mu_);
    open_ = false;
  }
  void open_gate() {
    {
      std::lock_guard l(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }
  int syncs() const { return syncs_; }
  int waiting() const { return waiting_; }

  Result<std::unique_ptr<WritableFile>> new_writable_file(const std::string& path, bool truncate) override {
    auto f = target()->new_writable_file(path, truncate);
    if (!f.ok()) return f.status();
    return std::unique_ptr<WritableFile>(new File(this, std::move(*f)));
  }
  Result<std::unique_ptr<WritableFile>> reuse_writable_file(const std::string& path, uint64_t size) override {
    auto f = target()->reuse_writable_file(path, size);
    if (!f.ok()) return f.status();
    return std::unique_ptr<WritableFile>(new File(this, std::move(*f)));
  }

 private:
  class File final : public WritableFile {
   public:
    File(SyncGateEnv* env, std::unique_ptr<WritableFile> base) : env_(env), base_(std::move(base)) {}
    Status append(std::string_view d) override { return base_->append(d); }
    Status sync() override {
      env_->pass();
      return base_->sync();
    }
    Status truncate(uint64_t n) override { return base_->truncate(n); }
    Status close() override { return base_->close(); }
    uint64_t size() const override { return base_->size(); }
    Status start_writeback() override { return base_->start_writeback(); }
    Status write_at(uint64_t offset, std::string_view d) override { return base_->write_at(offset, d); }

   private:
    SyncGateEnv* env_;
    std::unique_ptr<WritableFile> base_;
  };
  void pass() {
    std::unique_lock l(mu_);
    ++syncs_;
    ++waiting_;
    cv_.wait(l, [this] { return open_; });
    --waiting_;
  }

  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = true;
  std::atomic<int> syncs_{0};
  std::atomic<int> waiting_{0};
};

}  // namespace persisting::wal::testing
