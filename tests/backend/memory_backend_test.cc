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
  Object s = b.stats();
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
