// Retention over gRPC (docs/retention.md, docs/wire-protocol.md "Altering a topic"): a remote
// writer creates a topic with retention, AlterTopic changes it on every node that has the topic
// and each node's buckets apply it at once, `persisting topics alter --server` works, and bad
// input changes nothing.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "net/node_process.h"
#include "net/connect_to.h"
#include "persisting/client.h"
#include "queue/partitioning.h"
#include "queue/topic_meta.h"
#include "util/run_process.h"

namespace persisting {
namespace {

using testing::Cluster;

using testing::connect_to;

WriterOptions topic_t(uint32_t buckets, Retention r) {
  // batch_size 10: a bucket flushes (adds a fragment) every 10 records.
  return {.topic = "t", .bucket_column = "id", .num_buckets = buckets, .batch_size = 10, .backend = "persisting",
          .retention = r};
}

// Puts `per_bucket` records to every bucket, 10 at a time, each batch flushed on its own.
void fill(Client& c, ClientWriter& w, uint32_t buckets, int per_bucket) {
  int id = 0;
  std::vector<int> in_bucket(buckets, 0);
  for (int round = 0; round < per_bucket / 10; ++round) {
    std::vector<Record> batch;
    for (uint32_t filled = 0; filled < buckets;) {
      // Ids land on buckets by hash: take the next id whose bucket still needs a record this round.
      Record r{{"id", id}, {"n", id}};
      ++id;
      auto b = queue::bucket_of(w.topic(), r);
      ASSERT_TRUE(b.ok()) << b.status().to_string();
      if (in_bucket[*b] >= (round + 1) * 10) continue;
      if (++in_bucket[*b] == (round + 1) * 10) ++filled;
      batch.push_back(std::move(r));
    }
    ASSERT_TRUE(w.put(batch).ok());
    ASSERT_TRUE(c.flush("t").ok());
  }
}

// Each bucket's first available offset (stats, gathered from the owners).
std::vector<int64_t> first_offsets(Client& c) {
  auto st = c.stats("t");
  EXPECT_TRUE(st.ok()) << st.status().to_string();
  std::vector<int64_t> out;
  if (!st.ok()) return out;
  for (const Value& b : st->find("buckets")->as_list()) out.push_back(b.as_object().find("first_offset")->as_int());
  return out;
}

TEST(AlterTopic, RemoteWriterCreatesWithRetentionAndAlterAppliesAtOnce) {
  Cluster cluster(1);
  ASSERT_TRUE(cluster.start_all()) << cluster.log(0);
  auto c = connect_to(cluster.address(0));
  auto w = c->writer(topic_t(1, {.records = 25}));
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  EXPECT_EQ((*w)->topic().retention.records, std::optional<uint64_t>(25));
  fill(*c, **w, 1, 100);
  // 25 kept at least: the three newest fragments stay.
  EXPECT_EQ(first_offsets(*c), std::vector<int64_t>{70});
  auto info = c->topic("t");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->retention.records, std::optional<uint64_t>(25));
  EXPECT_FALSE(info->retention.bytes);

  // Reopening with other limits is refused (alter changes them); with none keeps the topic's.
  auto other = c->writer(topic_t(1, {.records = 7}));
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), Code::kFailedPrecondition) << other.status().to_string();
  ASSERT_TRUE(c->writer(topic_t(1, {})).ok());

  ASSERT_TRUE(c->alter_topic("t", {.records = 5}).ok());
  EXPECT_EQ(first_offsets(*c), std::vector<int64_t>{90});  // at once, no put needed
  info = c->topic("t");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->retention.records, std::optional<uint64_t>(5));
  auto stored = queue::load_topic_meta(Env::Default(), cluster.dir() + "/" + cluster.id(0), "t");
  ASSERT_TRUE(stored.ok()) << stored.status().to_string();
  EXPECT_EQ(stored->retention.records, std::optional<uint64_t>(5));
  // Reads below the first offset are OUT_OF_RANGE naming it; from it, the records are there.
  auto r = c->reader({.topic = "t"});
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE((*r)->set_offset(Offset(3)).ok());
  auto below = (*r)->get(10);
  ASSERT_FALSE(below.ok());
  EXPECT_EQ(below.status().code(), Code::kOutOfRange) << below.status().to_string();
  EXPECT_NE(below.status().message().find("first available offset 90"), std::string::npos)
      << below.status().to_string();
  ASSERT_TRUE((*r)->set_offset(Offset(90)).ok());
  auto got = (*r)->get(100);
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  ASSERT_EQ(got->size(), 10u);
  EXPECT_EQ((*got)[0].offset.value(), 90u);

  // None: nothing more goes.
  ASSERT_TRUE(c->alter_topic("t", {}).ok());
  info = c->topic("t");
  ASSERT_TRUE(info.ok());
  EXPECT_FALSE(info->retention.any());
  fill(*c, **w, 1, 20);
  EXPECT_EQ(first_offsets(*c), std::vector<int64_t>{90});
}

