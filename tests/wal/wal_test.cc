// The WAL's normal life: append, reopen, rotate, checkpoint, group commit.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>
#include <thread>

#include "storage/wal/checkpoint.h"
#include "storage/wal/wal.h"
#include "storage/wal/wal_format.h"
#include "tests/wal/wal_test_util.h"

namespace persisting::wal {
namespace {

using testing::batch_for;
using testing::capture;
using testing::expect_prefix_of_originals;
using testing::Replayed;
using testing::ScratchDir;
using testing::segment_files;

std::unique_ptr<Wal> open_ok(const std::string& dir, WalOptions o, Replayed* got,
                             RecoveryReport* report = nullptr) {
  auto w = Wal::open(dir, o, capture(got), report);
  EXPECT_TRUE(w.ok()) << w.status().to_string();
  return w.ok() ? std::move(*w) : nullptr;
}

// Recovers dir and expects exactly `count` records, offsets from `from` on, as written.
void expect_recovers(const std::string& dir, const WalOptions& o, uint64_t from, size_t count,
                     size_t pad = 0) {
  Replayed got;
  auto w = open_ok(dir, o, &got);
  ASSERT_TRUE(w);
  ASSERT_EQ(got.size(), count);
  expect_prefix_of_originals(got, from, pad);
}

TEST(WalTest, FreshDirectoryStartsAtZeroWithOneSegment) {
  ScratchDir d;
  Replayed got;
  RecoveryReport rep;
  auto w = open_ok(d.sub("wal"), {}, &got, &rep);
  ASSERT_TRUE(w);
  EXPECT_TRUE(got.empty());
  EXPECT_EQ(rep.outcome, RecoveryOutcome::kClean);
  EXPECT_EQ(w->next_offset(), Offset(0));
  EXPECT_EQ(w->segment_count(), 1u);
  auto files = segment_files(d.sub("wal"));
  ASSERT_EQ(files.size(), 1u);
  EXPECT_TRUE(files[0].ends_with("/00000000000000000000.wal"));
  EXPECT_EQ(w->size_bytes(), kSegmentHeaderSize);
}

TEST(WalTest, AppendAssignsConsecutiveOffsetsAndReopenReplaysThem) {
  ScratchDir d;
  {
    Replayed got;
    auto w = open_ok(d.path(), {}, &got);
    uint64_t next = 0;
    for (size_t n : {1, 5, 2, 10}) {
      auto first = w->append(batch_for(next, n));
      ASSERT_TRUE(first.ok()) << first.status().to_string();
      EXPECT_EQ(*first, Offset(next));
      next += n;
    }
    EXPECT_EQ(w->next_offset(), Offset(18));
    EXPECT_EQ(w->durable_offset(), Offset(18));
    auto empty = w->append(RecordBatch());
    ASSERT_TRUE(empty.ok());
    EXPECT_EQ(*empty, Offset(18));
    ASSERT_TRUE(w->close().ok());
    EXPECT_FALSE(w->append(batch_for(18, 1)).ok());
  }
  Replayed got;
  RecoveryReport rep;
  auto w = open_ok(d.path(), {}, &got, &rep);
  ASSERT_EQ(got.size(), 18u);
  expect_prefix_of_originals(got, 0);
  EXPECT_EQ(rep.records_replayed, 18u);
  EXPECT_EQ(rep.outcome, RecoveryOutcome::kClean);
  EXPECT_EQ(w->next_offset(), Offset(18));
  // Appends continue in the same segment after reopen.
  ASSERT_EQ(*w->append(batch_for(18, 3)), Offset(18));
  w.reset();
  expect_recovers(d.path(), {}, 0, 21);
  EXPECT_EQ(segment_files(d.path()).size(), 1u);
}

TEST(WalTest, RotatesAtMaxSegmentSizeAndReadsAcrossSegments) {
  ScratchDir d;
  WalOptions o;
  o.max_segment_size = 400;
  {
    Replayed got;
    auto w = open_ok(d.path(), o, &got);
    for (uint64_t i = 0; i < 40; i += 4) ASSERT_TRUE(w->append(batch_for(i, 4, 10)).ok());
    EXPECT_GT(w->segment_count(), 3u);
    // No segment grows past the limit when more than one frame is in it.
    for (const auto& f : segment_files(d.path())) EXPECT_LE(*Env::Default()->file_size(f), 400u) << f;
  }
  auto files = segment_files(d.path());
  ASSERT_GT(files.size(), 3u);
  // Each file is named after the first offset its header holds.
  for (const auto& f : files) {
    auto bytes = testing::read_all(f);
    auto first = decode_segment_header(bytes, f);
    ASSERT_TRUE(first.ok());
    EXPECT_EQ(segment_file_name(*first), f.substr(f.rfind('/') + 1));
  }
  expect_recovers(d.path(), o, 0, 40, 10);
}

TEST(WalTest, ABatchLargerThanTheSegmentLimitStillFitsInOneSegment) {
  ScratchDir d;
  WalOptions o;
  o.max_segment_size = 100;
  Replayed got;
  auto w = open_ok(d.path(), o, &got);
  ASSERT_TRUE(w->append(batch_for(0, 20, 50)).ok());
  ASSERT_TRUE(w->append(batch_for(20, 20, 50)).ok());
  w.reset();
  expect_recovers(d.path(), o, 0, 40, 50);
}

TEST(WalTest, CheckpointDeletesSegmentsWhollyBelowItAndRecoverySkipsBelowIt) {
  ScratchDir d;
  WalOptions o;
  o.max_segment_size = 300;
  {
    Replayed got;
    auto w = open_ok(d.path(), o, &got);
    for (uint64_t i = 0; i < 60; i += 3) ASSERT_TRUE(w->append(batch_for(i, 3)).ok());
    const size_t before = w->segment_count();
    ASSERT_GT(before, 4u);
    ASSERT_TRUE(w->checkpoint(Offset(31)).ok());
    EXPECT_EQ(w->checkpoint_offset(), Offset(31));
    EXPECT_LT(w->segment_count(), before);
    EXPECT_EQ(segment_files(d.path()).size(), w->segment_count());
    // What is left starts at or below the checkpoint.
    auto first = decode_segment_header(testing::read_all(segment_files(d.path())[0]), "");
    ASSERT_TRUE(first.ok());
    EXPECT_LE(first->value(), 31u);
    // Same checkpoint again: a no-op. Lower or past the end: refused.
    EXPECT_TRUE(w->checkpoint(Offset(31)).ok());
    EXPECT_EQ(w->checkpoint(Offset(30)).code(), Code::kInvalidArgument);
    EXPECT_EQ(w->checkpoint(Offset(61)).code(), Code::kInvalidArgument);
  }
  Replayed got;
  RecoveryReport rep;
  auto w = open_ok(d.path(), o, &got, &rep);
  ASSERT_EQ(got.size(), 29u);
  expect_prefix_of_originals(got, 31);
  EXPECT_EQ(rep.checkpoint, Offset(31));
  EXPECT_GT(rep.records_skipped, 0u);
  EXPECT_EQ(w->next_offset(), Offset(60));
  // Checkpoint the whole log: every segment but the active one goes; nothing is replayed.
  ASSERT_TRUE(w->checkpoint(Offset(60)).ok());
  EXPECT_EQ(w->segment_count(), 1u);
  ASSERT_TRUE(w->append(batch_for(60, 2)).ok());
  w.reset();
  expect_recovers(d.path(), o, 60, 2);
}

uint64_t inode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return static_cast<uint64_t>(st.st_ino);
}

TEST(WalTest, ACheckpointedSegmentIsWrittenOverAsALaterOne) {
  ScratchDir d;
  WalOptions o;
  o.max_segment_size = 300;
  const std::string spare = d.sub(std::string(kSpareFileName));
  uint64_t next = 0;
  {
    Replayed got;
    auto w = open_ok(d.path(), o, &got);
    for (; next < 30; next += 3) ASSERT_TRUE(w->append(batch_for(next, 3)).ok());
    ASSERT_GE(w->segment_count(), 3u);
    const std::string oldest = segment_files(d.path())[0];
    const uint64_t oldest_inode = inode_of(oldest);
    const size_t files = segment_files(d.path()).size();
    // Frees the two oldest segments: the first becomes the spare, the second is deleted.
    auto second = decode_segment_header(testing::read_all(segment_files(d.path())[2]), "");
    ASSERT_TRUE(second.ok());
    ASSERT_TRUE(w->checkpoint(*second).ok());
    ASSERT_TRUE(std::filesystem::exists(spare));
    EXPECT_EQ(inode_of(spare), oldest_inode);
    EXPECT_EQ(segment_files(d.path()).size(), files - 2);
    // The next rotation takes it: the new segment is the same file, and the spare is gone.
    const size_t before = w->segment_count();
    while (w->segment_count() == before) {
      ASSERT_TRUE(w->append(batch_for(next, 3)).ok());
      next += 3;
    }
    EXPECT_FALSE(std::filesystem::exists(spare));
    EXPECT_EQ(inode_of(segment_files(d.path()).back()), oldest_inode);
    // Appends fill it and rotate on as usual.
    for (uint64_t end = next + 30; next < end; next += 3) ASSERT_TRUE(w->append(batch_for(next, 3)).ok());
    ASSERT_TRUE(w->checkpoint(Offset(next - 3)).ok());
    EXPECT_TRUE(std::filesystem::exists(spare));
    // Close right after rotating onto the spare: the active segment has old bytes after its one
    // batch, which close() cuts off.
    const size_t count = w->segment_count();
    while (w->segment_count() == count) {
      ASSERT_TRUE(w->append(batch_for(next, 3)).ok());
      next += 3;
    }
    EXPECT_FALSE(std::filesystem::exists(spare));
    ASSERT_TRUE(w->close().ok());
  }
  // Reopened: every record after the checkpoint, once, in order; the spare is used again.
  Replayed got;
  RecoveryReport rep;
  auto w = open_ok(d.path(), o, &got, &rep);
  ASSERT_TRUE(w);
  const uint64_t ckpt = w->checkpoint_offset().value();
  ASSERT_EQ(got.size(), next - ckpt);
  expect_prefix_of_originals(got, ckpt);
  EXPECT_EQ(rep.outcome, RecoveryOutcome::kClean);
  EXPECT_EQ(rep.bytes_recycled, 0u) << "close() cut the old bytes after the records off";
  for (int i = 0; i < 30; ++i, next += 3) ASSERT_TRUE(w->append(batch_for(next, 3)).ok());
  ASSERT_TRUE(w->checkpoint(Offset(next - 3)).ok());
  w.reset();
  expect_recovers(d.path(), o, next - 3, 3);
}

TEST(WalTest, WithoutRecyclingFreedSegmentsAreDeleted) {
  ScratchDir d;
  WalOptions o;
  o.max_segment_size = 300;
  o.recycle_segments = false;
  Replayed got;
  auto w = open_ok(d.path(), o, &got);
  for (uint64_t i = 0; i < 60; i += 3) ASSERT_TRUE(w->append(batch_for(i, 3)).ok());
  ASSERT_TRUE(w->checkpoint(Offset(57)).ok());
  EXPECT_FALSE(std::filesystem::exists(d.sub(std::string(kSpareFileName))));
  EXPECT_EQ(segment_files(d.path()).size(), w->segment_count());
}

TEST(WalTest, CrashBetweenCheckpointWriteAndSegmentDeletionDoesNotDuplicate) {
  ScratchDir d;
  WalOptions o;
  o.max_segment_size = 300;
  {
    Replayed got;
    auto w = open_ok(d.path(), o, &got);
    for (uint64_t i = 0; i < 30; i += 3) ASSERT_TRUE(w->append(batch_for(i, 3)).ok());
  }
  const size_t files_before = segment_files(d.path()).size();
  // The flush made offsets < 20 durable elsewhere and the checkpoint file was written, then the
  // process died before deleting any segment.
  ASSERT_TRUE(write_checkpoint(Env::Default(), d.path(), Offset(20)).ok());
  ASSERT_EQ(segment_files(d.path()).size(), files_before);
  Replayed got;
  RecoveryReport rep;
  auto w = open_ok(d.path(), o, &got, &rep);
  ASSERT_EQ(got.size(), 10u);
  expect_prefix_of_originals(got, 20);
  EXPECT_GT(rep.segments_deleted, 0u);  // recovery finishes the deletion
  EXPECT_LT(segment_files(d.path()).size(), files_before);
}

TEST(WalTest, LogThatEndsBelowTheCheckpointRestartsAtTheCheckpoint) {
  ScratchDir d;
  {
    Replayed got;
    auto w = open_ok(d.path(), {}, &got);
    ASSERT_TRUE(w->append(batch_for(0, 5)).ok());
  }
  // The flushed data reached offset 8 (say the WAL tail was lost but Lance had it).
  ASSERT_TRUE(write_checkpoint(Env::Default(), d.path(), Offset(8)).ok());
  Replayed got;
  auto w = open_ok(d.path(), {}, &got);
  EXPECT_TRUE(got.empty());
  EXPECT_EQ(w->next_offset(), Offset(8));
  ASSERT_EQ(*w->append(batch_for(8, 2)), Offset(8));
  w.reset();
  expect_recovers(d.path(), {}, 8, 2);
}

TEST(WalTest, CorruptCheckpointRefusesToOpen) {
  ScratchDir d;
  {
    Replayed got;
    auto w = open_ok(d.path(), {}, &got);
    ASSERT_TRUE(w->append(batch_for(0, 5)).ok());
    ASSERT_TRUE(w->checkpoint(Offset(2)).ok());
  }
  std::string path = d.sub("CHECKPOINT");
  std::string bytes = testing::read_all(path);
  bytes[17] ^= 0x01;
  testing::write_all(path, bytes);
  Replayed got;
  for (auto policy : {RecoveryPolicy::kTolerateTail, RecoveryPolicy::kAbsolute, RecoveryPolicy::kPointInTime}) {
    WalOptions o;
    o.recovery_policy = policy;
    auto w = Wal::open(d.path(), o, capture(&got), nullptr);
    ASSERT_FALSE(w.ok());
    EXPECT_EQ(w.status().code(), Code::kCorruption);
    EXPECT_NE(w.status().message().find("CHECKPOINT"), std::string::npos) << w.status().to_string();
  }
  EXPECT_TRUE(got.empty());
}

TEST(WalTest, ConcurrentAppendersGetDenseDistinctOffsets) {
  ScratchDir d;
  WalOptions o;
  o.max_segment_size = 64 << 10;  // rotate a few times while the writers race
  constexpr int kThreads = 4, kPerThread = 200;
  std::vector<std::vector<std::pair<uint64_t, size_t>>> acks(kThreads);  // (first, count)
  {
    Replayed got;
    auto w = open_ok(d.path(), o, &got);
    std::vector<std::thread> ts;
    for (int t = 0; t < kThreads; ++t) {
      ts.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          const size_t n = 1 + (i + t) % 4;
          // Content is decided by the offset the WAL assigns, so write a tagged record instead.
          RecordBatch b;
          for (size_t k = 0; k < n; ++k) b.add_encoded("t" + std::to_string(t) + "-" + std::to_string(i) + "-" + std::to_string(k));
          auto first = w->append(b);
          ASSERT_TRUE(first.ok()) << first.status().to_string();
          acks[t].emplace_back(first->value(), n);
        }
      });
    }
    for (auto& th : ts) th.join();
    EXPECT_EQ(w->durable_offset(), w->next_offset());
  }
  std::map<uint64_t, std::string> expected;
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      auto [first, n] = acks[t][i];
      for (size_t k = 0; k < n; ++k) {
        bool fresh = expected.emplace(first + k, "t" + std::to_string(t) + "-" + std::to_string(i) + "-" + std::to_string(k)).second;
        ASSERT_TRUE(fresh) << "offset " << first + k << " given out twice";
      }
    }
  }
  Replayed got;
  auto w = open_ok(d.path(), o, &got);
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].first, i);
    ASSERT_EQ(got[i].second, expected.at(i));
  }
}

