// Deleting a topic (docs/architecture.md, "Deleting a topic"): handles of the deleted topic get
// NotFound, also once the name is created again; the files go; a recreated topic starts empty.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "persisting/queue.h"
#include "queue/queue_core.h"
#include "queue/topic_meta.h"
#include "util/open_queue.h"
#include "util/temp_dir.h"

using namespace persisting;
using namespace std::chrono_literals;
using persisting::testing::open_queue;
using persisting::testing::TempDir;

namespace {

WriterOptions topic_t(const std::string& backend = "persisting") {
  return {.topic = "t", .bucket_column = "id", .num_buckets = 2, .batch_size = 2, .backend = backend};
}

size_t parked_readers(Queue& q, const std::string& topic) {
  auto stats = q.stats(topic);
  EXPECT_TRUE(stats.ok()) << stats.status().to_string();
  if (!stats.ok()) return 0;
  size_t n = 0;
  for (const Value& b : stats->find("buckets")->as_list()) n += b.as_object().find("parked_readers")->as_int();
  return n;
}

bool mentions(const Status& s, const std::string& what) { return s.message().find(what) != std::string::npos; }

}  // namespace

TEST(DeleteTopicTest, RecreatedTopicIsNewAndOldHandlesGetNotFound) {
  TempDir dir;
  auto q = open_queue(dir.path());
  auto w = q->writer(topic_t());
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE((*w)->put(Record{{"id", i}, {"old", true}}).ok());
  const uint64_t old_incarnation = (*w)->topic().incarnation;
  EXPECT_NE(old_incarnation, 0u);
  auto r = q->reader({.topic = "t"});
  ASSERT_TRUE(r.ok());
  auto idle = q->reader({.topic = "t"});  // parks below, with nothing to read at its offsets
  ASSERT_TRUE(idle.ok());
  ASSERT_TRUE((*idle)->set_offset(Offset(1000)).ok());
  std::promise<Result<std::vector<Message>>> parked;
  (*idle)->get_async(10, true, 120s, [&](Result<std::vector<Message>> m) { parked.set_value(std::move(m)); });
  // get_async parks once its first look finds nothing: wait (bounded) until both buckets hold it.
  for (int i = 0; i < 500 && parked_readers(*q, "t") < 2; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(parked_readers(*q, "t"), 2u);  // one waiter per bucket

  ASSERT_TRUE(q->delete_topic("t").ok());

  // The parked reader wakes with NotFound.
  auto woken = parked.get_future().get();
  ASSERT_FALSE(woken.ok());
  EXPECT_EQ(woken.status().code(), Code::kNotFound);
  EXPECT_TRUE(mentions(woken.status(), "'t'")) << woken.status().to_string();
  // The files are gone, and so is the topic.
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::path(dir.path()) / "t"));
  for (const auto& e : std::filesystem::directory_iterator(dir.path()))
    EXPECT_NE(e.path().filename().string().rfind(".deleted.", 0), 0u) << e.path();
  EXPECT_EQ(q->topic("t").status().code(), Code::kNotFound);
  auto listed = q->topics();
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty());

  // Created again: a new topic, empty from offset 0.
  auto w2 = q->writer(topic_t());
  ASSERT_TRUE(w2.ok()) << w2.status().to_string();
  EXPECT_NE((*w2)->topic().incarnation, old_incarnation);
  auto pos = (*w2)->put(Record{{"id", 1}, {"old", false}});
  ASSERT_TRUE(pos.ok());
  EXPECT_EQ(pos->offset.value(), 0u);

  // The old writer and reader still get NotFound: they never reach the new topic.
  auto late = (*w)->put(Record{{"id", 1}, {"old", true}});
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.status().code(), Code::kNotFound);
  EXPECT_TRUE(mentions(late.status(), "was deleted")) << late.status().to_string();
  Status late_batch = (*w)->put(std::vector<Record>{Record{{"id", 2}}, Record{{"id", 3}}});
  EXPECT_EQ(late_batch.code(), Code::kNotFound) << late_batch.to_string();
  auto old_get = (*r)->get(100);
  ASSERT_FALSE(old_get.ok());
  EXPECT_EQ(old_get.status().code(), Code::kNotFound);

  // A new reader sees only the new record.
  auto r2 = q->reader({.topic = "t"});
  ASSERT_TRUE(r2.ok());
  auto msgs = (*r2)->get(100);
  ASSERT_TRUE(msgs.ok()) << msgs.status().to_string();
  ASSERT_EQ(msgs->size(), 1u);
  EXPECT_EQ(msgs->at(0).record.find("old")->as_bool(), false);
  auto stats = q->stats("t");
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->find("total_count")->as_int(), 1);
}

