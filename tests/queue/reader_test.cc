#include <gtest/gtest.h>

#include <map>
#include <thread>

#include "core/hash.h"
#include "persisting/queue.h"

using namespace persisting;
using namespace std::chrono_literals;

namespace {

struct Fixture {
  std::unique_ptr<Queue> q;
  std::unique_ptr<QueueWriter> w;
  explicit Fixture(uint32_t buckets = 4) {
    q = std::move(Queue::open({.threads = 2})).value();
    w = std::move(q->writer({.topic = "t", .bucket_column = "id", .num_buckets = buckets})).value();
  }
  std::unique_ptr<QueueReader> reader(ReaderOptions o) {
    o.topic = "t";
    auto r = q->reader(o);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return std::move(r).value();
  }
};

// A key that lands in bucket b of n.
std::string key_for_bucket(uint32_t b, uint32_t n, int salt = 0) {
  for (int i = salt * 100000;; ++i) {
    std::string k = "k" + std::to_string(i);
    if (bucket_for_key(k, n) == b) return k;
  }
}

std::vector<uint32_t> ids(const std::vector<BucketId>& v) {
  std::vector<uint32_t> out;
  for (auto b : v) out.push_back(b.value());
  return out;
}

}  // namespace

TEST(ReaderTest, RankAndWorldSizeAssignBucketsModulo) {
  Fixture f(8);
  EXPECT_EQ(ids(f.reader({.rank = 0, .world_size = 3})->buckets()), (std::vector<uint32_t>{0, 3, 6}));
  EXPECT_EQ(ids(f.reader({.rank = 1, .world_size = 3})->buckets()), (std::vector<uint32_t>{1, 4, 7}));
  EXPECT_EQ(ids(f.reader({.rank = 2, .world_size = 3})->buckets()), (std::vector<uint32_t>{2, 5}));
  EXPECT_EQ(ids(f.reader({.buckets = {5, 1}})->buckets()), (std::vector<uint32_t>{5, 1}));
  EXPECT_EQ(f.reader({})->buckets().size(), 8u);
}

TEST(ReaderTest, BadBucketSelectionsAreRejected) {
  Fixture f(4);
  auto bad_rank = f.q->reader({.topic = "t", .rank = 3, .world_size = 3});
  EXPECT_NE(bad_rank.status().message().find("rank 3"), std::string::npos);
  auto zero_ws = f.q->reader({.topic = "t", .rank = 0, .world_size = 0});
  EXPECT_EQ(zero_ws.status().code(), Code::kInvalidArgument);
  auto out_of_range = f.q->reader({.topic = "t", .buckets = {4}});
  EXPECT_NE(out_of_range.status().message().find("bucket 4"), std::string::npos);
  auto dup = f.q->reader({.topic = "t", .buckets = {1, 1}});
  EXPECT_NE(dup.status().message().find("listed twice"), std::string::npos);
  auto both = f.q->reader({.topic = "t", .buckets = {1}, .rank = 0, .world_size = 2});
  EXPECT_NE(both.status().message().find("not both"), std::string::npos);
}

TEST(ReaderTest, RanksTogetherReadEveryRecordExactlyOnce) {
  Fixture f(8);
  std::vector<Record> batch;
  for (int i = 0; i < 1000; ++i) batch.push_back(Record{{"id", "r" + std::to_string(i)}, {"i", i}});
  ASSERT_TRUE(f.w->put(batch).ok());
  std::map<int64_t, int> seen;
  for (uint32_t rank = 0; rank < 3; ++rank) {
    auto r = f.reader({.rank = rank, .world_size = 3});
    for (;;) {
      auto msgs = r->get(64);
      ASSERT_TRUE(msgs.ok());
      if (msgs->empty()) break;
      for (const auto& m : *msgs) {
        EXPECT_EQ(m.bucket.value() % 3, rank);
        seen[m.record.find("i")->as_int()]++;
      }
    }
  }
  ASSERT_EQ(seen.size(), 1000u);
  for (auto& [i, n] : seen) EXPECT_EQ(n, 1) << i;
}

