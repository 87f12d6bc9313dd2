// Retention over Lance fragments (docs/retention.md), through the lance and persisting backends:
// whole flushed fragments past the limits go, offsets never change, reads below the first
// available offset are OutOfRange naming it, unflushed records are never touched, and the first
// offset survives a reopen.
#include <gtest/gtest.h>

#include <filesystem>

#include "persisting/backend.h"
#include "storage/lance/dataset.h"
#include "util/fault_env.h"
#include "util/temp_dir.h"

using namespace persisting;
using persisting::testing::FaultEnv;
using persisting::testing::TempDir;

namespace {

Record rec(int i) { return Record{{"id", "k" + std::to_string(i)}, {"i", i}}; }

RecordBatch batch_of(int from, int n) {
  RecordBatch b;
  for (int i = from; i < from + n; ++i) b.add(rec(i));
  return b;
}

class RetentionTest : public ::testing::TestWithParam<std::string> {
 protected:
  std::unique_ptr<StorageBackend> open(std::shared_ptr<const RetentionLimits> limits, Env* env = Env::Default()) {
    BackendContext ctx;
    ctx.topic = "t";
    ctx.bucket = BucketId(0);
    ctx.bucket_dir = dir_.path();
    ctx.batch_size = 1000000;  // flushes only when the test asks: one fragment per flush
    ctx.env = env;
    ctx.retention = std::move(limits);
    Options opts;
    if (GetParam() == "lance") opts["flush_interval"] = "0";
    auto b = BackendRegistry::global().create(GetParam(), ctx, opts);
    EXPECT_TRUE(b.ok()) << b.status().to_string();
    return b.ok() ? std::move(b).value() : nullptr;
  }
  // `fragments` flushes of `rows` records each, starting at record `from`.
  void fill(StorageBackend& b, int from, int fragments, int rows) {
    for (int f = 0; f < fragments; ++f) {
      ASSERT_TRUE(b.put_batch(batch_of(from + f * rows, rows)).ok());
      ASSERT_TRUE(b.flush().ok());
    }
  }
  uint64_t fragments() {
    auto ds = lance::LanceDataset::open_or_create(Env::Default(), dir_.path() + "/data.lance");
    EXPECT_TRUE(ds.ok());
    return (*ds)->fragments().size();
  }
  static void expect_records(StorageBackend& b, int from, int to) {
    auto got = b.get(Offset(from), 1 << 20);
    ASSERT_TRUE(got.ok()) << got.status().to_string();
    auto rows = got->decode_all();
    ASSERT_TRUE(rows.ok());
    ASSERT_EQ(rows->size(), static_cast<size_t>(to - from));
    for (int i = from; i < to; ++i) EXPECT_EQ((*rows)[i - from], rec(i)) << i;
  }
  static void expect_out_of_range(StorageBackend& b, uint64_t offset, uint64_t first) {
    auto got = b.get(Offset(offset), 10);
    ASSERT_FALSE(got.ok()) << "offset " << offset;
    EXPECT_EQ(got.status().code(), Code::kOutOfRange) << got.status().to_string();
    EXPECT_NE(got.status().message().find("first available offset " + std::to_string(first)), std::string::npos)
        << got.status().to_string();
  }
  TempDir dir_;
};

TEST_P(RetentionTest, RecordsLimitRemovesWholeFragmentsAndKeepsOffsets) {
  auto limits = std::make_shared<RetentionLimits>(/*records=*/25, /*bytes=*/0);
  auto b = open(limits);
  ASSERT_TRUE(b);
  fill(*b, 0, 10, 10);
  // 25 records kept at least: the three newest fragments (30 records) stay, 70 records go.
  BucketStats s = b->stats();
  EXPECT_EQ(s.first_offset, 70u);
  EXPECT_EQ(s.total_count, 100u);
  EXPECT_EQ(fragments(), 3u);
  expect_records(*b, 70, 100);
  expect_out_of_range(*b, 0, 70);
  expect_out_of_range(*b, 69, 70);
  // A read of nothing only asks for the end (the Kafka broker's probe): never OutOfRange.
  auto probe = b->get(Offset(0), 0);
  ASSERT_TRUE(probe.ok()) << probe.status().to_string();
  EXPECT_TRUE(probe->empty());
  // Unflushed records are never touched, even far past the limit.
  ASSERT_EQ(b->put_batch(batch_of(100, 40))->value(), 100u);
  EXPECT_EQ(b->stats().first_offset, 70u);
  expect_records(*b, 70, 140);
  EXPECT_EQ(b->stats().to_object().find("first_offset")->as_int(), 70);
}

TEST_P(RetentionTest, FirstOffsetSurvivesReopen) {
  {
    auto b = open(std::make_shared<RetentionLimits>(15, 0));
    ASSERT_TRUE(b);
    fill(*b, 0, 5, 10);
    EXPECT_EQ(b->stats().first_offset, 30u);
  }
  auto b = open(nullptr);  // no limits now: nothing more goes, what went stays gone
  ASSERT_TRUE(b);
  EXPECT_EQ(b->stats().first_offset, 30u);
  EXPECT_EQ(b->total_count(), 50u);
  expect_records(*b, 30, 50);
  expect_out_of_range(*b, 29, 30);
  // Appending continues at the same offsets.
  ASSERT_EQ(b->put_batch(batch_of(50, 5))->value(), 50u);
  ASSERT_TRUE(b->flush().ok());
  expect_records(*b, 30, 55);
}

TEST_P(RetentionTest, BytesLimitKeepsAtLeastTheLimit) {
  auto limits = std::make_shared<RetentionLimits>();
  auto b = open(limits);
  ASSERT_TRUE(b);
  fill(*b, 0, 6, 10);
  std::vector<uint64_t> sizes;
  {
    auto ds = lance::LanceDataset::open_or_create(Env::Default(), dir_.path() + "/data.lance");
    ASSERT_TRUE(ds.ok());
    for (const auto& f : (*ds)->fragments()) {
      uint64_t n = 0;
      for (const auto& file : f.files) n += std::filesystem::file_size(dir_.path() + "/data.lance/data/" + file);
      sizes.push_back(n);
    }
  }
  ASSERT_EQ(sizes.size(), 6u);
  // A limit one byte above the newest two fragments keeps three of them.
  limits->set(0, sizes[4] + sizes[5] + 1);
  ASSERT_TRUE(b->flush().ok());  // nothing buffered: the flush applies the new limit
  EXPECT_EQ(b->stats().first_offset, 30u);
  EXPECT_EQ(fragments(), 3u);
  expect_records(*b, 30, 60);
  // One byte: only the newest fragment stays (a fragment is never split).
  limits->set(0, 1);
  ASSERT_TRUE(b->flush().ok());
  EXPECT_EQ(b->stats().first_offset, 50u);
  EXPECT_EQ(fragments(), 1u);
  expect_records(*b, 50, 60);
}

TEST_P(RetentionTest, NoLimitsKeepEverything) {
  auto limits = std::make_shared<RetentionLimits>();
  auto b = open(limits);
  ASSERT_TRUE(b);
  fill(*b, 0, 4, 5);
  EXPECT_EQ(b->stats().first_offset, 0u);
  EXPECT_EQ(fragments(), 4u);
  expect_records(*b, 0, 20);
  // Raising a limit past what there is removes nothing either.
  limits->set(1000, 1 << 30);
  ASSERT_TRUE(b->flush().ok());
  EXPECT_EQ(fragments(), 4u);
  expect_records(*b, 0, 20);
}

TEST_P(RetentionTest, AppliedWhenTheBucketBecomesTheWriter) {
  {
    auto b = open(nullptr);
    ASSERT_TRUE(b);
    fill(*b, 0, 4, 10);
  }
  // Opened again with a limit: the first put (lance) or the open (persisting) makes it the
  // writer, which applies retention before anything is flushed.
  auto b = open(std::make_shared<RetentionLimits>(10, 0));
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->put_batch(batch_of(40, 1)).ok());
  EXPECT_EQ(b->stats().first_offset, 30u);
  expect_records(*b, 30, 41);
}

