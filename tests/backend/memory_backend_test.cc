#include <gtest/gtest.h>

#include <thread>

#include "backend/memory_backend.h"

using namespace persisting;
using namespace std::chrono_literals;

namespace {
Record rec(int i) { return Record{{"id", "k" + std::to_string(i)}, {"i", i}}; }
}  // namespace

TEST(MemoryBackendTest, DenseOffsetsInPutOrder) {
  MemoryBackend b;
  EXPECT_EQ(b.total_count(), 0u);
  RecordBatch batch;
  for (int i = 0; i < 5; ++i) batch.add(rec(i));
  auto first = b.put_batch(batch);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->value(), 0u);
  auto second = b.put(rec(5));
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->value(), 5u);
  EXPECT_EQ(b.total_count(), 6u);

  auto got = b.get(Offset(2), 3);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 3u);
  for (int k = 0; k < 3; ++k) EXPECT_EQ(*got->decode(k), rec(2 + k));
  EXPECT_EQ(b.get(Offset(4), 100)->size(), 2u);
  EXPECT_TRUE(b.get(Offset(6), 10)->empty());
  EXPECT_TRUE(b.get(Offset(1000), 10)->empty());
  EXPECT_TRUE(b.get(Offset(0), 0)->empty());
}

TEST(MemoryBackendTest, ManyChunksKeepEveryRecordIntact) {
  MemoryBackend b;
  std::string big(300000, 'z');  // forces many 4 MiB chunks and records spanning chunk ends
  for (int i = 0; i < 60; ++i) ASSERT_TRUE(b.put(Record{{"id", i}, {"blob", big + std::to_string(i)}}).ok());
  auto all = b.get(Offset(0), 100);
  ASSERT_EQ(all->size(), 60u);
  for (int i = 0; i < 60; ++i) EXPECT_EQ(all->decode(i)->find("blob")->as_string(), big + std::to_string(i));
}

TEST(MemoryBackendTest, StatsReportCounts) {
  MemoryBackend b;
  ASSERT_TRUE(b.put(rec(1)).ok());
  Object s = b.stats().to_object();
  EXPECT_EQ(s.find("backend")->as_string(), "memory");
  EXPECT_EQ(s.find("total_count")->as_int(), 1);
  EXPECT_FALSE(s.find("durable")->as_bool());
  EXPECT_FALSE(b.durable());
}

TEST(MemoryBackendTest, GetWaitReturnsWhenDataArrives) {
  MemoryBackend b;
  std::thread producer([&] {
    std::this_thread::sleep_for(50ms);
    ASSERT_TRUE(b.put(rec(7)).ok());
  });
  auto t0 = std::chrono::steady_clock::now();
  auto got = b.get_wait(Offset(0), 10, 120s);
  producer.join();
  // Woken by the put, not by the deadline (the margin is huge: this is not a speed check).
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 60s);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ(*got->decode(0), rec(7));
}

TEST(MemoryBackendTest, GetWaitReturnsEmptyAtDeadline) {
  MemoryBackend b;
  ASSERT_TRUE(b.put(rec(0)).ok());
  auto t0 = std::chrono::steady_clock::now();
  auto got = b.get_wait(Offset(1), 10, 100ms);
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->empty());
  // It did wait (a deadline is a lower bound; no upper bound is asserted).
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 100ms);
}

TEST(MemoryBackendTest, BatchesSplitAcrossChunksReadBackAtAnyOffset) {
  // Batches copied in runs: records of mixed sizes (one bigger than the largest chunk) cross
  // chunk ends inside a batch; every window read back must match record for record.
  MemoryBackend b;
  std::vector<Record> all;
  uint32_t seed = 7;
  auto next = [&] { return seed = seed * 1103515245u + 12345u; };
  for (int batch_no = 0; batch_no < 40; ++batch_no) {
    RecordBatch batch;
    for (int k = 0; k < 250; ++k) {
      size_t len = next() % 9000;
      if (batch_no == 17 && k == 3) len = 9 << 20;  // > 8 MiB: a chunk of its own
      Record r{{"id", static_cast<int64_t>(all.size())}, {"pad", std::string(len, char('a' + k % 26))}};
      batch.add(r);
      all.push_back(std::move(r));
    }
    auto first = b.put_batch(batch);
    ASSERT_TRUE(first.ok());
    EXPECT_EQ(first->value(), all.size() - 250);
  }
  ASSERT_EQ(b.total_count(), all.size());
  for (int probe = 0; probe < 200; ++probe) {
    size_t off = next() % all.size(), limit = 1 + next() % 700;
    auto got = b.get(Offset(off), limit);
    ASSERT_TRUE(got.ok());
    ASSERT_EQ(got->size(), std::min(limit, all.size() - off));
    for (size_t k = 0; k < got->size(); ++k) ASSERT_EQ(*got->decode(k), all[off + k]) << off + k;
  }
}

TEST(MemoryBackendTest, ReadsWithinAChunkAreViewsThatOutliveTheBackend) {
  RecordBatch got;
  {
    MemoryBackend b;
    RecordBatch batch;
    for (int i = 0; i < 50; ++i) batch.add(rec(i));
    ASSERT_TRUE(b.put_batch(batch).ok());
    auto r = b.get(Offset(10), 20);
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->is_view());  // one chunk, back to back: no copy
    got = std::move(r).value();
  }  // the backend is gone; the view keeps its chunk
  ASSERT_EQ(got.size(), 20u);
  for (int k = 0; k < 20; ++k) EXPECT_EQ(*got.decode(k), rec(10 + k));
}
