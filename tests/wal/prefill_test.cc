// Zero-filling (docs/wal-format.md, "Zero-filling"): a segment is extended with zeros ahead of
// its appends, a chunk at a time, so appends overwrite allocated blocks of a file whose size does
// not change. The zeros must never read as damage, a torn frame over them is a torn tail, real
// damage still follows the policy, close() cuts them off, and a failed extension loses nothing.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <mutex>

#include "storage/wal/checkpoint.h"
#include "storage/wal/node_log.h"
#include "storage/wal/recovery.h"
#include "storage/wal/segment_writer.h"
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
using testing::read_all;
using testing::Replayed;
using testing::ScratchDir;
using testing::segment_files;

constexpr uint64_t kChunk = 8 << 10;
constexpr RecoveryPolicy kAllPolicies[] = {RecoveryPolicy::kTolerateTail, RecoveryPolicy::kAbsolute,
                                           RecoveryPolicy::kPointInTime};

WalOptions prefill_options(Env* env = nullptr) {
  WalOptions o;
  o.env = env;
  o.prefill_bytes = kChunk;
  o.max_segment_size = 64 << 10;
  return o;
}

uint64_t disk_size(const std::string& path) { return std::filesystem::file_size(path); }

struct Opened {
  Replayed got;
  RecoveryReport report;
  Result<std::unique_ptr<Wal>> wal = Status(Code::kInternal, "not opened");
};

std::unique_ptr<Opened> open_wal(const std::string& dir, WalOptions o) {
  auto out = std::make_unique<Opened>();
  out->wal = Wal::open(dir, o, capture(&out->got), &out->report);
  return out;
}

std::unique_ptr<Opened> open_with(const std::string& dir, RecoveryPolicy p) {
  WalOptions o = prefill_options();
  o.recovery_policy = p;
  return open_wal(dir, o);
}

// A copy of dir taken while its WAL is open: what a crash leaves.
std::string crash_copy(const ScratchDir& d, const std::string& dir, const std::string& name) {
  const std::string copy = d.sub(name);
  std::filesystem::remove_all(copy);
  std::filesystem::copy(dir, copy, std::filesystem::copy_options::recursive);
  return copy;
}

// Writes bytes over path at byte pos, in place.
void write_over(const std::string& path, uint64_t pos, const std::string& bytes) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(f.good());
  f.seekp(static_cast<std::streamoff>(pos));
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(f.good());
}

uint32_t header_flags(const std::string& path) {
  uint32_t flags = 0;
  auto first = decode_segment_header(read_all(path).substr(0, kSegmentHeaderSize), path, &flags);
  EXPECT_TRUE(first.ok()) << first.status().to_string();
  return flags;
}

TEST(PrefillTest, AFreshSegmentIsZeroFilledAheadOfItsAppendsAndCloseCutsTheZeros) {
  ScratchDir d;
  const std::string dir = d.sub("wal");
  std::string seg;
  uint64_t records_end = 0;
  {
    auto o = open_wal(dir, prefill_options());
    ASSERT_TRUE(o->wal.ok()) << o->wal.status().to_string();
    Wal& w = **o->wal;
    seg = segment_files(dir).at(0);
    EXPECT_EQ(header_flags(seg) & kSegmentFlagRecycled, kSegmentFlagRecycled) << "zeros may follow the records";
    EXPECT_EQ(disk_size(seg), kSegmentHeaderSize + kChunk) << "the first chunk comes with the header";
    for (uint64_t i = 0; i < 90; i += 3) {
      ASSERT_TRUE(w.append(batch_for(i, 3, 60)).ok());
      const uint64_t size = disk_size(seg);
      // Always at least half a chunk of zeros ahead, and the file grows a chunk at a time.
      EXPECT_GE(size - w.size_bytes(), kChunk / 2) << "after offset " << i;
      EXPECT_EQ((size - kSegmentHeaderSize) % kChunk, 0u) << "after offset " << i;
    }
    EXPECT_GT(disk_size(seg), kSegmentHeaderSize + kChunk) << "the appends passed the first chunk";
    EXPECT_EQ(w.segment_count(), 1u);
    records_end = w.size_bytes();
    ASSERT_TRUE(w.close().ok());
  }
  EXPECT_EQ(disk_size(seg), records_end) << "close() cut the zeros off";
  auto again = open_wal(dir, prefill_options());
  ASSERT_TRUE(again->wal.ok()) << again->wal.status().to_string();
  EXPECT_EQ(again->report.outcome, RecoveryOutcome::kClean);
  EXPECT_EQ(again->report.bytes_recycled, 0u);
  ASSERT_EQ(again->got.size(), 90u);
  expect_prefix_of_originals(again->got, 0, 60);
  EXPECT_EQ(disk_size(seg), records_end + kChunk) << "appending again starts with a chunk of zeros";
}