TEST(AlterTopic, BadInputIsRefusedAndChangesNothing) {
  Cluster cluster(2);
  ASSERT_TRUE(cluster.start_all()) << cluster.log(0) << cluster.log(1);
  auto c = connect_to(cluster.address(0));
  ASSERT_TRUE(c->writer(topic_t(2, {.records = 50})).ok());
  Status zero = c->alter_topic("t", {.records = 0});
  EXPECT_EQ(zero.code(), Code::kInvalidArgument) << zero.to_string();
  EXPECT_NE(zero.message().find("retention_records must be positive"), std::string::npos) << zero.to_string();
  Status unknown = c->alter_topic("nope", {.records = 5});
  EXPECT_EQ(unknown.code(), Code::kNotFound) << unknown.to_string();
  EXPECT_NE(unknown.message().find("'nope'"), std::string::npos) << unknown.to_string();
  EXPECT_EQ(c->alter_topic("../t", {.records = 5}).code(), Code::kInvalidArgument);
  // A backend without retention.
  ASSERT_TRUE(c->writer({.topic = "mem", .bucket_column = "id", .num_buckets = 2}).ok());
  Status mem = c->alter_topic("mem", {.records = 5});
  EXPECT_EQ(mem.code(), Code::kInvalidArgument) << mem.to_string();
  auto made = c->writer({.topic = "mem2", .bucket_column = "id", .num_buckets = 2, .retention = {.records = 5}});
  EXPECT_EQ(made.status().code(), Code::kInvalidArgument) << made.status().to_string();
  for (int i = 0; i < 2; ++i) {
    auto stored = queue::load_topic_meta(Env::Default(), cluster.dir() + "/" + cluster.id(i), "t");
    ASSERT_TRUE(stored.ok()) << stored.status().to_string();
    EXPECT_EQ(stored->retention.records, std::optional<uint64_t>(50)) << cluster.id(i);
  }
  auto info = c->topic("t");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->retention.records, std::optional<uint64_t>(50));
}

// retention_policy=interest needs every group's commits where a bucket is decided; a cluster
// keeps them on each group's coordinator, so it refuses the policy (docs/retention.md, "Interest").
TEST(AlterTopic, InterestIsNotSupportedOnACluster) {
  Cluster cluster(2);
  ASSERT_TRUE(cluster.start_all()) << cluster.log(0) << cluster.log(1);
  auto c = connect_to(cluster.address(0));
  ASSERT_TRUE(c->writer(topic_t(2, {.records = 50})).ok());
  Status alter = c->alter_topic("t", {.records = 50, .policy = RetentionPolicy::kInterest});
  EXPECT_EQ(alter.code(), Code::kNotSupported) << alter.to_string();
  EXPECT_NE(alter.message().find("retention_policy=interest is not supported on a cluster yet"), std::string::npos)
      << alter.to_string();
  auto made = c->writer({.topic = "u", .bucket_column = "id", .num_buckets = 2, .backend = "persisting",
                         .retention = {.policy = RetentionPolicy::kInterest}});
  EXPECT_EQ(made.status().code(), Code::kNotSupported) << made.status().to_string();
  EXPECT_FALSE(c->topic("u").ok());
  for (int i = 0; i < 2; ++i) {
    auto stored = queue::load_topic_meta(Env::Default(), cluster.dir() + "/" + cluster.id(i), "t");
    ASSERT_TRUE(stored.ok()) << stored.status().to_string();
    EXPECT_EQ(stored->retention.policy, RetentionPolicy::kLimits) << cluster.id(i);
  }
  auto info = c->topic("t");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->retention.policy, RetentionPolicy::kLimits);
}

