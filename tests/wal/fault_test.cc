// Fault injection: ENOSPC, EIO, short writes and failed fsyncs while appending. In each case the
// append fails, nothing acknowledged is lost, nothing unacknowledged shows up after a crash or a
// power loss, and the WAL works again once the fault clears.
#include <gtest/gtest.h>

#include <filesystem>

#include "storage/wal/wal.h"
#include "storage/wal/wal_format.h"
#include "tests/util/fault_env.h"
#include "tests/wal/wal_test_util.h"

namespace persisting::wal {
namespace {

using persisting::testing::FaultEnv;
using testing::batch_for;
using testing::capture;
using testing::expect_prefix_of_originals;
using testing::Replayed;
using testing::ScratchDir;

enum class Fault {
  kNoSpace, kIOError, kShortWrite, kSyncFails, kSyncAndTruncateFail, kCreateFails,
  kLandedWriteAndTruncateFail,  // whole frames in the file, cannot cut them off: needs the fence
};

std::string fault_name(Fault f) {
  switch (f) {
    case Fault::kNoSpace: return "NoSpace";
    case Fault::kIOError: return "IOError";
    case Fault::kShortWrite: return "ShortWrite";
    case Fault::kSyncFails: return "SyncFails";
    case Fault::kSyncAndTruncateFail: return "SyncAndTruncateFail";
    case Fault::kCreateFails: return "CreateFails";
    case Fault::kLandedWriteAndTruncateFail: return "LandedWriteAndTruncateFail";
  }
  return "?";
}

void inject(FaultEnv* env, Fault f) {
  switch (f) {
    case Fault::kNoSpace: env->fail_writes(FaultEnv::WriteFault::kNoSpace); break;
    case Fault::kIOError: env->fail_writes(FaultEnv::WriteFault::kIOError); break;
    case Fault::kShortWrite: env->fail_writes(FaultEnv::WriteFault::kShortWrite); break;
    case Fault::kSyncFails: env->fail_syncs(); break;
    case Fault::kSyncAndTruncateFail:
      env->fail_syncs();
      env->fail_truncates(true);
      break;
    case Fault::kCreateFails:
      env->fail_creates(true);
      break;
    case Fault::kLandedWriteAndTruncateFail:
      env->fail_writes(FaultEnv::WriteFault::kLandedThenError);
      env->fail_truncates(true);
      break;
  }
}

// A batch that must never be seen: its records cannot be mistaken for record_for(offset).
RecordBatch doomed_batch(int n) {
  RecordBatch b;
  for (int i = 0; i < n; ++i) b.add_encoded("UNACKNOWLEDGED-" + std::to_string(i));
  return b;
}

Replayed recover_copy(const std::string& dir, const std::string& copy) {
  return testing::recover_copy(dir, copy).got;
}

// A WAL in a scratch directory whose file system is a FaultEnv.
class FaultFixture : public ::testing::Test {
 protected:
  std::unique_ptr<Wal> open(WalOptions o) {
    o.env = &env_;
    Replayed unused;
    auto w = Wal::open(dir_, o, capture(&unused), nullptr);
    EXPECT_TRUE(w.ok()) << w.status().to_string();
    return w.ok() ? std::move(*w) : nullptr;
  }
  // Interval mode whose background syncer never fires during a test: only explicit syncs.
  std::unique_ptr<Wal> open_interval() {
    WalOptions o;
    o.sync_mode = SyncMode::kInterval;
    o.sync_interval_s = 3600;
    return open(o);
  }
  // The WAL directory itself recovers, without corruption, to exactly records 0 .. n-1 (the Wal
  // must be closed). Returns what recovery reported.
  RecoveryReport expect_log(size_t n) {
    Replayed after;
    RecoveryReport rep;
    auto w = Wal::open(dir_, {}, capture(&after), &rep);
    EXPECT_TRUE(w.ok()) << w.status().to_string();
    EXPECT_TRUE(rep.corruption.ok()) << rep.corruption.to_string();
    EXPECT_EQ(after.size(), n);
    expect_prefix_of_originals(after, 0);
    return rep;
  }

  ScratchDir d_;
  FaultEnv env_{Env::Default()};
  const std::string dir_ = d_.sub("wal");
};

class WalFaultTest : public FaultFixture, public ::testing::WithParamInterface<Fault> {};

TEST_P(WalFaultTest, AppendFailsLosesNothingShowsNothingAndRecovers) {
  const Fault fault = GetParam();
  WalOptions o;
  // kCreateFails bites at rotation: make every third batch need a new segment.
  o.max_segment_size = fault == Fault::kCreateFails ? 200 : 1 << 20;
  auto w = open(o);
  ASSERT_TRUE(w);
  uint64_t next = 0;
  for (int i = 0; i < 4; ++i, next += 3) ASSERT_EQ(*w->append(batch_for(next, 3)), Offset(next));

  inject(&env_, fault);
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto r = w->append(doomed_batch(2 + attempt));
    ASSERT_FALSE(r.ok()) << "attempt " << attempt;
    EXPECT_EQ(r.status().code(), Code::kIOError) << r.status().to_string();
  }
  EXPECT_GT(env_.injected_faults(), 0);
  EXPECT_EQ(w->next_offset(), Offset(next));