TEST(PrefillTest, ZerosNeverPassTheSegmentLimit) {
  ScratchDir d;
  WalOptions o = prefill_options();
  o.prefill_bytes = 1 << 20;
  o.max_segment_size = 16 << 10;
  auto w = open_wal(d.sub("wal"), o);
  ASSERT_TRUE(w->wal.ok()) << w->wal.status().to_string();
  for (uint64_t i = 0; i < 300; i += 3) {
    ASSERT_TRUE((*w->wal)->append(batch_for(i, 3, 100)).ok());
    for (const auto& seg : segment_files(d.sub("wal"))) EXPECT_LE(disk_size(seg), o.max_segment_size) << seg;
  }
  EXPECT_GT((*w->wal)->segment_count(), 2u);
}

TEST(PrefillTest, ACrashLeavesZerosThatRecoverCleanlyUnderEveryPolicy) {
  ScratchDir d;
  const std::string dir = d.sub("wal");
  auto w = open_wal(dir, prefill_options());
  ASSERT_TRUE(w->wal.ok()) << w->wal.status().to_string();
  for (uint64_t i = 0; i < 30; i += 3) ASSERT_TRUE((*w->wal)->append(batch_for(i, 3)).ok());
  const uint64_t records_end = (*w->wal)->size_bytes();
  for (auto policy : kAllPolicies) {
    SCOPED_TRACE(recovery_policy_name(policy));
    const std::string copy = crash_copy(d, dir, "copy");
    const uint64_t zeros = disk_size(segment_files(copy).at(0)) - records_end;
    ASSERT_GT(zeros, 0u);
    auto o = open_with(copy, policy);
    ASSERT_TRUE(o->wal.ok()) << o->wal.status().to_string();
    EXPECT_EQ(o->report.outcome, RecoveryOutcome::kClean) << "zeros are no torn tail";
    EXPECT_TRUE(o->report.corruption.ok());
    EXPECT_FALSE(o->report.records_lost);
    EXPECT_EQ(o->report.bytes_recycled, zeros);
    EXPECT_EQ(o->report.bytes_truncated, 0u);
    ASSERT_EQ(o->got.size(), 30u);
    expect_prefix_of_originals(o->got, 0);
    // Appends go on over the zeros and come back after a clean restart.
    auto first = (*o->wal)->append(batch_for(30, 3));
    ASSERT_TRUE(first.ok()) << first.status().to_string();
    EXPECT_EQ(*first, Offset(30));
    o->wal = Status(Code::kInternal, "closed");
    auto again = open_with(copy, policy);
    ASSERT_TRUE(again->wal.ok()) << again->wal.status().to_string();
    EXPECT_EQ(again->report.outcome, RecoveryOutcome::kClean);
    EXPECT_EQ(again->report.bytes_recycled, 0u);
    ASSERT_EQ(again->got.size(), 33u);
    expect_prefix_of_originals(again->got, 0);
  }
}

