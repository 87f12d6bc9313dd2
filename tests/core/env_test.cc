// POSIX Env basics in a fresh temporary directory.
#include "persisting/env.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>

namespace persisting {
namespace {

class EnvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "persisting_env_test_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { EXPECT_TRUE(env_->remove_all(dir_).ok()); }

  std::string path(std::string_view name) const { return join_path(dir_, name); }

  Env* env_ = Env::Default();
  std::string dir_;
};

TEST_F(EnvTest, WriteFileAtomicThenReadFile) {
  std::string p = path("topic.json");
  ASSERT_TRUE(env_->write_file_atomic(p, "first").ok());
  Result<std::string> got = env_->read_file(p);
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  EXPECT_EQ(*got, "first");
  // Replacing keeps no temporary behind.
  std::string binary("a\0b\xff", 4);
  ASSERT_TRUE(env_->write_file_atomic(p, binary).ok());
  EXPECT_EQ(*env_->read_file(p), binary);
  EXPECT_FALSE(env_->file_exists(p + ".tmp"));
  EXPECT_EQ(*env_->file_size(p), 4u);
  ASSERT_TRUE(env_->write_file_atomic(p, "").ok());
  EXPECT_EQ(*env_->read_file(p), "");
}

TEST_F(EnvTest, WritableFileAppendTruncateAndReopen) {
  std::string p = path("seg.wal");
  {
    auto f = env_->new_writable_file(p, /*truncate=*/true);
    ASSERT_TRUE(f.ok()) << f.status().to_string();
    ASSERT_TRUE((*f)->append("hello ").ok());
    ASSERT_TRUE((*f)->append("world").ok());
    EXPECT_EQ((*f)->size(), 11u);
    ASSERT_TRUE((*f)->sync().ok());
    ASSERT_TRUE((*f)->truncate(5).ok());
    EXPECT_EQ((*f)->size(), 5u);
    ASSERT_TRUE((*f)->append("!").ok());  // appends land at the new end
    ASSERT_TRUE((*f)->close().ok());
    EXPECT_TRUE((*f)->close().ok());  // closing twice is harmless
  }
  EXPECT_EQ(*env_->read_file(p), "hello!");
  {
    auto f = env_->new_writable_file(p, /*truncate=*/false);
    ASSERT_TRUE(f.ok());
    EXPECT_EQ((*f)->size(), 6u);
    ASSERT_TRUE((*f)->append("?").ok());
  }
  EXPECT_EQ(*env_->read_file(p), "hello!?");
  {
    auto f = env_->new_writable_file(p, /*truncate=*/true);
    ASSERT_TRUE(f.ok());
    EXPECT_EQ((*f)->size(), 0u);
  }
  EXPECT_EQ(*env_->file_size(p), 0u);
}

TEST_F(EnvTest, ReuseWritableFileWritesOverItInPlace) {
  std::string p = path("spare");
  ASSERT_TRUE(env_->write_file_atomic(p, "0123456789").ok());
  {
    auto f = env_->reuse_writable_file(p, 2);
    ASSERT_TRUE(f.ok()) << f.status().to_string();
    EXPECT_EQ((*f)->size(), 2u);
    ASSERT_TRUE((*f)->append("ab").ok());
    EXPECT_EQ((*f)->size(), 4u);
    ASSERT_TRUE((*f)->sync().ok());
    ASSERT_TRUE((*f)->close().ok());
  }
  EXPECT_EQ(*env_->read_file(p), "01ab456789");  // the rest keeps its old bytes
  {
    auto f = env_->reuse_writable_file(p, 0);
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->append("xyz").ok());
    ASSERT_TRUE((*f)->truncate(5).ok());  // cuts the old bytes off; appends go on at the end
    ASSERT_TRUE((*f)->append("!").ok());
    EXPECT_EQ((*f)->size(), 6u);
  }
  EXPECT_EQ(*env_->read_file(p), "xyzb4!");
  {
    auto f = env_->reuse_writable_file(p, 2);  // writing past the old end grows the file
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->append("-longer").ok());
  }
  EXPECT_EQ(*env_->read_file(p), "xy-longer");
  // Past the end, or a file that is not there: refused, nothing created.
  auto past = env_->reuse_writable_file(p, 100);
  EXPECT_EQ(past.status().code(), Code::kInvalidArgument) << past.status().to_string();
  EXPECT_EQ(*env_->read_file(p), "xy-longer");
  EXPECT_FALSE(env_->reuse_writable_file(path("missing"), 0).ok());
  EXPECT_FALSE(env_->file_exists(path("missing")));
  // An Env that cannot (every EnvWrapper, unless it says otherwise) says so.
  EnvWrapper wrapped(env_);
  EXPECT_EQ(wrapped.reuse_writable_file(p, 0).status().code(), Code::kNotSupported);
}

