// The node log under faults: a failed write or sync fails the whole group (every stream's part of
// it) and the next appends reuse the offsets; damage in the middle follows the recovery policy
// for the whole log; a torn tail is cut under every policy; and a crash at every file-system
// step of a group spanning many streams leaves each stream a prefix of what it appended, the
// group all there or not at all.
#include <gtest/gtest.h>

#include <filesystem>
#include <future>
#include <thread>

#include "storage/wal/node_log.h"
#include "storage/wal/wal_format.h"
#include "tests/util/fault_env.h"
#include "tests/wal/node_log_test_util.h"

namespace persisting::wal {
namespace {

using persisting::testing::FaultEnv;
using testing::count_of;
using testing::eventually;
using testing::expect_stream_prefix;
using testing::read_all;
using testing::recover_streams_copy;
using testing::RecoveredStreams;
using testing::ScratchDir;
using testing::segment_files;
using testing::stream_batch;
using testing::write_all;

ReplayFn ignore() {
  return [](Offset, std::string_view) { return Status::OK(); };
}

std::unique_ptr<NodeLog> open_log(const std::string& dir, NodeLogOptions o = {}) {
  auto log = NodeLog::open(dir, o, nullptr);
  EXPECT_TRUE(log.ok()) << log.status().to_string();
  return log.ok() ? std::move(*log) : nullptr;
}

TEST(NodeLogFaultTest, AFailedWriteOrSyncFailsTheGroupAndTheOffsetsAreReused) {
  for (int fault = 0; fault < 3; ++fault) {
    SCOPED_TRACE(fault == 0 ? "ENOSPC" : fault == 1 ? "short write" : "failed fsync");
    ScratchDir d;
    FaultEnv env(Env::Default());
    NodeLogOptions o;
    o.wal.env = &env;
    auto log = open_log(d.sub("log"), o);
    ASSERT_TRUE(log);
    ASSERT_TRUE(log->attach("a", Offset(0), ignore(), {}).ok());
    ASSERT_TRUE(log->attach("b", Offset(0), ignore(), {}).ok());
    ASSERT_TRUE(log->append("a", stream_batch("a", 0, 2)).ok());
    if (fault == 0) env.fail_writes(FaultEnv::WriteFault::kNoSpace, 1);
    if (fault == 1) env.fail_writes(FaultEnv::WriteFault::kShortWrite, 1);
    if (fault == 2) env.fail_syncs(1);
    auto failed = log->append("a", stream_batch("a", 2, 3));
    ASSERT_FALSE(failed.ok());
    EXPECT_EQ(failed.status().code(), Code::kIOError);
    EXPECT_EQ(log->stream_end("a"), Offset(2));
    // The fault cleared: the next appends get the offsets the failed one did not take.
    auto again = log->append("a", stream_batch("a", 2, 1));
    ASSERT_TRUE(again.ok()) << again.status().to_string();
    EXPECT_EQ(*again, Offset(2));
    ASSERT_TRUE(log->append("b", stream_batch("b", 0, 1)).ok());
    RecoveredStreams r = recover_streams_copy(d.sub("log"), d.sub("copy"));
    ASSERT_TRUE(r.status.ok()) << r.status.to_string();
    EXPECT_EQ(count_of(r.streams, "a"), 3u);
    expect_stream_prefix(r.streams, "a", 0);
    EXPECT_EQ(count_of(r.streams, "b"), 1u);
    // A power loss loses nothing acknowledged either (every stream here syncs before its ack).
    ASSERT_TRUE(env.drop_unsynced().ok());
    RecoveredStreams p = recover_streams_copy(d.sub("log"), d.sub("copy2"));
    ASSERT_TRUE(p.status.ok()) << p.status.to_string();
    EXPECT_EQ(count_of(p.streams, "a"), 3u);
    EXPECT_EQ(count_of(p.streams, "b"), 1u);
  }
}

// Positions of the frames of a segment.
std::vector<uint64_t> frame_positions(const std::string& path) {
  const std::string b = read_all(path);
  std::vector<uint64_t> out;
  for (uint64_t p = kSegmentHeaderSize; p + kFrameHeaderSize <= b.size();) {
    out.push_back(p);
    p += kFrameHeaderSize + get_u32(b.data() + p);
  }
  return out;
}

// Ten frames (each append waits for the one before): x's entries of 2 records and y's of 1,
// alternating, x first.
void write_five_groups(const std::string& dir) {
  auto log = open_log(dir);
  ASSERT_TRUE(log);
  ASSERT_TRUE(log->attach("x", Offset(0), ignore(), {}).ok());
  ASSERT_TRUE(log->attach("y", Offset(0), ignore(), {}).ok());
  for (uint64_t g = 0; g < 5; ++g) {
    ASSERT_TRUE(log->append("x", stream_batch("x", 2 * g, 2)).ok());
    ASSERT_TRUE(log->append("y", stream_batch("y", g, 1)).ok());
  }
  ASSERT_TRUE(log->close().ok());
}

TEST(NodeLogFaultTest, DamageInTheMiddleFollowsThePolicyForTheWholeLog) {
  ScratchDir d;
  write_five_groups(d.sub("orig"));
  const auto frames = frame_positions(segment_files(d.sub("orig"))[0]);
  ASSERT_EQ(frames.size(), 10u);
  for (auto policy : {RecoveryPolicy::kTolerateTail, RecoveryPolicy::kAbsolute, RecoveryPolicy::kPointInTime}) {
    SCOPED_TRACE(std::string(recovery_policy_name(policy)));
    std::filesystem::remove_all(d.sub("w"));
    std::filesystem::copy(d.sub("orig"), d.sub("w"), std::filesystem::copy_options::recursive);
    const std::string s = segment_files(d.sub("w"))[0];
    std::string bytes = read_all(s);
    bytes[frames[4] + 30] ^= 0x01;  // inside the third x entry
    write_all(s, bytes);
    NodeLogOptions o;
    o.wal.recovery_policy = policy;
    NodeLogReport report;
    auto log = NodeLog::open(d.sub("w"), o, &report);
    if (policy == RecoveryPolicy::kAbsolute) {
      ASSERT_FALSE(log.ok());
      EXPECT_EQ(log.status().code(), Code::kCorruption);
      EXPECT_NE(log.status().message().find(s), std::string::npos) << log.status().message();
      EXPECT_EQ(read_all(s), bytes);  // nothing changed
      continue;
    }
    ASSERT_TRUE(log.ok()) << log.status().to_string();
    testing::StreamRecords got;
    ASSERT_TRUE(testing::attach_all(log->get(), &got).ok());
    // The two whole groups before the damage, for both streams.
    EXPECT_EQ(count_of(got, "x"), 4u);
    EXPECT_EQ(count_of(got, "y"), 2u);
    expect_stream_prefix(got, "x", 0);
    expect_stream_prefix(got, "y", 0);
    EXPECT_TRUE(report.wal.records_lost);
    if (policy == RecoveryPolicy::kTolerateTail) {
      EXPECT_EQ((*log)->health().code(), Code::kCorruption);
      EXPECT_EQ((*log)->append("y", stream_batch("y", 2, 1)).status().code(), Code::kCorruption);
    } else {
      EXPECT_TRUE((*log)->health().ok());
      auto r = (*log)->append("y", stream_batch("y", 2, 1));
      ASSERT_TRUE(r.ok()) << r.status().to_string();
      EXPECT_EQ(*r, Offset(2));
      ASSERT_TRUE((*log)->close().ok());
      RecoveredStreams again = recover_streams_copy(d.sub("w"), d.sub("copy"));
      ASSERT_TRUE(again.status.ok());
      EXPECT_EQ(again.report.wal.outcome, RecoveryOutcome::kClean);
      EXPECT_EQ(count_of(again.streams, "y"), 3u);
      EXPECT_EQ(count_of(again.streams, "x"), 4u);
    }
  }
}

TEST(NodeLogFaultTest, ATornTailIsCutUnderEveryPolicy) {
  ScratchDir d;
  write_five_groups(d.sub("orig"));
  for (auto policy : {RecoveryPolicy::kTolerateTail, RecoveryPolicy::kAbsolute, RecoveryPolicy::kPointInTime}) {
    SCOPED_TRACE(std::string(recovery_policy_name(policy)));
    std::filesystem::remove_all(d.sub("w"));
    std::filesystem::copy(d.sub("orig"), d.sub("w"), std::filesystem::copy_options::recursive);
    const std::string s = segment_files(d.sub("w"))[0];
    std::filesystem::resize_file(s, std::filesystem::file_size(s) - 3);  // the last frame torn
    RecoveredStreams r = recover_streams_copy(d.sub("w"), d.sub("copy"), policy);
    ASSERT_TRUE(r.status.ok()) << r.status.to_string();
    EXPECT_EQ(r.report.wal.outcome, RecoveryOutcome::kTornTailTruncated);
    EXPECT_EQ(count_of(r.streams, "x"), 10u);
    EXPECT_EQ(count_of(r.streams, "y"), 4u);  // its last entry was the torn frame
    expect_stream_prefix(r.streams, "y", 0);
  }
}

TEST(NodeLogFaultTest, AnEntryThatDoesNotDecodeInAGoodFrameRefusesTheOpen) {
  ScratchDir d;
  {
    auto log = open_log(d.path());
    ASSERT_TRUE(log);
    ASSERT_TRUE(log->attach("x", Offset(0), ignore(), {}).ok());
    ASSERT_TRUE(log->close().ok());
  }
  // A frame with a valid CRC whose record is not a stream entry (as a bucket WAL's would be).
  const std::string s = segment_files(d.path())[0];
  std::string bytes = read_all(s);
  RecordBatch plain;
  plain.add_encoded("not a stream entry");
  append_batch_frame(Offset(0), plain.data(), plain.ends(), &bytes);
  write_all(s, bytes);
  auto log = NodeLog::open(d.path(), {}, nullptr);
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), Code::kCorruption);
  EXPECT_NE(log.status().message().find("entry 0"), std::string::npos) << log.status().message();
}

