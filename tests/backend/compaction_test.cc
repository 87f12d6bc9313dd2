// Compaction and version cleanup through the lance and persisting backends (docs/compaction.md):
// small fragments merge after flushes with every record at its offset, old versions and their
// files go after version_retention, a reader holding an old version never fails, and bad
// options are refused naming them.
#include <gtest/gtest.h>

#include <filesystem>

#include "persisting/backend.h"
#include "storage/lance/cleanup.h"
#include "storage/lance/dataset.h"
#include "util/temp_dir.h"

using namespace persisting;
using persisting::testing::TempDir;

namespace {

Record rec(int i) { return Record{{"id", "k" + std::to_string(i)}, {"i", i}}; }

RecordBatch batch_of(int from, int n) {
  RecordBatch b;
  for (int i = from; i < from + n; ++i) b.add(rec(i));
  return b;
}

size_t count_files(const std::string& dir) {
  size_t n = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

class CompactionTest : public ::testing::TestWithParam<std::string> {
 protected:
  Result<std::unique_ptr<StorageBackend>> create(Options opts, std::shared_ptr<const RetentionLimits> limits = nullptr,
                                                 bool read_only = false) {
    BackendContext ctx;
    ctx.topic = "t";
    ctx.bucket = BucketId(0);
    ctx.bucket_dir = dir_.path();
    ctx.batch_size = 1000000;  // flushes only when the test asks: one fragment per flush
    ctx.env = Env::Default();
    ctx.retention = std::move(limits);
    ctx.read_only = read_only;
    if (GetParam() == "lance") opts["flush_interval"] = "0";
    return BackendRegistry::global().create(GetParam(), ctx, opts);
  }
  std::unique_ptr<StorageBackend> open(Options opts, std::shared_ptr<const RetentionLimits> limits = nullptr,
                                       bool read_only = false) {
    auto b = create(std::move(opts), std::move(limits), read_only);
    EXPECT_TRUE(b.ok()) << b.status().to_string();
    return b.ok() ? std::move(b).value() : nullptr;
  }
  void fill(StorageBackend& b, int from, int fragments, int rows) {
    for (int f = 0; f < fragments; ++f) {
      ASSERT_TRUE(b.put_batch(batch_of(from + f * rows, rows)).ok());
      ASSERT_TRUE(b.flush().ok());
    }
  }
  std::string dataset() const { return dir_.path() + "/data.lance"; }
  std::vector<lance::FragmentInfo> fragments() {
    auto ds = lance::LanceDataset::open_or_create(Env::Default(), dataset());
    EXPECT_TRUE(ds.ok());
    return (*ds)->fragments();
  }
  size_t versions() {
    auto ds = lance::LanceDataset::open_or_create(Env::Default(), dataset());
    EXPECT_TRUE(ds.ok());
    return (*ds)->versions()->size();
  }
  static void expect_records(StorageBackend& b, int from, int to) {
    auto got = b.get(Offset(from), static_cast<size_t>(to - from));
    ASSERT_TRUE(got.ok()) << got.status().to_string();
    auto rows = got->decode_all();
    ASSERT_TRUE(rows.ok());
    ASSERT_EQ(rows->size(), static_cast<size_t>(to - from));
    for (int i = from; i < to; ++i) EXPECT_EQ((*rows)[i - from], rec(i)) << i;
  }
  static int64_t extra(StorageBackend& b, const std::string& key) {
    BucketStats s = b.stats();
    const Value* v = s.extra.find(key);
    return v ? v->as_int() : -1;
  }
  TempDir dir_;
};

TEST_P(CompactionTest, FlushesCompactSmallFragmentsAndKeepOffsets) {
  auto b = open({{"compaction_min_fragments", "4"}, {"compaction_target_rows", "1000"}});
  ASSERT_TRUE(b);
  fill(*b, 0, 3, 10);
  EXPECT_EQ(fragments().size(), 3u);  // below the threshold: nothing yet
  EXPECT_EQ(extra(*b, "compactions"), 0);
  fill(*b, 30, 1, 10);
  // The fourth small fragment: the four merge into one, every record at its offset.
  EXPECT_EQ(fragments().size(), 1u);
  EXPECT_EQ(extra(*b, "compactions"), 1);
  EXPECT_EQ(extra(*b, "fragments_compacted"), 4);
  EXPECT_EQ(extra(*b, "fragments"), 1);
  expect_records(*b, 0, 40);
  fill(*b, 40, 5, 10);
  expect_records(*b, 0, 90);
  EXPECT_EQ(b->total_count(), 90u);
  EXPECT_FALSE(b->stats().extra.find("last_maintenance_error"));
  b.reset();
  auto again = open({});
  ASSERT_TRUE(again);
  expect_records(*again, 0, 90);
  ASSERT_EQ(again->put_batch(batch_of(90, 1))->value(), 90u);
}

TEST_P(CompactionTest, CompactedFragmentsStayWithinTheRetentionLimit) {
  auto limits = std::make_shared<RetentionLimits>(/*records=*/25, /*bytes=*/0);
  auto b = open({{"compaction_min_fragments", "2"}, {"compaction_target_rows", "1000"}}, limits);
  ASSERT_TRUE(b);
  fill(*b, 0, 12, 5);
  for (const auto& f : fragments()) EXPECT_LE(f.num_rows, 25u);
  const uint64_t first = b->stats().first_offset;
  EXPECT_GE(60 - first, 25u);
  expect_records(*b, static_cast<int>(first), 60);
}

TEST_P(CompactionTest, CleanupRemovesOldVersionsAndUnusedFiles) {
  {
    // The default retention (an hour) keeps every version of this test.
    auto b = open({{"compaction_min_fragments", "4"}});
    ASSERT_TRUE(b);
    fill(*b, 0, 4, 10);
    EXPECT_EQ(versions(), 5u);  // four appends and the compaction
    EXPECT_EQ(extra(*b, "versions_cleaned"), 0);
  }
  auto b = open({{"compaction_min_fragments", "4"}, {"version_retention", "0"}});
  ASSERT_TRUE(b);
  fill(*b, 40, 1, 10);
  // Left: the latest version only, with the files it uses (the merged one and the new one). The
  // cleanup runs once the bucket's reader holds the flush's version, so it pins no older one.
  EXPECT_EQ(versions(), 1u);
  EXPECT_EQ(count_files(dataset() + "/data"), 2u);
  EXPECT_EQ(count_files(dataset() + "/_transactions"), 1u);
  EXPECT_EQ(extra(*b, "versions_cleaned"), 5);
  EXPECT_EQ(extra(*b, "files_cleaned"), 4 + 5);  // four small data files, five transactions
  expect_records(*b, 0, 50);
  fill(*b, 50, 1, 10);
  EXPECT_EQ(versions(), 1u);
  EXPECT_EQ(count_files(dataset() + "/data"), 3u);
  expect_records(*b, 0, 60);
}

TEST_P(CompactionTest, AFragmentRetentionRemovedLeavesTheDiskWithTheFlushThatRemovedIt) {
  auto limits = std::make_shared<RetentionLimits>(/*records=*/20, /*bytes=*/0);
  auto b = open({{"compaction_min_fragments", "0"}, {"version_retention", "0"}}, limits);
  ASSERT_TRUE(b);
  fill(*b, 0, 3, 10);
  // The third flush made the first fragment surplus: retention removed it, and its data file is
  // gone with the flush, not one flush later.
  EXPECT_EQ(b->stats().first_offset, 10u);
  EXPECT_EQ(fragments().size(), 2u);
  EXPECT_EQ(count_files(dataset() + "/data"), 2u);
  EXPECT_EQ(versions(), 1u);
  expect_records(*b, 10, 30);
}

TEST_P(CompactionTest, AReaderHoldingAnOldVersionNeverFails) {
  auto w = open({{"compaction_min_fragments", "0"}, {"version_retention", "0"}});
  ASSERT_TRUE(w);
  fill(*w, 0, 6, 10);
  // A reader of this process opens the dataset (its version pinned), reads nothing yet.
  auto r = open({}, nullptr, /*read_only=*/true);
  ASSERT_TRUE(r);
  {
    auto ds = lance::LanceDataset::open_or_create(Env::Default(), dataset());
    ASSERT_TRUE(ds.ok());
    lance::CompactionOptions o;
    ASSERT_EQ((*ds)->compact(o)->fragments_removed, 6u);
    lance::CleanupOptions now;
    now.older_than = std::chrono::seconds(0);
    ASSERT_TRUE((*ds)->cleanup_old_versions(now).ok());
    // The pinned version and its six small files stay for the reader.
    EXPECT_EQ(count_files(dataset() + "/data"), 7u);
  }
  expect_records(*r, 0, 30);
  fill(*w, 60, 1, 10);  // the writer's cleanup runs too
  expect_records(*r, 30, 60);
  // Another process's cleanup does not see this process's pins: it removes the version the
  // reader holds and its files. The reader's next read finds a file gone, reloads, reads on.
  auto r2 = open({}, nullptr, /*read_only=*/true);
  ASSERT_TRUE(r2);
  {
    auto ds = lance::LanceDataset::open_or_create(Env::Default(), dataset());
    ASSERT_TRUE(ds.ok());
    lance::CompactionOptions o;
    ASSERT_EQ((*ds)->compact(o)->fragments_removed, 2u);
    lance::CleanupOptions elsewhere;
    elsewhere.older_than = std::chrono::seconds(0);
    elsewhere.keep_pinned = false;
    ASSERT_TRUE((*ds)->cleanup_old_versions(elsewhere).ok());
    EXPECT_EQ(count_files(dataset() + "/data"), 1u);
  }
  expect_records(*r2, 0, 50);  // within what r2 knows: no reload before the read
  expect_records(*r2, 0, 70);
}

TEST_P(CompactionTest, BadOptionsAreRefusedNamingThem) {
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"version_retention", "-1"}, {"version_retention", "soon"}, {"compaction_min_fragments", "1"},
           {"compaction_target_rows", "1"}, {"compaction_max_bytes", "0"}}) {
    auto b = create({{key, value}});
    ASSERT_FALSE(b.ok()) << key << "=" << value;
    EXPECT_EQ(b.status().code(), Code::kInvalidArgument) << b.status().to_string();
    EXPECT_NE(b.status().message().find(key), std::string::npos) << b.status().to_string();
  }
  EXPECT_FALSE(std::filesystem::exists(dataset() + "/_versions"));  // nothing was written
}

INSTANTIATE_TEST_SUITE_P(Backends, CompactionTest, ::testing::Values("lance", "persisting"),
                         [](const auto& info) { return info.param; });

}  // namespace
