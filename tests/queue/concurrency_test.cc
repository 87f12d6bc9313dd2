// 4 producers and 4 consumers at once: nothing lost, nothing duplicated, per-bucket order kept.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <thread>

#include "persisting/queue.h"

using namespace persisting;
using namespace std::chrono_literals;

TEST(ConcurrencyTest, FourProducersFourConsumersLoseAndDuplicateNothing) {
  constexpr int kProducers = 4, kConsumers = 4, kBatches = 200, kBatch = 50;
  constexpr int64_t kTotal = int64_t{kProducers} * kBatches * kBatch;
  auto q = std::move(Queue::open({.threads = 2})).value();
  auto w = std::move(q->writer({.topic = "t", .bucket_column = "key", .num_buckets = 8})).value();

  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      int64_t seq = 0;
      for (int b = 0; b < kBatches; ++b) {
        std::vector<Record> batch;
        for (int i = 0; i < kBatch; ++i, ++seq)
          batch.push_back(Record{{"key", "p" + std::to_string(p) + "-" + std::to_string(seq % 13)},
                                 {"producer", p}, {"seq", seq}});
        ASSERT_TRUE(w->put(batch).ok());
      }
    });
  }

  std::atomic<int64_t> consumed{0};
  std::vector<std::vector<Message>> got(kConsumers);
  std::vector<std::thread> consumers;
  for (int c = 0; c < kConsumers; ++c) {
    consumers.emplace_back([&, c] {
      auto r = std::move(q->reader({.topic = "t", .rank = static_cast<uint32_t>(c), .world_size = kConsumers})).value();
      auto deadline = std::chrono::steady_clock::now() + 120s;  // bounded even if something is lost
      while (consumed.load() < kTotal && std::chrono::steady_clock::now() < deadline) {
        auto msgs = r->get(100, /*wait=*/true, 20ms);
        ASSERT_TRUE(msgs.ok());
        consumed += static_cast<int64_t>(msgs->size());
        for (auto& m : *msgs) got[c].push_back(std::move(m));
      }
    });
  }
  for (auto& t : producers) t.join();
  for (auto& t : consumers) t.join();

  ASSERT_EQ(consumed.load(), kTotal);
  std::map<std::pair<int64_t, int64_t>, int> seen;            // (producer, seq) -> count
  std::map<uint32_t, uint64_t> next_offset;                    // per bucket
  std::map<std::pair<uint32_t, int64_t>, int64_t> last_seq;    // (bucket, producer) -> seq
  for (int c = 0; c < kConsumers; ++c) {
    for (const auto& m : got[c]) {
      uint32_t b = m.bucket.value();
      EXPECT_EQ(b % kConsumers, static_cast<uint32_t>(c));
      // Offsets of one bucket arrive dense and in order.
      EXPECT_EQ(m.offset.value(), next_offset[b]) << "bucket " << b;
      next_offset[b] = m.offset.value() + 1;
      int64_t p = m.record.find("producer")->as_int(), seq = m.record.find("seq")->as_int();
      seen[{p, seq}]++;
      // One producer's records keep their order inside a bucket.
      auto key = std::make_pair(b, p);
      if (last_seq.count(key)) {
        EXPECT_GT(seq, last_seq[key]);
      }
      last_seq[key] = seq;
    }
  }
  EXPECT_EQ(static_cast<int64_t>(seen.size()), kTotal);
  for (const auto& [k, n] : seen) ASSERT_EQ(n, 1) << "producer " << k.first << " seq " << k.second;
}
