// retention_policy=interest through the Queue (docs/retention.md, "Interest"): a front fragment
// goes only when the limits say so and every consumer group of the topic has committed past it;
// with no group, the limits alone. Quiet buckets look again on the scheduler (a ManualScheduler
// here: no sleeps). Commits another process made reach the decision through the group files.
#include <gtest/gtest.h>

#include "groups/group_store.h"
#include "persisting/queue.h"
#include "queue/topic_meta.h"
#include "util/manual_scheduler.h"
#include "util/temp_dir.h"

using namespace persisting;
using persisting::testing::ManualScheduler;
using persisting::testing::TempDir;

namespace {

class QueueInterest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto q = Queue::open({.data_dir = dir_.path(), .threads = 2, .scheduler = &sched_});
    ASSERT_TRUE(q.ok()) << q.status().to_string();
    q_ = std::move(q).value();
  }
  WriterOptions options(Retention r) const {
    WriterOptions w;
    w.topic = "events";
    w.num_buckets = 1;
    w.batch_size = 1000000;  // fragments only where the test flushes
    w.backend = GetParam();
    w.backend_options["flush_interval"] = "0";
    w.retention = r;
    return w;
  }
  // Records from..from+n in one fragment of their own.
  static void put(TopicWriter& w, int from, int n) {
    std::vector<Record> batch;
    for (int i = from; i < from + n; ++i) batch.push_back(Record{{"id", "k"}, {"i", i}});
    ASSERT_TRUE(w.put(batch).ok());
    ASSERT_TRUE(w.flush().ok());
  }
  const Object* bucket0() {
    stats_ = q_->stats("events");
    EXPECT_TRUE(stats_.ok()) << stats_.status().to_string();
    return stats_.ok() ? &stats_->find("buckets")->as_list()[0].as_object() : nullptr;
  }
  int64_t first_offset() {
    const Object* b = bucket0();
    return b ? b->find("first_offset")->as_int() : -1;
  }
  std::string retention_error() {
    const Object* b = bucket0();
    const Value* e = b ? b->find("last_retention_error") : nullptr;
    return e && e->is_string() ? e->as_string() : "";
  }
  // Reads on with r until it is at offset `to`, then commits there.
  static void consume_to(TopicReader& r, uint64_t to) {
    while (r.offsets()[0].value() < to) {
      auto got = r.get(to - r.offsets()[0].value());
      ASSERT_TRUE(got.ok()) << got.status().to_string();
      ASSERT_FALSE(got->empty());
    }
    ASSERT_EQ(r.offsets()[0].value(), to);
    ASSERT_TRUE(r.commit().ok());
  }
  std::unique_ptr<TopicReader> group_reader(const std::string& group) {
    auto r = q_->reader({.topic = "events", .group = group});
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? std::move(r).value() : nullptr;
  }

  TempDir dir_;
  ManualScheduler sched_;
  std::unique_ptr<Queue> q_;
  Result<Object> stats_ = Object{};
};

TEST_P(QueueInterest, GroupsHoldWhatTheyHaveNotCommittedAndTheSlowestHolds) {
  auto w = q_->writer(options({.records = 10, .policy = RetentionPolicy::kInterest}));
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  // A member that never committed holds the whole bucket.
  auto g = group_reader("g");
  ASSERT_TRUE(g);
  for (int i = 0; i < 50; i += 10) put(**w, i, 10);
  EXPECT_EQ(first_offset(), 0);
  EXPECT_EQ(retention_error(), "");

  // g committed 25: the fragments ending at or below it go at the next flush ([20, 30) stays).
  consume_to(*g, 25);
  put(**w, 50, 10);
  EXPECT_EQ(first_offset(), 20);

  // A second group behind it holds; g moving on alone changes nothing.
  auto h = group_reader("h");
  ASSERT_TRUE(h);
  ASSERT_TRUE(h->set_offset(Offset(20)).ok());
  consume_to(*h, 22);
  consume_to(*g, 60);
  put(**w, 60, 10);
  EXPECT_EQ(first_offset(), 20);

  // Both past everything: with no put, the quiet bucket's periodic look removes what the
  // limit (10 records) allows.
  consume_to(*h, 70);
  consume_to(*g, 70);
  EXPECT_EQ(first_offset(), 20);
  sched_.advance(std::chrono::seconds(11));
  EXPECT_EQ(first_offset(), 60);
  ASSERT_TRUE(g->close().ok());
  ASSERT_TRUE(h->close().ok());
}

TEST_P(QueueInterest, WithoutGroupsTheLimitsAlone) {
  auto w = q_->writer(options({.records = 10, .policy = RetentionPolicy::kInterest}));
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  for (int i = 0; i < 50; i += 10) put(**w, i, 10);
  EXPECT_EQ(first_offset(), 40);
  // Interest without limits and without groups keeps everything.
  ASSERT_TRUE(q_->alter_topic("events", {.policy = RetentionPolicy::kInterest}).ok());
  for (int i = 50; i < 80; i += 10) put(**w, i, 10);
  sched_.advance(std::chrono::seconds(11));
  EXPECT_EQ(first_offset(), 40);
  auto info = q_->topic("events");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->retention.policy, RetentionPolicy::kInterest);
  EXPECT_FALSE(info->retention.records);
}

