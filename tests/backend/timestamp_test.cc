// Append times (docs/records.md, "Append time") through every built-in backend: stamped by the
// bucket at the append from the scheduler's wall clock, never going down, returned with the
// records from memory, after a WAL replay and from Lance after a reopen (per fragment there);
// offset_for_time; and age retention (retention_ms, docs/retention.md), including the periodic
// look that removes a quiet bucket's expired fragment. The clock is a ManualScheduler: no sleeps.
#include <gtest/gtest.h>

#include "backend/retention.h"
#include "persisting/backend.h"
#include "storage/lance/dataset.h"
#include "util/manual_scheduler.h"
#include "util/temp_dir.h"

using namespace persisting;
using persisting::testing::ManualScheduler;
using persisting::testing::TempDir;

namespace {

constexpr int64_t kT0 = ManualScheduler::kWallStart;

RecordBatch batch_of(int from, int n) {
  RecordBatch b;
  for (int i = from; i < from + n; ++i) b.add(Record{{"id", "k" + std::to_string(i)}, {"i", i}});
  return b;
}

class TimestampTest : public ::testing::TestWithParam<std::string> {
 protected:
  std::unique_ptr<StorageBackend> open(std::shared_ptr<const RetentionLimits> limits = nullptr) {
    BackendContext ctx;
    ctx.topic = "t";
    ctx.bucket = BucketId(0);
    ctx.bucket_dir = GetParam() == "memory" ? "" : dir_.path();
    ctx.batch_size = 1000000;  // flushes only when the test asks: one fragment per flush
    ctx.env = Env::Default();
    ctx.scheduler = &sched_;
    ctx.retention = std::move(limits);
    Options opts;
    if (GetParam() != "memory") opts["flush_interval"] = "0";
    auto b = BackendRegistry::global().create(GetParam(), ctx, opts);
    EXPECT_TRUE(b.ok()) << b.status().to_string();
    return b.ok() ? std::move(b).value() : nullptr;
  }
  static std::vector<int64_t> times(StorageBackend& b, uint64_t from = 0) {
    auto got = b.get(Offset(from), 1 << 20);
    EXPECT_TRUE(got.ok()) << got.status().to_string();
    std::vector<int64_t> out;
    for (size_t i = 0; got.ok() && i < got->size(); ++i) out.push_back(got->time(i));
    return out;
  }
  uint64_t fragments() {
    auto ds = lance::LanceDataset::open_or_create(Env::Default(), dir_.path() + "/data.lance");
    EXPECT_TRUE(ds.ok());
    return (*ds)->fragments().size();
  }

  ManualScheduler sched_;
  TempDir dir_;
};

TEST_P(TimestampTest, RecordsCarryTheirAppendTimeFromMemory) {
  auto b = open();
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->put_batch(batch_of(0, 2)).ok());
  sched_.advance(std::chrono::seconds(5));
  ASSERT_TRUE(b->put_batch(batch_of(2, 1)).ok());
  EXPECT_EQ(times(*b), (std::vector<int64_t>{kT0, kT0, kT0 + 5000}));
  // Flushed records still come from memory (the tail) with their own times.
  ASSERT_TRUE(b->flush().ok());
  EXPECT_EQ(times(*b), (std::vector<int64_t>{kT0, kT0, kT0 + 5000}));
  EXPECT_EQ(times(*b, 2), (std::vector<int64_t>{kT0 + 5000}));
}

