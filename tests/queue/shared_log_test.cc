// The durable buckets of a data dir share one write-ahead log, <data_dir>/.wal (the node log,
// backend/node_log_host.h): one group commit for a put that spans buckets, no log per bucket, and
// a deleted topic's records never come back into a topic created again under its name.
#include <gtest/gtest.h>

#include <filesystem>
#include <future>
#include <set>
#include <thread>

#include "backend/node_log_host.h"
#include "persisting/queue.h"
#include "util/fault_env.h"
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

// One bucket whose flushes keep failing holds the log back: once the log reaches max_wal_size,
// puts are refused with ResourceExhausted naming that bucket (at once: its flush failed; no
// wait), and every record acknowledged before, of every bucket, survives a crash.
TEST(SharedLog, ABucketWhoseFlushesFailHoldsTheLogBackAndIsNamed) {
  TempDir dir;
  persisting::testing::FaultEnv env(Env::Default());
  auto crash_copy = dir.path() + "/../" + std::filesystem::path(dir.path()).filename().string() + "-crash";
  int acked_ok = 0;
  {
    auto q = Queue::open({.data_dir = dir.path() + "/data", .threads = 2, .env = &env});
    ASSERT_TRUE(q.ok()) << q.status().to_string();
    auto opts = [](const std::string& topic) {
      WriterOptions o = durable(topic, 1);
      o.backend_options = {{"wal_sync_mode", "interval"}, {"max_wal_size", "64K"}, {"flush_threshold", "100000"},
                           {"flush_bytes", "4K"}, {"flush_interval", "0"}};
      return o;
    };
    auto stuck = (*q)->writer(opts("stuck"));
    ASSERT_TRUE(stuck.ok()) << stuck.status().to_string();
    auto ok = (*q)->writer(opts("ok"));
    ASSERT_TRUE(ok.ok()) << ok.status().to_string();
    ASSERT_TRUE((*stuck)->put(records(0, 1)).ok());
    env.fail_creates_under(dir.path() + "/data/stuck/");  // its flushes cannot create a fragment
    Status refused;
    for (int i = 0; i < 2000 && refused.ok(); ++i) {
      refused = (*ok)->put(records(10 + 10 * i, 10));  // flushes itself every 4 KiB
      if (refused.ok()) acked_ok += 10;
    }
    ASSERT_EQ(refused.code(), Code::kResourceExhausted) << refused.to_string();
    EXPECT_NE(refused.message().find("stream 'stuck/bucket_0#"), std::string::npos) << refused.message();
    EXPECT_NE(refused.message().find("its flush failed"), std::string::npos) << refused.message();
    EXPECT_NE(refused.message().find("No space left on device (injected)"), std::string::npos) << refused.message();
    EXPECT_GT(acked_ok, 0);
    // The stuck bucket is refused too.
    EXPECT_EQ((*stuck)->put(records(1, 1)).code(), Code::kResourceExhausted);
    // A crash now: the files as they are. The ok bucket's last flushes may still be making and
    // removing files on the pool, so a file listed may be gone before it is copied: copy again.
    std::error_code copied;
    for (int attempt = 0; attempt < 50; ++attempt) {
      std::filesystem::remove_all(crash_copy);
      std::filesystem::copy(dir.path() + "/data", crash_copy, std::filesystem::copy_options::recursive, copied);
      if (!copied) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_FALSE(copied) << copied.message();
    env.clear();
  }
  auto q = open_queue(crash_copy);
  ASSERT_TRUE(q);
  auto count = [&](const std::string& topic) -> size_t {
    auto r = q->reader({.topic = topic});
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    if (!r.ok()) return 0;
    auto got = (*r)->get(100000);
    EXPECT_TRUE(got.ok()) << got.status().to_string();
    return got.ok() ? got->size() : 0;
  };
  EXPECT_EQ(count("stuck"), 1u);
  EXPECT_EQ(count("ok"), static_cast<size_t>(acked_ok));
  std::filesystem::remove_all(crash_copy);
}

// QueueOptions::flush_on_close = false: the log holds every acknowledged record, so a clean close
// writes no fragment (and a bucket never flushed leaves no directory); the next open has every
// record. A process that only reads serves them from the log's copy in memory and flushes
// nothing, even at its flushing close; the next writer's close (the default, flushing) puts
// them in Lance.
TEST(SharedLog, ACloseWithoutFlushLeavesTheRecordsToTheLogAndTheNextOpen) {
  TempDir dir;
  const std::string t = dir.path() + "/t";
  {
    auto q = Queue::open({.data_dir = dir.path(), .threads = 2, .flush_on_close = false});
    ASSERT_TRUE(q.ok()) << q.status().to_string();
    auto w = (*q)->writer(durable("t", 16));
    ASSERT_TRUE(w.ok()) << w.status().to_string();
    ASSERT_TRUE((*w)->put(records(0, 320)).ok());
  }
  for (int b = 0; b < 16; ++b)
    EXPECT_FALSE(std::filesystem::exists(t + "/bucket_" + std::to_string(b) + "/data.lance")) << b;
  {
    auto q = open_queue(dir.path());
    auto r = q->reader({.topic = "t"});
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    std::multiset<int64_t> seen;
    for (int round = 0; round < 20 && seen.size() < 320; ++round) {
      auto got = (*r)->get(1000);
      ASSERT_TRUE(got.ok()) << got.status().to_string();
      for (const auto& m : *got) seen.insert(m.record.find("n")->as_int());
    }
    ASSERT_EQ(seen.size(), 320u);
    for (int i = 0; i < 320; ++i) EXPECT_EQ(seen.count(i), 1u) << i;
  }
  auto buckets_with_data = [&] {
    int with_data = 0;
    for (int b = 0; b < 16; ++b)
      with_data += std::filesystem::exists(t + "/bucket_" + std::to_string(b) + "/data.lance/_versions");
    return with_data;
  };
  EXPECT_EQ(buckets_with_data(), 0);  // the reader flushed nothing
  {
    auto q = open_queue(dir.path());
    auto w = q->writer(durable("t", 16));
    ASSERT_TRUE(w.ok()) << w.status().to_string();
    ASSERT_TRUE((*w)->put(records(320, 320)).ok());
  }
  EXPECT_EQ(buckets_with_data(), 16);  // 640 keys reach every bucket; the writer's close flushed each
  auto q = open_queue(dir.path());
  auto r = q->reader({.topic = "t"});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  std::multiset<int64_t> seen;
  for (int round = 0; round < 20 && seen.size() < 640; ++round) {
    auto got = (*r)->get(1000);
    ASSERT_TRUE(got.ok()) << got.status().to_string();
    for (const auto& m : *got) seen.insert(m.record.find("n")->as_int());
  }
  ASSERT_EQ(seen.size(), 640u);
  for (int i = 0; i < 640; ++i) EXPECT_EQ(seen.count(i), 1u) << i;
}
