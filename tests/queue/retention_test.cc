// Retention through the Queue (docs/retention.md): set at creation, persisted in topic.json,
// changed by alter_topic, refused when bad; readers below the first offset get OutOfRange.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "persisting/queue.h"
#include "queue/topic_meta.h"
#include "storage/lance/dataset.h"
#include "util/open_queue.h"
#include "util/temp_dir.h"

using namespace persisting;
using persisting::testing::open_queue;
using persisting::testing::TempDir;

namespace {

WriterOptions options(const std::string& backend, Retention r = {}) {
  WriterOptions w;
  w.topic = "events";
  w.num_buckets = 1;
  w.batch_size = 10;  // one fragment per 10 records
  w.backend = backend;
  w.retention = r;
  if (backend == "lance") w.backend_options["flush_interval"] = "0";
  return w;
}

void put_range(QueueWriter& w, int from, int to) {
  for (int i = from; i < to; i += 10) {
    std::vector<Record> batch;
    for (int k = i; k < i + 10 && k < to; ++k) batch.push_back(Record{{"id", "k"}, {"i", k}});
    ASSERT_TRUE(w.put(batch).ok());
    ASSERT_TRUE(w.flush().ok());
  }
}

int64_t first_offset(Queue& q) {
  auto st = q.stats("events");
  EXPECT_TRUE(st.ok()) << st.status().to_string();
  if (!st.ok()) return -1;
  return st->find("buckets")->as_list()[0].as_object().find("first_offset")->as_int();
}

class QueueRetention : public ::testing::TestWithParam<std::string> {};

TEST_P(QueueRetention, SetAtCreationPersistedAndAltered) {
  TempDir dir;
  {
    auto q = open_queue(dir.path());
    auto w = q->writer(options(GetParam(), {.records = 25}));
    ASSERT_TRUE(w.ok()) << w.status().to_string();
    put_range(**w, 0, 100);
    EXPECT_EQ(first_offset(*q), 70);
    auto info = q->topic("events");
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->retention.records, std::optional<uint64_t>(25));
    EXPECT_FALSE(info->retention.bytes);

    // A plain reader starts at the first available offset; below it a get is OutOfRange naming it.
    auto r = q->reader({.topic = "events"});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ((*r)->offsets(), std::vector<Offset>{Offset(70)});
    auto got = (*r)->get(100);
    ASSERT_TRUE(got.ok()) << got.status().to_string();
    ASSERT_EQ(got->size(), 30u);
    EXPECT_EQ((*got)[0].offset.value(), 70u);
    EXPECT_EQ((*got)[0].record.find("i")->as_int(), 70);
    ASSERT_TRUE((*r)->set_offset(Offset(3)).ok());
    got = (*r)->get(10);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.status().code(), Code::kOutOfRange);
    EXPECT_NE(got.status().message().find("first available offset 70"), std::string::npos) << got.status().to_string();
    (*r)->reset();
    EXPECT_EQ((*r)->offsets(), std::vector<Offset>{Offset(70)});

    // A consumer group with no commit starts by its rule: earliest is the first available offset.
    auto g = q->reader({.topic = "events", .group = "g"});
    ASSERT_TRUE(g.ok()) << g.status().to_string();
    got = (*g)->get(5);
    ASSERT_TRUE(got.ok()) << got.status().to_string();
    ASSERT_FALSE(got->empty());
    EXPECT_EQ((*got)[0].offset.value(), 70u);
    ASSERT_TRUE((*g)->commit().ok());
    ASSERT_TRUE((*g)->close().ok());
    auto h = q->reader({.topic = "events", .group = "h"});
    ASSERT_TRUE(h.ok()) << h.status().to_string();
    ASSERT_TRUE((*h)->get(5).ok());
    ASSERT_TRUE((*h)->close().ok());  // commits 75

