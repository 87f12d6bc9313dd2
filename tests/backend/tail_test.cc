// The tail: recently flushed records served from memory (include/persisting/tail_cache.h,
// BufferedDataset), under one budget for every bucket, with Lance below it.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "persisting/backend.h"
#include "persisting/tail_cache.h"
#include "util/temp_dir.h"

using namespace persisting;
using persisting::testing::TempDir;

namespace {

Record rec(int i) { return Record{{"id", "k" + std::to_string(i)}, {"i", i}, {"pad", std::string(40, 'p')}}; }

RecordBatch batch_of(int from, int n) {
  RecordBatch b;
  for (int i = from; i < from + n; ++i) b.add(rec(i));
  return b;
}

std::shared_ptr<const RecordBatch> shared_batch(int from, int n) {
  return std::make_shared<const RecordBatch>(batch_of(from, n));
}

// A durable bucket whose flushes happen only when the test says (flush_threshold out of reach,
// no periodic flush), keeping its tail in cache.
Result<std::unique_ptr<StorageBackend>> open_bucket(const std::string& dir, TailCache* cache,
                                                    const std::string& backend = "persisting",
                                                    bool read_only = false) {
  BackendContext ctx;
  ctx.topic = "t";
  ctx.bucket_dir = dir;
  ctx.batch_size = 1000;
  ctx.tail_cache = cache;
  ctx.read_only = read_only;
  Options o{{"flush_interval", "0"}};
  if (backend == "persisting") o["flush_threshold"] = "1000000";
  return BackendRegistry::global().create(backend, ctx, o);
}

int64_t stat(StorageBackend& b, const char* key) { return b.stats().to_object().find(key)->as_int(); }

// Reads [0, n) in gets of `step` records and checks they are rec(0) ... rec(n - 1), each once.
void expect_in_order(StorageBackend& b, int n, size_t step) {
  int next = 0;
  while (next < n) {
    auto got = b.get(Offset(next), step);
    ASSERT_TRUE(got.ok()) << got.status().to_string();
    ASSERT_GT(got->size(), 0u) << "nothing at offset " << next;
    for (size_t k = 0; k < got->size(); ++k, ++next) ASSERT_EQ(*got->decode(k), rec(next)) << "offset " << next;
  }
  EXPECT_EQ(next, n);
  EXPECT_TRUE(b.get(Offset(n), step)->empty());
}

// Puts [from, from + n) and flushes them as one fragment.
void put_and_flush(StorageBackend& b, int from, int n) {
  ASSERT_EQ(b.put_batch(batch_of(from, n))->value(), static_cast<uint64_t>(from));
  ASSERT_TRUE(b.flush().ok());
}

}  // namespace

TEST(TailCache, KeepsWithinTheBudgetAndEvictsTheOldestFirst) {
  // Four blocks of one size (ids of the same length), two per bucket.
  auto a0_records = shared_batch(10, 10), b0_records = shared_batch(20, 10);
  auto a1_records = shared_batch(30, 10), b1_records = shared_batch(40, 10);
  const uint64_t one = TailCache::charge_of(*a0_records);
  ASSERT_EQ(TailCache::charge_of(*b1_records), one);
  TailCache cache(3 * one);
  auto a0 = cache.keep(0, a0_records);
  auto b0 = cache.keep(0, b0_records);  // another bucket
  auto a1 = cache.keep(10, a1_records);
  ASSERT_TRUE(a0 && b0 && a1);
  EXPECT_EQ(cache.bytes(), 3 * one);
  EXPECT_EQ(cache.blocks(), 3u);
  auto b1 = cache.keep(10, b1_records);  // over budget: the oldest goes, whoever's
  ASSERT_TRUE(b1);
  EXPECT_EQ(a0->records(), nullptr);
  ASSERT_NE(b0->records(), nullptr);
  EXPECT_EQ(*b0->records()->decode(0), rec(20));
  EXPECT_EQ(cache.evictions(), 1u);
  EXPECT_EQ(cache.bytes(), 3 * one);
  // An owner letting go frees its share at once, once.
  cache.drop(*b0);
  cache.drop(*b0);
  EXPECT_EQ(b0->records(), nullptr);
  EXPECT_EQ(cache.bytes(), 2 * one);
  EXPECT_EQ(cache.evictions(), 1u);
  // More than the whole budget is not kept; nothing is evicted for it.
  EXPECT_EQ(cache.keep(20, shared_batch(50, 40)), nullptr);
  EXPECT_EQ(cache.blocks(), 2u);
  // A smaller budget evicts at once, the oldest first.
  cache.set_budget(one);
  EXPECT_EQ(a1->records(), nullptr);
  EXPECT_NE(b1->records(), nullptr);
  EXPECT_EQ(cache.bytes(), one);
  TailCache none(0);
  EXPECT_EQ(none.keep(0, shared_batch(0, 1)), nullptr);
}

