#include <gtest/gtest.h>

#include <future>
#include <set>
#include <thread>

#include "backend/memory_backend.h"
#include "runtime/bucket_storage.h"

using namespace persisting;
using namespace persisting::runtime;
using namespace std::chrono_literals;

namespace {

Record rec(int i) { return Record{{"id", i}}; }

RecordBatch batch_of(int from, int n) {
  RecordBatch b;
  for (int i = from; i < from + n; ++i) b.add(rec(i));
  return b;
}

std::shared_ptr<BucketStorage> make_bucket(Executor& ex) {
  return std::make_shared<BucketStorage>(ex, "t", BucketId(0), std::make_unique<MemoryBackend>());
}

Result<Offset> put_sync(BucketStorage& b, RecordBatch batch) {
  std::promise<Result<Offset>> p;
  b.put(std::move(batch), [&](Result<Offset> r) { p.set_value(std::move(r)); });
  return p.get_future().get();
}

std::future<Result<RecordBatch>> get_async(BucketStorage& b, uint64_t off, size_t limit,
                                           std::chrono::milliseconds wait, uint64_t id = 0) {
  auto p = std::make_shared<std::promise<Result<RecordBatch>>>();
  b.get(Offset(off), limit, wait, id, [p](Result<RecordBatch> r) { p->set_value(std::move(r)); });
  return p->get_future();
}

}  // namespace

TEST(BucketStorageTest, PutThenGet) {
  Executor ex(2);
  auto b = make_bucket(ex);
  EXPECT_EQ(put_sync(*b, batch_of(0, 3))->value(), 0u);
  EXPECT_EQ(put_sync(*b, batch_of(3, 2))->value(), 3u);
  auto got = get_async(*b, 1, 10, 0ms).get();
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 4u);
  EXPECT_EQ(*got->decode(0), rec(1));
  EXPECT_TRUE(get_async(*b, 5, 10, 0ms).get()->empty());
}

TEST(BucketStorageTest, ReadTellsTheEndWithTheRecords) {
  Executor ex(2);
  auto b = make_bucket(ex);
  ASSERT_TRUE(put_sync(*b, batch_of(0, 5)).ok());
  auto read = [&](uint64_t off, size_t limit) {
    std::promise<std::pair<Result<RecordBatch>, Offset>> p;
    b->read(Offset(off), limit, [&](Result<RecordBatch> r, Offset end, Offset) { p.set_value({std::move(r), end}); });
    return p.get_future().get();
  };
  auto [some, end] = read(3, 10);
  ASSERT_TRUE(some.ok());
  EXPECT_EQ(end.value(), 5u);
  ASSERT_EQ(some->size(), 2u);
  EXPECT_EQ(*some->decode(0), rec(3));
  auto [none, end_too] = read(5, 10);  // at the end: empty, never parked
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(end_too.value(), 5u);
  auto [past, end3] = read(6, 10);  // past the end: OutOfRange, naming the bucket
  EXPECT_EQ(past.status().code(), Code::kOutOfRange);
  EXPECT_NE(past.status().message().find("bucket 0"), std::string::npos);
  EXPECT_EQ(end3.value(), 5u);
}

TEST(BucketStorageTest, ConcurrentPutsGetDenseDistinctOffsets) {
  Executor ex(2);
  auto b = make_bucket(ex);
  constexpr int kThreads = 8, kPuts = 200;
  std::vector<std::thread> threads;
  std::mutex mu;
  std::set<uint64_t> firsts;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPuts; ++i) {
        auto r = put_sync(*b, batch_of(t * 100000 + i * 3, 3));
        ASSERT_TRUE(r.ok());
        std::lock_guard<std::mutex> lock(mu);
        firsts.insert(r->value());
      }
    });
  }
  for (auto& t : threads) t.join();
  // Each 3-record batch got its own contiguous range: firsts are exactly 0, 3, 6, ...
  ASSERT_EQ(firsts.size(), static_cast<size_t>(kThreads * kPuts));
  uint64_t expect = 0;
  for (uint64_t f : firsts) {
    EXPECT_EQ(f, expect);
    expect += 3;
  }
  // And each batch's records stayed together, in order.
  auto all = get_async(*b, 0, kThreads * kPuts * 3, 0ms).get();
  ASSERT_EQ(all->size(), static_cast<size_t>(kThreads * kPuts * 3));
  for (size_t i = 0; i < all->size(); i += 3) {
    int64_t a = all->decode(i)->find("id")->as_int();
    EXPECT_EQ(all->decode(i + 1)->find("id")->as_int(), a + 1);
    EXPECT_EQ(all->decode(i + 2)->find("id")->as_int(), a + 2);
  }
}

TEST(BucketStorageTest, ParkedReaderIsWokenByPut) {
  Executor ex(2);
  auto b = make_bucket(ex);
  auto t0 = std::chrono::steady_clock::now();
  auto f = get_async(*b, 0, 10, 120s);
  EXPECT_EQ(f.wait_for(50ms), std::future_status::timeout);  // parked: nothing to return yet
  ASSERT_TRUE(put_sync(*b, batch_of(0, 2)).ok());
  auto got = f.get();
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->size(), 2u);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 60s);  // woken by the put, not the deadline
}

