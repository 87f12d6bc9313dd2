// A crash at every step: FaultEnv::stop_after(k) lets the first k file-system changes of an
// operation happen and fails the rest, as if the process died right there; a copy of the
// directory is then recovered as a restarted process would. For k = 0, 1, 2, ... until the
// operation completes: nothing acknowledged before is lost, nothing appears twice, a batch is
// all there or not at all, and a checkpoint is either the old one or the new one.
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

using testing::Recovered;

// A WAL in a scratch directory on a FaultEnv, and what a restart would recover from it.
struct Rig {
  explicit Rig(WalOptions o) {
    o.env = &env;
    Replayed unused;
    auto r = Wal::open(d.sub("wal"), o, capture(&unused), nullptr);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    if (r.ok()) wal = std::move(*r);
  }
  Recovered crash_copy() {
    Recovered r = testing::recover_copy(d.sub("wal"), d.sub("copy"));
    EXPECT_TRUE(r.report.corruption.ok()) << r.report.corruption.to_string();
    return r;
  }

  ScratchDir d;
  FaultEnv env{Env::Default()};
  std::unique_ptr<Wal> wal;
};

constexpr int kMaxSteps = 64;  // every operation here takes fewer file-system changes

TEST(CrashStepTest, CheckpointIsOldOrNewAfterACrashAtEveryStep) {
  int k = 0;
  for (;; ++k) {
    ASSERT_LT(k, kMaxSteps);
    SCOPED_TRACE("crash after " + std::to_string(k) + " file-system changes");
    WalOptions o;
    o.max_segment_size = 200;
    Rig rig(o);
    ASSERT_TRUE(rig.wal);
    for (uint64_t i = 0; i < 30; i += 3) ASSERT_TRUE(rig.wal->append(batch_for(i, 3)).ok());
    rig.env.stop_after(k);
    const bool done = rig.wal->checkpoint(Offset(20)).ok();
    Recovered r = rig.crash_copy();
    const uint64_t ckpt = r.report.checkpoint.value();
    ASSERT_TRUE(ckpt == 0 || ckpt == 20) << ckpt;
    if (done) {
      ASSERT_EQ(ckpt, 20u);
    }
    ASSERT_EQ(r.got.size(), 30 - ckpt);
    expect_prefix_of_originals(r.got, ckpt);
    if (done) break;
  }
  EXPECT_GT(k, 4);  // the checkpoint took several steps, each of them crashed once
}

// An append that rotates to a new segment, and (under kInterval) one whose sync fails so the
// writer rewrites the unsynced records into a new segment: crash at every step of either.
void crash_at_every_step_of_an_append(SyncMode mode, bool failing_sync) {
  int k = 0;
  for (;; ++k) {
    ASSERT_LT(k, kMaxSteps);
    SCOPED_TRACE("crash after " + std::to_string(k) + " file-system changes");
    WalOptions o;
    o.sync_mode = mode;
    o.sync_interval_s = 3600;
    o.max_segment_size = failing_sync ? 1 << 20 : 200;
    Rig rig(o);
    ASSERT_TRUE(rig.wal);
    ASSERT_TRUE(rig.wal->append(batch_for(0, 3)).ok());
    ASSERT_TRUE(rig.wal->append(batch_for(3, 3)).ok());
    if (failing_sync) rig.env.fail_syncs(1);
    rig.env.stop_after(k);
    auto r6 = failing_sync ? rig.wal->sync().ok() ? Result<Offset>(Offset(6)) : Result<Offset>(IOError("sync failed"))
                           : rig.wal->append(batch_for(6, 3));
    const bool done = !rig.env.stopped();  // the whole operation ran before the budget ran out
    Recovered r = rig.crash_copy();
    // The acknowledged records, then the batch in flight whole or not at all.
    if (failing_sync) {
      ASSERT_EQ(r.got.size(), 6u);
    } else {
      ASSERT_TRUE(r.got.size() == 6 || r.got.size() == 9) << r.got.size();
      if (r6.ok()) {
        ASSERT_EQ(r.got.size(), 9u);
      }
    }
    expect_prefix_of_originals(r.got, 0);
    if (done) break;
  }
  EXPECT_GT(k, 3);
}

