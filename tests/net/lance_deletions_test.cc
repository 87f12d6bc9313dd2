// Rows LanceDB deleted from a lance bucket served by a node are gaps over gRPC too
// (docs/lance-format.md §10): a Client reader gets the other records at their old offsets.
#include <gtest/gtest.h>

#include <filesystem>

#include "lance/lance_test_util.h"
#include "net/node_process.h"
#include "persisting/client.h"
#include "storage/lance/format.h"

namespace persisting {
namespace {

// Records {id: "k", n: 0..99} in topic "t" (one `lance` bucket) of the node at address,
// flushed to Lance in one fragment.
void put_100_flushed(const std::string& address) {
  auto client = Client::connect({.server = address});
  ASSERT_TRUE(client.ok()) << client.status().to_string();
  auto w = (*client)->open_writer(
      {.topic = "t", .bucket_column = "id", .num_buckets = 1, .batch_size = 1000, .backend = "lance"});
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  std::vector<Record> rs;
  for (int64_t n = 0; n < 100; ++n) rs.push_back(Record{{"id", "k"}, {"n", n}});
  ASSERT_TRUE((*w)->put(rs).ok());
  ASSERT_TRUE((*w)->flush().ok());
}

// Deletes rows 0, 7, 17, ..., 97 of a flushed one-fragment dataset as LanceDB does
// (tests/lance/data/deleted_small.arrow).
void delete_rows_0_7_17_to_97(const std::string& ds) {
  ASSERT_TRUE(std::filesystem::exists(ds + "/_versions")) << ds;
  std::filesystem::create_directories(ds + "/_deletions");
  std::filesystem::copy_file(std::string(LANCE_TEST_DATA) + "/deleted_small.arrow", ds + "/_deletions/0-1-4.arrow");
  lance::testing::commit_edited_manifest(ds, [](lance::pb::Manifest* m) {
    m->set_reader_feature_flags(lance::kFlagDeletionFiles);
    auto* d = m->mutable_fragments(0)->mutable_deletion_file();
    d->set_read_version(1);
    d->set_id(4);
    d->set_num_deleted_rows(11);
  });
}

TEST(ClientLanceDeletions, ReaderSkipsGapsAndOffsetsStay) {
  testing::Cluster cluster(1);
  ASSERT_TRUE(cluster.start(0));
  ASSERT_NO_FATAL_FAILURE(put_100_flushed(cluster.address(0)));
  cluster.kill(0, SIGKILL);  // flushed: the rows are in Lance
  ASSERT_NO_FATAL_FAILURE(delete_rows_0_7_17_to_97(cluster.dir() + "/n1/t/bucket_0/data.lance"));
  ASSERT_TRUE(cluster.start(0));
  auto client = Client::connect({.server = cluster.address(0)});
  ASSERT_TRUE(client.ok()) << client.status().to_string();
  auto r = (*client)->open_reader({.topic = "t"});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  std::vector<Message> got;
  for (int i = 0; i < 20 && got.size() < 89; ++i) {
    auto m = (*r)->get(7, /*wait=*/false, std::chrono::milliseconds(0));
    ASSERT_TRUE(m.ok()) << m.status().to_string();
    got.insert(got.end(), m->begin(), m->end());
  }
  ASSERT_EQ(got.size(), 89u);
  for (const Message& m : got) {
    const int64_t n = m.record.find("n")->as_int();
    EXPECT_FALSE(n == 0 || n % 10 == 7) << n;
    EXPECT_EQ(m.offset.value(), static_cast<uint64_t>(n));  // never renumbered
  }
}

// A reader reading ahead a few records at a time: what is ahead can end in a deleted row. A
// get served from that alone found no record and answered empty, with 80 records still there.
TEST(ClientLanceDeletions, ReadAheadEndingInAGapDoesNotAnswerEmpty) {
  testing::Cluster cluster(1);
  ASSERT_TRUE(cluster.start(0));
  ASSERT_NO_FATAL_FAILURE(put_100_flushed(cluster.address(0)));
  cluster.kill(0, SIGKILL);
  ASSERT_NO_FATAL_FAILURE(delete_rows_0_7_17_to_97(cluster.dir() + "/n1/t/bucket_0/data.lance"));
  ASSERT_TRUE(cluster.start(0));
  auto client = Client::connect({.server = cluster.address(0)});
  ASSERT_TRUE(client.ok()) << client.status().to_string();
  // Answers of 8 records from offset 0: rows 0-7, whose last (7) is deleted.
  auto r = (*client)->open_reader({.topic = "t", .read_ahead = 8});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  std::vector<int64_t> got;
  for (int i = 0; i < 89; ++i) {
    auto m = (*r)->get(1, /*wait=*/false, std::chrono::milliseconds(0));
    ASSERT_TRUE(m.ok()) << m.status().to_string();
    ASSERT_EQ(m->size(), 1u) << "get " << i << " answered empty after record " << (got.empty() ? -1 : got.back());
    got.push_back((*m)[0].record.find("n")->as_int());
  }
  EXPECT_EQ(got.front(), 1);
  EXPECT_EQ(got.back(), 99);
  auto end = (*r)->get(1, /*wait=*/false, std::chrono::milliseconds(0));
  ASSERT_TRUE(end.ok());
  EXPECT_TRUE(end->empty());
}

// A get that waits is not answered empty by a run of deleted rows longer than one answer holds:
// it goes on to the record after them.
TEST(ClientLanceDeletions, AWaitingGetCrossesALongRunOfDeletedRows) {
  testing::Cluster cluster(1);
  ASSERT_TRUE(cluster.start(0));
  constexpr int64_t kRows = lance::testing::kLongRunOfDeletedRows + 10;
  {
    auto client = Client::connect({.server = cluster.address(0)});
    ASSERT_TRUE(client.ok()) << client.status().to_string();
    auto w = (*client)->open_writer(
        {.topic = "t", .bucket_column = "id", .num_buckets = 1, .batch_size = 100000, .backend = "lance"});
    ASSERT_TRUE(w.ok()) << w.status().to_string();
    std::vector<Record> rs;
    for (int64_t n = 0; n < kRows; ++n) rs.push_back(Record{{"id", "k"}, {"n", n}});
    ASSERT_TRUE((*w)->put(rs).ok());
    ASSERT_TRUE((*w)->flush().ok());
  }
  cluster.kill(0, SIGKILL);
  lance::testing::delete_long_run_of_rows(cluster.dir() + "/n1/t/bucket_0/data.lance");
  ASSERT_TRUE(cluster.start(0));
  auto client = Client::connect({.server = cluster.address(0)});
  ASSERT_TRUE(client.ok()) << client.status().to_string();
  auto r = (*client)->open_reader({.topic = "t"});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  auto m = (*r)->get(5, /*wait=*/true, std::chrono::seconds(60));
  ASSERT_TRUE(m.ok()) << m.status().to_string();
  ASSERT_EQ(m->size(), 5u);
  EXPECT_EQ((*m)[0].record.find("n")->as_int(), lance::testing::kLongRunOfDeletedRows);
}

}  // namespace
}  // namespace persisting