TEST(ReaderTest, WaitReturnsAsSoonAsDataArrives) {
  Fixture f(4);
  auto r = f.reader({});
  std::thread producer([&] {
    std::this_thread::sleep_for(50ms);
    ASSERT_TRUE(f.w->put(Record{{"id", "late"}}).ok());
  });
  auto t0 = std::chrono::steady_clock::now();
  auto msgs = r->get(10, /*wait=*/true, 120s);
  producer.join();
  ASSERT_TRUE(msgs.ok());
  ASSERT_EQ(msgs->size(), 1u);
  EXPECT_EQ(msgs->at(0).record.find("id")->as_string(), "late");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 60s);  // woken by the put, not the deadline
  // The other buckets' parked waiters were cancelled, not left behind.
  auto stats = f.q->stats("t");
  for (const auto& b : stats->find("buckets")->as_list()) EXPECT_EQ(b.as_object().find("parked_readers")->as_int(), 0);
}

TEST(ReaderTest, WaitReturnsEmptyAtTheDeadline) {
  Fixture f(4);
  auto r = f.reader({});
  auto t0 = std::chrono::steady_clock::now();
  auto msgs = r->get(10, /*wait=*/true, 150ms);
  ASSERT_TRUE(msgs.ok());
  EXPECT_TRUE(msgs->empty());
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 150ms);
  // Without wait, an empty topic answers at once with nothing.
  EXPECT_TRUE(r->get(10, /*wait=*/false)->empty());
}

TEST(ReaderTest, WaitOnlyWakesForCoveredBuckets) {
  Fixture f(4);
  auto r = f.reader({.buckets = {1}});
  auto fut = std::async(std::launch::async, [&] { return r->get(10, true, 120s); });
  ASSERT_TRUE(f.w->put(Record{{"id", key_for_bucket(0, 4)}}).ok());  // another bucket
  EXPECT_EQ(fut.wait_for(100ms), std::future_status::timeout);
  ASSERT_TRUE(f.w->put(Record{{"id", key_for_bucket(1, 4)}}).ok());
  auto msgs = fut.get();
  ASSERT_TRUE(msgs.ok());
  ASSERT_EQ(msgs->size(), 1u);
  EXPECT_EQ(msgs->at(0).bucket.value(), 1u);
}

TEST(ReaderTest, BusyBucketDoesNotStarveAQuietOne) {
  Fixture f(2);
  std::string busy = key_for_bucket(0, 2), quiet = key_for_bucket(1, 2);
  std::vector<Record> batch;
  for (int i = 0; i < 1000; ++i) batch.push_back(Record{{"id", busy}, {"i", i}});
  for (int i = 0; i < 10; ++i) batch.push_back(Record{{"id", quiet}, {"i", i}});
  ASSERT_TRUE(f.w->put(batch).ok());
  auto r = f.reader({});
  auto msgs = r->get(100);
  ASSERT_TRUE(msgs.ok());
  ASSERT_EQ(msgs->size(), 100u);
  int from_quiet = 0;
  for (const auto& m : *msgs) from_quiet += m.bucket.value() == 1;
  EXPECT_EQ(from_quiet, 10);  // all of the quiet bucket, the rest from the busy one
  // With both busy, the limit is split evenly.
  for (int i = 0; i < 1000; ++i) batch[i] = Record{{"id", quiet}, {"i", 10 + i}};
  batch.resize(1000);
  ASSERT_TRUE(f.w->put(batch).ok());
  auto even = r->get(101);
  int b0 = 0, b1 = 0;
  for (const auto& m : *even) (m.bucket.value() == 0 ? b0 : b1)++;
  EXPECT_EQ(b0 + b1, 101);
  EXPECT_LE(std::abs(b0 - b1), 1);
}

TEST(ReaderTest, OffsetsAdvanceResetAndSet) {
  Fixture f(2);
  std::string k0 = key_for_bucket(0, 2);
  std::vector<Record> batch;
  for (int i = 0; i < 10; ++i) batch.push_back(Record{{"id", k0}, {"i", i}});
  ASSERT_TRUE(f.w->put(batch).ok());
  auto r = f.reader({.buckets = {0}});
  auto first = r->get(4);
  ASSERT_EQ(first->size(), 4u);
  EXPECT_EQ(first->back().offset.value(), 3u);
  EXPECT_EQ(r->offsets()[0].value(), 4u);
  auto next = r->get(100);
  ASSERT_EQ(next->size(), 6u);
  EXPECT_EQ(next->front().record.find("i")->as_int(), 4);
  r->reset();
  EXPECT_EQ(r->get(100)->size(), 10u);
  ASSERT_TRUE(r->set_offset(Offset(7), BucketId(0)).ok());
  auto tail = r->get(100);
  ASSERT_EQ(tail->size(), 3u);
  EXPECT_EQ(tail->front().offset.value(), 7u);
  ASSERT_TRUE(r->set_offset(Offset(9)).ok());
  EXPECT_EQ(r->get(100)->size(), 1u);
  Status s = r->set_offset(Offset(0), BucketId(1));
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("bucket 1"), std::string::npos);
}

