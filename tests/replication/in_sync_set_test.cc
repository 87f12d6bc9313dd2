// InSyncSet (src/replication/in_sync_set.h): the leader's view of its replicas, driven by a
// clock the test moves. High watermark = smallest log end in sync, never lower; a follower that
// lags longer than lag_max leaves the set and rejoins once caught up; acks=all waiters.
#include <gtest/gtest.h>

#include <vector>

#include "replication/in_sync_set.h"

using namespace persisting;
using namespace persisting::replication;
using namespace std::chrono_literals;

namespace {

const NodeId n1("n1"), n2("n2"), n3("n3");

struct Fixture {
  Clock::time_point t0 = Clock::time_point() + 1h;
  InSyncSet set{"topic 't' bucket 0", {n1, n2, n3}, 0, InSyncConfig{10s, 2}, t0};
};

bool in_sync(const InSyncSet& s, const NodeId& id) {
  for (const auto& r : s.replicas())
    if (r.id == id) return r.in_sync;
  return false;
}

}  // namespace

TEST(InSyncSet, DefaultMinInsyncPerFactor) {
  EXPECT_EQ(default_min_insync(1), 1u);
  EXPECT_EQ(default_min_insync(3), 2u);
  EXPECT_EQ(default_min_insync(5), 3u);
}

TEST(InSyncSet, HighWatermarkIsTheSmallestLogEndInSyncAndNeverGoesDown) {
  Fixture f;
  f.set.leader_appended(100, f.t0);
  EXPECT_EQ(f.set.high_watermark(), 0u) << "no follower has anything yet";
  ASSERT_TRUE(f.set.follower_fetched(n2, 60, f.t0).ok());
  EXPECT_EQ(f.set.high_watermark(), 0u) << "n3 still has nothing";
  ASSERT_TRUE(f.set.follower_fetched(n3, 40, f.t0).ok());
  EXPECT_EQ(f.set.high_watermark(), 40u);
  ASSERT_TRUE(f.set.follower_fetched(n3, 100, f.t0).ok());
  EXPECT_EQ(f.set.high_watermark(), 60u);
  ASSERT_TRUE(f.set.follower_fetched(n2, 100, f.t0).ok());
  EXPECT_EQ(f.set.high_watermark(), 100u);
  // A follower that lost records (a wiped disk) reports less: taken, what readers saw stays
  // visible, and it leaves the set at once (not after lag_max): it no longer holds them.
  ASSERT_TRUE(f.set.follower_fetched(n2, 90, f.t0).ok());
  EXPECT_EQ(f.set.replicas()[1].log_end, 90u);
  EXPECT_EQ(f.set.high_watermark(), 100u);
  EXPECT_FALSE(in_sync(f.set, n2));
  EXPECT_TRUE(in_sync(f.set, n3));
  f.set.leader_appended(110, f.t0);
  ASSERT_TRUE(f.set.follower_fetched(n3, 110, f.t0).ok());
  EXPECT_EQ(f.set.high_watermark(), 110u) << "n2 no longer holds it back";
  ASSERT_TRUE(f.set.follower_fetched(n2, 110, f.t0).ok());
  EXPECT_TRUE(in_sync(f.set, n2)) << "back once it holds the high watermark again";
}

TEST(InSyncSet, BadReportsAreRefusedAndChangeNothing) {
  Fixture f;
  f.set.leader_appended(10, f.t0);
  auto beyond = f.set.follower_fetched(n2, 11, f.t0);
  EXPECT_EQ(beyond.code(), Code::kInvalidArgument);
  EXPECT_NE(beyond.message().find("reports log end 11, beyond the leader's 10"), std::string::npos) << beyond.message();
  EXPECT_EQ(f.set.follower_fetched(NodeId("n9"), 1, f.t0).code(), Code::kInvalidArgument);
  auto self = f.set.follower_fetched(n1, 1, f.t0);
  EXPECT_EQ(self.code(), Code::kInvalidArgument);
  EXPECT_NE(self.message().find("topic 't' bucket 0"), std::string::npos);
  EXPECT_EQ(f.set.replicas()[1].log_end, 0u);
  EXPECT_EQ(f.set.high_watermark(), 0u);
}