TEST(PrefillTest, ATornFrameOverTheZerosIsDroppedUnderEveryPolicy) {
  ScratchDir d;
  const std::string dir = d.sub("wal");
  auto w = open_wal(dir, prefill_options());
  ASSERT_TRUE(w->wal.ok()) << w->wal.status().to_string();
  for (uint64_t i = 0; i < 6; i += 3) ASSERT_TRUE((*w->wal)->append(batch_for(i, 3, 200)).ok());
  const uint64_t records_end = (*w->wal)->size_bytes();
  std::string frame;
  testing::append_frame(Offset(6), batch_for(6, 3, 200), &frame);
  std::string bad_crc = frame;
  bad_crc[frame.size() - 3] ^= 0x40;
  // What a crash in the middle of writing the next frame leaves over the zeros: its first part
  // (the rest still zeros), or all of it but a damaged byte.
  const std::pair<const char*, std::string> cases[] = {{"half a frame", frame.substr(0, frame.size() / 2)},
                                                       {"a frame with a bad CRC", bad_crc}};
  for (const auto& [name, torn] : cases) {
    for (auto policy : kAllPolicies) {
      SCOPED_TRACE(std::string(name) + ", " + std::string(recovery_policy_name(policy)));
      const std::string copy = crash_copy(d, dir, "copy");
      write_over(segment_files(copy).at(0), records_end, torn);
      auto o = open_with(copy, policy);
      ASSERT_TRUE(o->wal.ok()) << o->wal.status().to_string();
      EXPECT_TRUE(o->report.corruption.ok());
      EXPECT_FALSE(o->report.records_lost);
      EXPECT_EQ(o->report.outcome, RecoveryOutcome::kTornTailTruncated) << "a torn frame is reported as one";
      EXPECT_EQ(o->report.bytes_recycled, 0u);
      ASSERT_EQ(o->got.size(), 6u) << "the torn batch is not there, not even in part";
      expect_prefix_of_originals(o->got, 0, 200);
      EXPECT_EQ((*o->wal)->next_offset(), Offset(6));
      auto first = (*o->wal)->append(batch_for(6, 2));
      ASSERT_TRUE(first.ok()) << first.status().to_string();
      EXPECT_EQ(*first, Offset(6));
      o->wal = Status(Code::kInternal, "closed");
      auto again = open_with(copy, policy);
      ASSERT_TRUE(again->wal.ok()) << again->wal.status().to_string();
      EXPECT_EQ(again->report.outcome, RecoveryOutcome::kClean);
      ASSERT_EQ(again->got.size(), 8u);
    }
  }
}

TEST(PrefillTest, DamageFollowedByAValidFrameFollowsThePolicy) {
  ScratchDir d;
  const std::string dir = d.sub("wal");
  auto w = open_wal(dir, prefill_options());
  ASSERT_TRUE(w->wal.ok()) << w->wal.status().to_string();
  uint64_t second_frame = 0;
  for (uint64_t i = 0; i < 9; i += 3) {
    if (i == 3) second_frame = (*w->wal)->size_bytes();
    ASSERT_TRUE((*w->wal)->append(batch_for(i, 3)).ok());
  }
  for (auto policy : kAllPolicies) {
    SCOPED_TRACE(recovery_policy_name(policy));
    const std::string copy = crash_copy(d, dir, "copy");
    const std::string seg = segment_files(copy).at(0);
    std::string byte = read_all(seg).substr(second_frame + kFrameHeaderSize + kBatchFixedSize + 5, 1);
    byte[0] ^= 0x20;  // a record of [3, 6)
    write_over(seg, second_frame + kFrameHeaderSize + kBatchFixedSize + 5, byte);
    auto o = open_with(copy, policy);
    if (policy == RecoveryPolicy::kAbsolute) {
      EXPECT_EQ(o->wal.status().code(), Code::kCorruption) << o->wal.status().to_string();
      continue;
    }
    ASSERT_TRUE(o->wal.ok()) << o->wal.status().to_string();
    EXPECT_TRUE(o->report.records_lost);
    ASSERT_EQ(o->got.size(), 3u);
    expect_prefix_of_originals(o->got, 0);
    EXPECT_EQ(o->report.outcome, policy == RecoveryPolicy::kTolerateTail ? RecoveryOutcome::kCorruptionReadOnly
                                                                          : RecoveryOutcome::kPointInTimeTruncated);
  }
}

// Reports of the WAL's background work, as an owner records them.
struct Background {
  std::mutex mu;
  std::vector<std::pair<std::string, Status>> seen;
  std::function<void(std::string_view, const Status&)> fn() {
    return [this](std::string_view task, const Status& s) {
      std::lock_guard l(mu);
      seen.emplace_back(std::string(task), s);
    };
  }
  int failures(const std::string& task) {
    std::lock_guard l(mu);
    int n = 0;
    for (const auto& [t, s] : seen) n += t == task && !s.ok();
    return n;
  }
};

