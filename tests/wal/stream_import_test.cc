// Importing a bucket's own WAL (the layout before the node log) into the node log: once, past
// what the stream holds, surviving a crash between the append and the deletion, refusing a
// damaged or gapped old log without touching it.
#include <gtest/gtest.h>

#include <filesystem>

#include "storage/wal/stream_import.h"
#include "storage/wal/wal.h"
#include "tests/wal/node_log_test_util.h"

namespace persisting::wal {
namespace {

using testing::batch_for;
using testing::capture;
using testing::read_all;
using testing::record_for;
using testing::Replayed;
using testing::ScratchDir;
using testing::segment_files;
using testing::write_all;

ReplayFn ignore() {
  return [](Offset, std::string_view) { return Status::OK(); };
}

// A bucket WAL holding records 0..n-1 (record_for(o)), checkpointed at ckpt.
void write_old_wal(const std::string& dir, uint64_t n, uint64_t ckpt = 0) {
  WalOptions o;
  o.max_segment_size = 300;
  Replayed unused;
  auto w = Wal::open(dir, o, capture(&unused), nullptr);
  ASSERT_TRUE(w.ok());
  for (uint64_t i = 0; i < n; i += 2) ASSERT_TRUE((*w)->append(batch_for(i, 2)).ok());
  if (ckpt > 0) {
    ASSERT_TRUE((*w)->checkpoint(Offset(ckpt)).ok());
  }
  ASSERT_TRUE((*w)->close().ok());
}

// The stream's records in a copy of the node log, as a restart would see them (from `from`).
std::vector<std::string> stream_after_restart(const std::string& log_dir, const std::string& copy, uint64_t from) {
  std::filesystem::remove_all(copy);
  std::filesystem::copy(log_dir, copy, std::filesystem::copy_options::recursive);
  std::vector<std::string> got;
  auto log = NodeLog::open(copy, {}, nullptr);
  EXPECT_TRUE(log.ok());
  if (!log.ok()) return got;
  auto end = (*log)->attach("t/0", Offset(from), [&](Offset o, std::string_view r) {
    EXPECT_EQ(o.value(), from + got.size());
    got.emplace_back(r);
    return Status::OK();
  }, {});
  EXPECT_TRUE(end.ok()) << end.status().to_string();
  return got;
}

TEST(StreamImportTest, MovesTheRecordsPastWhatTheStreamHoldsAndDeletesTheOldLog) {
  ScratchDir d;
  write_old_wal(d.sub("bucket/wal"), 20, /*ckpt=*/4);
  auto log = NodeLog::open(d.sub("log"), {}, nullptr);
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE((*log)->attach("t/0", Offset(6), ignore(), {}).ok());  // Lance holds 0..5
  auto got = import_stream_wal(Env::Default(), d.sub("bucket/wal"), RecoveryPolicy::kTolerateTail, log->get(), "t/0");
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  EXPECT_TRUE(got->found);
  EXPECT_EQ(got->first, Offset(6));
  ASSERT_EQ(got->records.size(), 14u);
  for (size_t i = 0; i < 14; ++i) EXPECT_EQ(got->records.encoded(i), record_for(6 + i));
  EXPECT_FALSE(std::filesystem::exists(d.sub("bucket/wal")));
  EXPECT_EQ((*log)->stream_end("t/0"), Offset(20));
  // The node log holds them durably; appends continue after them.
  EXPECT_EQ((*log)->append("t/0", batch_for(20, 1)).value(), Offset(20));
  auto after = stream_after_restart(d.sub("log"), d.sub("copy"), 6);
  ASSERT_EQ(after.size(), 15u);
  for (size_t i = 0; i < after.size(); ++i) EXPECT_EQ(after[i], record_for(6 + i));
  // Nothing left to import the next time.
  auto again = import_stream_wal(Env::Default(), d.sub("bucket/wal"), RecoveryPolicy::kTolerateTail, log->get(), "t/0");
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->found);
}

TEST(StreamImportTest, ACrashBeforeTheOldLogIsDeletedImportsNothingTwice) {
  ScratchDir d;
  write_old_wal(d.sub("bucket/wal"), 10);
  std::filesystem::copy(d.sub("bucket/wal"), d.sub("saved"), std::filesystem::copy_options::recursive);
  {
    auto log = NodeLog::open(d.sub("log"), {}, nullptr);
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE((*log)->attach("t/0", Offset(0), ignore(), {}).ok());
    ASSERT_TRUE(import_stream_wal(Env::Default(), d.sub("bucket/wal"), RecoveryPolicy::kTolerateTail, log->get(), "t/0").ok());
  }
  // As if the process died after the node log had the records, before the deletion.
  std::filesystem::copy(d.sub("saved"), d.sub("bucket/wal"), std::filesystem::copy_options::recursive);
  auto log = NodeLog::open(d.sub("log"), {}, nullptr);
  ASSERT_TRUE(log.ok());
  std::vector<std::string> replayed;
  ASSERT_TRUE((*log)->attach("t/0", Offset(0), [&](Offset, std::string_view r) {
    replayed.emplace_back(r);
    return Status::OK();
  }, {}).ok());
  EXPECT_EQ(replayed.size(), 10u);
  auto got = import_stream_wal(Env::Default(), d.sub("bucket/wal"), RecoveryPolicy::kTolerateTail, log->get(), "t/0");
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  EXPECT_TRUE(got->records.empty());
  EXPECT_FALSE(std::filesystem::exists(d.sub("bucket/wal")));
  ASSERT_TRUE((*log)->close().ok());
  auto after = stream_after_restart(d.sub("log"), d.sub("copy"), 0);
  ASSERT_EQ(after.size(), 10u);
  for (size_t i = 0; i < after.size(); ++i) EXPECT_EQ(after[i], record_for(i));
}

TEST(StreamImportTest, ADamagedOldLogIsLeftAloneAndItsErrorReturned) {
  ScratchDir d;
  write_old_wal(d.sub("bucket/wal"), 10);
  const std::string seg = segment_files(d.sub("bucket/wal"))[0];
  std::string bytes = read_all(seg);
  bytes[kSegmentHeaderSize + kFrameHeaderSize + kBatchFixedSize + 10] ^= 0x01;  // the first frame
  write_all(seg, bytes);
  auto log = NodeLog::open(d.sub("log"), {}, nullptr);
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE((*log)->attach("t/0", Offset(0), ignore(), {}).ok());
  auto got = import_stream_wal(Env::Default(), d.sub("bucket/wal"), RecoveryPolicy::kTolerateTail, log->get(), "t/0");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), Code::kCorruption);
  EXPECT_EQ(read_all(seg), bytes);
  EXPECT_EQ((*log)->stream_end("t/0"), Offset(0));
  EXPECT_EQ((*log)->next_lsn(), Offset(0));  // nothing appended
}

TEST(StreamImportTest, AnOldLogThatDoesNotContinueTheStreamIsRefused) {
  ScratchDir d;
  write_old_wal(d.sub("bucket/wal"), 10, /*ckpt=*/8);  // says 0..7 are held elsewhere
  auto log = NodeLog::open(d.sub("log"), {}, nullptr);
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE((*log)->attach("t/0", Offset(3), ignore(), {}).ok());  // but only 0..2 are
  auto got = import_stream_wal(Env::Default(), d.sub("bucket/wal"), RecoveryPolicy::kTolerateTail, log->get(), "t/0");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), Code::kCorruption);
  EXPECT_NE(got.status().message().find("records missing"), std::string::npos) << got.status().message();
  EXPECT_NE(got.status().message().find("stream 't/0'"), std::string::npos) << got.status().message();
  EXPECT_TRUE(std::filesystem::exists(d.sub("bucket/wal")));
  EXPECT_EQ((*log)->next_lsn(), Offset(0));
}

}  // namespace
}  // namespace persisting::wal