// A rotation onto the spare file (a segment freed by a checkpoint, written over in place): crash
// at every step of the append that takes it.
TEST(CrashStepTest, RotationOntoTheSpare) {
  int k = 0;
  for (;; ++k) {
    ASSERT_LT(k, kMaxSteps);
    SCOPED_TRACE("crash after " + std::to_string(k) + " file-system changes");
    WalOptions o;
    o.max_segment_size = 200;  // two batches per segment
    Rig rig(o);
    ASSERT_TRUE(rig.wal);
    for (uint64_t i = 0; i < 18; i += 3) ASSERT_TRUE(rig.wal->append(batch_for(i, 3)).ok());
    ASSERT_TRUE(rig.wal->checkpoint(Offset(12)).ok());
    ASSERT_TRUE(std::filesystem::exists(rig.d.sub("wal/" + std::string(kSpareFileName))));
    rig.env.stop_after(k);
    auto r = rig.wal->append(batch_for(18, 3));  // rotates
    const bool done = !rig.env.stopped();
    Recovered got = rig.crash_copy();
    ASSERT_TRUE(got.got.size() == 6 || got.got.size() == 9) << got.got.size();
    if (r.ok()) {
      ASSERT_EQ(got.got.size(), 9u);
    }
    expect_prefix_of_originals(got.got, 12);
    if (done) {
      EXPECT_FALSE(std::filesystem::exists(rig.d.sub("wal/" + std::string(kSpareFileName))));
      break;
    }
  }
  EXPECT_GT(k, 5);  // reuse, header, sync, rename, directory sync, reopen, append
}

// Retiring a fully checkpointed log (what the node log does when no stream needs anything): a
// rotation to a fresh segment, never the spare, then a checkpoint that deletes every older
// segment and the spare. A crash at every step leaves the old checkpoint with every record, or
// the new one with none; once done, one empty segment is left and no spare.
TEST(CrashStepTest, RetiringAFullyCheckpointedLog) {
  int k = 0;
  for (;; ++k) {
    ASSERT_LT(k, kMaxSteps);
    SCOPED_TRACE("crash after " + std::to_string(k) + " file-system changes");
    WalOptions o;
    o.max_segment_size = 200;
    Rig rig(o);
    ASSERT_TRUE(rig.wal);
    for (uint64_t i = 0; i < 18; i += 3) ASSERT_TRUE(rig.wal->append(batch_for(i, 3)).ok());
    ASSERT_TRUE(rig.wal->checkpoint(Offset(12)).ok());  // leaves a spare
    ASSERT_TRUE(std::filesystem::exists(rig.d.sub("wal/" + std::string(kSpareFileName))));
    rig.env.stop_after(k);
    const bool done = rig.wal->rotate_active().ok() && rig.wal->checkpoint(Offset(18), /*keep_spare=*/false).ok();
    Recovered r = rig.crash_copy();
    const uint64_t ckpt = r.report.checkpoint.value();
    ASSERT_TRUE(ckpt == 12 || ckpt == 18) << ckpt;
    ASSERT_EQ(r.got.size(), 18 - ckpt);
    expect_prefix_of_originals(r.got, ckpt);
    if (done) {
      ASSERT_EQ(ckpt, 18u);
      EXPECT_EQ(rig.wal->segment_count(), 1u);
      EXPECT_EQ(rig.wal->size_bytes(), kSegmentHeaderSize);
      EXPECT_FALSE(std::filesystem::exists(rig.d.sub("wal/" + std::string(kSpareFileName))));
      EXPECT_EQ(testing::segment_files(rig.d.sub("wal")).size(), 1u);
      // Nothing to retire now: both are no-ops.
      EXPECT_TRUE(rig.wal->rotate_active().ok());
      EXPECT_TRUE(rig.wal->checkpoint(Offset(18), false).ok());
      EXPECT_EQ(rig.wal->segment_count(), 1u);
      break;
    }
    rig.env.clear();
  }
  EXPECT_GT(k, 5);  // sync, create, header, rename, dir sync, checkpoint file, deletions
}

TEST(CrashStepTest, RotationUnderAlways) { crash_at_every_step_of_an_append(SyncMode::kAlways, false); }
TEST(CrashStepTest, RotationUnderInterval) { crash_at_every_step_of_an_append(SyncMode::kInterval, false); }
TEST(CrashStepTest, RewriteAfterAFailedSyncUnderInterval) {
  crash_at_every_step_of_an_append(SyncMode::kInterval, true);
}

}  // namespace
}  // namespace persisting::wal