// A crash at every file-system step of the retention a flush applies: the bucket that lived
// through it reads what its own first offset says, and the bucket reopened from disk has either
// the old first offset with every record or the new one with the records after it, each at the
// offset its put returned; a later flush finishes the job.
TEST_P(RetentionTest, CrashAtEveryStepOfARetentionCommit) {
  int steps = 0, old_seen = 0, new_seen = 0;
  bool done = false;
  for (int step = 0; step < 100 && !done; ++step) {
    std::filesystem::remove_all(dir_.path());
    std::filesystem::create_directories(dir_.path());
    FaultEnv env(Env::Default());
    {
      auto limits = std::make_shared<RetentionLimits>();
      auto b = open(limits, &env);
      ASSERT_TRUE(b);
      fill(*b, 0, 4, 10);
      ASSERT_EQ(b->stats().first_offset, 0u);
      limits->set(25, 0);  // the oldest fragment goes; the three after it hold 30
      env.stop_after(step);
      Status s = b->flush();  // nothing buffered: applies retention
      done = s.ok() && !env.stopped();
      const uint64_t live = b->stats().first_offset;
      ASSERT_TRUE(live == 0 || live == 10) << "step " << step << ": " << live;
      if (done) {
        EXPECT_EQ(live, 10u) << "step " << step;
      }
      expect_records(*b, static_cast<int>(live), 40);
      env.clear();
    }
    auto b = open(nullptr);
    ASSERT_TRUE(b);
    const uint64_t first = b->stats().first_offset;
    ASSERT_TRUE(first == 0 || first == 10) << "step " << step << ": " << first;
    EXPECT_EQ(b->total_count(), 40u) << "step " << step;
    EXPECT_EQ(fragments(), first == 0 ? 4u : 3u) << "step " << step;
    expect_records(*b, static_cast<int>(first), 40);
    if (first > 0) expect_out_of_range(*b, first - 1, first);
    ++(first == 0 ? old_seen : new_seen);
    b.reset();
    auto again = open(std::make_shared<RetentionLimits>(25, 0));
    ASSERT_TRUE(again);
    ASSERT_TRUE(again->put_batch(batch_of(40, 1)).ok());
    ASSERT_TRUE(again->flush().ok());
    EXPECT_EQ(again->stats().first_offset, 10u) << "step " << step;
    expect_records(*again, 10, 41);
    ++steps;
  }
  EXPECT_TRUE(done) << "the retention commit never completed within the step budget";
  EXPECT_GT(steps, 3);
  EXPECT_GT(old_seen, 0);
  EXPECT_GT(new_seen, 0);
}