TEST(InSyncSet, ALaggingFollowerLeavesAfterLagMaxAndRejoinsOnceCaughtUp) {
  Fixture f;
  f.set.leader_appended(50, f.t0);
  ASSERT_TRUE(f.set.follower_fetched(n2, 50, f.t0).ok());
  // n3 fetched nothing: within lag_max it stays in sync and holds the high watermark back.
  f.set.tick(f.t0 + 10s);
  EXPECT_TRUE(in_sync(f.set, n3));
  EXPECT_EQ(f.set.high_watermark(), 0u);
  ASSERT_TRUE(f.set.follower_fetched(n2, 50, f.t0 + 10s).ok());
  f.set.tick(f.t0 + 10s + 1ms);
  EXPECT_FALSE(in_sync(f.set, n3));
  EXPECT_TRUE(in_sync(f.set, n2)) << "n2 was caught up at +10 s";
  EXPECT_EQ(f.set.in_sync_count(), 2u);
  EXPECT_EQ(f.set.high_watermark(), 50u) << "without n3";
  // Behind the high watermark it stays out; reaching it, it is back.
  ASSERT_TRUE(f.set.follower_fetched(n3, 30, f.t0 + 11s).ok());
  EXPECT_FALSE(in_sync(f.set, n3));
  f.set.leader_appended(80, f.t0 + 11s);
  ASSERT_TRUE(f.set.follower_fetched(n2, 80, f.t0 + 11s).ok());
  EXPECT_EQ(f.set.high_watermark(), 80u);
  ASSERT_TRUE(f.set.follower_fetched(n3, 80, f.t0 + 12s).ok());
  EXPECT_TRUE(in_sync(f.set, n3));
  // In sync again, it holds the high watermark back once more.
  f.set.leader_appended(90, f.t0 + 12s);
  ASSERT_TRUE(f.set.follower_fetched(n2, 90, f.t0 + 12s).ok());
  EXPECT_EQ(f.set.high_watermark(), 80u);
}

TEST(InSyncSet, AnIdleFollowerStaysWhileItFetchesAndLeavesWhenItStops) {
  Fixture f;
  f.set.leader_appended(5, f.t0);
  // Nothing new is written; both keep fetching at the leader's end for a while.
  for (auto t = f.t0; t <= f.t0 + 1h; t += 5s) {
    ASSERT_TRUE(f.set.follower_fetched(n2, 5, t).ok());
    ASSERT_TRUE(f.set.follower_fetched(n3, 5, t).ok());
    f.set.tick(t + 1s);
  }
  EXPECT_EQ(f.set.in_sync_count(), 3u);
  EXPECT_EQ(f.set.high_watermark(), 5u);
  // n3 stops fetching (it died): without a fetch for lag_max it leaves, though it had
  // everything; an acks=all put could not be acknowledged by it.
  ASSERT_TRUE(f.set.follower_fetched(n2, 5, f.t0 + 1h + 10s).ok());
  f.set.tick(f.t0 + 1h + 10s + 1ms);
  EXPECT_TRUE(in_sync(f.set, n2));
  EXPECT_FALSE(in_sync(f.set, n3));
  EXPECT_EQ(f.set.high_watermark(), 5u);
}

TEST(InSyncSet, AFollowerKeepingUpWithAnAlwaysAppendingLeaderStays) {
  Fixture f;
  // Every fetch finds the leader a little further: never at its end, but always holding what
  // the leader had at its previous fetch.
  uint64_t end = 0;
  for (auto t = f.t0; t <= f.t0 + 1min; t += 2s) {
    uint64_t had = end;
    end += 10;
    f.set.leader_appended(end, t);
    ASSERT_TRUE(f.set.follower_fetched(n2, had, t).ok());
    ASSERT_TRUE(f.set.follower_fetched(n3, had, t).ok());
    f.set.tick(t + 1s);
  }
  EXPECT_EQ(f.set.in_sync_count(), 3u);
  EXPECT_EQ(f.set.high_watermark(), end - 10);
  // n3 falls behind what the leader had at its previous fetch: it leaves after lag_max.
  auto t = f.t0 + 1min + 2s;
  for (int i = 0; i < 7; ++i, t += 2s) {
    end += 10;
    f.set.leader_appended(end, t);
    ASSERT_TRUE(f.set.follower_fetched(n2, end - 10, t).ok());
    ASSERT_TRUE(f.set.follower_fetched(n3, 5, t).ok());
    f.set.tick(t);
  }
  EXPECT_TRUE(in_sync(f.set, n2));
  EXPECT_FALSE(in_sync(f.set, n3));
}

