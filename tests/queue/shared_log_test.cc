// The durable buckets of a data dir share one write-ahead log, <data_dir>/.wal (the node log,
// backend/node_log_host.h): one group commit for a put that spans buckets, no log per bucket, and
// a deleted topic's records never come back into a topic created again under its name.
#include <gtest/gtest.h>

#include <filesystem>
#include <future>
#include <set>

#include "backend/node_log_host.h"
#include "persisting/queue.h"
#include "util/open_queue.h"
#include "util/temp_dir.h"

using namespace persisting;
using persisting::testing::open_queue;
using persisting::testing::TempDir;

namespace {

WriterOptions durable(const std::string& topic, uint32_t buckets) {
  return {.topic = topic, .bucket_column = "id", .num_buckets = buckets, .batch_size = 100000,
          .backend = "persisting", .backend_options = {{"wal_sync_mode", "always"}}};
}

std::vector<Record> records(int from, int n) {
  std::vector<Record> out;
  for (int i = from; i < from + n; ++i) out.push_back(Record{{"id", "k" + std::to_string(i)}, {"n", i}});
  return out;
}

// The log's group commits so far, as the writer's first bucket reports them.
int64_t log_groups(TopicWriter& w) {
  auto s = w.stats();
  EXPECT_TRUE(s.ok()) << s.status().to_string();
  return s->find("buckets")->as_list().at(0).as_object().find("wal_groups")->as_int();
}

}  // namespace

TEST(SharedLog, APutSpanningBucketsIsOneGroupCommit) {
  TempDir dir;
  auto q = open_queue(dir.path());
  auto w = q->writer(durable("t", 8));
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  PutReport report;
  ASSERT_TRUE((*w)->put(records(0, 64), &report).ok());
  ASSERT_EQ(report.parts.size(), 8u);  // 64 keys reach every bucket
  for (int round = 0; round < 5; ++round) {
    const int64_t before = log_groups(**w);
    ASSERT_TRUE((*w)->put(records(64 * (round + 1), 64), &report).ok());
    ASSERT_EQ(report.parts.size(), 8u);
    // Eight buckets' parts, each acknowledged after an fdatasync: one frame, one sync.
    EXPECT_EQ(log_groups(**w) - before, 1) << "round " << round;
  }
}

// The plug a writer holds while it hands a put's parts out: appends queue behind it, and one
// group commit writes them all when it goes.
TEST(SharedLog, AppendsWaitForThePlugAndGoInOneGroup) {
  TempDir dir;
  auto q = open_queue(dir.path());
  auto w = q->writer(durable("t", 2));
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  ASSERT_TRUE((*w)->put(records(0, 16)).ok());  // the log is open
  const int64_t before = log_groups(**w);
  auto plug = NodeLogHost::plug(Env::Default(), dir.path());
  ASSERT_NE(plug, nullptr);
  auto a = (*w)->put_async({Record{{"id", "a"}, {"n", 1}}});
  auto b = (*w)->put_async({Record{{"id", "b"}, {"n", 2}}});
  // Plugged: nothing is written, so nothing is acknowledged.
  EXPECT_EQ(a.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout);
  plug.reset();
  EXPECT_TRUE(a.get().ok());
  EXPECT_TRUE(b.get().ok());
  EXPECT_EQ(log_groups(**w) - before, 1);
}

TEST(SharedLog, EveryBucketIsAStreamOfTheDataDirsLog) {
  TempDir dir;
  {
    auto q = open_queue(dir.path());
    auto w = q->writer(durable("t", 4));
    ASSERT_TRUE(w.ok()) << w.status().to_string();
    ASSERT_TRUE((*w)->put(records(0, 40)).ok());
    auto s = (*w)->stats();
    ASSERT_TRUE(s.ok());
    std::set<std::string> streams;
    for (const auto& b : s->find("buckets")->as_list()) streams.insert(b.as_object().find("wal_stream")->as_string());
    EXPECT_EQ(streams.size(), 4u);
  }
  EXPECT_TRUE(std::filesystem::is_directory(dir.path() + "/.wal"));
  for (int b = 0; b < 4; ++b)
    EXPECT_FALSE(std::filesystem::exists(dir.path() + "/t/bucket_" + std::to_string(b) + "/wal")) << b;
  auto q = open_queue(dir.path());
  auto r = q->reader({.topic = "t"});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  auto got = (*r)->get(1000);
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  EXPECT_EQ(got->size(), 40u);
}

// A topic deleted with records only in the log, then created again: the new topic starts empty,
// in this process and after a restart, and the old records hold nothing back.
TEST(SharedLog, ADeletedTopicsRecordsNeverReachItsSuccessor) {
  TempDir dir;
  {
    auto q = open_queue(dir.path());
    auto w = q->writer(durable("t", 2));
    ASSERT_TRUE(w.ok()) << w.status().to_string();
    ASSERT_TRUE((*w)->put(records(0, 10)).ok());  // in the log only: batch_size is far away
    ASSERT_TRUE(q->delete_topic("t").ok());
    auto again = q->writer(durable("t", 2));
    ASSERT_TRUE(again.ok()) << again.status().to_string();
    ASSERT_TRUE((*again)->put(records(100, 3)).ok());
    auto r = q->reader({.topic = "t"});
    ASSERT_TRUE(r.ok());
    auto got = (*r)->get(1000);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(got->size(), 3u);
  }
  auto q = open_queue(dir.path());
  auto r = q->reader({.topic = "t"});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  auto got = (*r)->get(1000);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 3u);
  for (const auto& m : *got) EXPECT_GE(m.record.find("n")->as_int(), 100);
}
