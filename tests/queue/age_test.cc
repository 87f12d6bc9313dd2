// Append times and age retention through the Queue (docs/records.md "Append time",
// docs/retention.md): Message.timestamp, TopicReader::seek_to_time, retention_ms set, stored,
// altered and refused when bad, and applied while a writer and a reader run. The clock is a
// ManualScheduler (QueueOptions::scheduler): no sleeps.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "persisting/json.h"
#include "persisting/queue.h"
#include "queue/topic_meta.h"
#include "util/manual_scheduler.h"
#include "util/temp_dir.h"

using namespace persisting;
using persisting::testing::ManualScheduler;
using persisting::testing::TempDir;

namespace {

constexpr int64_t kT0 = ManualScheduler::kWallStart;

class QueueAge : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto q = Queue::open({.data_dir = dir_.path(), .threads = 2, .scheduler = &sched_});
    ASSERT_TRUE(q.ok()) << q.status().to_string();
    q_ = std::move(q).value();
  }
  WriterOptions options(Retention r = {}) const {
    WriterOptions w;
    w.topic = "events";
    w.num_buckets = 1;
    w.batch_size = 1000000;  // fragments only where the test flushes
    w.backend = GetParam();
    w.backend_options["flush_interval"] = "0";
    w.retention = r;
    return w;
  }
  static void put(TopicWriter& w, int from, int n, bool flush) {
    std::vector<Record> batch;
    for (int i = from; i < from + n; ++i) batch.push_back(Record{{"id", "k"}, {"i", i}});
    ASSERT_TRUE(w.put(batch).ok());
    if (flush) {
      ASSERT_TRUE(w.flush().ok());
    }
  }
  uint64_t first_offset() {
    auto st = q_->stats("events");
    EXPECT_TRUE(st.ok()) << st.status().to_string();
    return st.ok() ? st->find("buckets")->as_list()[0].as_object().find("first_offset")->as_int() : 0;
  }

  TempDir dir_;
  ManualScheduler sched_;
  std::unique_ptr<Queue> q_;
};