    // Alter: tighter now, applied at once.
    ASSERT_TRUE(q->alter_topic("events", {.records = 5}).ok());
    EXPECT_EQ(first_offset(*q), 90);
    // The groups' commits (75) are now below the first offset: earliest moves g to 90, latest h to the end.
    auto g2 = q->reader({.topic = "events", .group = "g"});
    ASSERT_TRUE(g2.ok()) << g2.status().to_string();
    EXPECT_EQ((*g2)->offsets(), std::vector<Offset>{Offset(90)});
    ASSERT_TRUE((*g2)->close().ok());
    auto g3 = q->reader({.topic = "events", .group = "h", .start = OffsetReset::kLatest});
    ASSERT_TRUE(g3.ok()) << g3.status().to_string();
    EXPECT_EQ((*g3)->offsets(), std::vector<Offset>{Offset(100)});
    ASSERT_TRUE((*g3)->close().ok());
    // Reopening the writer with another retention is refused; with none it keeps the topic's.
    auto again = q->writer(options(GetParam(), {.records = 25}));
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.status().code(), Code::kFailedPrecondition);
    EXPECT_NE(again.status().message().find("alter"), std::string::npos) << again.status().to_string();
    ASSERT_TRUE(q->writer(options(GetParam())).ok());
  }
  // topic.json keeps the altered limits; a new process enforces them.
  auto stored = queue::load_topic_meta(Env::Default(), dir.path(), "events");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->retention.records, std::optional<uint64_t>(5));
  auto q = open_queue(dir.path());
  auto w = q->writer(options(GetParam()));
  ASSERT_TRUE(w.ok());
  put_range(**w, 100, 120);
  EXPECT_EQ(first_offset(*q), 110);
  // Alter to none: nothing more goes.
  ASSERT_TRUE(q->alter_topic("events", {}).ok());
  put_range(**w, 120, 140);
  EXPECT_EQ(first_offset(*q), 110);
  auto info = q->topic("events");
  ASSERT_TRUE(info.ok());
  EXPECT_FALSE(info->retention.any());
}

INSTANTIATE_TEST_SUITE_P(Backends, QueueRetention, ::testing::Values("lance", "persisting"),
                         [](const auto& info) { return info.param; });

TEST(QueueRetentionInput, BadLimitsAreRefusedAndChangeNothing) {
  TempDir dir;
  auto q = open_queue(dir.path());
  // Zero limits and retention on a backend without fragments: refused, no topic made.
  auto w = q->writer(options("lance", {.records = 0}));
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), Code::kInvalidArgument);
  EXPECT_NE(w.status().message().find("retention_records must be positive"), std::string::npos);
  w = q->writer(options("memory", {.bytes = 100}));
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), Code::kInvalidArgument);
  EXPECT_NE(w.status().message().find("'memory'"), std::string::npos) << w.status().to_string();
  EXPECT_EQ(q->topic("events").status().code(), Code::kNotFound);

  // Unknown topic.
  Status s = q->alter_topic("nope", {.records = 5});
  EXPECT_EQ(s.code(), Code::kNotFound) << s.to_string();
  EXPECT_NE(s.message().find("nope"), std::string::npos);

  // A bad alter leaves the topic's limits as they were.
  ASSERT_TRUE(q->writer(options("lance", {.records = 50})).ok());
  s = q->alter_topic("events", {.records = 10, .bytes = 0});
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.to_string();
  auto stored = queue::load_topic_meta(Env::Default(), dir.path(), "events");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->retention, (Retention{.records = 50}));

  // A memory topic cannot be given retention later either.
  WriterOptions m = options("memory");
  m.topic = "mem";
  ASSERT_TRUE(q->writer(m).ok());
  EXPECT_EQ(q->alter_topic("mem", {.records = 5}).code(), Code::kInvalidArgument);
}