TEST(WalTest, IntervalModeSyncsInTheBackgroundAndOnDemand) {
  ScratchDir d;
  WalOptions o;
  o.sync_mode = SyncMode::kInterval;
  o.sync_interval_s = 3600;  // the background syncer never fires during this test
  Replayed got;
  auto w = open_ok(d.path(), o, &got);
  ASSERT_TRUE(w->append(batch_for(0, 3)).ok());
  EXPECT_EQ(w->next_offset(), Offset(3));
  EXPECT_EQ(w->durable_offset(), Offset(0));
  ASSERT_TRUE(w->sync().ok());
  EXPECT_EQ(w->durable_offset(), Offset(3));
  w.reset();

  o.sync_interval_s = 0.01;
  w = open_ok(d.path(), o, &got);
  ASSERT_TRUE(w->append(batch_for(3, 3)).ok());
  // Behaviour, not timing: wait (bounded) until the background syncer has covered the append.
  for (int i = 0; i < 2000 && w->durable_offset() < Offset(6); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(w->durable_offset(), Offset(6));
}

TEST(WalTest, ZeroIntervalMeansAlways) {
  ScratchDir d;
  WalOptions o;
  o.sync_mode = SyncMode::kInterval;
  o.sync_interval_s = 0;
  Replayed got;
  auto w = open_ok(d.path(), o, &got);
  ASSERT_TRUE(w->append(batch_for(0, 3)).ok());
  EXPECT_EQ(w->durable_offset(), Offset(3));
}

TEST(WalTest, OptionNamesParseAndBadOnesAreRejected) {
  EXPECT_EQ(*parse_sync_mode("always"), SyncMode::kAlways);
  EXPECT_EQ(*parse_sync_mode("interval"), SyncMode::kInterval);
  EXPECT_EQ(*parse_sync_mode("os"), SyncMode::kOs);
  EXPECT_EQ(parse_sync_mode("sometimes").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(*parse_recovery_policy("tolerate_tail"), RecoveryPolicy::kTolerateTail);
  EXPECT_EQ(*parse_recovery_policy("absolute"), RecoveryPolicy::kAbsolute);
  EXPECT_EQ(*parse_recovery_policy("point_in_time"), RecoveryPolicy::kPointInTime);
  EXPECT_EQ(parse_recovery_policy("skip_any").status().code(), Code::kInvalidArgument);
  for (auto m : {SyncMode::kAlways, SyncMode::kInterval, SyncMode::kOs}) {
    EXPECT_EQ(*parse_sync_mode(sync_mode_name(m)), m);
  }
  ScratchDir d;
  WalOptions o;
  o.sync_interval_s = -1;
  Replayed got;
  EXPECT_EQ(Wal::open(d.path(), o, capture(&got), nullptr).status().code(), Code::kInvalidArgument);
  o = WalOptions();
  o.max_segment_size = 10;
  EXPECT_EQ(Wal::open(d.path(), o, capture(&got), nullptr).status().code(), Code::kInvalidArgument);
}

TEST(WalTest, ReplayErrorAbortsOpen) {
  ScratchDir d;
  {
    Replayed got;
    auto w = open_ok(d.path(), {}, &got);
    ASSERT_TRUE(w->append(batch_for(0, 4)).ok());
  }
  auto w = Wal::open(d.path(), {}, [](Offset o, std::string_view) {
    return o == Offset(2) ? InvalidArgument("record 2 rejected") : Status::OK();
  }, nullptr);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().message(), "record 2 rejected");
}

TEST(WalFormatTest, SegmentNamesRoundTrip) {
  EXPECT_EQ(segment_file_name(Offset(42)), "00000000000000000042.wal");
  EXPECT_EQ(*parse_segment_file_name("00000000000000000042.wal"), Offset(42));
  EXPECT_EQ(*parse_segment_file_name(segment_file_name(Offset(UINT64_MAX))), Offset(UINT64_MAX));
  EXPECT_FALSE(parse_segment_file_name("0000000000000000042.wal"));
  EXPECT_FALSE(parse_segment_file_name("0000000000000000004x.wal"));
  EXPECT_FALSE(parse_segment_file_name("00000000000000000042.wal.tmp"));
  EXPECT_FALSE(parse_segment_file_name("99999999999999999999.wal"));  // overflows u64
}

TEST(WalFormatTest, FrameCrcCoversTheLength) {
  RecordBatch b = batch_for(7, 2);
  std::string frame;
  testing::append_frame(Offset(7), b, &frame);
  ASSERT_EQ(frame.size(), batch_frame_size(b.size(), b.byte_size()));
  const uint32_t len = get_u32(frame.data());
  std::string_view payload(frame.data() + kFrameHeaderSize, len);
  EXPECT_EQ(get_u32(frame.data() + 4), frame_crc(len, payload));
  EXPECT_NE(frame_crc(len - 1, payload.substr(0, len - 1)), frame_crc(len, payload));
  auto view = decode_batch(payload);
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->first, Offset(7));
  EXPECT_EQ(view->count, 2u);
}

}  // namespace
}  // namespace persisting::wal