TEST(TailCache, ARecordBatchViewOutlivesItsEviction) {
  TailCache cache(1 << 20);
  auto block = cache.keep(0, shared_batch(0, 5));
  std::shared_ptr<const RecordBatch> held = block->records();
  cache.set_budget(0);
  EXPECT_EQ(block->records(), nullptr);
  ASSERT_EQ(held->size(), 5u);
  EXPECT_EQ(*held->decode(4), rec(4));  // a reader's view keeps the bytes
}

// Recent flushes are read from memory: no Lance read at all, whatever the get sizes, and the
// records are exactly those put, in order, across flushes and into the unflushed buffer.
TEST(DurableTail, RecentRecordsAreServedFromMemoryWithoutReadingLance) {
  for (const std::string backend : {"persisting", "lance"}) {
    SCOPED_TRACE(backend);
    TempDir dir;
    TailCache cache(64 << 20);
    auto b = open_bucket(dir.path(), &cache, backend);
    ASSERT_TRUE(b.ok()) << b.status().to_string();
    put_and_flush(**b, 0, 100);
    put_and_flush(**b, 100, 50);
    put_and_flush(**b, 150, 120);
    ASSERT_TRUE((*b)->put_batch(batch_of(270, 30)).ok());  // buffered
    EXPECT_EQ(stat(**b, "persisted"), 270);
    EXPECT_EQ(stat(**b, "tail_records"), 270);
    for (size_t step : {1u, 7u, 100u, 1000u}) expect_in_order(**b, 300, step);
    EXPECT_EQ(stat(**b, "read_window_fills"), 0) << "a read of the tail decoded Lance pages";
    EXPECT_GT(stat(**b, "tail_reads"), 0);
    // A get inside one block is a view of the block's bytes, as the memory backend's.
    auto one_block = (*b)->get(Offset(110), 20);
    ASSERT_TRUE(one_block.ok());
    EXPECT_TRUE(one_block->is_view());
    EXPECT_EQ(*one_block->decode(0), rec(110));
  }
}

// The budget evicted the oldest blocks: reads below the tail come from Lance, reads that cross
// from Lance into the tail and on into the buffer give every record once, in order, and Lance is
// read only below the tail.
TEST(DurableTail, ReadsAcrossTheLanceAndTailBoundaryAfterEviction) {
  TempDir dir;
  const uint64_t block = TailCache::charge_of(batch_of(0, 100));
  TailCache cache(2 * block + block / 2);  // two blocks of 100
  auto b = open_bucket(dir.path(), &cache);
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  for (int i = 0; i < 500; i += 100) put_and_flush(**b, i, 100);
  ASSERT_TRUE((*b)->put_batch(batch_of(500, 10)).ok());
  EXPECT_EQ(stat(**b, "tail_records"), 200);  // [300, 500)
  EXPECT_EQ(cache.evictions(), 3u);
  for (size_t step : {1u, 33u, 250u, 1000u}) expect_in_order(**b, 510, step);
  // One get spanning Lance [250, 300), the tail [300, 500) and the buffer [500, 510).
  auto across = (*b)->get(Offset(250), 260);
  ASSERT_TRUE(across.ok());
  ASSERT_EQ(across->size(), 260u);
  for (int k = 0; k < 260; ++k) ASSERT_EQ(*across->decode(k), rec(250 + k));
  // Reading the tail again reads no Lance page.
  const int64_t fills = stat(**b, "read_window_fills");
  EXPECT_GT(fills, 0);
  for (size_t step : {3u, 200u}) {
    for (int off = 300; off < 500; off += static_cast<int>(step)) {
      auto r = (*b)->get(Offset(off), step);
      ASSERT_TRUE(r.ok());
      ASSERT_EQ(*r->decode(0), rec(off));
    }
  }
  EXPECT_EQ(stat(**b, "read_window_fills"), fills);
  EXPECT_EQ(stat(**b, "tail_records"), 200);  // still served from memory
  EXPECT_GT(stat(**b, "tail_reads"), 0);
}