TEST(InSyncSet, AcksAllWaitersAreAnsweredInOrderAsTheHighWatermarkPasses) {
  Fixture f;
  std::vector<std::pair<int, Status>> answered;
  f.set.leader_appended(10, f.t0);
  ASSERT_TRUE(f.set.check_acks_all().ok());
  f.set.wait_for(10, [&](Status s) { answered.emplace_back(1, s); });
  f.set.leader_appended(20, f.t0);
  f.set.wait_for(20, [&](Status s) { answered.emplace_back(2, s); });
  EXPECT_EQ(f.set.waiting(), 2u);
  ASSERT_TRUE(f.set.follower_fetched(n2, 20, f.t0).ok());
  EXPECT_TRUE(answered.empty()) << "n3 has nothing yet";
  ASSERT_TRUE(f.set.follower_fetched(n3, 15, f.t0).ok());
  ASSERT_EQ(answered.size(), 1u);
  EXPECT_EQ(answered[0].first, 1);
  EXPECT_TRUE(answered[0].second.ok());
  ASSERT_TRUE(f.set.follower_fetched(n3, 20, f.t0).ok());
  ASSERT_EQ(answered.size(), 2u);
  EXPECT_EQ(answered[1].first, 2);
  // Already covered: answered at once.
  f.set.wait_for(20, [&](Status s) { answered.emplace_back(3, s); });
  ASSERT_EQ(answered.size(), 3u);
  EXPECT_EQ(f.set.waiting(), 0u);
}

TEST(InSyncSet, TooFewInSyncRefusesAcksAllAndAShrinkReleasesWaiters) {
  Fixture f;  // min_insync 2
  f.set.leader_appended(10, f.t0);
  Status got = Internal("not answered"), read = Internal("not answered");
  f.set.wait_for(10, [&](Status s) { got = s; });
  f.set.wait_for(10, [&](Status s) { read = s; }, /*acks=*/false);
  f.set.tick(f.t0 + 11s);  // both followers drop out: the leader alone is the set
  EXPECT_EQ(f.set.in_sync_count(), 1u);
  EXPECT_EQ(f.set.high_watermark(), 10u) << "the leader's end once it is alone";
  // The put waited for replicas that left: it is not acknowledged as replicated (Kafka's
  // NOT_ENOUGH_REPLICAS_AFTER_APPEND); a reader waiting for the high watermark is answered.
  EXPECT_EQ(got.code(), Code::kUnavailable) << got.to_string();
  EXPECT_NE(got.message().find("not enough in-sync replicas after the append (1 in sync, min_insync_replicas is 2)"),
            std::string::npos)
      << got.message();
  EXPECT_TRUE(read.ok()) << read.to_string();
  Status late = Internal("not answered");
  f.set.wait_for(10, [&](Status s) { late = s; });
  EXPECT_EQ(late.code(), Code::kUnavailable) << "covered, but still too few in sync: " << late.to_string();
  auto refused = f.set.check_acks_all();
  EXPECT_EQ(refused.code(), Code::kUnavailable);
  EXPECT_NE(refused.message().find("not enough in-sync replicas for acks=all (1 in sync, min_insync_replicas is 2)"),
            std::string::npos)
      << refused.message();
  ASSERT_TRUE(f.set.follower_fetched(n2, 10, f.t0 + 12s).ok());
  EXPECT_TRUE(f.set.check_acks_all().ok());
  f.set.wait_for(10, [&](Status s) { late = s; });
  EXPECT_TRUE(late.ok()) << late.to_string();
}

TEST(InSyncSet, CloseFailsPendingAndLaterWaiters) {
  std::vector<Status> got;
  {
    Fixture f;
    f.set.leader_appended(10, f.t0);
    f.set.wait_for(5, [&](Status s) { got.push_back(s); });
    f.set.close(Unavailable("leadership of topic 't' bucket 0 moved to n2"));
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].code(), Code::kUnavailable);
    f.set.wait_for(1, [&](Status s) { got.push_back(s); });
    ASSERT_EQ(got.size(), 2u);
    EXPECT_NE(got[1].message().find("moved to n2"), std::string::npos);
    EXPECT_EQ(f.set.check_acks_all().code(), Code::kUnavailable);
  }
  // Destroyed with a waiter pending: it is answered, not dropped.
  std::vector<Status> late;
  {
    Fixture f;
    f.set.leader_appended(10, f.t0);
    f.set.wait_for(10, [&](Status s) { late.push_back(s); });
  }
  ASSERT_EQ(late.size(), 1u);
  EXPECT_NE(late[0].message().find("its leader stopped"), std::string::npos) << late[0].to_string();
}

TEST(InSyncSet, AnElectedLeaderStartsWithoutTheReplicasOutsideTheSetItTookOver) {
  // n1 elected with 50 records; n3 (the dead old leader) was not in the set it took over.
  const auto t0 = Clock::time_point() + 1h;
  InSyncSet set{"topic 't' bucket 0", {n1, n2, n3}, 50, InSyncConfig{10s, 2}, t0, {n3, n1}};
  EXPECT_TRUE(in_sync(set, n1)) << "the leader is always in sync";
  EXPECT_TRUE(in_sync(set, n2));
  EXPECT_FALSE(in_sync(set, n3));
  bool acked = false;
  set.wait_for(50, [&](Status s) { acked = s.ok(); });
  ASSERT_TRUE(set.follower_fetched(n2, 50, t0).ok());
  EXPECT_TRUE(acked) << "acks=all needs the in-sync followers only, not the one outside";
  EXPECT_EQ(set.high_watermark(), 50u);
  ASSERT_TRUE(set.follower_fetched(n3, 50, t0).ok());
  EXPECT_TRUE(in_sync(set, n3)) << "it joins once it reaches the high watermark";
}

