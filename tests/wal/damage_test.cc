// Byte damage: for a small WAL, flip every byte in turn and cut every file at every length.
// Recovery must never crash, never return a record that differs from the one written, never
// lose a record that sits before the damage, and (when it opens) leave a WAL that appends and
// recovers consistently afterwards.
#include <gtest/gtest.h>

#include <map>

#include "storage/wal/segment_reader.h"
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

constexpr RecoveryPolicy kAllPolicies[] = {RecoveryPolicy::kTolerateTail, RecoveryPolicy::kAbsolute,
                                          RecoveryPolicy::kPointInTime};

struct SegmentImage {
  std::string name;
  std::string bytes;
  uint64_t records_before = 0;  // records in earlier segments
  // (end byte of frame, records in this segment up to and including that frame)
  std::vector<std::pair<uint64_t, uint64_t>> frame_ends;
};

class DamageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Six batches of 1..4 records over two segments.
    WalOptions o;
    o.max_segment_size = 260;
    const std::string dir = pristine_.path();
    Replayed got;
    auto w = Wal::open(dir, o, capture(&got), nullptr);
    ASSERT_TRUE(w.ok());
    uint64_t next = 0;
    for (size_t n : {2, 1, 4, 3, 1, 2}) {
      ASSERT_TRUE((*w)->append(batch_for(next, n)).ok());
      next += n;
    }
    total_ = next;
    ASSERT_TRUE((*w)->close().ok());
    uint64_t before = 0;
    for (const auto& path : testing::segment_files(dir)) {
      SegmentImage img;
      img.name = path.substr(path.rfind('/') + 1);
      img.bytes = testing::read_all(path);
      img.records_before = before;
      auto f = Env::Default()->new_random_access_file(path);
      ASSERT_TRUE(f.ok());
      SegmentReader r(f->get(), path);
      ASSERT_TRUE(r.read_header().ok());
      SegmentReader::Item item;
      uint64_t in_segment = 0;
      while (r.next(&item).ok() && item.kind == SegmentReader::Kind::kFrame) {
        in_segment += decode_batch(item.payload)->count;
        img.frame_ends.emplace_back(r.position(), in_segment);
      }
      before += in_segment;
      images_.push_back(std::move(img));
    }
    ASSERT_EQ(images_.size(), 2u);
    ASSERT_EQ(before, total_);
  }

  // Records that lie wholly before byte `pos` of segment `seg`.
  uint64_t records_before(size_t seg, uint64_t pos) const {
    uint64_t n = images_[seg].records_before;
    for (auto [end, count] : images_[seg].frame_ends) {
      if (end <= pos) n = images_[seg].records_before + count;
    }
    return n;
  }

  // Writes the images into a fresh directory, replacing segment `seg` by `damaged`.
  std::string stage(size_t seg, const std::string& damaged) {
    const std::string dir = work_.sub("w" + std::to_string(stage_count_++));
    EXPECT_TRUE(Env::Default()->create_dirs(dir).ok());
    for (size_t i = 0; i < images_.size(); ++i) {
      testing::write_all(dir + "/" + images_[i].name, i == seg ? damaged : images_[i].bytes);
    }
    return dir;
  }

  // Opens the damaged WAL under policy and checks every promise. min_records: records that sit
  // before the damage and must come back whenever the WAL opens.
  void check(size_t seg, const std::string& damaged, RecoveryPolicy policy, uint64_t min_records,
             bool must_open) {
    const std::string dir = stage(seg, damaged);
    WalOptions o;
    o.recovery_policy = policy;
    Replayed got;
    RecoveryReport rep;
    auto w = Wal::open(dir, o, capture(&got), &rep);
    if (!w.ok()) {
      ASSERT_FALSE(must_open) << w.status().to_string();
      ASSERT_TRUE(w.status().code() == Code::kCorruption) << w.status().to_string();
      ASSERT_EQ(policy, RecoveryPolicy::kAbsolute) << w.status().to_string();
      (void)Env::Default()->remove_all(dir);
      return;
    }
    expect_prefix_of_originals(got, 0);
    ASSERT_GE(got.size(), min_records);
    ASSERT_LE(got.size(), total_);
    if (!(*w)->health().ok()) {
      ASSERT_EQ(policy, RecoveryPolicy::kTolerateTail);
      ASSERT_FALSE((*w)->append(batch_for(got.size(), 1)).ok());
    } else {
      // Carry on writing; the result must recover as one consistent log.
      const uint64_t next = (*w)->next_offset().value();
      ASSERT_EQ(next, got.size());
      ASSERT_TRUE((*w)->append(batch_for(next, 2)).ok());
      ASSERT_TRUE((*w)->close().ok());
      Replayed again;
      RecoveryReport rep2;
      auto w2 = Wal::open(dir, o, capture(&again), &rep2);
      ASSERT_TRUE(w2.ok()) << w2.status().to_string();
      ASSERT_EQ(again.size(), next + 2);
      expect_prefix_of_originals(again, 0);
      ASSERT_EQ(rep2.outcome, RecoveryOutcome::kClean);
    }
    w = Status(Code::kInternal, "closed");
    (void)Env::Default()->remove_all(dir);
  }

  ScratchDir pristine_{true};
  ScratchDir work_{true};
  std::vector<SegmentImage> images_;
  uint64_t total_ = 0;
  int stage_count_ = 0;
};

TEST_F(DamageTest, EveryFlippedByteIsDetectedAndNeverReturned) {
  for (size_t seg = 0; seg < images_.size(); ++seg) {
    const auto& img = images_[seg];
    for (size_t pos = 0; pos < img.bytes.size(); ++pos) {
      for (uint8_t mask : {0x01, 0xFF}) {
        std::string damaged = img.bytes;
        damaged[pos] = static_cast<char>(damaged[pos] ^ mask);
        for (auto policy : kAllPolicies) {
          SCOPED_TRACE("segment " + std::to_string(seg) + " byte " + std::to_string(pos) + " mask " +
                       std::to_string(mask) + " " + std::string(recovery_policy_name(policy)));
          check(seg, damaged, policy, records_before(seg, pos), /*must_open=*/false);
          if (HasFatalFailure()) return;
        }
      }
    }
  }
  EXPECT_EQ(stage_count_, 2 * 3 * static_cast<int>(images_[0].bytes.size() + images_[1].bytes.size()));
}

TEST_F(DamageTest, EveryTruncationRecoversTheWholeFramesBeforeIt) {
  for (size_t seg = 0; seg < images_.size(); ++seg) {
    const bool last = seg + 1 == images_.size();
    const auto& img = images_[seg];
    for (size_t len = 0; len < img.bytes.size(); ++len) {
      for (auto policy : kAllPolicies) {
        SCOPED_TRACE("segment " + std::to_string(seg) + " cut at " + std::to_string(len) + " " +
                     std::string(recovery_policy_name(policy)));
        // A cut in the last segment is a torn tail: every policy opens and keeps exactly the
        // whole frames. A cut earlier is a gap: only absolute may refuse.
        check(seg, img.bytes.substr(0, len), policy, records_before(seg, len), /*must_open=*/last);
        if (HasFatalFailure()) return;
      }
    }
  }
  EXPECT_EQ(stage_count_, 3 * static_cast<int>(images_[0].bytes.size() + images_[1].bytes.size()));
}

}  // namespace
}  // namespace persisting::wal