TEST_F(EnvTest, WriteAtWritesAheadWithoutMovingTheAppendPosition) {
  std::string p = path("seg");
  ASSERT_TRUE(env_->write_file_atomic(p, "head").ok());
  {
    auto f = env_->reuse_writable_file(p, 4);
    ASSERT_TRUE(f.ok()) << f.status().to_string();
    ASSERT_TRUE((*f)->write_at(6, std::string(4, '\0')).ok());  // past the end: the file grows
    EXPECT_EQ((*f)->size(), 4u);
    EXPECT_EQ(*env_->file_size(p), 10u);
    ASSERT_TRUE((*f)->append("ab").ok());  // overwrites in place; the file keeps its size
    EXPECT_EQ((*f)->size(), 6u);
    ASSERT_TRUE((*f)->sync().ok());
    ASSERT_TRUE((*f)->truncate(6).ok());
    ASSERT_TRUE((*f)->close().ok());
  }
  EXPECT_EQ(*env_->read_file(p), "headab");
  std::string zeros = std::string("headab") + std::string(4, '\0');
  {
    auto f = env_->reuse_writable_file(p, 6);
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->write_at(6, std::string(4, '\0')).ok());
  }
  EXPECT_EQ(*env_->read_file(p), zeros);
  // A file opened for appending only (O_APPEND would write at the end) says it cannot.
  auto f = env_->new_writable_file(p, /*truncate=*/false);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ((*f)->write_at(0, "x").code(), Code::kNotSupported);
  EXPECT_EQ(*env_->read_file(p), zeros);
}

TEST_F(EnvTest, StartWritebackIsOnlyAHint) {
  std::string p = path("seg.wal");
  auto f = env_->new_writable_file(p, /*truncate=*/true);
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  EXPECT_TRUE((*f)->start_writeback().ok());  // nothing written yet
  std::string block(8192, 'w');
  ASSERT_TRUE((*f)->append(block).ok());
  Status s = (*f)->start_writeback();
  EXPECT_TRUE(s.ok()) << s.to_string();
  ASSERT_TRUE((*f)->append("tail").ok());  // appends go on after it
  EXPECT_EQ((*f)->size(), block.size() + 4);
  ASSERT_TRUE((*f)->close().ok());
  EXPECT_EQ(*env_->read_file(p), block + "tail");
  s = (*f)->start_writeback();  // a closed file says so
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find(p), std::string::npos) << s.to_string();
}

TEST_F(EnvTest, RandomAccessReads) {
  std::string p = path("data");
  ASSERT_TRUE(env_->write_file_atomic(p, "0123456789").ok());
  auto f = env_->new_random_access_file(p);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ((*f)->size(), 10u);
  std::string out;
  ASSERT_TRUE((*f)->read(3, 4, &out).ok());
  EXPECT_EQ(out, "3456");
  ASSERT_TRUE((*f)->read(8, 10, &out).ok());
  EXPECT_EQ(out, "89");  // short at end of file
  ASSERT_TRUE((*f)->read(20, 5, &out).ok());
  EXPECT_EQ(out, "");
}