TEST(DeleteTopicTest, RecreatedTopicSurvivesReopenWithoutOldRecords) {
  TempDir dir;
  uint64_t second = 0;
  {
    auto q = open_queue(dir.path());
    auto w = q->writer(topic_t());
    ASSERT_TRUE(w.ok());
    for (int i = 0; i < 7; ++i) ASSERT_TRUE((*w)->put(Record{{"id", i}}).ok());
    ASSERT_TRUE(q->delete_topic("t").ok());
    auto w2 = q->writer(topic_t());
    ASSERT_TRUE(w2.ok());
    second = (*w2)->topic().incarnation;
    ASSERT_TRUE((*w2)->put(Record{{"id", 9}}).ok());
  }
  auto q = open_queue(dir.path());
  auto info = q->topic("t");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->incarnation, second);  // stored in topic.json
  auto stats = q->stats("t");
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->find("total_count")->as_int(), 1);
}

TEST(DeleteTopicTest, MemoryTopicIsDeletedToo) {
  auto q = open_queue("");
  auto w = q->writer(topic_t("memory"));
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->put(Record{{"id", 1}}).ok());
  ASSERT_TRUE(q->delete_topic("t").ok());
  EXPECT_EQ((*w)->put(Record{{"id", 1}}).status().code(), Code::kNotFound);
  EXPECT_EQ(q->topic("t").status().code(), Code::kNotFound);
  auto w2 = q->writer(topic_t("memory"));
  ASSERT_TRUE(w2.ok());
  auto pos = (*w2)->put(Record{{"id", 1}});
  ASSERT_TRUE(pos.ok());
  EXPECT_EQ(pos->offset.value(), 0u);
}

TEST(DeleteTopicTest, UnknownTopicIsNotFoundAndChangesNothing) {
  TempDir dir;
  auto q = open_queue(dir.path());
  auto w = q->writer(topic_t());
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->put(Record{{"id", 1}}).ok());
  Status s = q->delete_topic("nope");
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_TRUE(mentions(s, "'nope'")) << s.to_string();
  EXPECT_EQ(q->delete_topic("../t").code(), Code::kInvalidArgument);
  EXPECT_EQ(q->delete_topic(".deleted.t.0000000000000000").code(), Code::kInvalidArgument);
  // The other topic is untouched.
  EXPECT_TRUE((*w)->put(Record{{"id", 2}}).ok());
  auto stats = q->stats("t");
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->find("total_count")->as_int(), 2);
  // A second delete of the same topic: the first deletes, the second finds nothing.
  ASSERT_TRUE(q->delete_topic("t").ok());
  EXPECT_EQ(q->delete_topic("t").code(), Code::kNotFound);
}

TEST(DeleteTopicTest, GroupCommitsGoWithTheTopic) {
  TempDir dir;
  auto q = open_queue(dir.path());
  auto w = q->writer(topic_t());
  ASSERT_TRUE(w.ok());
  for (int i = 0; i < 4; ++i) ASSERT_TRUE((*w)->put(Record{{"id", i}}).ok());
  {
    auto r = q->reader({.topic = "t", .group = "g"});
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    ASSERT_TRUE((*r)->get(100).ok());
    ASSERT_TRUE((*r)->commit().ok());
    ASSERT_TRUE((*r)->close().ok());
  }
  ASSERT_TRUE(q->delete_topic("t").ok());
  ASSERT_TRUE(q->writer(topic_t()).ok());
  auto groups = q->groups("t");
  ASSERT_TRUE(groups.ok()) << groups.status().to_string();
  EXPECT_TRUE(groups->empty());
}

TEST(DeleteTopicTest, LeftoversOfAnInterruptedDeleteAreRemovedOnOpen) {
  TempDir dir;
  const auto trash = std::filesystem::path(dir.path()) / ".deleted.t.00000000000000ab";
  std::filesystem::create_directories(trash / "bucket_0");
  { std::ofstream(trash / "topic.json") << "{}"; }
  auto q = open_queue(dir.path());
  EXPECT_FALSE(std::filesystem::exists(trash));
  auto listed = q->topics();
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty());
}

