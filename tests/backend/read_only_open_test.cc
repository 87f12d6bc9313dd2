// Opening a bucket to read (BackendContext::read_only) takes nothing a writer needs, and a
// backend's options are checked without touching files (BackendContext::validate_only).
#include <gtest/gtest.h>

#include <filesystem>

#include "persisting/backend.h"
#include "util/temp_dir.h"

using namespace persisting;
using persisting::testing::TempDir;

namespace {

Result<std::unique_ptr<StorageBackend>> open(const std::string& backend, const std::string& dir, bool read_only) {
  BackendContext ctx;
  ctx.topic = "t";
  ctx.bucket_dir = dir;
  ctx.read_only = read_only;
  return BackendRegistry::global().create(backend, ctx, {});
}

RecordBatch batch_of(int from, int n) {
  RecordBatch b;
  for (int i = from; i < from + n; ++i) b.add(Record{{"id", "k" + std::to_string(i)}, {"i", i}});
  return b;
}

size_t count(StorageBackend& b) {
  auto got = b.get(Offset(0), 1 << 20);
  EXPECT_TRUE(got.ok()) << got.status().to_string();
  return got.ok() ? got->size() : 0;
}

bool is_writer(StorageBackend& b) { return b.stats().to_object().find("writer")->as_bool(); }

}  // namespace

TEST(ReadOnlyOpen, LeavesTheBucketToAWriterAndBecomesOneAtItsFirstPut) {
  TempDir dir;
  auto reader = open("persisting", dir.path(), /*read_only=*/true);
  ASSERT_TRUE(reader.ok()) << reader.status().to_string();
  EXPECT_FALSE(is_writer(**reader));
  {
    auto writer = open("persisting", dir.path(), /*read_only=*/false);
    ASSERT_TRUE(writer.ok()) << writer.status().to_string();
    EXPECT_TRUE(is_writer(**writer));
    ASSERT_TRUE((*writer)->put_batch(batch_of(0, 3)).ok());
    ASSERT_TRUE((*writer)->flush().ok());
    EXPECT_EQ(count(**reader), 3u);  // the reader picks up the writer's commit
    auto refused = (*reader)->put_batch(batch_of(3, 1));  // the writer holds the bucket
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.status().code(), Code::kFailedPrecondition) << refused.status().to_string();
  }
  // The writer has gone: the reader's put makes it the writer, continuing at the writer's end.
  auto put = (*reader)->put_batch(batch_of(3, 2));
  ASSERT_TRUE(put.ok()) << put.status().to_string();
  EXPECT_EQ(put->value(), 3u);
  EXPECT_TRUE(is_writer(**reader));
  EXPECT_EQ(count(**reader), 5u);
}

TEST(ReadOnlyOpen, MakesWhatADeadWriterLeftInItsWalReadableAndLetsTheLockGo) {
  TempDir dir;
  {
    auto writer = open("persisting", dir.path(), false);
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->put_batch(batch_of(0, 4)).ok());  // in the WAL only: closed without a flush
  }
  auto reader = open("persisting", dir.path(), true);
  ASSERT_TRUE(reader.ok()) << reader.status().to_string();
  EXPECT_FALSE(is_writer(**reader));
  EXPECT_EQ(count(**reader), 4u);
  auto writer = open("persisting", dir.path(), false);  // the lock is free again
  ASSERT_TRUE(writer.ok());
  EXPECT_TRUE(is_writer(**writer));
  EXPECT_EQ(count(**writer), 4u);
  auto put = (*writer)->put_batch(batch_of(4, 1));
  ASSERT_TRUE(put.ok()) << put.status().to_string();
  EXPECT_EQ(put->value(), 4u);
}

TEST(ValidateOptions, ChecksEveryBuiltInBackendWithoutTouchingFiles) {
  auto& r = BackendRegistry::global();
  EXPECT_TRUE(r.validate_options("persisting", {{"wal_sync_mode", "os"}, {"compression", "zstd"}}).ok());
  Status bad = r.validate_options("persisting", {{"wal_sync_mode", "sometimes"}});
  EXPECT_EQ(bad.code(), Code::kInvalidArgument);
  EXPECT_NE(bad.message().find("wal_sync_mode"), std::string::npos) << bad.to_string();
  Status unknown = r.validate_options("persisting", {{"compression", "lz4"}, {"no_such", "1"}});
  EXPECT_NE(unknown.message().find("no_such"), std::string::npos) << unknown.to_string();
  EXPECT_FALSE(r.validate_options("lance", {{"max_buffered_bytes", "0"}}).ok());
  EXPECT_TRUE(r.validate_options("lance", {{"flush_interval", "2"}}).ok());
  EXPECT_FALSE(r.validate_options("memory", {{"x", "1"}}).ok());
  EXPECT_TRUE(r.validate_options("memory", {}).ok());
  EXPECT_EQ(r.validate_options("nosuch", {}).code(), Code::kNotFound);
}

// A process that opened the bucket to read and then writes a batch spanning several buckets has
// each bucket check its part first: that check is the start of a put, so it makes the bucket the
// writer too, as the put itself would (it used to answer "written by another process").
TEST(ReadOnlyOpen, ACheckBeforeAPutBecomesTheWriterLikeThePut) {
  TempDir dir;
  auto b = open("persisting", dir.path(), /*read_only=*/true);
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  EXPECT_FALSE(is_writer(**b));
  RecordBatch part = batch_of(0, 2);
  Status checked = (*b)->check_batch(part, {1, 2});
  EXPECT_TRUE(checked.ok()) << checked.to_string();
  EXPECT_TRUE(is_writer(**b));
  ASSERT_TRUE((*b)->put_batch(part).ok());
  EXPECT_EQ(count(**b), 2u);
}