namespace persisting::wal {
namespace {

TEST(WalTest, EmptyLogStartsAtInitialOffsetDurably) {
  ScratchDir d;
  WalOptions o;
  o.initial_offset = 100;
  {
    Replayed got;
    auto w = open_ok(d.path(), o, &got);
    ASSERT_TRUE(w);
    EXPECT_EQ(w->next_offset(), Offset(100));
    EXPECT_EQ(w->checkpoint_offset(), Offset(100));
    auto first = w->append(batch_for(100, 3));
    ASSERT_TRUE(first.ok());
    EXPECT_EQ(*first, Offset(100));
  }
  // Reopened without the option, the log still starts at 100; with a lower one, nothing moves.
  for (uint64_t initial : {0, 50}) {
    WalOptions again;
    again.initial_offset = initial;
    Replayed got;
    auto w = open_ok(d.path(), again, &got);
    ASSERT_TRUE(w);
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0].first, 100u);
    EXPECT_EQ(w->next_offset(), Offset(103));
  }
  // A non-empty log ignores a higher initial offset rather than leaving a gap.
  WalOptions higher;
  higher.initial_offset = 500;
  Replayed got;
  auto w = open_ok(d.path(), higher, &got);
  EXPECT_EQ(w->next_offset(), Offset(103));
}

}  // namespace
}  // namespace persisting::wal
