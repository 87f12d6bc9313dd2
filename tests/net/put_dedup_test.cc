// PutDedup's versions (net/put_dedup.h): what a follower of a replicated bucket learns from its
// leader with each Replicate answer.
#include "net/put_dedup.h"

#include <gtest/gtest.h>

namespace persisting::net {
namespace {

using State = PutDedup::ProducerState;

std::vector<uint64_t> producers(const PutDedup::Changes& c) {
  std::vector<uint64_t> out;
  for (const auto& s : c.states) out.push_back(s.producer_id);
  return out;
}

TEST(PutDedupChanges, AFollowerGetsEachEntryOnceItsRecordsAreShippedAndNewerOnesAfter) {
  PutDedup d;
  d.import_bucket("t", 0, {{1, 1, 0, 5}, {2, 4, 5, 3}});
  d.import_bucket("t", 1, {{3, 1, 0, 2}});  // another bucket: never in bucket 0's answers

  // A new session (0): every entry whose records end within log_end, oldest first; the one past
  // it stops the answer (the follower gets it with its records).
  auto c = d.changes_since("t", 0, 0, 0, 6, 100);
  EXPECT_NE(c.session, 0u);
  EXPECT_EQ(producers(c), (std::vector<uint64_t>{1}));
  EXPECT_EQ(c.states[0].first_offset, 0u);
  EXPECT_EQ(c.states[0].count, 5u);
  auto c2 = d.changes_since("t", 0, c.session, c.through, 8, 100);
  EXPECT_EQ(producers(c2), (std::vector<uint64_t>{2}));
  EXPECT_EQ(c2.states[0].sequence, 4u);
  // Nothing new: nothing sent, and the version stays usable.
  auto c3 = d.changes_since("t", 0, c2.session, c2.through, 8, 100);
  EXPECT_TRUE(c3.states.empty());
  // A newer put of producer 1 is sent again; an older sequence imported changes nothing.
  d.import_bucket("t", 0, {{1, 2, 8, 1}, {2, 3, 0, 1}});
  auto c4 = d.changes_since("t", 0, c3.session, c3.through, 9, 100);
  ASSERT_EQ(producers(c4), (std::vector<uint64_t>{1}));
  EXPECT_EQ(c4.states[0].sequence, 2u);
  EXPECT_TRUE(d.changes_since("t", 0, c4.session, c4.through, 9, 100).states.empty());
  // Another session (the leader restarted, or another leader): everything again.
  EXPECT_EQ(producers(d.changes_since("t", 0, c4.session + 1, c4.through, 9, 100)), (std::vector<uint64_t>{2, 1}));
  // At most max per answer; the rest follows.
  auto m = d.changes_since("t", 0, 0, 0, 9, 1);
  EXPECT_EQ(producers(m), (std::vector<uint64_t>{2}));
  EXPECT_EQ(producers(d.changes_since("t", 0, m.session, m.through, 9, 1)), (std::vector<uint64_t>{1}));
}

TEST(PutDedupChanges, AForgottenBucketHasNoEntries) {
  PutDedup d;
  d.import_bucket("t", 0, {{1, 1, 0, 5}});
  d.import_bucket("t", 1, {{1, 1, 0, 5}});
  d.forget_bucket("t", 0);
  EXPECT_TRUE(d.export_bucket("t", 0).empty());
  EXPECT_TRUE(d.changes_since("t", 0, 0, 0, 100, 100).states.empty());
  EXPECT_EQ(d.export_bucket("t", 1).size(), 1u);
  // Installed again after a forget: sent again.
  d.import_bucket("t", 0, {{1, 1, 0, 5}});
  EXPECT_EQ(d.changes_since("t", 0, 0, 0, 100, 100).states.size(), 1u);
}

// A Kafka producer's state rides with the entries (record_kafka): shipped once its records
// are, installed on a follower's table (kafka_state), newer replacing older, and apart from a
// gRPC producer of the same number.
TEST(PutDedupChanges, AKafkaProducersStateIsShippedWithItsRecordsApartFromGrpcProducers) {
  PutDedup leader, follower;
  leader.import_bucket("t", 0, {{7, 1, 0, 2}});  // gRPC producer 7: records [0, 2)
  leader.record_kafka("t", 0, 7, 2, 3, "state-a");  // Kafka producer 7: its batch [2, 5)
  EXPECT_EQ(leader.kafka_state("t", 0, 7), std::optional<std::string>("state-a"));
  EXPECT_EQ(leader.kafka_state("t", 1, 7), std::nullopt);

  auto c = leader.changes_since("t", 0, 0, 0, 4, 100);  // the follower has [0, 4): not the batch yet
  ASSERT_EQ(c.states.size(), 1u);
  EXPECT_TRUE(c.states[0].kafka_state.empty());
  follower.import_bucket("t", 0, c.states);
  EXPECT_EQ(follower.kafka_state("t", 0, 7), std::nullopt);
  c = leader.changes_since("t", 0, c.session, c.through, 5, 100);
  ASSERT_EQ(c.states.size(), 1u);
  EXPECT_EQ(c.states[0].producer_id, 7u);
  EXPECT_EQ(c.states[0].sequence, 5u);  // the batch's end offset
  EXPECT_EQ(c.states[0].kafka_state, "state-a");
  follower.import_bucket("t", 0, c.states);
  EXPECT_EQ(follower.kafka_state("t", 0, 7), std::optional<std::string>("state-a"));

  // A newer batch replaces it; an older one (a lower end offset) does not.
  leader.record_kafka("t", 0, 7, 5, 1, "state-b");
  leader.record_kafka("t", 0, 7, 0, 1, "stale");
  EXPECT_EQ(leader.kafka_state("t", 0, 7), std::optional<std::string>("state-b"));
  // Both kinds move with a rebalanced bucket.
  auto all = leader.export_bucket("t", 0);
  ASSERT_EQ(all.size(), 2u);
  PutDedup moved;
  moved.import_bucket("t", 0, all);
  EXPECT_EQ(moved.kafka_state("t", 0, 7), std::optional<std::string>("state-b"));
  EXPECT_EQ(moved.export_bucket("t", 0).size(), 2u);
}

}  // namespace
}  // namespace persisting::net
