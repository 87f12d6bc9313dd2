// The replication_factor topic setting (issue 18, docs/cluster.md "Replication"): 1, 3 or 5,
// persisted in topic.json, kept on reopen; an embedded queue (one node) refuses more than 1 for
// a new topic. Bad values change nothing.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "persisting/queue.h"
#include "queue/queue_core.h"
#include "queue/topic_meta.h"
#include "util/open_queue.h"
#include "util/temp_dir.h"

using namespace persisting;
using persisting::testing::open_queue;
using persisting::testing::TempDir;

namespace {

WriterOptions topic_t(uint32_t rf) {
  return {.topic = "t", .bucket_column = "id", .num_buckets = 2, .batch_size = 2, .backend = "persisting",
          .replication_factor = rf};
}

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST(ReplicationFactor, OnlyOneThreeOrFiveAndABadOneChangesNothing) {
  TempDir dir;
  auto core = detail::make_queue_core({.data_dir = dir.path(), .threads = 2}, NodeId("n1"), {{NodeId("n1"), ""}});
  ASSERT_TRUE(core.ok());
  for (uint32_t bad : {2u, 4u, 6u, 7u, 100u}) {
    auto w = (*core)->open_for_write(topic_t(bad));
    ASSERT_EQ(w.status().code(), Code::kInvalidArgument) << bad;
    EXPECT_NE(w.status().message().find("replication_factor must be 1, 3 or 5, got " + std::to_string(bad)),
              std::string::npos)
        << w.status().to_string();
    EXPECT_NE(w.status().message().find("topic 't'"), std::string::npos);
    EXPECT_FALSE(std::filesystem::exists(std::filesystem::path(dir.path()) / "t")) << "nothing written";
  }
  for (uint32_t good : {1u, 3u, 5u}) {
    WriterOptions o = topic_t(good);
    o.topic = "t" + std::to_string(good);
    auto w = (*core)->open_for_write(o);
    ASSERT_TRUE(w.ok()) << w.status().to_string();
    EXPECT_EQ(w->replication_factor, good);
  }
}

TEST(ReplicationFactor, PersistedInTopicJsonAndKeptOnReopen) {
  TempDir dir;
  {
    // A node creates the topic through its QueueCore (the cluster has checked the members).
    auto core = detail::make_queue_core({.data_dir = dir.path(), .threads = 2}, NodeId("n1"), {{NodeId("n1"), ""}});
    ASSERT_TRUE(core.ok());
    auto made = (*core)->open_for_write(topic_t(3));
    ASSERT_TRUE(made.ok()) << made.status().to_string();
    EXPECT_EQ(made->replication_factor, 3u);
    // Reopened without a factor: the topic's; with another: refused, naming the setting.
    auto again = (*core)->open_for_write(topic_t(0));
    ASSERT_TRUE(again.ok()) << again.status().to_string();
    EXPECT_EQ(again->replication_factor, 3u);
    auto other = (*core)->open_for_write(topic_t(1));
    ASSERT_EQ(other.status().code(), Code::kFailedPrecondition);
    EXPECT_NE(other.status().message().find("replication_factor is 3, not 1"), std::string::npos)
        << other.status().to_string();
  }
  std::string meta = read_text(std::filesystem::path(dir.path()) / "t" / "topic.json");
  EXPECT_NE(meta.find("\"replication_factor\": 3"), std::string::npos) << meta;

  // Another process finds it; an embedded writer may append to it without naming the factor.
  auto q = open_queue(dir.path());
  ASSERT_NE(q, nullptr);
  auto info = q->topic("t");
  ASSERT_TRUE(info.ok()) << info.status().to_string();
  EXPECT_EQ(info->replication_factor, 3u);
  auto w = q->writer(topic_t(0));
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  EXPECT_EQ((*w)->topic().replication_factor, 3u);
  auto w3 = q->writer(topic_t(3));
  EXPECT_TRUE(w3.ok()) << "the same factor reopens: " << w3.status().to_string();
}

TEST(ReplicationFactor, FactorOneKeepsTheTopicJsonItAlwaysHad) {
  TempDir dir;
  auto q = open_queue(dir.path());
  ASSERT_NE(q, nullptr);
  for (uint32_t rf : {0u, 1u}) {
    WriterOptions o = topic_t(rf);
    o.topic = "t" + std::to_string(rf);
    auto w = q->writer(o);
    ASSERT_TRUE(w.ok()) << w.status().to_string();
    EXPECT_EQ((*w)->topic().replication_factor, 1u);
    std::string meta = read_text(std::filesystem::path(dir.path()) / o.topic / "topic.json");
    EXPECT_EQ(meta.find("replication_factor"), std::string::npos) << meta;
  }
}

TEST(ReplicationFactor, AnEmbeddedQueueRefusesReplicasForANewTopic) {
  TempDir dir;
  auto q = open_queue(dir.path());
  ASSERT_NE(q, nullptr);
  for (uint32_t rf : {3u, 5u}) {
    auto w = q->writer(topic_t(rf));
    ASSERT_EQ(w.status().code(), Code::kInvalidArgument);
    EXPECT_NE(w.status().message().find("replication_factor " + std::to_string(rf) + " needs at least " +
                                        std::to_string(rf) + " nodes, and an embedded queue is one"),
              std::string::npos)
        << w.status().to_string();
    EXPECT_EQ(q->topic("t").status().code(), Code::kNotFound) << "nothing created";
  }
  auto bad = q->writer(topic_t(2));
  ASSERT_EQ(bad.status().code(), Code::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("must be 1, 3 or 5"), std::string::npos) << bad.status().to_string();
}

TEST(ReplicationFactor, ADamagedFactorInTopicJsonIsCorruption) {
  TempDir dir;
  {
    auto q = open_queue(dir.path());
    ASSERT_NE(q, nullptr);
    ASSERT_TRUE(q->writer(topic_t(1)).ok());
  }
  auto path = std::filesystem::path(dir.path()) / "t" / "topic.json";
  std::string meta = read_text(path);
  size_t brace = meta.rfind('}');
  meta.insert(brace, ",\n  \"replication_factor\": 2\n");
  // The closing brace of the object: insert before it, after the last field.
  std::ofstream(path) << meta;
  auto q = open_queue(dir.path());
  ASSERT_NE(q, nullptr);
  auto info = q->topic("t");
  ASSERT_EQ(info.status().code(), Code::kCorruption) << info.status().to_string();
  EXPECT_NE(info.status().message().find("replication_factor"), std::string::npos) << info.status().to_string();
}
