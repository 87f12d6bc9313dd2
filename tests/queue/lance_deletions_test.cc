// Rows LanceDB deleted from a lance topic's dataset are gaps in the offsets (docs/records.md):
// a reader skips them, every other record keeps its offset, and the next put goes after the
// last physical row. Deleted rows come from a real LanceDB deletion file
// (tests/lance/data/deleted_small.arrow: rows 0, 7, 17, ..., 97 of 100).
#include <gtest/gtest.h>

#include <filesystem>
#include <future>

#include "lance/lance_test_util.h"
#include "persisting/queue.h"
#include "storage/lance/format.h"

using namespace persisting;

namespace {

bool deleted(int64_t n) { return n == 0 || n % 10 == 7; }

TEST(LanceDeletions, ReadersSkipGapsAndOffsetsStay) {
  lance::testing::TempDir dir;
  {
    auto q = std::move(Queue::open({.data_dir = dir.path(), .threads = 2})).value();
    auto w = std::move(q->writer({.topic = "t", .bucket_column = "id", .num_buckets = 1, .batch_size = 1000,
                                  .backend = "lance"})).value();
    std::vector<Record> rs;
    for (int64_t n = 0; n < 100; ++n) rs.push_back(Record{{"id", "k"}, {"n", n}});
    ASSERT_TRUE(w->put(rs).ok());
    ASSERT_TRUE(w->flush().ok());
  }
  // LanceDB deletes rows (what `table.delete("n = 0 OR n % 10 = 7")` writes).
  const std::string ds = dir.path() + "/t/bucket_0/data.lance";
  std::filesystem::create_directories(ds + "/_deletions");
  std::filesystem::copy_file(std::string(LANCE_TEST_DATA) + "/deleted_small.arrow", ds + "/_deletions/0-1-5.arrow");
  lance::testing::commit_edited_manifest(ds, [](lance::pb::Manifest* m) {
    m->set_reader_feature_flags(lance::kFlagDeletionFiles);
    auto* d = m->mutable_fragments(0)->mutable_deletion_file();
    d->set_read_version(1);
    d->set_id(5);
    d->set_num_deleted_rows(11);
  });

  auto q = std::move(Queue::open({.data_dir = dir.path(), .threads = 2})).value();
  auto r = std::move(q->reader({.topic = "t"})).value();
  std::vector<Message> got;
  for (int i = 0; i < 20; ++i) {  // small gets: gaps fall at their edges too
    auto m = r->get(7, false, std::chrono::milliseconds(0));
    ASSERT_TRUE(m.ok()) << m.status().to_string();
    got.insert(got.end(), m->begin(), m->end());
  }
  ASSERT_EQ(got.size(), 89u);
  for (const Message& m : got) {
    EXPECT_FALSE(deleted(m.record.find("n")->as_int()));
    EXPECT_EQ(m.offset.value(), static_cast<uint64_t>(m.record.find("n")->as_int()));  // never renumbered
  }
  EXPECT_EQ(r->offsets()[0].value(), 100u);
  // The next put goes after the last physical row; the reader finds it there.
  auto w = std::move(q->writer({.topic = "t", .bucket_column = "id", .num_buckets = 1, .batch_size = 1000,
                                .backend = "lance"})).value();
  auto pos = w->put(Record{{"id", "k"}, {"n", int64_t{100}}});
  ASSERT_TRUE(pos.ok()) << pos.status().to_string();
  EXPECT_EQ(pos->offset.value(), 100u);
  ASSERT_TRUE(w->flush().ok());
  auto more = r->get(10, false, std::chrono::milliseconds(0));
  ASSERT_TRUE(more.ok());
  ASSERT_EQ(more->size(), 1u);
  EXPECT_EQ((*more)[0].offset.value(), 100u);
  // A reader set to a deleted offset starts at the next record.
  ASSERT_TRUE(r->set_offset(Offset(7)).ok());
  auto at_gap = r->get(1, false, std::chrono::milliseconds(0));
  ASSERT_EQ(at_gap->size(), 1u);
  EXPECT_EQ((*at_gap)[0].offset.value(), 8u);
}

constexpr int64_t kRows = 80000, kDeleted = lance::testing::kLongRunOfDeletedRows;

// A lance topic "t" of kRows rows, of which LanceDB deleted the first kDeleted.
void write_rows_deleting_a_long_run(const std::string& data_dir) {
  {
    auto q = std::move(Queue::open({.data_dir = data_dir, .threads = 2})).value();
    auto w = std::move(q->writer({.topic = "t", .bucket_column = "id", .num_buckets = 1, .batch_size = 100000,
                                  .backend = "lance"})).value();
    std::vector<Record> rs;
    for (int64_t n = 0; n < kRows; ++n) rs.push_back(Record{{"id", "k"}, {"n", n}});
    ASSERT_TRUE(w->put(rs).ok());
    ASSERT_TRUE(w->flush().ok());
  }
  lance::testing::delete_long_run_of_rows(data_dir + "/t/bucket_0/data.lance");
}

// A run of deleted rows longer than a backend returns per get: gets that do not wait and cross
// it return no messages but move the reader on, and the first record after it comes back at its
// own offset.
TEST(LanceDeletions, LongRunOfDeletedRows) {
  lance::testing::TempDir dir;
  write_rows_deleting_a_long_run(dir.path());
  auto q = std::move(Queue::open({.data_dir = dir.path(), .threads = 2})).value();
  auto r = std::move(q->reader({.topic = "t"})).value();
  std::vector<Message> got;
  int empty_gets = 0;
  for (int i = 0; i < 10 && got.empty(); ++i) {
    auto m = r->get(10, false, std::chrono::milliseconds(0));
    ASSERT_TRUE(m.ok()) << m.status().to_string();
    if (m->empty()) ++empty_gets;
    got = std::move(m).value();
  }
  EXPECT_GE(empty_gets, 1);  // the first get crossed only gaps
  ASSERT_EQ(got.size(), 10u);
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].offset.value(), static_cast<uint64_t>(kDeleted) + i);
    EXPECT_EQ(got[i].record.find("n")->as_int(), kDeleted + static_cast<int64_t>(i));
  }
}

// A get that waits is not answered empty by the gaps it crossed: it goes on to the records after
// them (and would wait for new ones up to its timeout), sync and async alike.
TEST(LanceDeletions, AWaitingGetCrossesALongRunOfDeletedRows) {
  lance::testing::TempDir dir;
  write_rows_deleting_a_long_run(dir.path());
  auto q = std::move(Queue::open({.data_dir = dir.path(), .threads = 2})).value();
  auto r = std::move(q->reader({.topic = "t"})).value();
  auto got = r->get(10, true, std::chrono::seconds(60));
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  ASSERT_EQ(got->size(), 10u);
  EXPECT_EQ((*got)[0].offset.value(), static_cast<uint64_t>(kDeleted));

  auto r2 = std::move(q->reader({.topic = "t"})).value();
  std::promise<Result<std::vector<Message>>> p;
  r2->get_async(10, true, std::chrono::seconds(60), [&](Result<std::vector<Message>> m) { p.set_value(std::move(m)); });
  auto later = p.get_future().get();
  ASSERT_TRUE(later.ok()) << later.status().to_string();
  ASSERT_EQ(later->size(), 10u);
  EXPECT_EQ((*later)[0].offset.value(), static_cast<uint64_t>(kDeleted));
}

}  // namespace
