#include "kafka/broker/producer_state.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "util/manual_scheduler.h"

namespace persisting::kafka {
namespace {

using testing::ManualScheduler;

class ProducerStateTest : public ::testing::Test {
 protected:
  ManualScheduler sched;
  ProducerState state{&sched, {.first_producer_id = 1000}};

  int64_t new_producer() {
    auto r = state.init_producer_id(std::nullopt);
    EXPECT_EQ(r.error, ErrorCode::NONE) << r.message;
    return r.producer_id;
  }
  // Checks and appends a batch at base_offset; returns the verdict.
  SequenceVerdict produce(int64_t pid, int32_t seq, int32_t count, int64_t base_offset, int32_t partition = 0,
                          int16_t epoch = 0) {
    auto v = state.check("t", partition, {pid, epoch, seq, count});
    if (v.kind == SequenceVerdict::kAppend) state.appended(v.ticket, base_offset);
    return v;
  }
};

TEST_F(ProducerStateTest, InitHandsOutNewIdsAtEpochZero) {
  auto a = state.init_producer_id(std::nullopt);
  auto b = state.init_producer_id(std::nullopt);
  EXPECT_EQ(a.error, ErrorCode::NONE);
  EXPECT_EQ(a.producer_id, 1000);
  EXPECT_EQ(b.producer_id, 1001);
  EXPECT_EQ(a.producer_epoch, 0);
  EXPECT_EQ(b.producer_epoch, 0);
}

TEST_F(ProducerStateTest, TransactionalIdIsRefused) {
  auto r = state.init_producer_id(std::string("tx-1"));
  EXPECT_EQ(r.error, ErrorCode::INVALID_REQUEST);
  EXPECT_NE(r.message.find("tx-1"), std::string::npos);
  EXPECT_EQ(r.producer_id, -1);
  EXPECT_EQ(state.producer_count(), 0u);
}

TEST_F(ProducerStateTest, InOrderBatchesAreAppended) {
  int64_t pid = new_producer();
  EXPECT_EQ(produce(pid, 0, 10, 0).kind, SequenceVerdict::kAppend);
  EXPECT_EQ(produce(pid, 10, 5, 10).kind, SequenceVerdict::kAppend);
  EXPECT_EQ(produce(pid, 15, 1, 15).kind, SequenceVerdict::kAppend);
}

TEST_F(ProducerStateTest, RetriedBatchGetsItsOriginalOffset) {
  int64_t pid = new_producer();
  ASSERT_EQ(produce(pid, 0, 10, 100).kind, SequenceVerdict::kAppend);
  ASSERT_EQ(produce(pid, 10, 10, 110).kind, SequenceVerdict::kAppend);
  auto again = state.check("t", 0, {pid, 0, 0, 10});
  EXPECT_EQ(again.kind, SequenceVerdict::kDuplicate);
  EXPECT_EQ(again.base_offset, 100);
  auto again2 = state.check("t", 0, {pid, 0, 10, 10});
  EXPECT_EQ(again2.kind, SequenceVerdict::kDuplicate);
  EXPECT_EQ(again2.base_offset, 110);
  // The retry changed nothing: the next batch still follows.
  EXPECT_EQ(produce(pid, 20, 1, 120).kind, SequenceVerdict::kAppend);
}

TEST_F(ProducerStateTest, OnlyTheLastFiveBatchesAreRemembered) {
  int64_t pid = new_producer();
  for (int i = 0; i < 6; ++i) ASSERT_EQ(produce(pid, i * 2, 2, i * 2).kind, SequenceVerdict::kAppend);
  // Batch 0 (sequences 0..1) fell out; batch 1 (2..3) is still there.
  auto old = state.check("t", 0, {pid, 0, 0, 2});
  EXPECT_EQ(old.kind, SequenceVerdict::kError);
  EXPECT_EQ(old.error, ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
  auto kept = state.check("t", 0, {pid, 0, 2, 2});
  EXPECT_EQ(kept.kind, SequenceVerdict::kDuplicate);
  EXPECT_EQ(kept.base_offset, 2);
}

TEST_F(ProducerStateTest, GapIsOutOfOrderAndChangesNothing) {
  int64_t pid = new_producer();
  ASSERT_EQ(produce(pid, 0, 5, 0).kind, SequenceVerdict::kAppend);
  auto gap = state.check("t", 0, {pid, 0, 7, 1});
  EXPECT_EQ(gap.kind, SequenceVerdict::kError);
  EXPECT_EQ(gap.error, ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
  EXPECT_NE(gap.message.find("expected 5"), std::string::npos) << gap.message;
  EXPECT_NE(gap.message.find("topic 't'"), std::string::npos) << gap.message;
  EXPECT_EQ(produce(pid, 5, 1, 5).kind, SequenceVerdict::kAppend);
}

TEST_F(ProducerStateTest, FirstBatchOfAPartitionMustStartAtZero) {
  int64_t pid = new_producer();
  auto v = state.check("t", 3, {pid, 0, 4, 1});
  EXPECT_EQ(v.error, ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
  EXPECT_EQ(produce(pid, 0, 1, 0, /*partition=*/3).kind, SequenceVerdict::kAppend);
}

TEST_F(ProducerStateTest, SequencesArePerPartitionAndTopic) {
  int64_t pid = new_producer();
  ASSERT_EQ(produce(pid, 0, 3, 0, 0).kind, SequenceVerdict::kAppend);
  ASSERT_EQ(produce(pid, 0, 3, 0, 1).kind, SequenceVerdict::kAppend);
  auto other_topic = state.check("u", 0, {pid, 0, 0, 3});
  EXPECT_EQ(other_topic.kind, SequenceVerdict::kAppend);
  EXPECT_EQ(produce(pid, 3, 1, 3, 1).kind, SequenceVerdict::kAppend);
}

TEST_F(ProducerStateTest, UnknownProducerIdIsRefused) {
  auto v = state.check("t", 0, {42, 0, 0, 1});
  EXPECT_EQ(v.kind, SequenceVerdict::kError);
  EXPECT_EQ(v.error, ErrorCode::UNKNOWN_PRODUCER_ID);
}

TEST_F(ProducerStateTest, AfterARestartEveryProducerIdIsUnknown) {
  int64_t pid = new_producer();
  ASSERT_EQ(produce(pid, 0, 1, 0).kind, SequenceVerdict::kAppend);
  ProducerState restarted(&sched);  // ids from the wall clock: far above the old run's
  EXPECT_EQ(restarted.check("t", 0, {pid, 0, 1, 1}).error, ErrorCode::UNKNOWN_PRODUCER_ID);
  auto fresh = restarted.init_producer_id(std::nullopt);
  EXPECT_GT(fresh.producer_id, pid);
}

TEST_F(ProducerStateTest, OlderEpochIsFencedNewerMustRestartAtZero) {
  int64_t pid = new_producer();
  ASSERT_EQ(produce(pid, 0, 2, 0, 0, /*epoch=*/1).kind, SequenceVerdict::kAppend);
  EXPECT_EQ(state.check("t", 0, {pid, 0, 2, 1}).error, ErrorCode::INVALID_PRODUCER_EPOCH);
  EXPECT_EQ(state.check("t", 0, {pid, 2, 5, 1}).error, ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
  EXPECT_EQ(produce(pid, 0, 1, 2, 0, /*epoch=*/2).kind, SequenceVerdict::kAppend);
  // Epoch 1's batches are forgotten: its retry is fenced, not a duplicate.
  EXPECT_EQ(state.check("t", 0, {pid, 1, 0, 2}).error, ErrorCode::INVALID_PRODUCER_EPOCH);
}

TEST_F(ProducerStateTest, SequenceWrapsAtInt32Max) {
  int64_t pid = new_producer();
  ASSERT_EQ(produce(pid, 0, 1, 0).kind, SequenceVerdict::kAppend);
  // Walk the sequence near the top with large batches.
  int32_t seq = 1;
  int64_t off = 1;
  const int32_t big = 1 << 30;
  ASSERT_EQ(produce(pid, seq, big, off).kind, SequenceVerdict::kAppend);
  seq += big;
  off += big;
  ASSERT_EQ(produce(pid, seq, big - 2, off).kind, SequenceVerdict::kAppend);
  seq += big - 2;  // now INT32_MAX - 0: 2^31 - 1
  ASSERT_EQ(seq, std::numeric_limits<int32_t>::max());
  // A batch of 3 from INT32_MAX covers INT32_MAX, 0, 1: the next starts at 2.
  ASSERT_EQ(produce(pid, seq, 3, 5000).kind, SequenceVerdict::kAppend);
  // Sequences 0..1 came after the wrap inside that batch: not a batch of their own.
  EXPECT_EQ(state.check("t", 0, {pid, 0, 0, 2}).error, ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
  EXPECT_EQ(state.check("t", 0, {pid, 0, seq, 3}).kind, SequenceVerdict::kDuplicate);
  EXPECT_EQ(produce(pid, 2, 1, 5003).kind, SequenceVerdict::kAppend);
}

TEST_F(ProducerStateTest, RetryWhileStillAppendingIsRetriable) {
  int64_t pid = new_producer();
  auto first = state.check("t", 0, {pid, 0, 0, 4});
  ASSERT_EQ(first.kind, SequenceVerdict::kAppend);
  auto retry = state.check("t", 0, {pid, 0, 0, 4});
  EXPECT_EQ(retry.error, ErrorCode::REQUEST_TIMED_OUT);
  state.appended(first.ticket, 77);
  auto later = state.check("t", 0, {pid, 0, 0, 4});
  EXPECT_EQ(later.kind, SequenceVerdict::kDuplicate);
  EXPECT_EQ(later.base_offset, 77);
}

TEST_F(ProducerStateTest, PipelinedBatchesAreAcceptedBeforeTheFirstCompletes) {
  int64_t pid = new_producer();
  auto a = state.check("t", 0, {pid, 0, 0, 2});
  auto b = state.check("t", 0, {pid, 0, 2, 2});
  ASSERT_EQ(a.kind, SequenceVerdict::kAppend);
  ASSERT_EQ(b.kind, SequenceVerdict::kAppend);
  state.appended(a.ticket, 0);
  state.appended(b.ticket, 2);
  EXPECT_EQ(state.check("t", 0, {pid, 0, 2, 2}).base_offset, 2);
}

TEST_F(ProducerStateTest, FailedAppendIsExpectedAgain) {
  int64_t pid = new_producer();
  ASSERT_EQ(produce(pid, 0, 2, 0).kind, SequenceVerdict::kAppend);
  auto v = state.check("t", 0, {pid, 0, 2, 3});
  ASSERT_EQ(v.kind, SequenceVerdict::kAppend);
  state.append_failed(v.ticket);
  // The retry is appended (not answered as a duplicate with no offset).
  auto retry = state.check("t", 0, {pid, 0, 2, 3});
  EXPECT_EQ(retry.kind, SequenceVerdict::kAppend);
}

TEST_F(ProducerStateTest, InvalidBatchFieldsAreRefused) {
  int64_t pid = new_producer();
  EXPECT_EQ(state.check("t", 0, {pid, 0, -5, 1}).error, ErrorCode::INVALID_RECORD);
  EXPECT_EQ(state.check("t", 0, {pid, 0, 0, 0}).error, ErrorCode::INVALID_RECORD);
  EXPECT_EQ(state.check("t", 0, {pid, -1, 0, 1}).error, ErrorCode::INVALID_RECORD);
  EXPECT_EQ(produce(pid, 0, 1, 0).kind, SequenceVerdict::kAppend);
}

TEST_F(ProducerStateTest, IdleProducersExpire) {
  ProducerState s(&sched, {.producer_id_expiration = std::chrono::minutes(10), .first_producer_id = 1});
  auto a = s.init_producer_id(std::nullopt);
  sched.advance(std::chrono::minutes(5));
  auto b = s.init_producer_id(std::nullopt);
  ASSERT_EQ(s.check("t", 0, {b.producer_id, 0, 0, 1}).kind, SequenceVerdict::kAppend);
  sched.advance(std::chrono::minutes(6));
  s.init_producer_id(std::nullopt);  // sweeps: a idle 11 min, b 6 min
  EXPECT_EQ(s.check("t", 0, {a.producer_id, 0, 0, 1}).error, ErrorCode::UNKNOWN_PRODUCER_ID);
  EXPECT_EQ(s.check("t", 0, {b.producer_id, 0, 1, 1}).kind, SequenceVerdict::kAppend);
}

TEST_F(ProducerStateTest, AtMostMaxProducersLeastRecentlyUsedGoFirst) {
  ProducerState s(&sched, {.max_producers = 2, .first_producer_id = 1});
  auto a = s.init_producer_id(std::nullopt);
  sched.advance(std::chrono::seconds(1));
  auto b = s.init_producer_id(std::nullopt);
  sched.advance(std::chrono::seconds(1));
  ASSERT_EQ(s.check("t", 0, {a.producer_id, 0, 0, 1}).kind, SequenceVerdict::kAppend);  // a used last
  sched.advance(std::chrono::seconds(1));
  s.init_producer_id(std::nullopt);
  EXPECT_EQ(s.producer_count(), 2u);
  EXPECT_EQ(s.check("t", 0, {b.producer_id, 0, 0, 1}).error, ErrorCode::UNKNOWN_PRODUCER_ID);
  EXPECT_EQ(s.check("t", 0, {a.producer_id, 0, 1, 1}).kind, SequenceVerdict::kAppend);
}

TEST_F(ProducerStateTest, ConcurrentProducersNeverDuplicateOrSkip) {
  constexpr int kThreads = 4, kBatches = 500;
  std::vector<int64_t> pids;
  for (int i = 0; i < kThreads; ++i) pids.push_back(new_producer());
  std::atomic<int> appended{0}, duplicates{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kBatches; ++i) {
        auto v = state.check("t", t % 2, {pids[t], 0, i, 1});
        if (v.kind == SequenceVerdict::kAppend) {
          state.appended(v.ticket, i);
          ++appended;
        }
        // Every batch is sent twice, as a retry after a lost acknowledgement would be.
        if (state.check("t", t % 2, {pids[t], 0, i, 1}).kind == SequenceVerdict::kDuplicate) ++duplicates;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(appended.load(), kThreads * kBatches);
  EXPECT_EQ(duplicates.load(), kThreads * kBatches);
}

// A replicated partition's new leader takes the producer's state from the old leader's snapshot:
// a retry of a remembered batch is a duplicate at its offset, the next sequence is expected,
// and the producer id is known although this broker did not hand it out.
TEST_F(ProducerStateTest, ASnapshotLearnedByAnotherBrokerAnswersRetriesAndExpectsTheNextSequence) {
  const int64_t pid = new_producer();
  ASSERT_EQ(produce(pid, 0, 3, 10).kind, SequenceVerdict::kAppend);
  ASSERT_EQ(produce(pid, 3, 2, 13).kind, SequenceVerdict::kAppend);
  auto pending = state.check("t", 0, {pid, 0, 5, 4});  // not in the log yet: not in the snapshot
  ASSERT_EQ(pending.kind, SequenceVerdict::kAppend);
  auto snap = state.snapshot(pid, "t", 0);
  ASSERT_TRUE(snap);
  EXPECT_FALSE(state.snapshot(pid, "t", 1));
  EXPECT_FALSE(state.snapshot(pid + 1, "t", 0));

  ProducerState other{&sched, {.first_producer_id = 5000}};
  EXPECT_EQ(other.check("t", 0, {pid, 0, 3, 2}).error, ErrorCode::UNKNOWN_PRODUCER_ID);
  other.learn(pid, "t", 0, *snap);
  auto retry = other.check("t", 0, {pid, 0, 3, 2});
  EXPECT_EQ(retry.kind, SequenceVerdict::kDuplicate);
  EXPECT_EQ(retry.base_offset, 13);
  EXPECT_EQ(other.check("t", 0, {pid, 0, 0, 3}).base_offset, 10);
  // The batch that was still pending on the old leader is expected again.
  auto next = other.check("t", 0, {pid, 0, 5, 4});
  EXPECT_EQ(next.kind, SequenceVerdict::kAppend);
  other.appended(next.ticket, 15);
  // An older snapshot (or the same) does not undo what this broker appended since.
  other.learn(pid, "t", 0, *snap);
  EXPECT_EQ(other.check("t", 0, {pid, 0, 5, 4}).base_offset, 15);
  // One that does not decode is ignored.
  ProducerState third{&sched, {.first_producer_id = 9000}};
  third.learn(pid, "t", 0, snap->substr(0, snap->size() - 1));
  third.learn(pid, "t", 0, "");
  EXPECT_EQ(third.check("t", 0, {pid, 0, 3, 2}).error, ErrorCode::UNKNOWN_PRODUCER_ID);
}

// In a cluster another broker may have handed out the producer id: a first batch (sequence 0)
// starts it here; a later one is still UNKNOWN_PRODUCER_ID (nothing known to check it against).
TEST_F(ProducerStateTest, InAClusterAnIdFromAnotherBrokerStartsAtSequenceZero) {
  ProducerState member{&sched, {.first_producer_id = 7000, .accept_other_brokers_ids = true}};
  EXPECT_EQ(member.check("t", 0, {42, 0, 3, 1}).error, ErrorCode::UNKNOWN_PRODUCER_ID);
  auto first = member.check("t", 0, {42, 0, 0, 2});
  ASSERT_EQ(first.kind, SequenceVerdict::kAppend) << first.message;
  member.appended(first.ticket, 0);
  EXPECT_EQ(member.check("t", 0, {42, 0, 0, 2}).base_offset, 0);  // its retry
  EXPECT_EQ(member.check("t", 0, {42, 0, 2, 1}).kind, SequenceVerdict::kAppend);
}

}  // namespace
}  // namespace persisting::kafka