TEST_P(QueueAge, MessagesCarryTimestampsAndSeekToTimeFindsTheFirstOffset) {
  auto w = q_->writer(options());
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  put(**w, 0, 5, /*flush=*/true);  // 0..4 at T0
  sched_.advance(std::chrono::seconds(10));
  put(**w, 5, 5, true);  // 5..9 at T0+10s
  sched_.advance(std::chrono::seconds(10));
  put(**w, 10, 5, false);  // 10..14 at T0+20s, buffered
  auto r = q_->reader({.topic = "events"});
  ASSERT_TRUE(r.ok());
  auto got = (*r)->get(100);
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  ASSERT_EQ(got->size(), 15u);
  for (const Message& m : *got) EXPECT_EQ(m.timestamp, kT0 + 10'000 * (m.offset.value() / 5)) << m.offset.value();

  ASSERT_TRUE((*r)->seek_to_time(kT0 + 1).ok());
  EXPECT_EQ((*r)->offsets(), std::vector<Offset>{Offset(5)});
  ASSERT_TRUE((*r)->seek_to_time(kT0 + 20'000).ok());
  EXPECT_EQ((*r)->offsets(), std::vector<Offset>{Offset(10)});
  ASSERT_TRUE((*r)->seek_to_time(kT0 + 20'001).ok());
  EXPECT_EQ((*r)->offsets(), std::vector<Offset>{Offset(15)});  // none that recent: the end
  ASSERT_TRUE((*r)->seek_to_time(0).ok());
  EXPECT_EQ((*r)->offsets(), std::vector<Offset>{Offset(0)});
  got = (*r)->get(1);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ(got->at(0).offset.value(), 0u);

  // A negative time is refused and moves nothing.
  Status s = (*r)->seek_to_time(-1);
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.to_string();
  EXPECT_EQ((*r)->offsets(), std::vector<Offset>{Offset(1)});
}

TEST_P(QueueAge, RetentionMsIsStoredAlteredAndRefusedWhenBad) {
  auto bad = q_->writer(options({.ms = 0}));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("retention_ms"), std::string::npos) << bad.status().to_string();
  EXPECT_EQ(q_->topic("events").status().code(), Code::kNotFound);
  bad = q_->writer(options({.ms = uint64_t{1} << 63}));
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);

  auto w = q_->writer(options({.ms = 60'000}));
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  auto stored = queue::load_topic_meta(Env::Default(), dir_.path(), "events");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->retention, (Retention{.ms = 60'000}));
  // A bad alter changes nothing.
  Status s = q_->alter_topic("events", {.ms = 0});
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.to_string();
  stored = queue::load_topic_meta(Env::Default(), dir_.path(), "events");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->retention, (Retention{.ms = 60'000}));
  // Altered: the new limit applies at once.
  put(**w, 0, 10, true);
  sched_.advance(std::chrono::seconds(30));
  put(**w, 10, 10, true);
  ASSERT_TRUE(q_->alter_topic("events", {.ms = 20'000}).ok());  // fragment 0 is 30 s old
  EXPECT_EQ(first_offset(), 10u);
  stored = queue::load_topic_meta(Env::Default(), dir_.path(), "events");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->retention, (Retention{.ms = 20'000}));
}

TEST_P(QueueAge, AgeRetentionWithAWriterAndAReader) {
  auto w = q_->writer(options({.ms = 5'000}));
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  constexpr int kBatches = 40, kBatch = 10;
  std::atomic<int> written{0};
  std::thread writer([&] {
    for (int b = 0; b < kBatches; ++b) {
      std::vector<Record> batch;
      for (int k = 0; k < kBatch; ++k) batch.push_back(Record{{"id", "k"}, {"n", b * kBatch + k}});
      EXPECT_TRUE((*w)->put(batch).ok());
      EXPECT_TRUE((*w)->flush().ok());  // a fragment per batch
      written = b + 1;
    }
  });
  // The reader follows while the clock moves one second per batch: fragments older than 5 s go
  // (by the writer's flushes and the periodic look). Offsets only grow, times never go down, and
  // an overtaken reader gets OutOfRange and moves to the first offset.
  auto r = q_->reader({.topic = "events"});
  ASSERT_TRUE(r.ok());
  uint64_t next = 0;
  int64_t last_time = 0;
  int advanced = 0;
  // Bounded in rounds and in (real) time. Under load the writer's flushes are slow, so the bound
  // must not be a count of rounds alone: a reader that caught up waits for the writer.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  for (int round = 0; round < 1000000 && std::chrono::steady_clock::now() < give_up; ++round) {
    // The clock moves a second per batch written (not per round: a clock racing ahead of the
    // writer would make the periodic look flush at every round and starve the writer's flushes).
    if (advanced < written) {
      sched_.advance(std::chrono::seconds(1));
      ++advanced;
    } else if (written < kBatches) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));  // pacing, not synchronisation
    }
    auto got = (*r)->get(7);
    if (!got.ok()) {
      ASSERT_EQ(got.status().code(), Code::kOutOfRange) << got.status().to_string();
      const uint64_t first = first_offset();
      ASSERT_GT(first, next);
      ASSERT_TRUE((*r)->set_offset(Offset(first)).ok());
      next = first;
      continue;
    }
    for (const Message& m : *got) {
      ASSERT_EQ(m.offset.value(), next);
      EXPECT_EQ(m.record.find("n")->as_int(), static_cast<int64_t>(next));
      EXPECT_GE(m.timestamp, last_time);
      last_time = m.timestamp;
      ++next;
    }
    if (got->empty() && written == kBatches && next == static_cast<uint64_t>(kBatches * kBatch)) break;
  }
  writer.join();
  EXPECT_EQ(next, static_cast<uint64_t>(kBatches * kBatch));
  // Quiet now: the periodic look removes every fragment but the newest once they expire. (A
  // compaction may have merged the last few fragments into that newest one, when the writer got
  // ahead of the clock: then it starts before 390.)
  sched_.advance(std::chrono::minutes(2));
  auto st = q_->stats("events");
  ASSERT_TRUE(st.ok()) << st.status().to_string();
  const Object& b = st->find("buckets")->as_list()[0].as_object();
  const std::string why = "pending tasks " + std::to_string(sched_.pending()) + "; stats " + to_json(*st);
  EXPECT_EQ(b.find("fragments")->as_int(), 1) << why;
  EXPECT_GT(b.find("first_offset")->as_int(), 0) << why;
  EXPECT_LE(b.find("first_offset")->as_int(), (kBatches - 1) * kBatch) << why;
}

INSTANTIATE_TEST_SUITE_P(Backends, QueueAge, ::testing::Values("lance", "persisting"));

}  // namespace
