// Recovery on open: torn tails, damage in the middle under each policy, gaps, overlaps.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/crc32c.h"
#include "storage/wal/checkpoint.h"
#include "storage/wal/segment_reader.h"
#include "storage/wal/wal.h"
#include "storage/wal/wal_format.h"
#include "tests/wal/wal_test_util.h"

namespace persisting::wal {
namespace {

using testing::batch_for;
using testing::capture;
using testing::expect_prefix_of_originals;
using testing::read_all;
using testing::Replayed;
using testing::ScratchDir;
using testing::segment_files;
using testing::write_all;

constexpr RecoveryPolicy kAllPolicies[] = {RecoveryPolicy::kTolerateTail, RecoveryPolicy::kAbsolute,
                                          RecoveryPolicy::kPointInTime};

// Writes `batches` batches of 3 records (offsets 0, 3, 6, ...) and closes the WAL. With
// prefill_bytes 0 its segments are not zero-filled, so not flagged (docs/wal-format.md).
void write_log(const std::string& dir, int batches, uint64_t max_segment_size = 100ull << 20,
               uint64_t prefill_bytes = WalOptions().prefill_bytes) {
  WalOptions o;
  o.max_segment_size = max_segment_size;
  o.prefill_bytes = prefill_bytes;
  Replayed got;
  auto w = Wal::open(dir, o, capture(&got), nullptr);
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  for (int i = 0; i < batches; ++i) ASSERT_TRUE((*w)->append(batch_for(3 * i, 3)).ok());
  ASSERT_TRUE((*w)->close().ok());
}

// The records of segment `path` end at byte `end`: only zeros (written ahead of the appends by a
// writer that has it open) follow.
void expect_records_end_at(const std::string& path, uint64_t end) {
  const std::string bytes = read_all(path);
  ASSERT_GE(bytes.size(), end);
  EXPECT_EQ(bytes.find_first_not_of('\0', end), std::string::npos) << path << " after byte " << end;
}

// Start positions of the frames of a segment.
std::vector<uint64_t> frame_positions(const std::string& path) {
  auto f = Env::Default()->new_random_access_file(path);
  EXPECT_TRUE(f.ok());
  SegmentReader r(f->get(), path);
  EXPECT_TRUE(r.read_header().ok());
  std::vector<uint64_t> out;
  SegmentReader::Item item;
  while (r.next(&item).ok() && item.kind == SegmentReader::Kind::kFrame) out.push_back(item.position);
  return out;
}

struct Opened {
  Result<std::unique_ptr<Wal>> wal = Status(Code::kInternal, "not opened");
  Replayed got;
  RecoveryReport report;
};

std::unique_ptr<Opened> open_with(const std::string& dir, RecoveryPolicy p) {
  auto o = std::make_unique<Opened>();
  WalOptions opts;
  opts.recovery_policy = p;
  o->wal = Wal::open(dir, opts, capture(&o->got), &o->report);
  return o;
}

// The WAL recovery left open must take the next batch at `next`, and the directory must then
// recover cleanly to exactly offsets 0 .. next+3 under the same policy.
void expect_appends_then_recovers_cleanly(Opened* o, const std::string& dir, RecoveryPolicy policy,
                                          uint64_t next) {
  ASSERT_TRUE(o->wal.ok()) << o->wal.status().to_string();
  auto first = (*o->wal)->append(batch_for(next, 3));
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  ASSERT_EQ(*first, Offset(next));
  o->wal = Status(Code::kInternal, "closed");
  auto again = open_with(dir, policy);
  ASSERT_TRUE(again->wal.ok()) << again->wal.status().to_string();
  EXPECT_EQ(again->report.outcome, RecoveryOutcome::kClean);
  ASSERT_EQ(again->got.size(), next + 3);
  expect_prefix_of_originals(again->got, 0);
}

void copy_dir(const std::string& from, const std::string& to) {
  std::filesystem::remove_all(to);
  std::filesystem::copy(from, to, std::filesystem::copy_options::recursive);
}

TEST(RecoveryTest, TornTailIsTruncatedUnderEveryPolicy) {
  // In a zero-filled segment (flagged) and in one that is not.
  for (uint64_t prefill : {WalOptions().prefill_bytes, uint64_t{0}}) {
    SCOPED_TRACE("prefill_bytes " + std::to_string(prefill));
    ScratchDir d;
    write_log(d.sub("orig"), 5, 100ull << 20, prefill);
    const std::string seg = segment_files(d.sub("orig"))[0];
    const auto frames = frame_positions(seg);
    ASSERT_EQ(frames.size(), 5u);
    const uint64_t size = *Env::Default()->file_size(seg);
    // Cut inside the last frame's header, inside its payload, and leave a few stray bytes.
    for (uint64_t cut : {frames[4] + 3, frames[4] + 20, size - 1}) {
      for (auto policy : kAllPolicies) {
        SCOPED_TRACE("cut at " + std::to_string(cut) + ", policy " + std::string(recovery_policy_name(policy)));
        copy_dir(d.sub("orig"), d.sub("w"));
        const std::string s = segment_files(d.sub("w"))[0];
        write_all(s, read_all(s).substr(0, cut));
        auto o = open_with(d.sub("w"), policy);
        ASSERT_TRUE(o->wal.ok()) << o->wal.status().to_string();
        ASSERT_EQ(o->got.size(), 12u);
        expect_prefix_of_originals(o->got, 0);
        EXPECT_EQ(o->report.outcome, RecoveryOutcome::kTornTailTruncated);
        EXPECT_EQ(o->report.bytes_truncated, cut - frames[4]);
        EXPECT_EQ(o->report.log.size(), 1u);
        expect_records_end_at(s, frames[4]);
        // The WAL carries on from the truncation point.
        expect_appends_then_recovers_cleanly(o.get(), d.sub("w"), policy, 12);
      }
    }
  }
}

// In a segment that is not zero-filled (nor recycled): in one that is, a torn frame and a complete
// one with a bad CRC look alike, and both are dropped (prefill_test.cc).
TEST(RecoveryTest, CompleteLastFrameWithBadCrcIsATailButAbsoluteRefusesIt) {
  ScratchDir d;
  write_log(d.sub("orig"), 4, 100ull << 20, /*prefill_bytes=*/0);
  const uint64_t last = frame_positions(segment_files(d.sub("orig"))[0])[3];
  for (auto policy : kAllPolicies) {
    copy_dir(d.sub("orig"), d.sub("w"));
    const std::string s = segment_files(d.sub("w"))[0];
    std::string bytes = read_all(s);
    bytes[last + 30] ^= 0x40;
    write_all(s, bytes);
    auto o = open_with(d.sub("w"), policy);
    if (policy == RecoveryPolicy::kAbsolute) {
      ASSERT_FALSE(o->wal.ok());
      EXPECT_EQ(o->wal.status().code(), Code::kCorruption);
      EXPECT_NE(o->wal.status().message().find(s), std::string::npos) << o->wal.status().to_string();
      continue;
    }
    ASSERT_TRUE(o->wal.ok()) << o->wal.status().to_string();
    ASSERT_EQ(o->got.size(), 9u);
    expect_prefix_of_originals(o->got, 0);
    EXPECT_EQ(o->report.outcome, RecoveryOutcome::kTornTailTruncated);
    EXPECT_TRUE((*o->wal)->health().ok());
  }
}

// Damages frame 1 of 5 in the only segment, then opens under each policy.
TEST(RecoveryTest, CorruptionInTheMiddleFollowsThePolicy) {
  ScratchDir d;
  write_log(d.sub("orig"), 5);
  const auto frames = frame_positions(segment_files(d.sub("orig"))[0]);
  for (auto policy : kAllPolicies) {
    SCOPED_TRACE(std::string(recovery_policy_name(policy)));
    copy_dir(d.sub("orig"), d.sub("w"));
    const std::string s = segment_files(d.sub("w"))[0];
    std::string bytes = read_all(s);
    bytes[frames[1] + 25] ^= 0x01;  // a record byte of the second batch
    write_all(s, bytes);
    auto o = open_with(d.sub("w"), policy);
    switch (policy) {
      case RecoveryPolicy::kAbsolute:
        ASSERT_FALSE(o->wal.ok());
        EXPECT_EQ(o->wal.status().code(), Code::kCorruption);
        EXPECT_NE(o->wal.status().message().find(s), std::string::npos);
        EXPECT_EQ(read_all(s), bytes);  // nothing was changed
        break;
      case RecoveryPolicy::kTolerateTail: {
        ASSERT_TRUE(o->wal.ok()) << o->wal.status().to_string();
        ASSERT_EQ(o->got.size(), 3u);  // the good prefix
        expect_prefix_of_originals(o->got, 0);
        EXPECT_EQ(o->report.outcome, RecoveryOutcome::kCorruptionReadOnly);
        EXPECT_EQ(o->report.corruption.code(), Code::kCorruption);
        EXPECT_NE(o->report.corruption.message().find(s), std::string::npos);
        EXPECT_EQ((*o->wal)->health().code(), Code::kCorruption);
        auto a = (*o->wal)->append(batch_for(3, 1));
        EXPECT_EQ(a.status().code(), Code::kCorruption);
        EXPECT_EQ(read_all(s), bytes);  // evidence kept
        // Reopening says the same thing again.
        o->wal = Status(Code::kInternal, "closed");
        auto again = open_with(d.sub("w"), policy);
        ASSERT_TRUE(again->wal.ok());
        EXPECT_EQ(again->got.size(), 3u);
        EXPECT_EQ(again->report.outcome, RecoveryOutcome::kCorruptionReadOnly);
        break;
      }
      case RecoveryPolicy::kPointInTime: {
        ASSERT_TRUE(o->wal.ok()) << o->wal.status().to_string();
        ASSERT_EQ(o->got.size(), 3u);
        expect_prefix_of_originals(o->got, 0);
        EXPECT_EQ(o->report.outcome, RecoveryOutcome::kPointInTimeTruncated);
        EXPECT_EQ(o->report.corruption.code(), Code::kCorruption);
        expect_records_end_at(s, frames[1]);
        EXPECT_EQ((*o->wal)->next_offset(), Offset(3));
        expect_appends_then_recovers_cleanly(o.get(), d.sub("w"), policy, 3);
        break;
      }
    }
  }
}

// Records given up are reported (segment, byte, first offset lost) and the damaged segment is
// kept, as found, in damaged/ before any repair; a torn tail is neither.
TEST(RecoveryTest, Defect7_RecordsGivenUpAreReportedAndTheDamagedSegmentIsKept) {
  ScratchDir d;
  write_log(d.sub("orig"), 5);
  const auto frames = frame_positions(segment_files(d.sub("orig"))[0]);
  for (auto policy : {RecoveryPolicy::kTolerateTail, RecoveryPolicy::kPointInTime}) {
    SCOPED_TRACE(std::string(recovery_policy_name(policy)));
    copy_dir(d.sub("orig"), d.sub("w"));
    const std::string s = segment_files(d.sub("w"))[0];
    std::string bytes = read_all(s);
    bytes[frames[2] + 25] ^= 0x01;  // a record byte of the third batch (offsets 6-8)
    write_all(s, bytes);
    for (int open = 0; open < 2; ++open) {
      auto o = open_with(d.sub("w"), policy);
      ASSERT_TRUE(o->wal.ok()) << o->wal.status().to_string();
      EXPECT_TRUE(o->report.records_lost);
      EXPECT_EQ(o->report.policy, policy);
      EXPECT_EQ(o->report.damaged_segment, s);
      EXPECT_EQ(o->report.damage_byte, frames[2]);
      EXPECT_EQ(o->report.first_offset_lost, Offset(6));
      const std::string damaged = d.sub("w") + "/damaged";
      ASSERT_FALSE(o->report.evidence.empty());
      EXPECT_EQ(o->report.evidence.rfind(damaged + "/" + s.substr(s.rfind('/') + 1) + ".", 0), 0u)
          << o->report.evidence;
      EXPECT_EQ(read_all(o->report.evidence), bytes);  // as found, before any repair
      size_t copies = 0;
      for (const auto& e : std::filesystem::directory_iterator(damaged)) copies += e.is_regular_file();
      EXPECT_EQ(copies, 1u);  // the same damage met again is not copied again
      if (policy == RecoveryPolicy::kPointInTime) break;  // repaired: the next open is clean
    }
  }
  // A torn tail gives up nothing acknowledged: no report, no copy.
  copy_dir(d.sub("orig"), d.sub("t"));
  const std::string s = segment_files(d.sub("t"))[0];
  std::filesystem::resize_file(s, frames[4] + 10);
  auto o = open_with(d.sub("t"), RecoveryPolicy::kTolerateTail);
  ASSERT_TRUE(o->wal.ok());
  EXPECT_EQ(o->report.outcome, RecoveryOutcome::kTornTailTruncated);
  EXPECT_FALSE(o->report.records_lost);
  EXPECT_FALSE(std::filesystem::exists(d.sub("t") + "/damaged"));
}

TEST(RecoveryTest, DamagedLengthInTheMiddleIsNotMistakenForATornTail) {
  ScratchDir d;
  write_log(d.sub("orig"), 5);
  const auto frames = frame_positions(segment_files(d.sub("orig"))[0]);
  copy_dir(d.sub("orig"), d.sub("w"));
  const std::string s = segment_files(d.sub("w"))[0];
  std::string bytes = read_all(s);
  bytes[frames[2] + 1] = 0x7F;  // the length now runs far past the end of the file
  write_all(s, bytes);
  auto o = open_with(d.sub("w"), RecoveryPolicy::kTolerateTail);
  ASSERT_TRUE(o->wal.ok());
  EXPECT_EQ(o->got.size(), 6u);
  EXPECT_EQ(o->report.outcome, RecoveryOutcome::kCorruptionReadOnly);
  EXPECT_EQ(read_all(s), bytes);  // frames 3 and 4 were not thrown away
  // absolute refuses even though the bad frame looks incomplete: valid frames follow it.
  auto a = open_with(d.sub("w"), RecoveryPolicy::kAbsolute);
  EXPECT_EQ(a->wal.status().code(), Code::kCorruption);
}

TEST(RecoveryTest, CorruptionInAnEarlierSegmentFollowsThePolicy) {
  ScratchDir d;
  write_log(d.sub("orig"), 12, 200);
  const auto files = segment_files(d.sub("orig"));
  ASSERT_GE(files.size(), 3u);
  const auto frames = frame_positions(files[1]);
  ASSERT_FALSE(frames.empty());
  const uint64_t seg1_first = decode_segment_header(read_all(files[1]), "")->value();
  for (auto policy : kAllPolicies) {
    SCOPED_TRACE(std::string(recovery_policy_name(policy)));
    copy_dir(d.sub("orig"), d.sub("w"));
    const auto wf = segment_files(d.sub("w"));
    std::string bytes = read_all(wf[1]);
    bytes[frames.back() + 4] ^= 0xFF;  // CRC of the last frame of a middle segment
    write_all(wf[1], bytes);
    auto o = open_with(d.sub("w"), policy);
    const uint64_t good = seg1_first + 3 * (frames.size() - 1);
    if (policy == RecoveryPolicy::kAbsolute) {
      EXPECT_EQ(o->wal.status().code(), Code::kCorruption);
      continue;
    }
    ASSERT_TRUE(o->wal.ok()) << o->wal.status().to_string();
    ASSERT_EQ(o->got.size(), good);
    expect_prefix_of_originals(o->got, 0);
    if (policy == RecoveryPolicy::kTolerateTail) {
      EXPECT_EQ(o->report.outcome, RecoveryOutcome::kCorruptionReadOnly);
      EXPECT_EQ(segment_files(d.sub("w")).size(), files.size());
    } else {
      EXPECT_EQ(o->report.outcome, RecoveryOutcome::kPointInTimeTruncated);
      EXPECT_EQ(o->report.segments_discarded, files.size() - 2);
      EXPECT_EQ(segment_files(d.sub("w")).size(), 2u);
      EXPECT_TRUE(std::filesystem::exists(wf.back() + ".discarded"));
      EXPECT_EQ((*o->wal)->next_offset(), Offset(good));
      expect_appends_then_recovers_cleanly(o.get(), d.sub("w"), policy, good);
    }
  }
}

TEST(RecoveryTest, MissingMiddleSegmentIsAGap) {
  ScratchDir d;
  write_log(d.sub("orig"), 12, 200);
  const auto files = segment_files(d.sub("orig"));
  ASSERT_GE(files.size(), 3u);
  const uint64_t seg1_first = decode_segment_header(read_all(files[1]), "")->value();
  for (auto policy : kAllPolicies) {
    copy_dir(d.sub("orig"), d.sub("w"));
    std::filesystem::remove(segment_files(d.sub("w"))[1]);
    auto o = open_with(d.sub("w"), policy);
    if (policy == RecoveryPolicy::kAbsolute) {
      EXPECT_EQ(o->wal.status().code(), Code::kCorruption);
      EXPECT_NE(o->wal.status().message().find("missing"), std::string::npos) << o->wal.status().to_string();
      continue;
    }
    ASSERT_TRUE(o->wal.ok());
    ASSERT_EQ(o->got.size(), seg1_first);
    expect_prefix_of_originals(o->got, 0);
    EXPECT_EQ(o->report.corruption.code(), Code::kCorruption);
  }
}

TEST(RecoveryTest, DamagedSegmentHeaderIsCorruptionNeverATail) {
  ScratchDir d;
  write_log(d.sub("orig"), 6, 200);
  const auto files = segment_files(d.sub("orig"));
  ASSERT_GE(files.size(), 2u);
  const uint64_t last_first = decode_segment_header(read_all(files.back()), "")->value();
  for (auto policy : kAllPolicies) {
    copy_dir(d.sub("orig"), d.sub("w"));
    const std::string s = segment_files(d.sub("w")).back();
    std::string bytes = read_all(s);
    bytes[16] ^= 0x02;  // first offset in the header
    write_all(s, bytes);
    auto o = open_with(d.sub("w"), policy);
    if (policy == RecoveryPolicy::kAbsolute) {
      EXPECT_EQ(o->wal.status().code(), Code::kCorruption);
      continue;
    }
    ASSERT_TRUE(o->wal.ok());
    ASSERT_EQ(o->got.size(), last_first);
    expect_prefix_of_originals(o->got, 0);
    if (policy == RecoveryPolicy::kPointInTime) {
      // The whole segment is set aside; a fresh one takes its place.
      EXPECT_TRUE(std::filesystem::exists(s + ".discarded"));
      ASSERT_TRUE((*o->wal)->append(batch_for(last_first, 3)).ok());
    }
  }
}

TEST(RecoveryTest, NewerFormatVersionIsRefusedUnderEveryPolicy) {
  ScratchDir d;
  write_log(d.path(), 2);
  const std::string s = segment_files(d.path())[0];
  std::string bytes = read_all(s);
  bytes[8] = 2;  // version 2, with a header CRC that matches it
  std::string crc;
  put_u32(&crc, crc32c(std::string_view(bytes).substr(0, 28)));
  bytes.replace(28, 4, crc);
  write_all(s, bytes);
  for (auto policy : kAllPolicies) {
    auto o = open_with(d.path(), policy);
    EXPECT_EQ(o->wal.status().code(), Code::kNotSupported) << o->wal.status().to_string();
  }
}

// Hand-built segments: an older segment holds a frame at offsets a newer segment starts at, as
// the writer leaves it after a failed sync whose truncate also failed.
TEST(RecoveryTest, ALaterSegmentSupersedesTheTailOfAnEarlierOne) {
  ScratchDir d;
  std::string a = encode_segment_header(Offset(0));
  testing::append_frame(Offset(0), batch_for(0, 4), &a);
  RecordBatch ghost;
  ghost.add_encoded("never acknowledged");
  ghost.add_encoded("never acknowledged either");
  testing::append_frame(Offset(4), ghost, &a);
  a += "garbage";
  write_all(d.sub(segment_file_name(Offset(0))), a);
  std::string b = encode_segment_header(Offset(4));
  testing::append_frame(Offset(4), batch_for(4, 3), &b);
  write_all(d.sub(segment_file_name(Offset(4))), b);
  for (auto policy : kAllPolicies) {
    auto o = open_with(d.path(), policy);
    ASSERT_TRUE(o->wal.ok()) << o->wal.status().to_string();
    ASSERT_EQ(o->got.size(), 7u);
    expect_prefix_of_originals(o->got, 0);
    EXPECT_EQ(o->report.outcome, RecoveryOutcome::kClean);
    EXPECT_GT(o->report.bytes_superseded, 0u);
  }
}

TEST(RecoveryTest, DuplicateOffsetsInsideASegmentAreCorruption) {
  ScratchDir d;
  std::string a = encode_segment_header(Offset(0));
  testing::append_frame(Offset(0), batch_for(0, 3), &a);
  testing::append_frame(Offset(0), batch_for(0, 3), &a);  // the same offsets again
  testing::append_frame(Offset(3), batch_for(3, 3), &a);
  write_all(d.sub(segment_file_name(Offset(0))), a);
  auto o = open_with(d.path(), RecoveryPolicy::kAbsolute);
  EXPECT_EQ(o->wal.status().code(), Code::kCorruption);
  EXPECT_NE(o->wal.status().message().find("duplicate"), std::string::npos) << o->wal.status().to_string();
  auto t = open_with(d.path(), RecoveryPolicy::kTolerateTail);
  ASSERT_TRUE(t->wal.ok());
  EXPECT_EQ(t->got.size(), 3u);
  EXPECT_EQ(t->report.outcome, RecoveryOutcome::kCorruptionReadOnly);
}

TEST(RecoveryTest, SegmentWhoseNameDisagreesWithItsHeaderIsCorruption) {
  ScratchDir d;
  write_log(d.path(), 2);
  std::filesystem::rename(segment_files(d.path())[0], d.sub(segment_file_name(Offset(5))));
  auto o = open_with(d.path(), RecoveryPolicy::kAbsolute);
  EXPECT_EQ(o->wal.status().code(), Code::kCorruption);
}

TEST(RecoveryTest, LeftoverTemporaryFilesAreRemoved) {
  ScratchDir d;
  write_log(d.path(), 2);
  write_all(d.sub(segment_file_name(Offset(6)) + ".tmp"), "half a header");
  write_all(d.sub("CHECKPOINT.tmp"), "x");
  auto o = open_with(d.path(), RecoveryPolicy::kAbsolute);
  ASSERT_TRUE(o->wal.ok()) << o->wal.status().to_string();
  EXPECT_EQ(o->got.size(), 6u);
  EXPECT_FALSE(std::filesystem::exists(d.sub(segment_file_name(Offset(6)) + ".tmp")));
  EXPECT_FALSE(std::filesystem::exists(d.sub("CHECKPOINT.tmp")));
}


TEST(RecoveryTest, LastSegmentShorterThanAHeaderIsReplacedByAnEmptySegment) {
  for (auto policy : kAllPolicies) {
    ScratchDir d;
    write_log(d.path(), 3);
    testing::write_all(d.sub(segment_file_name(Offset(9))), encode_segment_header(Offset(9)).substr(0, 11));
    auto o = open_with(d.path(), policy);
    EXPECT_EQ(testing::read_all(d.sub(segment_file_name(Offset(9)))), encode_segment_header(Offset(9)));
    ASSERT_TRUE(o->wal.ok()) << o->wal.status().to_string();
    ASSERT_EQ(o->got.size(), 9u);
    EXPECT_EQ(o->report.outcome, RecoveryOutcome::kTornTailTruncated);
    expect_appends_then_recovers_cleanly(o.get(), d.path(), policy, 9);
  }
}


// Found by the fuzzer: a log whose first segment starts above the checkpoint is missing records;
// point_in_time must restart at the checkpoint, not at the first surviving segment.
TEST(RecoveryTest, LogStartingAboveTheCheckpointIsMissingRecords) {
  for (auto policy : kAllPolicies) {
    ScratchDir d;
    std::string a = encode_segment_header(Offset(5));
    testing::append_frame(Offset(5), batch_for(5, 3), &a);
    testing::write_all(d.sub(segment_file_name(Offset(5))), a);
    auto o = open_with(d.path(), policy);
    if (policy == RecoveryPolicy::kAbsolute) {
      EXPECT_EQ(o->wal.status().code(), Code::kCorruption);
      continue;
    }
    ASSERT_TRUE(o->wal.ok()) << o->wal.status().to_string();
    EXPECT_TRUE(o->got.empty());
    EXPECT_EQ(o->report.corruption.code(), Code::kCorruption);
    EXPECT_EQ((*o->wal)->next_offset(), Offset(0));
    if (policy == RecoveryPolicy::kPointInTime) {
      expect_appends_then_recovers_cleanly(o.get(), d.path(), policy, 0);
    }
  }
}

// Recycled segments (wal.cc, take_spare): a segment freed by a checkpoint is written over as a
// later one. Its header carries kSegmentFlagRecycled and its records are followed by the old
// file's frames (offsets 0..29 here), whole or cut. The log below starts at checkpoint 100.
std::string old_segment_bytes() {
  std::string old = encode_segment_header(Offset(0));
  for (uint64_t o = 0; o < 30; o += 3) testing::append_frame(Offset(o), batch_for(o, 3, 40), &old);
  return old;
}

// Header and the records [100, 100 + 3 * batches) of a segment, recycled or not.
std::string new_segment_bytes(int batches, uint32_t flags = kSegmentFlagRecycled) {
  std::string b = encode_segment_header(Offset(100), flags);
  for (int i = 0; i < batches; ++i) testing::append_frame(Offset(100 + 3 * i), batch_for(100 + 3 * i, 3), &b);
  return b;
}

// new_bytes written over the old file in place.
std::string written_over(const std::string& new_bytes) {
  std::string old = old_segment_bytes();
  EXPECT_LT(new_bytes.size(), old.size());
  return new_bytes + old.substr(new_bytes.size());
}

void write_recycled_log(const std::string& dir, const std::string& segment) {
  ASSERT_TRUE(Env::Default()->create_dirs(dir).ok());
  ASSERT_TRUE(write_checkpoint(Env::Default(), dir, Offset(100)).ok());
  write_all(join_path(dir, segment_file_name(Offset(100))), segment);
}

TEST(RecoveryTest, RecycledSegmentEndsWhereItsOwnRecordsEnd) {
  // The old bytes after the records: cut mid-frame (what overwriting leaves), or starting with a
  // whole old frame.
  const std::string cut = written_over(new_segment_bytes(2));
  const std::string whole = new_segment_bytes(2) + old_segment_bytes().substr(kSegmentHeaderSize);
  for (const std::string& bytes : {cut, whole}) {
    for (auto policy : kAllPolicies) {
      SCOPED_TRACE(std::string(recovery_policy_name(policy)) + (&bytes == &cut ? ", cut" : ", whole"));
      ScratchDir d;
      write_recycled_log(d.path(), bytes);
      auto o = open_with(d.path(), policy);
      ASSERT_TRUE(o->wal.ok()) << o->wal.status().to_string();
      ASSERT_EQ(o->got.size(), 6u);
      expect_prefix_of_originals(o->got, 100);
      EXPECT_EQ(o->report.outcome, RecoveryOutcome::kClean);
      EXPECT_TRUE(o->report.corruption.ok());
      EXPECT_EQ(o->report.bytes_recycled, bytes.size() - new_segment_bytes(2).size());
      EXPECT_EQ((*o->wal)->size_bytes(), new_segment_bytes(2).size());
      // Appends go on right after the records, over the old bytes, and recover cleanly.
      auto first = (*o->wal)->append(batch_for(106, 3));
      ASSERT_TRUE(first.ok()) << first.status().to_string();
      EXPECT_EQ(*first, Offset(106));
      o->wal = Status(Code::kInternal, "closed");
      auto again = open_with(d.path(), policy);
      ASSERT_TRUE(again->wal.ok()) << again->wal.status().to_string();
      EXPECT_EQ(again->report.outcome, RecoveryOutcome::kClean);
      ASSERT_EQ(again->got.size(), 9u);
      expect_prefix_of_originals(again->got, 100);
      EXPECT_EQ(again->report.bytes_recycled, 0u) << "close() cut the old bytes after the records off";
      again->wal = Status(Code::kInternal, "closed");
      EXPECT_EQ(read_all(d.sub(segment_file_name(Offset(100)))).size(), new_segment_bytes(3).size())
          << "close() cut the old bytes (and the zeros) after the records off";
    }
  }
}

TEST(RecoveryTest, TornLastFrameOfARecycledSegmentEndsTheLog) {
  std::string torn = new_segment_bytes(3);
  const std::string whole = new_segment_bytes(2);
  torn.resize(whole.size() + (torn.size() - whole.size()) / 2);  // half of the third frame
  for (auto policy : kAllPolicies) {
    SCOPED_TRACE(recovery_policy_name(policy));
    ScratchDir d;
    write_recycled_log(d.path(), written_over(torn));
    auto o = open_with(d.path(), policy);
    ASSERT_TRUE(o->wal.ok()) << o->wal.status().to_string();
    ASSERT_EQ(o->got.size(), 6u);  // the torn batch is not there, not even in part
    expect_prefix_of_originals(o->got, 100);
    EXPECT_EQ((*o->wal)->next_offset(), Offset(106));
  }
}

TEST(RecoveryTest, DamageBeforeTheLastRecordOfARecycledSegmentFollowsThePolicy) {
  std::string bytes = written_over(new_segment_bytes(3));
  const size_t second_frame = new_segment_bytes(1).size();
  bytes[second_frame + kFrameHeaderSize + kBatchFixedSize + 5] ^= 0x20;  // a record of [103, 106)
  for (auto policy : kAllPolicies) {
    SCOPED_TRACE(recovery_policy_name(policy));
    ScratchDir d;
    write_recycled_log(d.path(), bytes);
    auto o = open_with(d.path(), policy);
    if (policy == RecoveryPolicy::kAbsolute) {
      EXPECT_EQ(o->wal.status().code(), Code::kCorruption) << o->wal.status().to_string();
      continue;
    }
    ASSERT_TRUE(o->wal.ok()) << o->wal.status().to_string();
    ASSERT_EQ(o->got.size(), 3u);
    expect_prefix_of_originals(o->got, 100);
    EXPECT_EQ(o->report.outcome, policy == RecoveryPolicy::kTolerateTail ? RecoveryOutcome::kCorruptionReadOnly
                                                                          : RecoveryOutcome::kPointInTimeTruncated);
  }
}

TEST(RecoveryTest, OldFramesCountOnlyInASegmentMarkedRecycled) {
  // The same bytes with a header that does not say "recycled": the old frame after the records
  // is a frame out of order, which absolute refuses.
  ScratchDir d;
  write_recycled_log(d.path(), new_segment_bytes(2, 0) + old_segment_bytes().substr(kSegmentHeaderSize));
  auto o = open_with(d.path(), RecoveryPolicy::kAbsolute);
  EXPECT_EQ(o->wal.status().code(), Code::kCorruption) << o->wal.status().to_string();
}

TEST(RecoveryTest, RecycledSegmentThatEndsBeforeTheNextOneIsMissingRecords) {
  ScratchDir d;
  write_recycled_log(d.path(), written_over(new_segment_bytes(2)));  // records [100, 106)
  std::string next = encode_segment_header(Offset(109));
  testing::append_frame(Offset(109), batch_for(109, 3), &next);
  write_all(d.sub(segment_file_name(Offset(109))), next);
  auto o = open_with(d.path(), RecoveryPolicy::kAbsolute);
  EXPECT_EQ(o->wal.status().code(), Code::kCorruption);
  // Damage right where the segment's own records end: in a segment that is not the last, the old
  // bytes there are not an end.
  const std::string at = "100.wal' at byte " + std::to_string(new_segment_bytes(2).size()) + ":";
  EXPECT_NE(o->wal.status().message().find(at), std::string::npos) << o->wal.status().to_string();
}

TEST(RecoveryTest, UnknownHeaderFlagsAreRefused) {
  ScratchDir d;
  write_recycled_log(d.path(), new_segment_bytes(1, 2));
  for (auto policy : kAllPolicies) {
    auto o = open_with(d.path(), policy);
    EXPECT_EQ(o->wal.status().code(), Code::kNotSupported) << o->wal.status().to_string();
  }
}

}  // namespace
}  // namespace persisting::wal