  // A crash now: the acknowledged records, nothing else.
  Replayed crashed = recover_copy(dir_, d_.sub("crash"));
  ASSERT_EQ(crashed.size(), next);
  expect_prefix_of_originals(crashed, 0);

  // A power loss now: the same (everything acknowledged under kAlways was synced).
  ASSERT_TRUE(env_.drop_unsynced().ok());
  Replayed powered = recover_copy(dir_, d_.sub("power"));
  ASSERT_EQ(powered.size(), next);
  expect_prefix_of_originals(powered, 0);

  // The fault clears: appends work again and take the next offsets.
  env_.clear();
  for (int i = 0; i < 4; ++i, next += 3) {
    auto r = w->append(batch_for(next, 3));
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(*r, Offset(next));
  }
  ASSERT_TRUE(w->close().ok());
  expect_log(next);
}

// The same faults at a rotation onto the spare (a segment freed by a checkpoint, written over in
// place): the append fails, the spare is dropped rather than left half rewritten, and after the
// fault the next rotation makes a new segment.
TEST_P(WalFaultTest, RotationOntoTheSpareFailsCleanly) {
  WalOptions o;
  o.max_segment_size = 200;  // two batches per segment
  auto w = open(o);
  ASSERT_TRUE(w);
  uint64_t next = 0;
  for (; next < 18; next += 3) ASSERT_EQ(*w->append(batch_for(next, 3)), Offset(next));
  ASSERT_TRUE(w->checkpoint(Offset(12)).ok());
  const std::string spare = join_path(dir_, kSpareFileName);
  ASSERT_TRUE(std::filesystem::exists(spare));

  inject(&env_, GetParam());
  auto r = w->append(doomed_batch(2));  // the active segment is full: rotates
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kIOError) << r.status().to_string();
  EXPECT_GT(env_.injected_faults(), 0);
  EXPECT_EQ(w->next_offset(), Offset(next));
  EXPECT_FALSE(std::filesystem::exists(spare)) << "dropped, not left half rewritten";
  auto expect_recovers = [&](const std::string& copy) {
    Replayed got = recover_copy(dir_, d_.sub(copy));
    ASSERT_EQ(got.size(), next - 12);
    expect_prefix_of_originals(got, 12);
  };
  expect_recovers("crash");
  ASSERT_TRUE(env_.drop_unsynced().ok());
  expect_recovers("power");

  env_.clear();
  for (uint64_t end = next + 12; next < end; next += 3) {
    auto a = w->append(batch_for(next, 3));
    ASSERT_TRUE(a.ok()) << a.status().to_string();
    EXPECT_EQ(*a, Offset(next));
  }
  ASSERT_TRUE(w->close().ok());
  expect_recovers("after");
}

INSTANTIATE_TEST_SUITE_P(Faults, WalFaultTest,
                         ::testing::Values(Fault::kNoSpace, Fault::kIOError, Fault::kShortWrite,
                                           Fault::kSyncFails, Fault::kSyncAndTruncateFail,
                                           Fault::kCreateFails, Fault::kLandedWriteAndTruncateFail),
                         [](const auto& info) { return fault_name(info.param); });

// Under kInterval acknowledged records may be unsynced when an fsync fails. They must not be
// left to a file whose dirty pages the kernel may have dropped: the WAL rewrites them into a new
// segment and syncs that.
TEST_F(FaultFixture, IntervalFailedSyncRewritesAcknowledgedUnsyncedRecords) {
  auto w = open_interval();
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->append(batch_for(0, 3)).ok());
  ASSERT_TRUE(w->sync().ok());
  ASSERT_TRUE(w->append(batch_for(3, 3)).ok());
  ASSERT_TRUE(w->append(batch_for(6, 3)).ok());
  EXPECT_EQ(w->durable_offset(), Offset(3));

  env_.fail_syncs(1);
  EXPECT_EQ(w->sync().code(), Code::kIOError);
  // The rewrite made them durable after all.
  EXPECT_EQ(w->durable_offset(), Offset(9));
  ASSERT_TRUE(env_.drop_unsynced().ok());
  Replayed powered = recover_copy(dir_, d_.sub("power"));
  ASSERT_EQ(powered.size(), 9u);
  expect_prefix_of_originals(powered, 0);

  ASSERT_EQ(*w->append(batch_for(9, 3)), Offset(9));
  ASSERT_TRUE(w->close().ok());
  expect_log(12);
}