TEST(ReaderTest, AsyncGetDeliversThroughTheCallback) {
  Fixture f(4);
  auto r = f.reader({});
  std::promise<Result<std::vector<Message>>> p;
  r->get_async(10, true, 120s, [&](Result<std::vector<Message>> m) { p.set_value(std::move(m)); });
  ASSERT_TRUE(f.w->put(Record{{"id", "x"}, {"v", 1.5}}).ok());
  auto msgs = p.get_future().get();
  ASSERT_TRUE(msgs.ok());
  ASSERT_EQ(msgs->size(), 1u);
  EXPECT_EQ(msgs->at(0).record.find("v")->as_double(), 1.5);
  EXPECT_EQ(r->offsets()[msgs->at(0).bucket.value()].value(), 1u);
}

TEST(ReaderTest, ReadAheadReturnsEveryRecordOnceInOrderWhileWritesContinue) {
  // Gets of 150 over two buckets of 1000: each get fetches up to 150 per bucket and keeps what
  // it does not return; records put to a bucket while some of it is ahead follow in order.
  Fixture f(2);
  std::string k0 = key_for_bucket(0, 2), k1 = key_for_bucket(1, 2);
  std::map<uint32_t, int64_t> next_i{{0, 0}, {1, 0}};
  std::map<uint32_t, int64_t> written{{0, 0}, {1, 0}};
  auto put = [&](uint32_t b, int n) {
    std::vector<Record> batch;
    for (int i = 0; i < n; ++i) batch.push_back(Record{{"id", b == 0 ? k0 : k1}, {"i", written[b]++}});
    ASSERT_TRUE(f.w->put(batch).ok());
  };
  put(0, 1000);
  put(1, 1000);
  auto r = f.reader({});
  for (int round = 0; next_i[0] < written[0] || next_i[1] < written[1]; ++round) {
    ASSERT_LT(round, 1000);
    auto msgs = r->get(150, /*wait=*/false);
    ASSERT_TRUE(msgs.ok()) << msgs.status().to_string();
    ASSERT_FALSE(msgs->empty());
    EXPECT_LE(msgs->size(), 150u);
    for (const auto& m : *msgs) {
      uint32_t b = m.bucket.value();
      ASSERT_EQ(m.record.find("i")->as_int(), next_i[b]) << "bucket " << b;
      ASSERT_EQ(m.offset.value(), uint64_t(next_i[b]));
      ++next_i[b];
    }
    EXPECT_EQ(r->offsets()[0].value(), uint64_t(next_i[0]));
    EXPECT_EQ(r->offsets()[1].value(), uint64_t(next_i[1]));
    if (round == 2) put(0, 300);  // bucket 0 has records ahead now
    if (round == 5) put(1, 7);
  }
  EXPECT_EQ(next_i[0], 1300);
  EXPECT_EQ(next_i[1], 1007);
  EXPECT_TRUE(r->get(10, /*wait=*/false)->empty());
}

TEST(ReaderTest, SetOffsetAndResetDropWhatIsReadAhead) {
  Fixture f(2);
  std::string k0 = key_for_bucket(0, 2), k1 = key_for_bucket(1, 2);
  std::vector<Record> batch;
  for (int i = 0; i < 100; ++i) batch.push_back(Record{{"id", k0}, {"i", i}});
  for (int i = 0; i < 100; ++i) batch.push_back(Record{{"id", k1}, {"i", i}});
  ASSERT_TRUE(f.w->put(batch).ok());
  auto r = f.reader({});
  ASSERT_EQ(r->get(10)->size(), 10u);  // 5 from each; 95 of each ahead
  ASSERT_TRUE(r->set_offset(Offset(50), BucketId(0)).ok());
  auto msgs = r->get(4);
  ASSERT_EQ(msgs->size(), 4u);
  for (const auto& m : *msgs) {
    int64_t want = m.bucket.value() == 0 ? 50 : 5;  // bucket 1 keeps its read-ahead
    if (m.offset.value() != uint64_t(want) && m.offset.value() != uint64_t(want + 1)) ADD_FAILURE() << m.offset.value();
    EXPECT_EQ(m.record.find("i")->as_int(), int64_t(m.offset.value()));
  }
  r->reset();
  auto again = r->get(2);
  ASSERT_EQ(again->size(), 2u);
  for (const auto& m : *again) EXPECT_EQ(m.offset.value(), 0u);
}