TEST(PrefillTest, AFailedExtensionIsSkippedReportedAndLosesNothing) {
  for (auto fault : {FaultEnv::WriteFault::kNoSpace, FaultEnv::WriteFault::kIOError,
                     FaultEnv::WriteFault::kShortWrite, FaultEnv::WriteFault::kLandedThenError}) {
    for (bool at_create : {true, false}) {
      SCOPED_TRACE(std::to_string(static_cast<int>(fault)) + (at_create ? ", at create" : ", after appends"));
      ScratchDir d;
      const std::string dir = d.sub("wal");
      FaultEnv env(Env::Default());
      Background bg;
      WalOptions o = prefill_options(&env);
      o.on_background = bg.fn();
      if (at_create) env.fail_writes_at(fault);
      auto w = open_wal(dir, o);
      ASSERT_TRUE(w->wal.ok()) << w->wal.status().to_string();
      if (!at_create) env.fail_writes_at(fault);
      for (uint64_t i = 0; i < 150; i += 3) {
        auto r = (*w->wal)->append(batch_for(i, 3, 60));
        ASSERT_TRUE(r.ok()) << "offset " << i << ": " << r.status().to_string();
      }
      EXPECT_GE(env.injected_faults(), 1);
      // Visible to the owner, once: the segment tries no more extensions.
      EXPECT_EQ(bg.failures("WAL prefill"), 1);
      const std::string seg = segment_files(dir).at(0);
      EXPECT_GE(disk_size(seg), (*w->wal)->size_bytes());
      // A crash now, and a clean restart, bring every record back.
      const std::string copy = crash_copy(d, dir, "copy");
      auto crashed = open_with(copy, RecoveryPolicy::kAbsolute);
      ASSERT_TRUE(crashed->wal.ok()) << crashed->wal.status().to_string();
      EXPECT_EQ(crashed->report.outcome, RecoveryOutcome::kClean);
      ASSERT_EQ(crashed->got.size(), 150u);
      expect_prefix_of_originals(crashed->got, 0, 60);
      env.clear();
      ASSERT_TRUE((*w->wal)->close().ok());
      auto again = open_with(dir, RecoveryPolicy::kAbsolute);
      ASSERT_TRUE(again->wal.ok()) << again->wal.status().to_string();
      EXPECT_EQ(again->report.outcome, RecoveryOutcome::kClean);
      ASSERT_EQ(again->got.size(), 150u);
      expect_prefix_of_originals(again->got, 0, 60);
    }
  }
}

TEST(PrefillTest, ASegmentWithoutTheFlagIsNeverZeroFilled) {
  // Written with zero-filling off (as by an older build): its header does not say zeros may
  // follow, so a reader would take them for damage. Appending to it goes on without any.
  ScratchDir d;
  const std::string dir = d.sub("wal");
  {
    WalOptions o = prefill_options();
    o.prefill_bytes = 0;
    auto w = open_wal(dir, o);
    ASSERT_TRUE(w->wal.ok()) << w->wal.status().to_string();
    ASSERT_TRUE((*w->wal)->append(batch_for(0, 3)).ok());
    EXPECT_EQ(disk_size(segment_files(dir).at(0)), (*w->wal)->size_bytes());
  }
  const std::string seg = segment_files(dir).at(0);
  EXPECT_EQ(header_flags(seg), 0u);
  auto w = open_wal(dir, prefill_options());
  ASSERT_TRUE(w->wal.ok()) << w->wal.status().to_string();
  ASSERT_TRUE((*w->wal)->append(batch_for(3, 3)).ok());
  EXPECT_EQ(disk_size(seg), (*w->wal)->size_bytes());
}

TEST(PrefillTest, RotationsCheckpointsAndTheSpareKeepEveryRecord) {
  ScratchDir d;
  const std::string dir = d.sub("wal");
  WalOptions o = prefill_options();
  o.max_segment_size = 12 << 10;
  o.prefill_bytes = 4 << 10;
  uint64_t next = 0;
  {
    auto w = open_wal(dir, o);
    ASSERT_TRUE(w->wal.ok()) << w->wal.status().to_string();
    Wal& wal = **w->wal;
    for (int round = 0; round < 4; ++round) {
      for (int i = 0; i < 200; ++i, next += 3) ASSERT_TRUE(wal.append(batch_for(next, 3, 50)).ok());
      // Free all but the last segment or two: the first freed one becomes the spare, and a later
      // rotation writes over it.
      const auto starts = wal.segment_starts();
      ASSERT_GT(starts.size(), 2u);
      ASSERT_TRUE(wal.checkpoint(starts[starts.size() - 2]).ok());
    }
    // A crash: the records since the checkpoint come back, and nothing reads as damage.
    const std::string copy = crash_copy(d, dir, "copy");
    auto crashed = open_with(copy, RecoveryPolicy::kAbsolute);
    ASSERT_TRUE(crashed->wal.ok()) << crashed->wal.status().to_string();
    EXPECT_EQ(crashed->report.outcome, RecoveryOutcome::kClean);
    const uint64_t from = wal.checkpoint_offset().value();
    ASSERT_EQ(crashed->got.size(), next - from);
    expect_prefix_of_originals(crashed->got, from, 50);
    ASSERT_TRUE(wal.close().ok());
  }
  auto again = open_with(dir, RecoveryPolicy::kAbsolute);
  ASSERT_TRUE(again->wal.ok()) << again->wal.status().to_string();
  EXPECT_EQ(again->report.outcome, RecoveryOutcome::kClean);
  EXPECT_EQ(again->report.bytes_recycled, 0u) << "close() cut what followed the records";
  ASSERT_FALSE(again->got.empty());
  EXPECT_EQ(again->got.back().first, next - 1);
}