// One budget for every bucket: a busy bucket's flushes push a quiet bucket's tail out, and the
// quiet bucket's records are then read from Lance, all of them.
TEST(DurableTail, OneBudgetForEveryBucketDropsTheOldestTailsFirst) {
  TempDir quiet_dir, busy_dir;
  const uint64_t block = TailCache::charge_of(batch_of(0, 100));
  TailCache cache(3 * block + block / 2);
  auto quiet = open_bucket(quiet_dir.path(), &cache);
  auto busy = open_bucket(busy_dir.path(), &cache);
  ASSERT_TRUE(quiet.ok() && busy.ok());
  put_and_flush(**quiet, 0, 100);
  put_and_flush(**busy, 0, 100);
  EXPECT_EQ(stat(**quiet, "tail_records"), 100);
  for (int i = 100; i < 400; i += 100) put_and_flush(**busy, i, 100);
  EXPECT_EQ(stat(**quiet, "tail_records"), 0);  // the oldest block of all
  EXPECT_EQ(stat(**busy, "tail_records"), 300);
  EXPECT_LE(cache.bytes(), cache.budget());
  expect_in_order(**quiet, 100, 30);
  EXPECT_GT(stat(**quiet, "read_window_fills"), 0);
  expect_in_order(**busy, 400, 30);
  EXPECT_GT(stat(**busy, "tail_reads"), 0);
  EXPECT_EQ(stat(**busy, "tail_records"), 300);
  // A closed bucket's tail leaves the budget.
  busy->reset();
  EXPECT_EQ(cache.bytes(), 0u);
}

// After a reopen the tail is gone (memory only) and Lance serves every record; a process that
// does not write the bucket reads Lance and holds no tail.
TEST(DurableTail, AfterReopenAndInAnotherProcessLanceServes) {
  TempDir dir;
  TailCache cache(64 << 20);
  {
    auto b = open_bucket(dir.path(), &cache);
    ASSERT_TRUE(b.ok());
    put_and_flush(**b, 0, 100);
    put_and_flush(**b, 100, 100);
    // Another process (a second open of the bucket: it cannot take the writer lock) reads Lance.
    auto reader = open_bucket(dir.path(), &cache);
    ASSERT_TRUE(reader.ok()) << reader.status().to_string();
    EXPECT_FALSE((*reader)->stats().to_object().find("writer")->as_bool());
    expect_in_order(**reader, 200, 64);
    EXPECT_GT(stat(**reader, "read_window_fills"), 0);
    EXPECT_EQ(stat(**reader, "tail_records"), 0);
    EXPECT_EQ(stat(**reader, "tail_reads"), 0);
    put_and_flush(**b, 200, 50);  // the reader picks up the writer's next commit from Lance
    expect_in_order(**reader, 250, 64);
    EXPECT_EQ(stat(**b, "read_window_fills"), 0);
  }
  EXPECT_EQ(cache.bytes(), 0u);
  auto b = open_bucket(dir.path(), &cache);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(stat(**b, "tail_records"), 0);
  expect_in_order(**b, 250, 64);
  EXPECT_GT(stat(**b, "read_window_fills"), 0);
  put_and_flush(**b, 250, 10);  // the tail starts again at the next flush
  EXPECT_EQ(stat(**b, "tail_records"), 10);
  expect_in_order(**b, 260, 100);
}

// Puts, background flushes, evictions (a small budget shared with another busy bucket) and reads
// at once: every read gives the records at its offsets, in order.
TEST(DurableTail, ConcurrentPutsFlushesEvictionsAndReadsStayInOrder) {
  TempDir dir, other_dir;
  TailCache cache(8 * TailCache::charge_of(batch_of(0, 50)));
  BackendContext ctx;
  ctx.topic = "t";
  ctx.bucket_dir = dir.path();
  ctx.tail_cache = &cache;
  auto b = BackendRegistry::global().create("persisting", ctx, {{"flush_threshold", "50"}, {"wal_sync_mode", "os"}});
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  auto other = open_bucket(other_dir.path(), &cache);
  ASSERT_TRUE(other.ok());
  constexpr int kRecords = 3000;
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; i < kRecords; i += 10) ASSERT_TRUE((*b)->put_batch(batch_of(i, 10)).ok());
    done = true;
  });
  std::thread churn([&] {
    for (int i = 0; i < 1000; i += 50) put_and_flush(**other, i, 50);  // 20 blocks: evictions
  });
  int reads = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (bool last = false; !last;) {
    last = done || std::chrono::steady_clock::now() > deadline;  // one more pass after the writer
    const uint64_t total = (*b)->total_count();
    int next = 0;
    while (static_cast<uint64_t>(next) < total) {
      auto got = (*b)->get(Offset(next), 37);
      ASSERT_TRUE(got.ok()) << got.status().to_string();
      ASSERT_GT(got->size(), 0u);
      for (size_t k = 0; k < got->size(); ++k, ++next) ASSERT_EQ(*got->decode(k), rec(next)) << "offset " << next;
      ++reads;
    }
  }
  writer.join();
  churn.join();
  ASSERT_TRUE((*b)->flush().ok());
  expect_in_order(**b, kRecords, 100);
  EXPECT_GT(reads, 0);
  EXPECT_GT(cache.evictions(), 0u);
}