TEST_F(FaultFixture, IntervalFailedWriteKeepsEarlierUnsyncedRecordsAndSyncsThem) {
  auto w = open_interval();
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->append(batch_for(0, 3)).ok());
  ASSERT_TRUE(w->append(batch_for(3, 3)).ok());
  env_.fail_writes(FaultEnv::WriteFault::kShortWrite, 1);
  EXPECT_FALSE(w->append(doomed_batch(4)).ok());
  ASSERT_TRUE(env_.drop_unsynced().ok());
  Replayed powered = recover_copy(dir_, d_.sub("power"));
  ASSERT_EQ(powered.size(), 6u);
  expect_prefix_of_originals(powered, 0);
  ASSERT_EQ(*w->append(batch_for(6, 3)), Offset(6));
}

TEST_F(FaultFixture, PowerLossKeepsEveryRecordAcknowledgedUnderAlways) {
  WalOptions o;
  o.max_segment_size = 300;
  auto w = open(o);
  ASSERT_TRUE(w);
  for (uint64_t i = 0; i < 30; i += 3) ASSERT_TRUE(w->append(batch_for(i, 3)).ok());
  ASSERT_TRUE(env_.drop_unsynced().ok());
  Replayed powered = recover_copy(dir_, d_.sub("power"));
  ASSERT_EQ(powered.size(), 30u);
  expect_prefix_of_originals(powered, 0);
}

// Under kInterval with acknowledged-but-unsynced records, syncs and truncates fail: no durable
// segment can be made, so the writer fences off the failed frames. When the faults clear, the
// repair rewrites the unsynced records into a new segment and removes the fence before appending
// (a fence left behind would cut off everything after it).
TEST_F(FaultFixture, FenceGuardsAFailedGroupAndGoesAwayAfterTheRepair) {
  auto w = open_interval();
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->append(batch_for(0, 3)).ok());
  ASSERT_TRUE(w->sync().ok());
  ASSERT_TRUE(w->append(batch_for(3, 3)).ok());  // acknowledged, not synced
  env_.fail_syncs();
  env_.fail_truncates(true);
  env_.fail_writes(FaultEnv::WriteFault::kLandedThenError);
  EXPECT_FALSE(w->append(doomed_batch(2)).ok());
  EXPECT_TRUE(std::filesystem::exists(d_.sub("wal/" + segment_file_name(Offset(6)))));  // the fence
  Replayed crashed = recover_copy(dir_, d_.sub("crash"));
  ASSERT_EQ(crashed.size(), 6u);
  expect_prefix_of_originals(crashed, 0);

  env_.clear();
  ASSERT_EQ(*w->append(batch_for(6, 3)), Offset(6));
  ASSERT_EQ(*w->append(batch_for(9, 3)), Offset(9));
  ASSERT_TRUE(w->close().ok());
  EXPECT_GT(expect_log(12).bytes_superseded, 0u);  // the old copies of 3..5 and the failed frame
}

TEST_F(FaultFixture, OpenFailsCleanlyWhenNoSegmentCanBeCreated) {
  env_.fail_creates(true);
  Replayed unused;
  WalOptions o;
  o.env = &env_;
  auto w = Wal::open(dir_, o, capture(&unused), nullptr);
  EXPECT_EQ(w.status().code(), Code::kIOError);
  env_.clear();
  auto again = open(o);
  ASSERT_TRUE(again);
  ASSERT_EQ(*again->append(batch_for(0, 3)), Offset(0));
}

TEST_F(FaultFixture, FailedCheckpointChangesNothing) {
  WalOptions o;
  o.max_segment_size = 200;
  auto w = open(o);
  ASSERT_TRUE(w);
  for (uint64_t i = 0; i < 30; i += 3) ASSERT_TRUE(w->append(batch_for(i, 3)).ok());
  const size_t segments = w->segment_count();
  env_.fail_syncs();
  EXPECT_EQ(w->checkpoint(Offset(20)).code(), Code::kIOError);
  EXPECT_EQ(w->checkpoint_offset(), Offset(0));
  EXPECT_EQ(w->segment_count(), segments);
  env_.clear();
  Replayed crashed = recover_copy(dir_, d_.sub("crash"));
  ASSERT_EQ(crashed.size(), 30u);
  expect_prefix_of_originals(crashed, 0);
  ASSERT_TRUE(w->checkpoint(Offset(20)).ok());
  EXPECT_LT(w->segment_count(), segments);
}

}  // namespace
}  // namespace persisting::wal