TEST(DeleteTopicTest, TopicJsonWithoutIncarnationReadsAsZero) {
  auto info = queue::decode_topic_meta(
      R"({"format":1,"topic":"t","bucket_column":"id","num_buckets":2,"batch_size":10,"backend":"memory"})", "x");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->incarnation, 0u);
  EXPECT_EQ(queue::encode_topic_meta(*info).find("incarnation"), std::string::npos);
  info->incarnation = 0x9f3c0a51d2e4b768ull;
  auto back = queue::decode_topic_meta(queue::encode_topic_meta(*info), "x");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->incarnation, 0x9f3c0a51d2e4b768ull);
  auto bad = queue::decode_topic_meta(
      R"({"format":1,"topic":"t","bucket_column":"id","num_buckets":2,"batch_size":10,"backend":"memory","incarnation":7})",
      "x");
  EXPECT_EQ(bad.status().code(), Code::kCorruption);
}

TEST(DeleteTopicTest, DeletedIncarnationIsNotMadeAgainWhenHandedOver) {
  // A node gets a topic from a peer that has not deleted its copy yet: that incarnation stays
  // deleted here; a new creation (incarnation 0: draw one) makes a new topic.
  auto core = detail::make_queue_core({.threads = 2}, NodeId("n1"), {{NodeId("n1"), ""}});
  ASSERT_TRUE(core.ok());
  auto made = (*core)->open_for_write(topic_t("memory"));
  ASSERT_TRUE(made.ok());
  auto deleted = (*core)->delete_topic("t");
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(deleted->incarnation, made->incarnation);
  auto handed = (*core)->open_for_write(topic_t("memory"), made->incarnation);
  EXPECT_EQ(handed.status().code(), Code::kNotFound) << handed.status().to_string();
  EXPECT_EQ((*core)->lookup("t").status().code(), Code::kNotFound);
  auto fresh = (*core)->open_for_write(topic_t("memory"));
  ASSERT_TRUE(fresh.ok());
  EXPECT_NE(fresh->incarnation, made->incarnation);
  // Deleting a given incarnation that is not the topic's is NotFound and changes nothing.
  EXPECT_EQ((*core)->delete_topic("t", made->incarnation).status().code(), Code::kNotFound);
  EXPECT_TRUE((*core)->lookup("t").ok());
  (void)(*core)->manager->close_all();
}

TEST(DeleteTopicTest, TopicBeingDeletedCannotBeOpenedBeforeItsFilesAreGone) {
  // Between retiring the actors and renaming the directory (steps 1 and 2 of a delete), the
  // files still name the old incarnation: opening the topic then is NotFound, not a reopen of
  // the incarnation being deleted (which would leave it cached in the queue).
  TempDir dir;
  auto core = detail::make_queue_core({.data_dir = dir.path(), .threads = 2}, NodeId("n1"), {{NodeId("n1"), ""}});
  ASSERT_TRUE(core.ok());
  auto made = (*core)->open_for_write(topic_t());
  ASSERT_TRUE(made.ok());
  (*core)->manager->retire_topic("t", made->incarnation);  // step 1 only
  {
    std::lock_guard<std::mutex> lock((*core)->mu);
    (*core)->topics.erase("t");
  }
  EXPECT_EQ((*core)->lookup("t").status().code(), Code::kNotFound);
  EXPECT_EQ((*core)->open_for_read("t").status().code(), Code::kNotFound);
  auto w = (*core)->open_for_write(topic_t());
  EXPECT_EQ(w.status().code(), Code::kNotFound) << w.status().to_string();
  EXPECT_NE(w.status().message().find("was deleted"), std::string::npos) << w.status().to_string();
  // A delete run now finishes it (as a delete that failed after step 1 is run again).
  auto finished = (*core)->delete_topic("t");
  ASSERT_TRUE(finished.ok()) << finished.status().to_string();
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::path(dir.path()) / "t"));
  auto fresh = (*core)->open_for_write(topic_t());
  ASSERT_TRUE(fresh.ok()) << fresh.status().to_string();
  EXPECT_NE(fresh->incarnation, made->incarnation);
  (void)(*core)->manager->close_all();
}
