// queue::fetch over many buckets: a bucket known to hold nothing past the reader's offset is not
// asked (BucketStorage::known_empty_at), and a skip never hides an acknowledged record. Buckets
// sharing a topic signal (runtime::AppendSignal) are waited on once, not parked in one by one.
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
  // with_signal: the buckets share one topic signal, as a node's StorageManager makes them.
  explicit Buckets(size_t n, bool own_end = true, bool with_signal = false) : ex(2) {
    if (with_signal) signal = std::make_shared<runtime::AppendSignal>(ex);
    for (size_t i = 0; i < n; ++i)
      actors.push_back(std::make_shared<runtime::BucketStorage>(
          ex, "t", BucketId(i), std::make_unique<CountingBackend>(&gets, own_end), signal));
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
  // Starts a waiting fetch of the given actors; its answer comes through the future. With
  // idle actors and a signal, the wait is registered before this returns.
  std::future<Result<std::vector<RecordBatch>>> fetch_waiting(const queue::Actors& which, uint64_t id,
                                                              std::chrono::milliseconds timeout = 60s) {
    auto p = std::make_shared<std::promise<Result<std::vector<RecordBatch>>>>();
    auto f = p->get_future();
    queue::fetch(which, std::vector<uint64_t>(which.size(), 0), 100, true, timeout, id,
                 [p](Result<std::vector<RecordBatch>> r) { p->set_value(std::move(r)); });
    return f;
  }
  size_t parked_in_buckets() {
    size_t n = 0;
    for (const auto& s : runtime::stats_of(actors)) n += s.parked_readers;
    return n;
  }
  runtime::Executor ex;
  std::shared_ptr<runtime::AppendSignal> signal;
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

  // Buckets 0, 2 and 3 were read at their end, and bucket 1 up to its end (its last record
  // came back): asking again where each stopped reaches none of them.
  auto again = b.fetch({0, 3, 0, 0});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(b.gets.load(), 4);
  for (const auto& r : *again) EXPECT_TRUE(r.empty());

  // A put acknowledged to bucket 2 is seen by the very next fetch.
  ASSERT_TRUE(b.put(2, 2).ok());
  auto after = b.fetch({0, 3, 0, 0});
  ASSERT_TRUE(after.ok());
  EXPECT_EQ((*after)[2].size(), 2u);
  EXPECT_EQ(b.gets.load(), 5);
  // So is a put to bucket 1, read up to its end before.
  ASSERT_TRUE(b.put(1, 1).ok());
  auto more = b.fetch({0, 3, 2, 0});
  ASSERT_TRUE(more.ok());
  EXPECT_EQ((*more)[1].size(), 1u);
  EXPECT_EQ(b.gets.load(), 6);

  // Another offset than the one read at the end is asked (it may be an error, or a rewind).
  auto rewind = b.fetch({0, 0, 2, 0});
  ASSERT_TRUE(rewind.ok());
  EXPECT_EQ((*rewind)[1].size(), 4u);
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

// A reader caught up with many buckets of one topic waits once, on the topic's signal (each
// bucket's parked_readers stat counts it), and a put into one of them wakes it with that
// bucket's records, asking only that bucket again.
TEST(FetchTest, ACaughtUpReaderWaitsOnceOnItsTopicNotInEachBucket) {
  Buckets b(64, /*own_end=*/true, /*with_signal=*/true);
  const uint64_t id = queue::next_waiter_id();
  auto waiting = b.fetch_waiting(b.actors, id);
  EXPECT_EQ(b.gets.load(), 64);  // each asked once, all empty
  EXPECT_EQ(b.signal->waiting(), 1u);  // one waiter, which each bucket counts as parked on it
  EXPECT_EQ(b.parked_in_buckets(), 64u);
  ASSERT_TRUE(b.put(37, 2).ok());
  auto got = waiting.get();
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  for (size_t i = 0; i < got->size(); ++i) EXPECT_EQ((*got)[i].size(), i == 37 ? 2u : 0u) << "bucket " << i;
  EXPECT_EQ(b.gets.load(), 65);
  EXPECT_EQ(b.signal->waiting(), 0u);
}

// A put into a bucket the waiting reader does not read leaves it waiting; one into its own wakes it.
TEST(FetchTest, AReaderWaitingOnItsTopicIsWokenOnlyByItsOwnBuckets) {
  Buckets b(4, /*own_end=*/true, /*with_signal=*/true);
  auto waiting = b.fetch_waiting({b.actors[0], b.actors[1]}, queue::next_waiter_id());
  ASSERT_EQ(b.signal->waiting(), 1u);
  const int asked = b.gets.load();
  ASSERT_TRUE(b.put(3, 1).ok());  // its notify has run when the put is answered
  EXPECT_EQ(b.signal->waiting(), 1u);
  EXPECT_EQ(b.gets.load(), asked);
  ASSERT_TRUE(b.put(1, 1).ok());
  auto got = waiting.get();
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  EXPECT_EQ((*got)[0].size(), 0u);
  EXPECT_EQ((*got)[1].size(), 1u);
}

// The wait ends empty at its deadline, or at once when cancelled; a bucket closed meanwhile
// answers its error.
TEST(FetchTest, AWaitOnTheTopicEndsAtItsDeadlineOnCancelOrWhenABucketCloses) {
  Buckets b(8, /*own_end=*/true, /*with_signal=*/true);
  auto timed = b.fetch_waiting(b.actors, queue::next_waiter_id(), 20ms);
  auto got = timed.get();
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  for (const auto& batch : *got) EXPECT_TRUE(batch.empty());
  EXPECT_EQ(b.signal->waiting(), 0u);

  const uint64_t id = queue::next_waiter_id();
  auto cancelled = b.fetch_waiting(b.actors, id);
  ASSERT_EQ(b.signal->waiting(), 1u);
  queue::cancel_fetch(b.actors, id);
  got = cancelled.get();
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  for (const auto& batch : *got) EXPECT_TRUE(batch.empty());

  auto closing = b.fetch_waiting(b.actors, queue::next_waiter_id());
  ASSERT_EQ(b.signal->waiting(), 1u);
  std::promise<void> p;
  b.actors[5]->close([&](Status) { p.set_value(); });
  p.get_future().wait();
  got = closing.get();
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.status().to_string().find("closed"), std::string::npos) << got.status().to_string();
}