// retention_policy=interest through the backend seam (RetentionLimits::InterestFloor): the floor
// the queue layer would answer, here a variable. The bucket asks for its own id.
TEST_P(RetentionTest, InterestFloorHoldsFragmentsAndAnErrorKeepsEverything) {
  auto limits = std::make_shared<RetentionLimits>(/*records=*/10, /*bytes=*/0);
  limits->set_interest(true);
  Result<std::optional<uint64_t>> floor = std::optional<uint64_t>(25);
  std::vector<BucketId> asked;
  limits->set_interest_floor([&](BucketId b) {
    asked.push_back(b);
    return floor;
  });
  auto b = open(limits);
  ASSERT_TRUE(b);
  fill(*b, 0, 5, 10);
  // The limit alone would keep [40, 50); the groups committed 25: [20, 30) holds the rest.
  EXPECT_EQ(b->stats().first_offset, 20u);
  ASSERT_FALSE(asked.empty());
  EXPECT_EQ(asked.back(), BucketId(0));
  // A failing floor (a damaged group file): nothing goes, and stats say why.
  floor = Corruption("group file 'g.offsets' is damaged");
  ASSERT_TRUE(b->put_batch(batch_of(50, 10)).ok());
  ASSERT_TRUE(b->flush().ok());  // the records are committed: a retention failure does not fail it
  EXPECT_EQ(b->stats().first_offset, 20u);
  const Object stats = b->stats().to_object();
  const Value* error = stats.find("last_retention_error");
  ASSERT_TRUE(error && error->is_string());
  EXPECT_NE(error->as_string().find("g.offsets"), std::string::npos) << error->as_string();
  // No group: the limits alone.
  floor = std::optional<uint64_t>();
  ASSERT_TRUE(b->flush().ok());
  EXPECT_EQ(b->stats().first_offset, 50u);
  // No limit and no group: everything stays; no limit and a floor: what lies below it goes,
  // the newest fragment never.
  limits->set(0, 0, 0);
  fill(*b, 60, 3, 10);
  EXPECT_EQ(b->stats().first_offset, 50u);
  floor = std::optional<uint64_t>(1000);
  ASSERT_TRUE(b->flush().ok());
  EXPECT_EQ(b->stats().first_offset, 80u);
  expect_records(*b, 80, 90);
}

INSTANTIATE_TEST_SUITE_P(Backends, RetentionTest, ::testing::Values("lance", "persisting"),
                         [](const auto& info) { return info.param; });

}  // namespace