TEST(BucketStorageTest, ParkedReaderAtLaterOffsetWaitsForItsOffset) {
  Executor ex(2);
  auto b = make_bucket(ex);
  ASSERT_TRUE(put_sync(*b, batch_of(0, 2)).ok());
  auto f = get_async(*b, 3, 10, 120s);
  ASSERT_TRUE(put_sync(*b, batch_of(2, 1)).ok());  // offset 2: not yet what the reader wants
  EXPECT_EQ(f.wait_for(50ms), std::future_status::timeout);
  ASSERT_TRUE(put_sync(*b, batch_of(3, 1)).ok());
  auto got = f.get();
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ(*got->decode(0), rec(3));
}

TEST(BucketStorageTest, ParkedReaderGetsEmptyAtDeadline) {
  Executor ex(2);
  auto b = make_bucket(ex);
  auto t0 = std::chrono::steady_clock::now();
  auto got = get_async(*b, 0, 10, 100ms).get();
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->empty());
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 100ms);
}

TEST(BucketStorageTest, CancelCompletesParkedReaderEmpty) {
  Executor ex(2);
  auto b = make_bucket(ex);
  auto f = get_async(*b, 0, 10, 120s, /*id=*/77);
  b->cancel_wait(77);
  auto got = f.get();
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->empty());
  // The id is free again.
  auto g = get_async(*b, 0, 10, 120s, 77);
  ASSERT_TRUE(put_sync(*b, batch_of(0, 1)).ok());
  EXPECT_EQ(g.get()->size(), 1u);
}

TEST(BucketStorageTest, ReusingAParkedIdIsRefused) {
  Executor ex(2);
  auto b = make_bucket(ex);
  auto first = get_async(*b, 0, 10, 120s, 5);
  auto second = get_async(*b, 0, 10, 120s, 5);
  auto r = second.get();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  b->cancel_wait(5);
  EXPECT_TRUE(first.get()->empty());
}

// Thousands of parked readers on a 2-thread pool: none holds a thread, and one put wakes all.
TEST(BucketStorageTest, ThousandsOfParkedReadersNeedNoThreads) {
  Executor ex(2);
  auto b = make_bucket(ex);
  constexpr int kReaders = 5000;
  std::vector<std::future<Result<RecordBatch>>> fs;
  for (int i = 0; i < kReaders; ++i) fs.push_back(get_async(*b, 0, 1, 120s));
  // The pool still serves other work while they are parked.
  ASSERT_TRUE(put_sync(*b, batch_of(0, 1)).ok());
  for (auto& f : fs) {
    auto r = f.get();
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->size(), 1u);
  }
  EXPECT_EQ(ex.threads(), 2u);
}

TEST(BucketStorageTest, CloseFailsParkedReadersAndLaterCalls) {
  Executor ex(2);
  auto b = make_bucket(ex);
  auto parked = get_async(*b, 0, 10, 120s);
  std::promise<Status> closed;
  b->close([&](Status s) { closed.set_value(s); });
  EXPECT_TRUE(closed.get_future().get().ok());
  auto r = parked.get();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  auto p = put_sync(*b, batch_of(0, 1));
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("closed"), std::string::npos);
}

TEST(BucketStorageTest, StatsIncludeBackendCountsAndParkedReaders) {
  Executor ex(2);
  auto b = make_bucket(ex);
  ASSERT_TRUE(put_sync(*b, batch_of(0, 4)).ok());
  auto parked = get_async(*b, 4, 1, 120s, 9);
  std::promise<BucketStats> p;
  b->stats([&](BucketStats s) { p.set_value(std::move(s)); });
  BucketStats s = p.get_future().get();
  EXPECT_EQ(s.total_count, 4u);
  EXPECT_EQ(s.parked_readers, 1u);
  EXPECT_EQ(s.topic, "t");
  // The JSON edge keeps the documented keys.
  Object o = s.to_object();
  EXPECT_EQ(o.find("total_count")->as_int(), 4);
  EXPECT_EQ(o.find("parked_readers")->as_int(), 1);
  EXPECT_EQ(o.find("topic")->as_string(), "t");
  b->cancel_wait(9);
  EXPECT_TRUE(parked.get()->empty());
}

namespace {
// A backend that acknowledges puts later, from its own thread (as one waiting on an fsync does).
class DeferredBackend final : public StorageBackend {
 public:
  ~DeferredBackend() override {
    for (auto& t : threads_) t.join();
  }
  std::string name() const override { return "deferred"; }
  Result<Offset> put_batch(const RecordBatch& b) override { return inner_.put_batch(b); }
  void put_batch_async(RecordBatch b, std::function<void(Result<Offset>)> done) override {
    threads_.emplace_back([this, b, done = std::move(done)] {
      std::this_thread::sleep_for(20ms);
      done(inner_.put_batch(b));  // visible only now
    });
  }
  Result<RecordBatch> get(Offset o, size_t l) override { return inner_.get(o, l); }
  Status flush() override { return Status::OK(); }
  BucketStats stats() const override { return inner_.stats(); }
  uint64_t total_count() const override { return inner_.total_count(); }
  bool durable() const override { return false; }
  bool end_moves_only_by_puts() const override { return true; }

