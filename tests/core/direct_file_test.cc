// Env::new_unbuffered_file and the O_DIRECT writer behind it: whatever the pattern of appends,
// syncs and truncates, the file holds exactly the bytes a buffered file would.
#include "core/direct_file.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/vfs.h>

#include <random>

#include "persisting/env.h"

namespace persisting {
namespace {

constexpr long kTmpfsMagic = 0x01021994;

class DirectFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "persisting_direct_test_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { EXPECT_TRUE(env_->remove_all(dir_).ok()); }
  std::string path(std::string_view name) const { return join_path(dir_, name); }

  // The direct writer itself; the test is skipped, saying so, where the file system refuses it.
  std::unique_ptr<WritableFile> open_direct(const std::string& p) {
    auto f = open_direct_file(p);
    if (!f.ok() && f.status().code() == Code::kNotSupported) return nullptr;
    EXPECT_TRUE(f.ok()) << f.status().to_string();
    return f.ok() ? std::move(*f) : nullptr;
  }

  Env* env_ = Env::Default();
  std::string dir_;
};

std::string pattern(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

TEST_F(DirectFileTest, AppendsOfEverySizeAroundBlockAndBufferEdges) {
  const size_t sizes[] = {0, 1, 4095, 4096, 4097, (1u << 20) - 1, 1u << 20, (1u << 20) + 1, 3 * (1u << 20) + 17};
  for (size_t total : sizes) {
    std::string p = path("f" + std::to_string(total));
    auto f = open_direct(p);
    if (!f) GTEST_SKIP() << "the file system under " << dir_ << " refuses O_DIRECT";
    std::string want = pattern(total, static_cast<uint32_t>(total));
    std::mt19937 rng(7);
    size_t at = 0;
    while (at < total) {  // appends of 1 B to 300 KiB
      size_t n = std::min<size_t>(total - at, 1 + rng() % (300 << 10));
      ASSERT_TRUE(f->append(std::string_view(want).substr(at, n)).ok());
      at += n;
      EXPECT_EQ(f->size(), at);
    }
    ASSERT_TRUE(f->sync().ok());
    ASSERT_TRUE(f->close().ok());
    EXPECT_TRUE(f->close().ok());  // twice is harmless
    EXPECT_TRUE(writes_direct(*f)) << "the file system's alignment was not used";
    auto got = env_->read_file(p);
    ASSERT_TRUE(got.ok()) << got.status().to_string();
    EXPECT_EQ(got->size(), total);
    EXPECT_TRUE(*got == want) << "content differs at size " << total;
  }
}

TEST_F(DirectFileTest, SyncMidwayThenAppendRewritesTheTailBlock) {
  std::string p = path("tail");
  auto f = open_direct(p);
  if (!f) GTEST_SKIP() << "the file system under " << dir_ << " refuses O_DIRECT";
  std::string want = pattern(10000, 1);
  ASSERT_TRUE(f->append(std::string_view(want).substr(0, 5000)).ok());
  ASSERT_TRUE(f->sync().ok());
  EXPECT_EQ(*env_->file_size(p), 5000u);  // cut to its true size, not the padded block
  EXPECT_EQ(*env_->read_file(p), want.substr(0, 5000));
  ASSERT_TRUE(f->sync().ok());  // nothing new: harmless
  ASSERT_TRUE(f->append(std::string_view(want).substr(5000)).ok());
  ASSERT_TRUE(f->close().ok());  // close writes the tail without an explicit sync
  EXPECT_EQ(*env_->read_file(p), want);
}

TEST_F(DirectFileTest, TruncateOnlyWithinWhatIsNotWrittenYet) {
  std::string p = path("trunc");
  auto f = open_direct(p);
  if (!f) GTEST_SKIP() << "the file system under " << dir_ << " refuses O_DIRECT";
  std::string want = pattern((1u << 20) + 100, 2);  // one full buffer goes to disk
  ASSERT_TRUE(f->append(want).ok());
  ASSERT_TRUE(f->truncate((1u << 20) + 40).ok());
  EXPECT_EQ(f->size(), (1u << 20) + 40);
  Status below = f->truncate(10);
  EXPECT_EQ(below.code(), Code::kNotSupported) << below.to_string();
  EXPECT_NE(below.message().find(p), std::string::npos);
  EXPECT_EQ(f->size(), (1u << 20) + 40);  // the refused truncate changed nothing
  ASSERT_TRUE(f->append("xyz").ok());
  ASSERT_TRUE(f->close().ok());
  EXPECT_EQ(*env_->read_file(p), want.substr(0, (1u << 20) + 40) + "xyz");
  EXPECT_EQ(f->append("late").code(), Code::kFailedPrecondition);
}

// A direct write the kernel refuses (here: a tail write of an odd length, from a forced
// alignment of 1 byte) switches the file to buffered writes; nothing fails, nothing is lost.
TEST_F(DirectFileTest, RefusedDirectWriteFallsBackToBuffered) {
  std::string p = path("odd");
  auto opened = open_direct_file(p, {.alignment = 1});
  if (!opened.ok() && opened.status().code() == Code::kNotSupported)
    GTEST_SKIP() << "the file system under " << dir_ << " refuses O_DIRECT";
  ASSERT_TRUE(opened.ok()) << opened.status().to_string();
  auto f = std::move(*opened);
  std::string want = pattern((1u << 20) + 1001, 3);
  ASSERT_TRUE(f->append(want).ok());  // the first MiB goes out direct: aligned anyway
  EXPECT_TRUE(writes_direct(*f));
  ASSERT_TRUE(f->sync().ok()) << "the refused tail write must fall back, not fail";
  if (writes_direct(*f)) GTEST_SKIP() << "this file system took a 1001-byte direct write: no refusal to test";
  ASSERT_TRUE(f->append("more").ok());
  ASSERT_TRUE(f->close().ok());
  EXPECT_EQ(*env_->read_file(p), want + "more");
}

TEST_F(DirectFileTest, UnbufferedFileIsTruncatedAndWritesLikeABufferedOne) {
  std::string p = path("data.lance");
  ASSERT_TRUE(env_->write_file_atomic(p, std::string(9000, 'o')).ok());
  auto f = env_->new_unbuffered_file(p);
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  EXPECT_EQ((*f)->size(), 0u);
  ASSERT_TRUE((*f)->append("new").ok());
  ASSERT_TRUE((*f)->sync().ok());
  ASSERT_TRUE((*f)->close().ok());
  EXPECT_EQ(*env_->read_file(p), "new");
}

// tmpfs refused O_DIRECT before Linux 6.6 and takes it since: either way new_unbuffered_file
// writes the file, and a refusal names the path.
TEST_F(DirectFileTest, WorksOnTmpfsWithOrWithoutDirectIo) {
  struct statfs fs;
  if (::statfs("/dev/shm", &fs) != 0 || static_cast<long>(fs.f_type) != kTmpfsMagic)
    GTEST_SKIP() << "/dev/shm is not a tmpfs here";
  std::string tmpl = "/dev/shm/persisting_direct_test_XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  std::string p = join_path(tmpl, "f");
  {
    auto direct = open_direct_file(p);
    if (!direct.ok()) {
      EXPECT_EQ(direct.status().code(), Code::kNotSupported) << direct.status().to_string();
      EXPECT_NE(direct.status().message().find(p), std::string::npos);
    }
  }
  auto f = env_->new_unbuffered_file(p);
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  ASSERT_TRUE((*f)->append("on tmpfs").ok());
  ASSERT_TRUE((*f)->close().ok());
  EXPECT_EQ(*env_->read_file(p), "on tmpfs");
  EXPECT_TRUE(env_->remove_all(tmpl).ok());
}

// A wrapper that overrides only new_writable_file sees unbuffered files too (fault injection).
TEST_F(DirectFileTest, EnvWrapperSeesUnbufferedFilesAsWritableFiles) {
  class Counting : public EnvWrapper {
   public:
    using EnvWrapper::EnvWrapper;
    Result<std::unique_ptr<WritableFile>> new_writable_file(const std::string& p, bool t) override {
      ++opened;
      EXPECT_TRUE(t);
      return EnvWrapper::new_writable_file(p, t);
    }
    int opened = 0;
  };
  Counting env(env_);
  auto f = env.new_unbuffered_file(path("w"));
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(env.opened, 1);
}

}  // namespace
}  // namespace persisting