// A crash after each file-system change of a group commit that spans eight streams (and rotates
// to a new segment): every stream recovers a prefix of what it appended, the group's entries
// are all there or none is, and if the group was acknowledged, all are there.
TEST(NodeLogFaultTest, CrashAtEveryStepOfAGroupSpanningManyStreams) {
  constexpr int kStreams = 8;
  int k = 0;
  for (;; ++k) {
    ASSERT_LT(k, 64);
    SCOPED_TRACE("crash after " + std::to_string(k) + " file-system changes");
    ScratchDir d;
    FaultEnv faults(Env::Default());
    testing::SyncGateEnv gate(&faults);
    NodeLogOptions o;
    o.wal.env = &gate;
    o.wal.max_segment_size = 300;  // the group does not fit in the first segment: it rotates
    auto log = open_log(d.sub("log"), o);
    ASSERT_TRUE(log);
    for (int i = 0; i < kStreams; ++i) ASSERT_TRUE(log->attach("s" + std::to_string(i), Offset(0), ignore(), {}).ok());
    ASSERT_TRUE(log->append("s0", stream_batch("s0", 0, 1)).ok());
    // Hold the next group in its sync while the eight appends queue behind it.
    gate.close_gate();
    std::promise<Result<Offset>> lead;
    log->append_async("s0", stream_batch("s0", 1, 1), [&](Result<Offset> r) { lead.set_value(r); });
    ASSERT_TRUE(eventually([&] { return gate.waiting() == 1; }));
    std::vector<std::promise<Result<Offset>>> done(kStreams);
    for (int i = 0; i < kStreams; ++i) {
      const std::string s = "s" + std::to_string(i);
      const uint64_t first = i == 0 ? 2 : 0;
      log->append_async(s, stream_batch(s, first, 2, 10), [&done, i](Result<Offset> r) { done[i].set_value(r); });
    }
    faults.stop_after(k);  // counts from the lead's sync on
    gate.open_gate();
    const bool lead_ok = lead.get_future().get().ok();
    int acked = 0;
    for (auto& p : done) acked += p.get_future().get().ok() ? 1 : 0;
    const bool finished = !faults.stopped();
    ASSERT_TRUE(acked == 0 || acked == kStreams) << acked;  // one frame: one outcome
    RecoveredStreams r = recover_streams_copy(d.sub("log"), d.sub("copy"));
    ASSERT_TRUE(r.status.ok()) << r.status.to_string();
    EXPECT_TRUE(r.report.wal.corruption.ok()) << r.report.wal.corruption.to_string();
    size_t present = 0;
    for (int i = 1; i < kStreams; ++i) {
      const std::string s = "s" + std::to_string(i);
      const size_t n = count_of(r.streams, s);
      ASSERT_TRUE(n == 0 || n == 2) << s << ": " << n;
      expect_stream_prefix(r.streams, s, 0, 10);
      present += n == 2 ? 1 : 0;
    }
    ASSERT_TRUE(present == 0 || present == kStreams - 1) << present;  // the group whole or not at all
    const size_t s0 = count_of(r.streams, "s0");
    ASSERT_GE(s0, 1u);
    if (lead_ok) {
      ASSERT_GE(s0, 2u);
    }
    if (acked == kStreams) {
      ASSERT_EQ(present, static_cast<size_t>(kStreams - 1));
      ASSERT_EQ(s0, 4u);
    }
    if (present > 0) {
      ASSERT_EQ(s0, 4u);  // the lead's entry is before the group in the log
    }
    // s0's records: 0, then 1 (the lead), then 2..3 (the group), a prefix in that order.
    for (size_t i = 0; i < s0; ++i) EXPECT_EQ(r.streams["s0"][i].first, i);
    faults.clear();
    if (finished) break;
  }
  EXPECT_GT(k, 4);  // the lead's sync, the group's write, sync, and a rotation's steps
}

}  // namespace
}  // namespace persisting::wal