// Two nodes own buckets of the topic: an alter sent to either reaches both, every bucket applies
// it at once, and each node answers the new limits.
TEST(AlterTopic, ReachesEveryNodeThatOwnsABucket) {
  Cluster cluster(2);
  ASSERT_TRUE(cluster.start_all()) << cluster.log(0) << cluster.log(1);
  auto c0 = connect_to(cluster.address(0));
  auto c1 = connect_to(cluster.address(1));
  auto w = c0->writer(topic_t(4, {}));
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  auto status = c0->cluster_status("t");
  ASSERT_TRUE(status.ok()) << status.status().to_string();
  std::set<std::string> owners;
  for (const auto& [bucket, owner] : status->find("ownership")->as_object()) owners.insert(owner.as_string());
  ASSERT_EQ(owners.size(), 2u) << "both nodes must own a bucket for this test";
  fill(*c0, **w, 4, 50);
  EXPECT_EQ(first_offsets(*c0), std::vector<int64_t>(4, 0));

  ASSERT_TRUE(c1->alter_topic("t", {.records = 15}).ok());
  // 15 kept at least: the two newest fragments of each bucket stay.
  EXPECT_EQ(first_offsets(*c0), std::vector<int64_t>(4, 30));
  for (auto* c : {c0.get(), c1.get()}) {
    auto info = c->topic("t");
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->retention.records, std::optional<uint64_t>(15));
  }
  for (int i = 0; i < 2; ++i) {
    auto stored = queue::load_topic_meta(Env::Default(), cluster.dir() + "/" + cluster.id(i), "t");
    ASSERT_TRUE(stored.ok()) << stored.status().to_string();
    EXPECT_EQ(stored->retention.records, std::optional<uint64_t>(15)) << cluster.id(i);
  }
  // Writes go on from the same offsets, and the limit holds.
  fill(*c0, **w, 4, 20);
  EXPECT_EQ(first_offsets(*c0), std::vector<int64_t>(4, 50));
}

TEST(AlterTopic, CliAltersOverServer) {
  Cluster cluster(1);
  ASSERT_TRUE(cluster.start_all()) << cluster.log(0);
  auto c = connect_to(cluster.address(0));
  auto w = c->writer(topic_t(1, {.records = 40}));
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  fill(*c, **w, 1, 60);
  EXPECT_EQ(first_offsets(*c), std::vector<int64_t>{20});  // the four newest fragments stay
  auto out = testing::run_process({PERSISTING_BIN, "topics", "alter", "--topic", "t", "--retention-records", "10",
                                   "--server", cluster.address(0)});
  ASSERT_EQ(out.exit_code, 0) << out.out << out.err;
  EXPECT_NE(out.out.find("\"records\":10"), std::string::npos) << out.out;
  EXPECT_EQ(first_offsets(*c), std::vector<int64_t>{50});
  // The flag not given keeps its limit.
  out = testing::run_process({PERSISTING_BIN, "topics", "alter", "--topic", "t", "--retention-bytes", "1000000",
                              "--server", cluster.address(0)});
  ASSERT_EQ(out.exit_code, 0) << out.out << out.err;
  auto info = c->topic("t");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->retention.records, std::optional<uint64_t>(10));
  EXPECT_EQ(info->retention.bytes, std::optional<uint64_t>(1000000));
  auto bad = testing::run_process({PERSISTING_BIN, "topics", "alter", "--topic", "nope", "--retention-records", "3",
                                   "--server", cluster.address(0)});
  EXPECT_EQ(bad.exit_code, 1) << bad.out << bad.err;
  EXPECT_NE(bad.err.find("'nope'"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace persisting