TEST(InSyncSet, WithCommitChangesASetChangeCountsOnlyOnceStored) {
  Clock::time_point t0 = Clock::time_point() + 1h;
  InSyncSet set{"topic 't' bucket 0", {n1, n2, n3}, 0, InSyncConfig{10s, 2, /*commit_changes=*/true}, t0};
  set.committed({n1, n2, n3});
  set.leader_appended(50, t0);
  ASSERT_TRUE(set.follower_fetched(n2, 50, t0 + 10s).ok());
  // n3 lags past lag_max and leaves the set; while the smaller set is not stored, a failover
  // could still elect n3, so the high watermark waits for it.
  set.tick(t0 + 10s + 1ms);
  EXPECT_FALSE(in_sync(set, n3));
  EXPECT_EQ(set.high_watermark(), 0u);
  Status acked = Unavailable("not answered");
  set.wait_for(50, [&](Status s) { acked = s; });
  EXPECT_EQ(acked.code(), Code::kUnavailable) << "answered before the smaller set was stored";
  set.committed({n1, n2});
  EXPECT_EQ(set.high_watermark(), 50u);
  EXPECT_TRUE(acked.ok()) << acked.to_string();
  // n3 catches up and joins: the watermark waits for it at once, min_insync counts it once stored.
  ASSERT_TRUE(set.follower_fetched(n3, 50, t0 + 11s).ok());
  EXPECT_TRUE(in_sync(set, n3));
  set.leader_appended(60, t0 + 11s);
  ASSERT_TRUE(set.follower_fetched(n2, 60, t0 + 11s).ok());
  EXPECT_EQ(set.high_watermark(), 50u) << "the joining n3 is waited for";
  EXPECT_EQ(set.counted_count(), 2u);
  set.committed({n1, n2, n3});
  EXPECT_EQ(set.counted_count(), 3u);
  ASSERT_TRUE(set.follower_fetched(n3, 60, t0 + 11s).ok());
  EXPECT_EQ(set.high_watermark(), 60u);
  // min_insync counts the stored set: with only the leader stored, acks=all is refused even
  // while the followers are in sync in the leader's memory.
  set.committed({n1});
  EXPECT_EQ(set.in_sync_count(), 3u);
  Status refused = set.check_acks_all();
  EXPECT_EQ(refused.code(), Code::kUnavailable);
  EXPECT_NE(refused.message().find("(1 in sync, min_insync_replicas is 2)"), std::string::npos) << refused.message();
}

TEST(InSyncSet, WithoutCommitChangesASetChangeCountsAtOnce) {
  Fixture f;
  f.set.committed({n1});  // ignored: nothing is stored anywhere
  EXPECT_EQ(f.set.counted_count(), 3u);
  f.set.leader_appended(50, f.t0);
  ASSERT_TRUE(f.set.follower_fetched(n2, 50, f.t0 + 10s).ok());
  f.set.tick(f.t0 + 10s + 1ms);
  EXPECT_EQ(f.set.counted_count(), 2u);
  EXPECT_EQ(f.set.high_watermark(), 50u);
}

// A reader parked on several buckets' high watermarks lets go of the others once one answers:
// cancel(id) drops that reader's waiters unanswered and leaves the rest.
TEST(InSyncSet, CancelDropsTheWaitersOfOneIdOnly) {
  Fixture f;
  f.set.leader_appended(10, f.t0);
  int answered = 0;
  f.set.wait_for(5, [&](Status) { ++answered; }, /*acks=*/false, /*id=*/7);
  f.set.wait_for(8, [&](Status) { ++answered; }, /*acks=*/false, /*id=*/7);
  f.set.wait_for(5, [&](Status) { ++answered; }, /*acks=*/false, /*id=*/8);
  f.set.wait_for(5, [&](Status) { ++answered; }, /*acks=*/false);
  EXPECT_EQ(f.set.waiting(), 4u);
  f.set.cancel(7);
  EXPECT_EQ(f.set.waiting(), 2u);
  f.set.cancel(0);  // 0 is no id: nothing goes
  EXPECT_EQ(f.set.waiting(), 2u);
  ASSERT_TRUE(f.set.follower_fetched(n2, 10, f.t0).ok());
  ASSERT_TRUE(f.set.follower_fetched(n3, 10, f.t0).ok());
  EXPECT_EQ(answered, 2);  // the two left, never the cancelled ones
  EXPECT_EQ(f.set.waiting(), 0u);
}