TEST_P(TimestampTest, OffsetForTime) {
  auto b = open();
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->put_batch(batch_of(0, 3)).ok());  // offsets 0..2 at T0
  ASSERT_TRUE(b->flush().ok());
  sched_.advance(std::chrono::seconds(10));
  ASSERT_TRUE(b->put_batch(batch_of(3, 3)).ok());  // offsets 3..5 at T0+10s
  ASSERT_TRUE(b->flush().ok());
  sched_.advance(std::chrono::seconds(10));
  ASSERT_TRUE(b->put_batch(batch_of(6, 2)).ok());  // offsets 6..7 at T0+20s, not flushed
  sched_.advance(std::chrono::seconds(10));
  ASSERT_TRUE(b->put_batch(batch_of(8, 1)).ok());  // offset 8 at T0+30s, not flushed
  EXPECT_EQ(b->offset_for_time(0)->value(), 0u);
  EXPECT_EQ(b->offset_for_time(kT0)->value(), 0u);
  EXPECT_EQ(b->offset_for_time(kT0 + 1)->value(), 3u);
  EXPECT_EQ(b->offset_for_time(kT0 + 10'000)->value(), 3u);
  EXPECT_EQ(b->offset_for_time(kT0 + 15'000)->value(), 6u);
  EXPECT_EQ(b->offset_for_time(kT0 + 25'000)->value(), 8u);
  EXPECT_EQ(b->offset_for_time(kT0 + 30'001)->value(), 9u);  // none that recent: the end
}

// The backends that keep records across a reopen and have Lance fragments.
class DurableTimestampTest : public TimestampTest {};

TEST_P(DurableTimestampTest, TimesSurviveAReopen) {
  {
    auto b = open();
    ASSERT_TRUE(b);
    ASSERT_TRUE(b->put_batch(batch_of(0, 2)).ok());
    sched_.advance(std::chrono::seconds(1));
    ASSERT_TRUE(b->put_batch(batch_of(2, 2)).ok());
    ASSERT_TRUE(b->flush().ok());  // one fragment: times T0 .. T0+1s
    sched_.advance(std::chrono::seconds(1));
    ASSERT_TRUE(b->put_batch(batch_of(4, 1)).ok());
    ASSERT_TRUE(b->flush().ok());  // a second fragment at T0+2s
  }
  auto ds = lance::LanceDataset::open_or_create(Env::Default(), dir_.path() + "/data.lance");
  ASSERT_TRUE(ds.ok());
  auto frags = (*ds)->fragments();
  ASSERT_EQ(frags.size(), 2u);
  EXPECT_EQ(frags[0].times.min, kT0);
  EXPECT_EQ(frags[0].times.max, kT0 + 1000);
  EXPECT_EQ(frags[1].times.min, kT0 + 2000);
  EXPECT_EQ(frags[1].times.max, kT0 + 2000);
  // Read back from Lance: each record gets its fragment's newest time.
  auto b = open();
  ASSERT_TRUE(b);
  EXPECT_EQ(times(*b), (std::vector<int64_t>{kT0 + 1000, kT0 + 1000, kT0 + 1000, kT0 + 1000, kT0 + 2000}));
  // A later append is never stamped before what the bucket holds.
  ASSERT_TRUE(b->put_batch(batch_of(5, 1)).ok());
  EXPECT_GE(times(*b, 5).at(0), kT0 + 2000);
}

TEST(TimestampWalTest, UnflushedTimesSurviveAWalReplay) {
  TempDir dir;
  ManualScheduler sched;
  auto open = [&] {
    BackendContext ctx;
    ctx.topic = "t";
    ctx.bucket = BucketId(0);
    ctx.bucket_dir = dir.path();
    ctx.env = Env::Default();
    ctx.scheduler = &sched;
    return BackendRegistry::global().create("persisting", ctx, {{"flush_interval", "0"}});
  };
  {
    auto b = open();
    ASSERT_TRUE(b.ok()) << b.status().to_string();
    ASSERT_TRUE((*b)->put_batch(batch_of(0, 2)).ok());
    sched.advance(std::chrono::seconds(3));
    ASSERT_TRUE((*b)->put_batch(batch_of(2, 1)).ok());
    // Dropped without a flush, as a crashed process would be: only the log has the records.
  }
  sched.advance(std::chrono::seconds(100));
  auto b = open();
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  auto got = (*b)->get(Offset(0), 10);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 3u);
  EXPECT_EQ(got->time(0), kT0);
  EXPECT_EQ(got->time(1), kT0);
  EXPECT_EQ(got->time(2), kT0 + 3000);
  EXPECT_EQ((*b)->stats().to_object().find("wal_records_replayed")->as_int(), 3);
}

TEST_P(DurableTimestampTest, AgeRetentionRemovesExpiredFragmentsOfAQuietBucket) {
  auto limits = std::make_shared<RetentionLimits>(0, 0, /*ms=*/60'000);
  auto b = open(limits);
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->put_batch(batch_of(0, 10)).ok());
  ASSERT_TRUE(b->flush().ok());  // fragment 0 at T0
  sched_.advance(std::chrono::seconds(30));
  ASSERT_TRUE(b->put_batch(batch_of(10, 10)).ok());
  ASSERT_TRUE(b->flush().ok());  // fragment 1 at T0+30s
  sched_.advance(std::chrono::seconds(20));
  ASSERT_TRUE(b->put_batch(batch_of(20, 5)).ok());  // unflushed, T0+50s
  EXPECT_EQ(b->stats().first_offset, 0u);
  EXPECT_EQ(fragments(), 2u);
  // No put, no flush: the periodic look on the scheduler removes fragment 0 once it is older
  // than 60 s (T0 + 60 s + 1 ms), within a second (the look runs at most once a second).
  sched_.advance(std::chrono::milliseconds(10'000));
  EXPECT_EQ(b->stats().first_offset, 0u);
  sched_.advance(std::chrono::seconds(1));
  // The look is a flush: the waiting records became a fragment of their own first (retention
  // never touches records that are not flushed).
  EXPECT_EQ(b->stats().first_offset, 10u);
  EXPECT_EQ(fragments(), 2u);
  auto got = b->get(Offset(10), 100);
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  EXPECT_EQ(got->size(), 15u);
  auto below = b->get(Offset(3), 1);
  EXPECT_EQ(below.status().code(), Code::kOutOfRange);
  // The newest fragment never goes, however old.
  sched_.advance(std::chrono::hours(2));
  EXPECT_EQ(b->stats().first_offset, 20u);
  EXPECT_EQ(fragments(), 1u);
  got = b->get(Offset(20), 100);
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  EXPECT_EQ(got->size(), 5u);
}

TEST(RetentionCutTest, AgeCombinesWithTheOtherLimits) {
  lance::Snapshot s;
  s.fragment_starts = {0, 10, 20, 30};
  s.fragment_times = {{100, 200}, {300, 400}, {500, 600}};
  // The manifest must list as many fragments as fragment_starts says.
  for (int i = 0; i < 3; ++i) s.file.manifest.add_fragments()->set_id(static_cast<uint64_t>(i));
  EXPECT_EQ(retention_cut(s, 0, 0, /*ms=*/100, /*now=*/299), 0u);  // 200 is not older than 199
  EXPECT_EQ(retention_cut(s, 0, 0, 100, 301), 1u);
  EXPECT_EQ(retention_cut(s, 0, 0, 100, 100'000), 2u);  // never the newest
  EXPECT_EQ(retention_cut(s, /*records=*/25, 0, 100, 301), 1u);
  EXPECT_EQ(retention_cut(s, /*records=*/10, 0, 100, 0), 2u);
  s.fragment_times[0] = {};  // unknown times never expire
  EXPECT_EQ(retention_cut(s, 0, 0, 100, 100'000), 0u);
  EXPECT_EQ(next_age_expiry(s, 100), std::nullopt);
  s.fragment_times[0] = {100, 200};
  EXPECT_EQ(next_age_expiry(s, 100), 301);
}

INSTANTIATE_TEST_SUITE_P(Backends, TimestampTest, ::testing::Values("memory", "lance", "persisting"));
INSTANTIATE_TEST_SUITE_P(Backends, DurableTimestampTest, ::testing::Values("lance", "persisting"));

}  // namespace