// What recovery leaves after the records of a flagged segment (zeros, old bytes) it judges from
// where the records end and which offset comes next; an append moves both. CI's WAL fuzzer (crash
// input in the message of 8460b07, fuzz/corpus/wal_recovery/reopen_bytes_after_records) found a
// segment whose bytes after the records start with a zero length (so they read as zeros) and
// hold, where the next frame ends, the start of a frame claiming the offset after it (its CRC
// wrong): clean at the first recovery, a torn tail after one append. Here: the records [0, 3),
// then such bytes for the frame of [3, 6) to end on, claiming offset 6.
std::string bytes_that_turn_torn_after_an_append(uint64_t next_frame_size, uint64_t offset_after) {
  std::string b(kFrameHeaderSize, '\0');  // a zero length: what zeros read as
  b.resize(next_frame_size, 'j');
  put_u32(&b, 1280);
  put_u32(&b, 0x5eed5eed);
  put_u64(&b, offset_after);
  b.append(64, 'k');
  return b;
}

TEST(PrefillTest, BytesLeftAfterTheRecordsNeverTurnIntoATornFrameAfterAnAppend) {
  std::string seg = encode_segment_header(Offset(0), kSegmentFlagRecycled);
  testing::append_frame(Offset(0), batch_for(0, 3), &seg);
  const uint64_t records_end = seg.size();
  std::string next_frame;
  testing::append_frame(Offset(3), batch_for(3, 3), &next_frame);
  seg += bytes_that_turn_torn_after_an_append(next_frame.size(), 6);
  for (auto policy : kAllPolicies) {
    SCOPED_TRACE(recovery_policy_name(policy));
    ScratchDir d;
    const std::string dir = d.sub("wal");
    ASSERT_TRUE(Env::Default()->create_dirs(dir).ok());
    testing::write_all(join_path(dir, segment_file_name(Offset(0))), seg);
    auto o = open_with(dir, policy);
    ASSERT_TRUE(o->wal.ok()) << o->wal.status().to_string();
    EXPECT_EQ(o->report.outcome, RecoveryOutcome::kClean);
    EXPECT_EQ(o->report.bytes_recycled, seg.size() - records_end);
    ASSERT_EQ(o->got.size(), 3u);
    auto first = (*o->wal)->append(batch_for(3, 3));
    ASSERT_TRUE(first.ok()) << first.status().to_string();
    EXPECT_EQ(*first, Offset(3));
    // A crash now: the acknowledged records and nothing else, no torn tail.
    const std::string copy = crash_copy(d, dir, "copy");
    auto again = open_with(copy, policy);
    ASSERT_TRUE(again->wal.ok()) << again->wal.status().to_string();
    EXPECT_EQ(again->report.outcome, RecoveryOutcome::kClean)
        << (again->report.log.empty() ? "" : again->report.log[0]);
    EXPECT_EQ(again->report.bytes_truncated, 0u);
    ASSERT_EQ(again->got.size(), 6u);
    expect_prefix_of_originals(again->got, 0);
  }
}