// A cancel that comes while the fetch is still asking its buckets (before it waits on the
// signal) is not lost: the wait, when it comes, ends at once, empty, instead of at its deadline.
TEST(FetchTest, ACancelBeforeTheFetchWaitsEndsItsWaitAtOnce) {
  Buckets b(8, /*own_end=*/true, /*with_signal=*/true);
  const uint64_t id = queue::next_waiter_id();
  queue::cancel_fetch(b.actors, id);
  EXPECT_EQ(b.signal->waiting(), 0u);
  auto cancelled = b.fetch_waiting(b.actors, id, 600s);  // idle actors: it would wait before returning
  ASSERT_EQ(cancelled.wait_for(0s), std::future_status::ready);
  auto got = cancelled.get();
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  for (const auto& batch : *got) EXPECT_TRUE(batch.empty());
  EXPECT_EQ(b.signal->waiting(), 0u);
  // The cancel is used up: the next fetch under another id waits, and a put wakes it.
  auto next = b.fetch_waiting(b.actors, queue::next_waiter_id());
  EXPECT_EQ(b.signal->waiting(), 1u);
  ASSERT_TRUE(b.put(2, 1).ok());
  got = next.get();
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  EXPECT_EQ((*got)[2].size(), 1u);
}

// An id already waiting on the signal is refused (answered as a passed deadline) and the waiter
// under it kept.
TEST(FetchTest, ASecondWaitUnderTheSameIdIsRefusedAndTheFirstKept) {
  Buckets b(2, /*own_end=*/true, /*with_signal=*/true);
  const uint64_t id = queue::next_waiter_id();
  auto first = b.fetch_waiting(b.actors, id);
  auto second = b.fetch_waiting(b.actors, id);
  auto refused = second.get();
  ASSERT_TRUE(refused.ok());
  for (const auto& batch : *refused) EXPECT_TRUE(batch.empty());
  EXPECT_EQ(b.signal->waiting(), 1u);
  ASSERT_TRUE(b.put(0, 3).ok());
  auto got = first.get();
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  EXPECT_EQ((*got)[0].size(), 3u);
}
