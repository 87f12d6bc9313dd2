// A lance bucket whose dataset LanceDB deleted rows from: get() returns each deleted row as a
// gap (an empty entry, StorageBackend::get), entry i is at offset + i, gaps do not count toward
// the limit, and total_count and the next put's offset stay the physical row count.
#include <gtest/gtest.h>

#include <filesystem>

#include "lance/lance_test_util.h"
#include "persisting/backend.h"
#include "storage/lance/format.h"

using namespace persisting;

namespace {

Result<std::unique_ptr<StorageBackend>> open_lance(const std::string& dir) {
  BackendContext ctx;
  ctx.topic = "t";
  ctx.bucket = BucketId(0);
  ctx.bucket_dir = dir;
  ctx.batch_size = 1000;
  ctx.env = Env::Default();
  return BackendRegistry::global().create("lance", ctx, {});
}

bool deleted(uint64_t n) { return n == 0 || n % 10 == 7; }  // tests/lance/data/deleted_small.arrow

TEST(LanceBackendDeletions, GetReturnsGapsAtDeletedOffsets) {
  lance::testing::TempDir dir;
  {
    auto b = open_lance(dir.path());
    ASSERT_TRUE(b.ok()) << b.status().to_string();
    RecordBatch batch;
    for (int64_t n = 0; n < 100; ++n) batch.add(Record{{"n", n}});
    ASSERT_TRUE((*b)->put_batch(batch).ok());
    ASSERT_TRUE((*b)->flush().ok());
  }
  const std::string ds = dir.path() + "/data.lance";
  std::filesystem::create_directories(ds + "/_deletions");
  std::filesystem::copy_file(std::string(LANCE_TEST_DATA) + "/deleted_small.arrow", ds + "/_deletions/0-1-9.arrow");
  lance::testing::commit_edited_manifest(ds, [](lance::pb::Manifest* m) {
    m->set_reader_feature_flags(lance::kFlagDeletionFiles);
    m->set_writer_feature_flags(lance::kFlagDeletionFiles);
    auto* d = m->mutable_fragments(0)->mutable_deletion_file();
    d->set_read_version(1);
    d->set_id(9);
    d->set_num_deleted_rows(11);
  });
  auto b = open_lance(dir.path());
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  EXPECT_EQ((*b)->total_count(), 100u);  // deleted rows keep their offsets
  EXPECT_EQ((*b)->stats().extra.find("deleted_rows")->as_int(), 11);
  // From offset 0, 10 records: rows 1..6 and 8..11, with gaps at 0 and 7 beyond the limit.
  auto got = (*b)->get(Offset(0), 10);
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  ASSERT_EQ(got->size(), 12u);
  for (size_t i = 0; i < got->size(); ++i) {
    if (deleted(i)) {
      EXPECT_TRUE(got->encoded(i).empty()) << i;
    } else {
      EXPECT_EQ(got->decode(i)->find("n")->as_int(), static_cast<int64_t>(i));
    }
  }
  // Every offset once, gaps where LanceDB deleted.
  auto all = (*b)->get(Offset(0), 1000);
  ASSERT_EQ(all->size(), 100u);
  size_t gaps = 0;
  for (size_t i = 0; i < 100; ++i) gaps += all->encoded(i).empty();
  EXPECT_EQ(gaps, 11u);
  // A put goes after the last physical row, and reads after the gaps.
  RecordBatch one;
  one.add(Record{{"n", int64_t{100}}});
  auto at = (*b)->put_batch(one);
  ASSERT_TRUE(at.ok()) << at.status().to_string();
  EXPECT_EQ(at->value(), 100u);
  auto tail = (*b)->get(Offset(97), 2);  // gap at 97, then 98 and 99 (limit 2)
  ASSERT_EQ(tail->size(), 3u);
  EXPECT_TRUE(tail->encoded(0).empty());
  EXPECT_EQ(tail->decode(2)->find("n")->as_int(), 99);
  ASSERT_TRUE((*b)->flush().ok());
  auto after = (*b)->get(Offset(99), 10);
  ASSERT_EQ(after->size(), 2u);
  EXPECT_EQ(after->decode(1)->find("n")->as_int(), 100);
}

}  // namespace
