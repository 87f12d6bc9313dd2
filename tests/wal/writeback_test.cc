// Background writeback: under interval and os sync modes, every writeback_bytes of appends the
// WAL asks the kernel to start writing the active segment out, from its background thread (so the
// syncs that appends wait behind find little to write). Under always it never does: every group
// is synced anyway.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include "storage/wal/wal.h"
#include "tests/wal/wal_test_util.h"

namespace persisting::wal {
namespace {

using testing::batch_for;
using testing::capture;
using testing::eventually;
using testing::expect_prefix_of_originals;
using testing::Replayed;
using testing::ScratchDir;

// Records which files start_writeback was called on, and from which threads.
class WritebackEnv : public EnvWrapper {
 public:
  explicit WritebackEnv(Env* target) : EnvWrapper(target) {}

  Result<std::unique_ptr<WritableFile>> new_writable_file(const std::string& path, bool truncate) override {
    auto f = target()->new_writable_file(path, truncate);
    if (!f.ok()) return f.status();
    return std::unique_ptr<WritableFile>(new File(this, path, std::move(*f)));
  }

  int calls() const { return calls_; }
  std::set<std::string> paths() const {
    std::lock_guard l(mu_);
    return paths_;
  }
  bool called_from(std::thread::id id) const {
    std::lock_guard l(mu_);
    return threads_.count(id) > 0;
  }

 private:
  class File final : public WritableFile {
   public:
    File(WritebackEnv* env, std::string path, std::unique_ptr<WritableFile> base)
        : env_(env), path_(std::move(path)), base_(std::move(base)) {}
    Status append(std::string_view d) override { return base_->append(d); }
    Status sync() override { return base_->sync(); }
    Status truncate(uint64_t n) override { return base_->truncate(n); }
    Status close() override { return base_->close(); }
    uint64_t size() const override { return base_->size(); }
    Status start_writeback() override {
      {
        std::lock_guard l(env_->mu_);
        env_->paths_.insert(path_);
        env_->threads_.insert(std::this_thread::get_id());
      }
      ++env_->calls_;
      return base_->start_writeback();
    }

   private:
    WritebackEnv* env_;
    std::string path_;
    std::unique_ptr<WritableFile> base_;
  };

  mutable std::mutex mu_;
  std::set<std::string> paths_;
  std::set<std::thread::id> threads_;
  std::atomic<int> calls_{0};
};

class WritebackTest : public ::testing::TestWithParam<SyncMode> {
 protected:
  WritebackEnv env{Env::Default()};
  ScratchDir d;

  WalOptions options(uint64_t writeback_bytes) const {
    WalOptions o;
    o.env = const_cast<WritebackEnv*>(&env);
    o.sync_mode = GetParam();
    o.sync_interval_s = 3600;  // no periodic sync during the test
    o.writeback_bytes = writeback_bytes;
    o.max_segment_size = 64 << 10;
    return o;
  }
};

TEST_P(WritebackTest, StartsEveryWritebackBytesOnTheActiveSegment) {
  Replayed unused;
  auto w = Wal::open(d.path(), options(16 << 10), capture(&unused), nullptr);
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  uint64_t next = 0;
  auto append_kib = [&](int kib) {  // batches of 100 records of about 100 bytes
    for (int i = 0; i < kib / 10; ++i) {
      auto r = (*w)->append(batch_for(next, 100, 90));
      ASSERT_TRUE(r.ok()) << r.status().to_string();
      next += 100;
    }
  };
  append_kib(10);  // below writeback_bytes
  ASSERT_NO_FATAL_FAILURE(append_kib(0));
  if (GetParam() == SyncMode::kAlways) {
    append_kib(200);
    EXPECT_EQ(env.calls(), 0) << "always syncs every group; no writeback hint";
  } else {
    EXPECT_EQ(env.calls(), 0);
    append_kib(20);  // past 16 KiB
    ASSERT_TRUE(eventually([&] { return env.calls() >= 1; }));
    EXPECT_FALSE(env.called_from(std::this_thread::get_id())) << "the appender must not do it";
    EXPECT_EQ(env.paths().size(), 1u);
    // Rotates (64 KiB segments): a later active segment gets it too. Requests that come while the
    // background task is still pending are served by one run on the segment active then, so on a
    // loaded machine several rotations may pass between two writebacks: at least one new path.
    append_kib(200);
    ASSERT_TRUE(eventually([&] { return env.paths().size() >= 2; }));
    for (const auto& p : env.paths()) EXPECT_EQ(p.find(".tmp"), std::string::npos) << p;
    EXPECT_GE((*w)->segment_count(), 3u);
  }
  ASSERT_TRUE((*w)->close().ok());
  Replayed got;
  auto again = Wal::open(d.path(), options(16 << 10), capture(&got), nullptr);
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  ASSERT_EQ(got.size(), next);
  expect_prefix_of_originals(got, 0, 90);
}

TEST_P(WritebackTest, ZeroTurnsItOff) {
  Replayed unused;
  auto w = Wal::open(d.path(), options(0), capture(&unused), nullptr);
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  for (uint64_t i = 0; i < 50; ++i) ASSERT_TRUE((*w)->append(batch_for(i * 100, 100, 90)).ok());
  ASSERT_TRUE((*w)->close().ok());  // joins the background thread, if any
  EXPECT_EQ(env.calls(), 0);
}

INSTANTIATE_TEST_SUITE_P(Modes, WritebackTest,
                         ::testing::Values(SyncMode::kAlways, SyncMode::kInterval, SyncMode::kOs),
                         [](const auto& info) { return std::string(sync_mode_name(info.param)); });

}  // namespace
}  // namespace persisting::wal