TEST_P(QueueInterest, WithoutLimitsAFragmentGoesOnceEveryGroupCommittedPastIt) {
  auto w = q_->writer(options({.policy = RetentionPolicy::kInterest}));
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  for (int i = 0; i < 40; i += 10) put(**w, i, 10);
  auto g = group_reader("g");
  ASSERT_TRUE(g);
  consume_to(*g, 20);
  sched_.advance(std::chrono::seconds(11));
  EXPECT_EQ(first_offset(), 20);
  // Past everything: the newest fragment still stays.
  consume_to(*g, 40);
  sched_.advance(std::chrono::seconds(11));
  EXPECT_EQ(first_offset(), 30);
  ASSERT_TRUE(g->close().ok());
}

TEST_P(QueueInterest, CommitsOfAnotherProcessCount) {
  auto w = q_->writer(options({.records = 10, .policy = RetentionPolicy::kInterest}));
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  // Another process on the data dir commits what its group read: its GroupStore writes the file.
  groups::GroupStore other(Env::Default(), dir_.path());
  ASSERT_TRUE(other.save("events", "far", {{BucketId(0), Offset(5)}}).ok());
  for (int i = 0; i < 50; i += 10) put(**w, i, 10);
  EXPECT_EQ(first_offset(), 0);
  ASSERT_TRUE(other.save("events", "far", {{BucketId(0), Offset(31)}}).ok());
  sched_.advance(std::chrono::seconds(11));
  EXPECT_EQ(first_offset(), 30);
  // The group deleted there: no group left, the limits alone.
  ASSERT_TRUE(other.remove("events", "far").ok());
  sched_.advance(std::chrono::seconds(11));
  EXPECT_EQ(first_offset(), 40);
}

TEST_P(QueueInterest, ADamagedGroupFileKeepsEverything) {
  auto w = q_->writer(options({.records = 10, .policy = RetentionPolicy::kInterest}));
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  groups::GroupStore store(Env::Default(), dir_.path());
  ASSERT_TRUE(store.save("events", "g", {{BucketId(0), Offset(45)}}).ok());
  ASSERT_TRUE(store.save("events", "bad", {{BucketId(0), Offset(45)}}).ok());
  std::string text = *Env::Default()->read_file(store.path("events", "bad"));
  text[text.size() / 2] ^= 0x01;
  ASSERT_TRUE(Env::Default()->write_file_atomic(store.path("events", "bad"), text).ok());
  for (int i = 0; i < 50; i += 10) put(**w, i, 10);
  EXPECT_EQ(first_offset(), 0);
  const std::string error = retention_error();
  EXPECT_NE(error.find("bad.offsets"), std::string::npos) << error;
  EXPECT_NE(error.find("nothing removed"), std::string::npos) << error;
  // Repaired: the next look removes what both groups committed past.
  ASSERT_TRUE(store.save("events", "bad", {{BucketId(0), Offset(45)}}).ok());
  sched_.advance(std::chrono::seconds(11));
  EXPECT_EQ(first_offset(), 40);
  EXPECT_EQ(retention_error(), "");
}

TEST_P(QueueInterest, PolicyStoredOnlyWhenNotTheDefaultAndAltered) {
  auto w = q_->writer(options({.records = 10}));
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  auto text = Env::Default()->read_file(queue::topic_meta_path(dir_.path(), "events"));
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(text->find("policy"), std::string::npos) << *text;
  ASSERT_TRUE(q_->alter_topic("events", {.records = 10, .policy = RetentionPolicy::kInterest}).ok());
  auto stored = queue::load_topic_meta(Env::Default(), dir_.path(), "events");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->retention.policy, RetentionPolicy::kInterest);
  EXPECT_EQ(stored->retention.records, std::optional<uint64_t>(10));
  text = Env::Default()->read_file(queue::topic_meta_path(dir_.path(), "events"));
  EXPECT_NE(text->find("\"policy\": \"interest\""), std::string::npos) << *text;
  // A writer reopening with another policy is refused, naming alter; with none it keeps the topic's.
  auto again = q_->writer(options({.records = 10}));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(again.status().message().find("policy=interest"), std::string::npos) << again.status().to_string();
  EXPECT_TRUE(q_->writer(options({})).ok());
  // Bad input changes nothing: interest on the memory backend.
  WriterOptions m = options({.policy = RetentionPolicy::kInterest});
  m.topic = "mem";
  m.backend = "memory";
  m.backend_options.clear();
  auto mem = q_->writer(m);
  ASSERT_FALSE(mem.ok());
  EXPECT_EQ(mem.status().code(), Code::kInvalidArgument);
  EXPECT_FALSE(q_->topic("mem").ok());
}

TEST(TopicMetaInterest, BadPolicyInTopicJsonIsCorruption) {
  auto bad = queue::decode_topic_meta(
      R"({"format":1,"topic":"t","bucket_column":"id","num_buckets":1,"batch_size":1,"backend":"lance",)"
      R"("retention":{"policy":"sometimes"}})",
      "t/topic.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kCorruption);
  EXPECT_NE(bad.status().message().find("'limits' or 'interest'"), std::string::npos) << bad.status().to_string();
  auto p = queue::parse_retention_policy("Interest", "--retention-policy");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), Code::kInvalidArgument);
  EXPECT_NE(p.status().message().find("--retention-policy"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Backends, QueueInterest, ::testing::Values("lance", "persisting"));

}  // namespace