TEST_F(EnvTest, GetChildrenCreateDirsAndRemoveAll) {
  ASSERT_TRUE(env_->create_dirs(path("t/bucket_0/wal")).ok());
  ASSERT_TRUE(env_->create_dirs(path("t/bucket_0/wal")).ok());  // mkdir -p is idempotent
  ASSERT_TRUE(env_->write_file_atomic(path("t/topic.json"), "{}").ok());
  ASSERT_TRUE(env_->write_file_atomic(path("t/bucket_0/wal/1.wal"), "x").ok());
  auto kids = env_->get_children(path("t"));
  ASSERT_TRUE(kids.ok());
  std::sort(kids->begin(), kids->end());
  EXPECT_EQ(*kids, (std::vector<std::string>{"bucket_0", "topic.json"}));
  ASSERT_TRUE(env_->remove_all(path("t")).ok());
  EXPECT_FALSE(env_->file_exists(path("t")));
  EXPECT_TRUE(env_->remove_all(path("t")).ok());  // missing is OK
  auto empty = env_->get_children(dir_);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST_F(EnvTest, RenameAndRemoveFile) {
  ASSERT_TRUE(env_->write_file_atomic(path("a"), "A").ok());
  ASSERT_TRUE(env_->rename_file(path("a"), path("b")).ok());
  EXPECT_FALSE(env_->file_exists(path("a")));
  EXPECT_EQ(*env_->read_file(path("b")), "A");
  ASSERT_TRUE(env_->remove_file(path("b")).ok());
  EXPECT_FALSE(env_->file_exists(path("b")));
  Status again = env_->remove_file(path("b"));
  EXPECT_FALSE(again.ok());
  EXPECT_NE(again.message().find(path("b")), std::string::npos) << again.message();
  EXPECT_FALSE(env_->rename_file(path("missing"), path("c")).ok());
  ASSERT_TRUE(env_->sync_dir(dir_).ok());
}

TEST_F(EnvTest, LinkFileIsCreateIfAbsent) {
  ASSERT_TRUE(env_->write_file_atomic(path("src1"), "one").ok());
  ASSERT_TRUE(env_->write_file_atomic(path("src2"), "two").ok());
  ASSERT_TRUE(env_->link_file(path("src1"), path("dst")).ok());
  EXPECT_EQ(*env_->read_file(path("dst")), "one");
  Status lost = env_->link_file(path("src2"), path("dst"));
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(lost.code(), Code::kAlreadyExists);
  EXPECT_NE(lost.message().find(path("dst")), std::string::npos) << lost.message();
  EXPECT_EQ(*env_->read_file(path("dst")), "one");  // the loser changed nothing
  Status missing = env_->link_file(path("nope"), path("dst2"));
  EXPECT_FALSE(missing.ok());
  EXPECT_NE(missing.code(), Code::kAlreadyExists);
}

TEST_F(EnvTest, RenameNoReplaceIsCreateIfAbsent) {
  ASSERT_TRUE(env_->write_file_atomic(path("src1"), "one").ok());
  ASSERT_TRUE(env_->write_file_atomic(path("src2"), "two").ok());
  ASSERT_TRUE(env_->rename_no_replace(path("src1"), path("dst")).ok());
  EXPECT_EQ(*env_->read_file(path("dst")), "one");
  EXPECT_FALSE(env_->file_exists(path("src1")));
  Status lost = env_->rename_no_replace(path("src2"), path("dst"));
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(lost.code(), Code::kAlreadyExists);
  EXPECT_NE(lost.message().find(path("dst")), std::string::npos) << lost.message();
  EXPECT_EQ(*env_->read_file(path("dst")), "one");  // the loser changed nothing
  EXPECT_EQ(*env_->read_file(path("src2")), "two");
  Status missing = env_->rename_no_replace(path("nope"), path("dst2"));
  EXPECT_FALSE(missing.ok());
  EXPECT_NE(missing.code(), Code::kAlreadyExists);
  EXPECT_FALSE(env_->file_exists(path("dst2")));
}

TEST_F(EnvTest, MissingFilesAreNotFoundAndNamed) {
  std::string p = path("missing");
  Result<std::string> r = env_->read_file(p);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_NE(r.status().message().find(p), std::string::npos);
  EXPECT_EQ(env_->new_random_access_file(p).status().code(), Code::kNotFound);
  EXPECT_EQ(env_->file_size(p).status().code(), Code::kNotFound);
  EXPECT_EQ(env_->get_children(p).status().code(), Code::kNotFound);
  EXPECT_FALSE(env_->file_exists(p));
  // Writing into a missing directory fails and names the path.
  auto w = env_->new_writable_file(path("no/such/dir/f"), true);
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find(path("no/such/dir/f")), std::string::npos);
  EXPECT_FALSE(env_->write_file_atomic(path("no/such/dir/f"), "x").ok());
}

TEST(EnvPathTest, JoinPathAndDirName) {
  EXPECT_EQ(join_path("a", "b"), "a/b");
  EXPECT_EQ(join_path("a/", "b"), "a/b");
  EXPECT_EQ(join_path("", "b"), "b");
  EXPECT_EQ(dir_name("a/b/c"), "a/b");
  EXPECT_EQ(dir_name("c"), ".");
  EXPECT_EQ(dir_name("/c"), "/");
}

// EnvWrapper forwards to its target and lets a test override one call.
TEST_F(EnvTest, EnvWrapperForwardsAndOverrides) {
  class FailingSync : public EnvWrapper {
   public:
    using EnvWrapper::EnvWrapper;
    Status sync_dir(const std::string& d) override { return IOError("injected fsync failure on '" + d + "'"); }
  };
  FailingSync env(env_);
  EXPECT_EQ(env.target(), env_);
  Status s = env.write_file_atomic(path("f"), "data");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kIOError);
  EXPECT_NE(s.message().find("injected"), std::string::npos);
  EXPECT_EQ(*env.read_file(path("f")), "data");  // the rename happened before the dir sync
}

}  // namespace
}  // namespace persisting