namespace {

// The "i" of each record b holds from offset `from` on, up to limit.
std::vector<int64_t> values(StorageBackend& b, uint64_t from, size_t limit) {
  std::vector<int64_t> out;
  auto got = b.get(Offset(from), limit);
  EXPECT_TRUE(got.ok()) << got.status().to_string();
  if (!got.ok()) return out;
  auto records = got->decode_all();
  EXPECT_TRUE(records.ok()) << records.status().to_string();
  if (records.ok())
    for (const auto& r : *records) out.push_back(r.find("i")->as_int());
  return out;
}

std::vector<int64_t> range(int64_t from, int64_t to) {
  std::vector<int64_t> out;
  for (int64_t i = from; i < to; ++i) out.push_back(i);
  return out;
}

int64_t extra_int(StorageBackend& b, const std::string& key) {
  const Object stats = b.stats().to_object();  // find() points into it
  const Value* v = stats.find(key);
  return v && v->is_int() ? v->as_int() : -1;
}

}  // namespace

// A reader that finds a dead writer's records in the log serves them from memory: it writes no
// Lance fragment (a reopen of 1,000 buckets used to be 1,000 Lance commits) and leaves the log as
// it is, so the next writer recovers the same records, continues after them and flushes them.
TEST(ReadOnlyOpen, ServesADeadWritersRecordsFromMemoryAndLeavesLanceToTheNextWriter) {
  TempDir dir;
  const std::string live = dir.path() + "/live", crash = dir.path() + "/crash";
  {
    auto writer = open("persisting", live, false);
    ASSERT_TRUE(writer.ok()) << writer.status().to_string();
    ASSERT_TRUE((*writer)->put_batch(batch_of(0, 6)).ok());
    ASSERT_TRUE((*writer)->put_batch(batch_of(6, 4)).ok());
    // A crash now: the files as they are while the writer lives (its records in the log only).
    std::filesystem::copy(live, crash, std::filesystem::copy_options::recursive);
  }
  for (int round = 0; round < 2; ++round) {  // a second reader finds the same
    auto reader = open("persisting", crash, /*read_only=*/true);
    ASSERT_TRUE(reader.ok()) << reader.status().to_string();
    EXPECT_FALSE(is_writer(**reader));
    EXPECT_EQ((*reader)->total_count(), 10u);
    EXPECT_EQ(values(**reader, 0, 100), range(0, 10));
    EXPECT_EQ(values(**reader, 7, 2), range(7, 9));
    EXPECT_EQ(extra_int(**reader, "recovered_records"), 10);
    EXPECT_TRUE((*reader)->flush().ok());  // a reader flushes nothing (a Queue's close flushes)
    EXPECT_FALSE(std::filesystem::exists(crash + "/data.lance")) << "round " << round;
  }
  {
    auto writer = open("persisting", crash, false);
    ASSERT_TRUE(writer.ok()) << writer.status().to_string();
    EXPECT_TRUE(is_writer(**writer));
    EXPECT_EQ(values(**writer, 0, 100), range(0, 10));
    auto put = (*writer)->put_batch(batch_of(10, 1));
    ASSERT_TRUE(put.ok()) << put.status().to_string();
    EXPECT_EQ(put->value(), 10u);
    ASSERT_TRUE((*writer)->flush().ok());
  }
  EXPECT_TRUE(std::filesystem::exists(crash + "/data.lance"));
  auto reader = open("persisting", crash, /*read_only=*/true);
  ASSERT_TRUE(reader.ok()) << reader.status().to_string();
  EXPECT_EQ(values(**reader, 0, 100), range(0, 11));
  EXPECT_EQ(extra_int(**reader, "recovered_records"), -1);  // all in Lance now
}

// A reader serving recovered records from memory goes on into what the next writer flushes:
// every record once, in order, whether memory or Lance serves it.
TEST(ReadOnlyOpen, AReaderOfRecoveredRecordsContinuesIntoWhatTheNextWriterFlushes) {
  TempDir dir;
  {
    auto writer = open("persisting", dir.path(), false);
    ASSERT_TRUE(writer.ok()) << writer.status().to_string();
    ASSERT_TRUE((*writer)->put_batch(batch_of(0, 10)).ok());  // closed without a flush
  }
  auto reader = open("persisting", dir.path(), /*read_only=*/true);
  ASSERT_TRUE(reader.ok()) << reader.status().to_string();
  EXPECT_EQ(values(**reader, 0, 5), range(0, 5));
  auto writer = open("persisting", dir.path(), false);
  ASSERT_TRUE(writer.ok()) << writer.status().to_string();
  ASSERT_TRUE((*writer)->put_batch(batch_of(10, 5)).ok());
  EXPECT_EQ(values(**reader, 5, 3), range(5, 8));  // not flushed yet: from memory
  ASSERT_TRUE((*writer)->flush().ok());
  EXPECT_EQ(values(**reader, 8, 100), range(8, 15));
  EXPECT_EQ((*reader)->total_count(), 15u);
  EXPECT_EQ(extra_int(**reader, "recovered_records"), -1);  // Lance holds them now
}