// Two writers put while two readers follow the bucket, under `limits`: each reader sees offsets
// only grow by one, each writer's records in its order, and when retention overtakes it an
// OutOfRange naming a first offset above where it was, from which it goes on. Afterwards every
// record from the first offset on is there, at its offset, and at least the limit is kept.
void concurrent_writers_and_readers(const std::string& backend, Retention limits) {
  TempDir dir;
  auto q = open_queue(dir.path());
  auto w = q->writer(options(backend, limits));
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  constexpr int kWriters = 2, kReaders = 2, kBatches = 30, kBatch = 10;
  constexpr uint64_t kTotal = kWriters * kBatches * kBatch;
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kWriters; ++t) {
    threads.emplace_back([&, t] {
      for (int b = 0; b < kBatches; ++b) {
        std::vector<Record> batch;
        for (int k = 0; k < kBatch; ++k) batch.push_back(Record{{"id", "k"}, {"w", t}, {"n", b * kBatch + k}});
        EXPECT_TRUE((*w)->put(batch).ok());
        if (b % 3 == 0) {
          EXPECT_TRUE((*w)->flush().ok());
        }
      }
      ++done;
    });
  }
  std::atomic<int> out_of_range{0};
  std::vector<uint64_t> reached(kReaders, 0);
  for (int t = 0; t < kReaders; ++t) {
    threads.emplace_back([&, t] {
      auto r = q->reader({.topic = "events"});
      ASSERT_TRUE(r.ok()) << r.status().to_string();
      uint64_t next = (*r)->offsets()[0].value();
      std::vector<int64_t> last_n(kWriters, -1);
      for (int rounds = 0; rounds < 20000; ++rounds) {  // bounded; each get waits for data up to 50 ms
        auto got = (*r)->get(7, /*wait=*/true, std::chrono::milliseconds(50));
        if (!got.ok()) {
          ASSERT_EQ(got.status().code(), Code::kOutOfRange) << got.status().to_string();
          ++out_of_range;
          auto st = q->stats("events");
          ASSERT_TRUE(st.ok());
          const uint64_t first = st->find("buckets")->as_list()[0].as_object().find("first_offset")->as_int();
          ASSERT_GT(first, next);
          ASSERT_NE(got.status().message().find("first available offset"), std::string::npos)
              << got.status().to_string();
          ASSERT_TRUE((*r)->set_offset(Offset(first)).ok());
          next = first;
          std::fill(last_n.begin(), last_n.end(), -1);  // records were skipped
          continue;
        }
        for (const Message& m : *got) {
          ASSERT_EQ(m.offset.value(), next);
          ++next;
          const int64_t wr = m.record.find("w")->as_int(), n = m.record.find("n")->as_int();
          if (last_n[wr] >= 0) {
            EXPECT_EQ(n, last_n[wr] + 1);
          }
          last_n[wr] = n;
        }
        if (got->empty() && done == kWriters && next == kTotal) break;
      }
      reached[t] = next;
    });
  }
  for (auto& t : threads) t.join();
  for (int t = 0; t < kReaders; ++t) EXPECT_EQ(reached[t], kTotal) << "reader " << t;
  ASSERT_TRUE((*w)->flush().ok());
  // Every record from the first offset on is there, in offset order.
  const int64_t first = first_offset(*q);
  EXPECT_GT(first, 0);
  auto all = q->reader({.topic = "events"});
  ASSERT_TRUE(all.ok());
  auto got = (*all)->get(100000);
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  ASSERT_EQ(got->size(), kTotal - first);
  for (size_t i = 0; i < got->size(); ++i) EXPECT_EQ((*got)[i].offset.value(), static_cast<uint64_t>(first) + i);
  // At least the limit is kept: records, or bytes of the data files the manifest lists.
  if (limits.records) {
    EXPECT_GE(kTotal - first, *limits.records);
  }
  if (limits.bytes) {
    auto ds = lance::LanceDataset::open_or_create(Env::Default(), dir.path() + "/events/bucket_0/data.lance");
    ASSERT_TRUE(ds.ok()) << ds.status().to_string();
    EXPECT_EQ((*ds)->first_offset(), static_cast<uint64_t>(first));
    uint64_t bytes = 0;
    for (const auto& f : (*ds)->fragments()) {
      for (const auto& file : f.files) bytes += std::filesystem::file_size((*ds)->path() + "/data/" + file);
    }
    EXPECT_GE(bytes, *limits.bytes);
  }
}

TEST_P(QueueRetention, RecordsLimitWithConcurrentWritersAndReaders) {
  concurrent_writers_and_readers(GetParam(), {.records = 50});
}

// About ten fragments of ten records (a fragment of this shape is a few hundred bytes).
TEST_P(QueueRetention, BytesLimitWithConcurrentWritersAndReaders) {
  concurrent_writers_and_readers(GetParam(), {.bytes = 4000});
}

}  // namespace
