// queue::fetch over many buckets: a bucket known to hold nothing past the reader's offset is not
// asked (BucketStorage::known_empty_at), and a skip never hides an acknowledged record.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

#include "backend/memory_backend.h"
#include "queue/fetch.h"
#include "runtime/bucket_storage.h"

using namespace persisting;
using namespace std::chrono_literals;

namespace {

// The memory backend, counting the gets that reach it. With own_end false it says its end may
// move without a put (as a bucket opened to read, which reloads what another process wrote).
class CountingBackend final : public StorageBackend {
 public:
  CountingBackend(std::atomic<int>* gets, bool own_end) : gets_(gets), own_end_(own_end) {}
  std::string name() const override { return "counting"; }
  Result<Offset> put_batch(const RecordBatch& b) override { return inner_.put_batch(b); }
  Result<RecordBatch> get(Offset o, size_t l) override {
    gets_->fetch_add(1);
    return inner_.get(o, l);
  }
  Status flush() override { return Status::OK(); }
  BucketStats stats() const override { return inner_.stats(); }
  uint64_t total_count() const override { return inner_.total_count(); }
  bool durable() const override { return false; }
  bool end_moves_only_by_puts() const override { return own_end_; }

 private:
  MemoryBackend inner_;
  std::atomic<int>* gets_;
  bool own_end_;
};

RecordBatch batch_of(int n) {
  RecordBatch b;
  for (int i = 0; i < n; ++i) b.add(Record{{"id", i}});
  return b;
}

struct Buckets {
  explicit Buckets(size_t n, bool own_end = true) : ex(2) {
    for (size_t i = 0; i < n; ++i)
      actors.push_back(std::make_shared<runtime::BucketStorage>(
          ex, "t", BucketId(i), std::make_unique<CountingBackend>(&gets, own_end)));
  }
  ~Buckets() {
    for (auto& a : actors) {
      std::promise<void> p;
      a->close([&](Status) { p.set_value(); });
      p.get_future().wait();
    }
  }
  Status put(size_t bucket, int n) {
    std::promise<Result<Offset>> p;
    actors[bucket]->put(batch_of(n), [&](Result<Offset> r) { p.set_value(std::move(r)); });
    return p.get_future().get().status();
  }
  Result<std::vector<RecordBatch>> fetch(const std::vector<uint64_t>& offsets, bool wait = false,
                                         std::chrono::milliseconds timeout = 0ms) {
    std::promise<Result<std::vector<RecordBatch>>> p;
    queue::fetch(actors, offsets, 100, wait, timeout, wait ? queue::next_waiter_id() : 0,
                 [&](Result<std::vector<RecordBatch>> r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }
  runtime::Executor ex;
  std::atomic<int> gets{0};
  queue::Actors actors;
};

}  // namespace

TEST(FetchTest, ABucketReadToItsEndIsNotAskedAgainUntilAPut) {
  Buckets b(4);
  ASSERT_TRUE(b.put(1, 3).ok());
  auto first = b.fetch({0, 0, 0, 0});
  ASSERT_TRUE(first.ok());
  EXPECT_EQ((*first)[1].size(), 3u);
  EXPECT_EQ(b.gets.load(), 4);

  // Buckets 0, 2 and 3 were read at their end: asking again reaches only bucket 1.
  auto again = b.fetch({0, 3, 0, 0});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(b.gets.load(), 5);
  for (const auto& r : *again) EXPECT_TRUE(r.empty());
  // Now all four are known empty at those offsets: nothing is asked.
  ASSERT_TRUE(b.fetch({0, 3, 0, 0}).ok());
  EXPECT_EQ(b.gets.load(), 5);

  // A put acknowledged to bucket 2 is seen by the very next fetch.
  ASSERT_TRUE(b.put(2, 2).ok());
  auto after = b.fetch({0, 3, 0, 0});
  ASSERT_TRUE(after.ok());
  EXPECT_EQ((*after)[2].size(), 2u);
  EXPECT_EQ(b.gets.load(), 6);

  // Another offset than the one read at the end is asked (it may be an error, or a rewind).
  auto rewind = b.fetch({0, 0, 2, 0});
  ASSERT_TRUE(rewind.ok());
  EXPECT_EQ((*rewind)[1].size(), 3u);
}

TEST(FetchTest, AWaitingFetchOfBucketsKnownEmptyParksAndIsWokenByAPut) {
  Buckets b(3);
  ASSERT_TRUE(b.fetch({0, 0, 0}).ok());  // every bucket read at its end
  auto waiting = std::async(std::launch::async, [&] { return b.fetch({0, 0, 0}, true, 60s); });
  // Once a reader is parked in each bucket, a put to bucket 2 answers the fetch with it.
  auto parked = [&] {
    for (const BucketStats& s : runtime::stats_of(b.actors))
      if (s.parked_readers != 1) return false;
    return true;
  };
  for (int i = 0; i < 60000 && !parked(); ++i) std::this_thread::sleep_for(1ms);
  ASSERT_TRUE(parked());
  ASSERT_TRUE(b.put(2, 1).ok());
  auto got = waiting.get();
  ASSERT_TRUE(got.ok());
  EXPECT_EQ((*got)[2].size(), 1u);
}

TEST(FetchTest, AClosedBucketIsNeverTakenForAnEmptyOne) {
  Buckets b(2);
  ASSERT_TRUE(b.fetch({0, 0}).ok());
  std::promise<void> p;
  b.actors[0]->close([&](Status) { p.set_value(); });
  p.get_future().wait();
  EXPECT_FALSE(b.actors[0]->known_empty_at(Offset(0)));
  auto r = b.fetch({0, 0});
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.status().to_string().find("closed"), std::string::npos) << r.status().to_string();
}

TEST(FetchTest, ABucketWhoseEndMovesWithoutPutsIsAlwaysAsked) {
  Buckets b(2, /*own_end=*/false);
  ASSERT_TRUE(b.fetch({0, 0}).ok());
  ASSERT_TRUE(b.fetch({0, 0}).ok());
  EXPECT_EQ(b.gets.load(), 4);
  EXPECT_FALSE(b.actors[0]->known_empty_at(Offset(0)));
}
