// One piece of code, written once against the Store interface (persisting/store.h), runs the
// same over the embedded Queue and over a Client talking to a persistingd node.
#include <gtest/gtest.h>

#include "net/node_process.h"
#include "persisting/client.h"
#include "persisting/queue.h"
#include "util/temp_dir.h"

namespace persisting {
namespace {

// Writes six records, reads them back from offset 0 by rank, moves an offset and reads again:
// what a user writes once and runs against either home. Returns the ids read, in bucket order.
std::vector<std::string> write_then_read(Store& store, const std::string& topic) {
  std::vector<std::string> ids;
  auto w = store.open_writer({.topic = topic, .bucket_column = "id", .num_buckets = 2});
  EXPECT_TRUE(w.ok()) << w.status().to_string();
  if (!w.ok()) return ids;
  std::vector<Record> batch;
  for (int i = 0; i < 6; ++i) batch.push_back(Record{{"id", "k" + std::to_string(i)}, {"i", int64_t(i)}});
  PutReport report;
  EXPECT_TRUE((*w)->put(batch, &report).ok());
  EXPECT_EQ(report.acknowledged(), 6u);
  EXPECT_TRUE((*w)->flush().ok());

  auto info = store.topic(topic);
  EXPECT_TRUE(info.ok() && info->num_buckets == 2);
  auto stats = store.stats(topic);
  EXPECT_TRUE(stats.ok() && stats->find("total_count")->as_int() == 6);

  for (uint32_t rank = 0; rank < 2; ++rank) {
    auto r = store.open_reader({.topic = topic, .rank = rank, .world_size = 2});
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    if (!r.ok()) return ids;
    auto got = (*r)->get(100, /*wait=*/true, std::chrono::seconds(5));
    EXPECT_TRUE(got.ok());
    for (const auto& m : *got) {
      EXPECT_EQ(m.bucket.value(), rank);
      ids.push_back(m.record.find("id")->as_string());
    }
    // Offsets: past the end after the read, back to 0 after reset.
    EXPECT_EQ((*r)->offsets().size(), 1u);
    (*r)->reset();
    EXPECT_EQ((*r)->offsets()[0].value(), 0u);
  }
  return ids;
}

TEST(StoreInterface, SameCodeRunsOverTheQueueAndOverAClient) {
  testing::TempDir dir;
  auto queue = Queue::open({.data_dir = dir.path() + "/embedded"});
  ASSERT_TRUE(queue.ok()) << queue.status().to_string();
  std::vector<std::string> embedded = write_then_read(**queue, "t");

  testing::Cluster cluster(1);
  ASSERT_TRUE(cluster.start(0));
  auto client = Client::connect({.server = cluster.address(0)});
  ASSERT_TRUE(client.ok()) << client.status().to_string();
  std::vector<std::string> remote = write_then_read(**client, "t");

  // Six records each, and the same bucket split: both homes route with the same hash.
  EXPECT_EQ(embedded.size(), 6u);
  EXPECT_EQ(embedded, remote);
}

}  // namespace
}  // namespace persisting