 private:
  MemoryBackend inner_;
  std::vector<std::thread> threads_;
};
}  // namespace

TEST(BucketStorageTest, LateAcknowledgementsWakeParkedReaders) {
  Executor ex(2);
  auto b = std::make_shared<BucketStorage>(ex, "t", BucketId(0), std::make_unique<DeferredBackend>());
  auto parked = get_async(*b, 0, 10, 120s);
  auto put = put_sync(*b, batch_of(0, 2));  // acknowledged from the backend's thread
  ASSERT_TRUE(put.ok());
  EXPECT_EQ(put->value(), 0u);
  auto got = parked.get();
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->size(), 2u);
  std::promise<Status> closed;
  b->close([&](Status s) { closed.set_value(s); });
  EXPECT_TRUE(closed.get_future().get().ok());
}

// A late acknowledgement posts the readers' wake-up only when one may be parked: a reader that
// was answered at once (nothing parked after it) must not hide one that parks later.
TEST(BucketStorageTest, LateAcknowledgementsWakeAReaderParkedAfterOneAnsweredAtOnce) {
  Executor ex(2);
  auto b = std::make_shared<BucketStorage>(ex, "t", BucketId(0), std::make_unique<DeferredBackend>());
  ASSERT_TRUE(put_sync(*b, batch_of(0, 2)).ok());  // nobody parked: no wake-up posted
  auto at_once = get_async(*b, 0, 10, 120s).get();  // data there: answered without parking
  ASSERT_TRUE(at_once.ok());
  EXPECT_EQ(at_once->size(), 2u);
  auto parked = get_async(*b, 2, 10, 120s);
  auto put = put_sync(*b, batch_of(2, 3));
  ASSERT_TRUE(put.ok());
  EXPECT_EQ(put->value(), 2u);
  auto got = parked.get();
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->size(), 3u);
  std::promise<Status> closed;
  b->close([&](Status s) { closed.set_value(s); });
  EXPECT_TRUE(closed.get_future().get().ok());
}

// A read at the end lets readers skip the bucket (known_empty_at) only until a put is
// acknowledged: a writer that hears its put has gone through reads its records next.
TEST(BucketStorageTest, KnownEmptyAtTheEndUntilAPutIsAcknowledged) {
  Executor ex(2);
  auto b = std::make_shared<BucketStorage>(ex, "t", BucketId(0), std::make_unique<DeferredBackend>());
  EXPECT_FALSE(b->known_empty_at(Offset(0)));  // nothing read yet
  ASSERT_TRUE(get_async(*b, 0, 10, 0ms).get()->empty());
  EXPECT_TRUE(b->known_empty_at(Offset(0)));
  EXPECT_FALSE(b->known_empty_at(Offset(1)));
  ASSERT_TRUE(put_sync(*b, batch_of(0, 2)).ok());  // acknowledged from the backend's thread
  EXPECT_FALSE(b->known_empty_at(Offset(0)));
  auto got = get_async(*b, 0, 10, 0ms).get();
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->size(), 2u);
  EXPECT_FALSE(b->known_empty_at(Offset(0)));  // records there
  EXPECT_TRUE(b->known_empty_at(Offset(2)));   // the read's last record was the bucket's last
  ASSERT_TRUE(get_async(*b, 2, 10, 0ms).get()->empty());
  EXPECT_TRUE(b->known_empty_at(Offset(2)));
  std::promise<Status> closed;
  b->close([&](Status s) { closed.set_value(s); });
  EXPECT_TRUE(closed.get_future().get().ok());
  EXPECT_FALSE(b->known_empty_at(Offset(2)));
}

// A read that stops short of the end (its limit, or a put completed meanwhile) notes nothing
// there: the reader asks again.
TEST(BucketStorageTest, AReadThatStopsShortOfTheEndIsNotKnownEmptyWhereItStopped) {
  Executor ex(2);
  auto b = std::make_shared<BucketStorage>(ex, "t", BucketId(0), std::make_unique<DeferredBackend>());
  ASSERT_TRUE(put_sync(*b, batch_of(0, 3)).ok());
  auto got = get_async(*b, 0, 2, 0ms).get();
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->size(), 2u);
  EXPECT_FALSE(b->known_empty_at(Offset(2)));  // record 2 is there
  got = get_async(*b, 2, 2, 0ms).get();
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->size(), 1u);
  EXPECT_TRUE(b->known_empty_at(Offset(3)));
  ASSERT_TRUE(put_sync(*b, batch_of(3, 1)).ok());
  EXPECT_FALSE(b->known_empty_at(Offset(3)));  // a put completed since
  std::promise<Status> closed;
  b->close([&](Status s) { closed.set_value(s); });
  EXPECT_TRUE(closed.get_future().get().ok());
}