// The fuzzer's own sequence, byte for byte: recover_log, SegmentWriter::reopen with zero-filling,
// one frame appended, recover_log again (fuzz/wal_recovery_fuzzer.cc, flags 0x3c: generated
// header marked recycled, fixed-up CRCs, checkpoint 100, tolerate_tail).
TEST(PrefillTest, TheFuzzersCrashInputRecoversCleanlyAfterAnAppend) {
  // The segment the fuzzer built from the input: a header for offset 100, a frame of length 0
  // (CRC fixed up), then the input's bytes, which put at byte 60 (where a 28-byte frame appended
  // at byte 32 ends) a frame header of length 1280 claiming offset 101, its CRC wrong.
  const unsigned char tail[] = {
      0x00, 0x00, 0x2a, 0x00, 0x00, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x05,
      0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x05, 0x00, 0x00, 0x6e, 0x65, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x02, 0x64, 0x2d, 0x1e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x2a, 0x00,
      0x00, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x05,
      0x00, 0x00, 0x05, 0x00, 0x00, 0x6e, 0x65, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x64, 0x2d, 0x40,
      0x2e};
  std::string seg = encode_segment_header(Offset(100), kSegmentFlagRecycled);
  put_u32(&seg, 0);
  put_u32(&seg, frame_crc(0, {}));
  seg.append(reinterpret_cast<const char*>(tail), sizeof(tail));
  ASSERT_EQ(seg.size(), 131u);
  ASSERT_EQ(get_u32(seg.data() + 60), 1280u);
  ASSERT_EQ(get_u64(seg.data() + 68), 101u);

  ScratchDir d;
  const std::string dir = d.sub("wal");
  Env* env = Env::Default();
  ASSERT_TRUE(env->create_dirs(dir).ok());
  ASSERT_TRUE(write_checkpoint(env, dir, Offset(100)).ok());
  testing::write_all(join_path(dir, segment_file_name(Offset(100))), seg);

  Replayed got;
  RecoveryReport rep;
  auto log = recover_log(env, dir, RecoveryPolicy::kTolerateTail, capture(&got), &rep);
  ASSERT_TRUE(log.ok()) << log.status().to_string();
  EXPECT_EQ(rep.outcome, RecoveryOutcome::kClean);
  EXPECT_EQ(log->next_offset, Offset(100));
  ASSERT_TRUE(log->last_segment_appendable);
  const RecoveredSegment& last = log->segments.back();
  EXPECT_EQ(last.size, kSegmentHeaderSize);
  EXPECT_TRUE(last.recycled);

  const std::string rec = "fuzz";
  const uint32_t ends[] = {static_cast<uint32_t>(rec.size())};
  std::string frame;
  append_batch_frame(Offset(100), rec, ends, &frame);
  ASSERT_EQ(kSegmentHeaderSize + frame.size(), 60u);
  Prefill prefill;
  prefill.chunk = 4096;
  prefill.limit = 1 << 20;
  auto f = SegmentWriter::reopen(env, last.path, last.first, last.size, last.recycled, prefill);
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  ASSERT_TRUE((*f)->append(frame).ok());
  ASSERT_TRUE((*f)->close().ok());

  Replayed got2;
  RecoveryReport rep2;
  auto log2 = recover_log(env, dir, RecoveryPolicy::kTolerateTail, capture(&got2), &rep2);
  ASSERT_TRUE(log2.ok()) << log2.status().to_string();
  EXPECT_EQ(rep2.outcome, RecoveryOutcome::kClean) << (rep2.log.empty() ? "" : rep2.log[0]);
  EXPECT_EQ(rep2.bytes_truncated, 0u);
  ASSERT_EQ(got2.size(), 1u);
  EXPECT_EQ(got2[0].first, 100u);
  EXPECT_EQ(got2[0].second, "fuzz");
  EXPECT_EQ(log2->next_offset, Offset(101));
}

TEST(PrefillTest, TheNodeLogZeroFillsItsSegmentsToo) {
  ScratchDir d;
  NodeLogOptions o;
  o.wal.prefill_bytes = kChunk;
  {
    auto log = NodeLog::open(d.path(), o, nullptr);
    ASSERT_TRUE(log.ok()) << log.status().to_string();
    ASSERT_TRUE((*log)->attach("s", Offset(0), [](Offset, std::string_view) { return Status::OK(); }, {}).ok());
    ASSERT_TRUE((*log)->append("s", batch_for(0, 3)).ok());
    const std::string seg = segment_files(d.path()).at(0);
    EXPECT_EQ(header_flags(seg) & kSegmentFlagRecycled, kSegmentFlagRecycled);
    EXPECT_EQ(disk_size(seg), kSegmentHeaderSize + kChunk);
  }
  NodeLogReport report;
  auto log = NodeLog::open(d.path(), o, &report);
  ASSERT_TRUE(log.ok()) << log.status().to_string();
  EXPECT_EQ(report.wal.outcome, RecoveryOutcome::kClean);
  int n = 0;
  ASSERT_TRUE((*log)->attach("s", Offset(0), [&](Offset, std::string_view) { ++n; return Status::OK(); }, {}).ok());
  EXPECT_EQ(n, 3);
}

}  // namespace
}  // namespace persisting::wal
