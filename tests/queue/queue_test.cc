#include <gtest/gtest.h>

#include <fstream>

#include "core/hash.h"
#include "persisting/queue.h"
#include "util/open_queue.h"
#include "util/temp_dir.h"

using namespace persisting;
using persisting::testing::open_queue;
using persisting::testing::TempDir;

TEST(QueueTest, RecordsGoToTheDocumentedBucket) {
  auto q = open_queue("");
  auto w = q->writer({.topic = "t", .bucket_column = "user", .num_buckets = 8});
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  for (std::string user : {"ada", "bob", "cy", "dee", "eve"}) {
    auto pos = (*w)->put(Record{{"user", user}, {"x", 1}});
    ASSERT_TRUE(pos.ok());
    EXPECT_EQ(pos->bucket.value(), bucket_for_key(user, 8)) << user;
  }
  // Integer keys hash as their decimal text.
  auto pos = (*w)->put(Record{{"user", 42}});
  ASSERT_TRUE(pos.ok());
  EXPECT_EQ(pos->bucket.value(), bucket_for_key("42", 8));
}

TEST(QueueTest, SameKeyKeepsPutOrderInOneBucket) {
  auto q = open_queue("");
  auto w = q->writer({.topic = "t"});
  ASSERT_TRUE(w.ok());
  for (int i = 0; i < 50; ++i) {
    auto pos = (*w)->put(Record{{"id", "same"}, {"i", i}});
    ASSERT_TRUE(pos.ok());
    EXPECT_EQ(pos->offset.value(), static_cast<uint64_t>(i));
  }
}

TEST(QueueTest, MissingBucketColumnRejectsTheWholeBatch) {
  auto q = open_queue("");
  auto w = q->writer({.topic = "t"});
  ASSERT_TRUE(w.ok());
  std::vector<Record> batch{Record{{"id", "a"}}, Record{{"id", "b"}}, Record{{"name", "no id"}}};
  Status s = (*w)->put(batch);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("record 2"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("'id'"), std::string::npos);
  auto stats = (*w)->stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->find("total_count")->as_int(), 0);  // nothing of the batch was written
}

TEST(QueueTest, NullOrUnhashableBucketValuesAreRejected) {
  auto q = open_queue("");
  auto w = q->writer({.topic = "t"});
  ASSERT_TRUE(w.ok());
  auto null_key = (*w)->put(Record{{"id", nullptr}});
  EXPECT_EQ(null_key.status().code(), Code::kInvalidArgument);
  EXPECT_NE(null_key.status().message().find("no value in bucket column"), std::string::npos);
  auto list_key = (*w)->put(Record{{"id", List{1, 2}}});
  EXPECT_EQ(list_key.status().code(), Code::kInvalidArgument);
  EXPECT_NE(list_key.status().message().find("list value cannot be a bucket key"), std::string::npos);
}

TEST(QueueTest, TooDeeplyNestedRecordsAreRejectedAtPut) {
  auto q = open_queue("");
  auto w = q->writer({.topic = "t"});
  ASSERT_TRUE(w.ok());
  Value deep = List{};
  for (int i = 0; i < 100; ++i) deep = List{deep};
  Status s = (*w)->put(std::vector<Record>{Record{{"id", "ok"}}, Record{{"id", "x"}, {"deep", deep}}});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("record 1"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("nesting deeper than"), std::string::npos) << s.message();
  EXPECT_EQ((*w)->stats()->find("total_count")->as_int(), 0);
}

TEST(QueueTest, TopicNamesAreValidated) {
  struct Case {
    std::string name, expect;
  } cases[] = {{"", "is empty"},
               {"a/b", "path separator"},
               {"a\\b", "path separator"},
               {"..", "starts with '.'"},
               {".hidden", "starts with '.'"},
               {"-x", "starts with '-'"},
               {"a..b", "contains \"..\""},
               {"has space", "outside the allowed set"},
               {std::string(129, 'a'), "longer than 128"}};
  for (const auto& c : cases) {
    Status s = validate_topic_name(c.name);
    ASSERT_FALSE(s.ok()) << c.name;
    EXPECT_EQ(s.code(), Code::kInvalidArgument);
    EXPECT_NE(s.message().find(c.expect), std::string::npos) << c.name << ": " << s.message();
  }
  for (std::string ok : std::vector<std::string>{"a", "events.v2", "A_b-c.9", std::string(128, 'z')})
    EXPECT_TRUE(validate_topic_name(ok).ok()) << ok;

  TempDir dir;
  auto q = open_queue(dir.path());
  auto w = q->writer({.topic = "../escape"});
  ASSERT_FALSE(w.ok());
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::path(dir.path()).parent_path() / "escape"));
}

TEST(QueueTest, BadWriterSettingsAreRejected) {
  auto q = open_queue("");
  EXPECT_NE(q->writer({.topic = "t", .num_buckets = 0}).status().message().find("num_buckets"), std::string::npos);
  EXPECT_NE(q->writer({.topic = "t", .batch_size = 0}).status().message().find("batch_size"), std::string::npos);
  EXPECT_NE(q->writer({.topic = "t", .bucket_column = ""}).status().message().find("bucket_column"), std::string::npos);
  auto unknown = q->writer({.topic = "t", .backend = "nosuch"});
  EXPECT_EQ(unknown.status().code(), Code::kNotFound);
  EXPECT_NE(unknown.status().message().find("'nosuch'"), std::string::npos);
  auto bad_opt = q->writer({.topic = "t", .backend_options = {{"nope", "1"}}});
  EXPECT_EQ(bad_opt.status().code(), Code::kInvalidArgument);
  EXPECT_NE(bad_opt.status().message().find("'nope'"), std::string::npos);
}

TEST(QueueTest, TopicMetadataIsPersistedAndFoundOnReopen) {
  TempDir dir;
  {
    auto q = open_queue(dir.path());
    ASSERT_TRUE(q->writer({.topic = "orders", .bucket_column = "order_id", .num_buckets = 6, .batch_size = 50}).ok());
    ASSERT_TRUE(q->writer({.topic = "clicks"}).ok());
  }
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/orders/topic.json"));
  auto q = open_queue(dir.path());
  auto topics = q->topics();
  ASSERT_TRUE(topics.ok());
  ASSERT_EQ(topics->size(), 2u);
  EXPECT_EQ((*topics)[0].topic, "clicks");
  EXPECT_EQ((*topics)[1].topic, "orders");
  EXPECT_EQ((*topics)[1].bucket_column, "order_id");
  EXPECT_EQ((*topics)[1].num_buckets, 6u);
  EXPECT_EQ((*topics)[1].batch_size, 50u);
  EXPECT_EQ((*topics)[1].backend, "memory");
  EXPECT_FALSE((*topics)[1].durable);
}

TEST(QueueTest, ReopeningWithConflictingSettingsIsAnError) {
  TempDir dir;
  {
    auto q = open_queue(dir.path());
    ASSERT_TRUE(q->writer({.topic = "t", .num_buckets = 4}).ok());
  }
  auto q = open_queue(dir.path());
  auto w = q->writer({.topic = "t", .bucket_column = "user", .num_buckets = 8});
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(w.status().message().find("num_buckets is 4, not 8"), std::string::npos) << w.status().message();
  EXPECT_NE(w.status().message().find("bucket_column is 'id', not 'user'"), std::string::npos);
  // Same settings reopen fine.
  EXPECT_TRUE(q->writer({.topic = "t", .num_buckets = 4}).ok());
}

TEST(QueueTest, ReaderOpensATopicByNameAlone) {
  auto q = open_queue("");
  auto w = q->writer({.topic = "t", .bucket_column = "k", .num_buckets = 3});
  ASSERT_TRUE(w.ok());
  auto r = q->reader({.topic = "t"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->topic().num_buckets, 3u);
  EXPECT_EQ((*r)->topic().bucket_column, "k");
  EXPECT_EQ((*r)->buckets().size(), 3u);
  auto missing = q->reader({.topic = "nope"});
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
}

TEST(QueueTest, MemoryTopicFromAnotherProcessSaysItsDataIsGone) {
  TempDir dir;
  {
    auto q = open_queue(dir.path());
    auto w = q->writer({.topic = "t"});
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->put(Record{{"id", 1}}).ok());
  }
  auto q = open_queue(dir.path());  // as a later process would
  auto r = q->reader({.topic = "t"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("non-durable backend 'memory'"), std::string::npos);
}

TEST(QueueTest, CorruptTopicMetadataIsReported) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() + "/t");
  std::ofstream(dir.path() + "/t/topic.json") << "{not json";
  auto q = open_queue(dir.path());
  auto r = q->reader({.topic = "t"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kCorruption);
  EXPECT_NE(r.status().message().find("topic.json"), std::string::npos);
  std::ofstream(dir.path() + "/t/topic.json") << R"({"format": 99, "topic": "t"})";
  EXPECT_EQ(q->reader({.topic = "t"}).status().code(), Code::kNotSupported);
}

TEST(QueueTest, AsyncPutCompletesFuturesAndCallbacks) {
  auto q = open_queue("");
  auto w = q->writer({.topic = "t"});
  ASSERT_TRUE(w.ok());
  std::vector<Record> batch;
  for (int i = 0; i < 100; ++i) batch.push_back(Record{{"id", i}});
  auto f = (*w)->put_async(batch);
  EXPECT_TRUE(f.get().ok());
  std::promise<Status> p;
  (*w)->put_async(batch, [&](Status s) { p.set_value(s); });
  EXPECT_TRUE(p.get_future().get().ok());
  std::promise<Status> bad;
  (*w)->put_async({Record{{"x", 1}}}, [&](Status s) { bad.set_value(s); });
  EXPECT_EQ(bad.get_future().get().code(), Code::kInvalidArgument);
  EXPECT_EQ((*w)->stats()->find("total_count")->as_int(), 200);
  EXPECT_TRUE((*w)->flush().ok());
}

// Issue 13, defect 3, through the library: a batch one bucket refuses changes no bucket, the
// report says so, and errors use the caller's record numbers (never positions in a bucket's part).
TEST(QueueTest, Defect3_BatchRefusedByOneBucketChangesNoBucketAndReportsIt) {
  TempDir dir;
  auto q = Queue::open({.data_dir = dir.path()});
  ASSERT_TRUE(q.ok()) << q.status().to_string();
  auto w = (*q)->writer({.topic = "q", .bucket_column = "id", .num_buckets = 4, .backend = "persisting"});
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  std::vector<Record> batch{Record{{"id", "b"}, {"n", 1}}, Record{{"id", "a"}, {"n", 1}},
                            Record{{"id", "a"}, {"n", "s"}}};
  std::vector<uint64_t> numbers{10, 20, 30};
  PutReport report;
  Status s = (*w)->put(batch, &report, &numbers);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("record 20"), std::string::npos) << s.to_string();
  EXPECT_NE(s.message().find("record 30"), std::string::npos) << s.to_string();
  EXPECT_TRUE(report.refused);
  EXPECT_EQ(report.acknowledged(), 0u);
  EXPECT_EQ(report.parts.size(), 2u);
  auto r = (*q)->reader({.topic = "q"});
  ASSERT_TRUE(r.ok());
  auto got = (*r)->get(10);
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->empty()) << "a refused batch wrote " << got->size() << " records";

  // A good batch: every part acknowledged, with offsets.
  ASSERT_TRUE((*w)->put({Record{{"id", "b"}, {"n", 2}}, Record{{"id", "a"}, {"n", 3}}}, &report).ok());
  EXPECT_FALSE(report.refused);
  EXPECT_EQ(report.acknowledged(), 2u);
  for (const auto& p : report.parts) {
    EXPECT_TRUE(p.acknowledged);
    EXPECT_EQ(p.first.value(), 0u);
  }
  // The writer now knows both buckets accept {id: string, n: int}: a part of that shape skips the
  // check round, a part of another shape does not, so this batch is still refused whole.
  Status again = (*w)->put({Record{{"id", "b"}, {"n", 4}}, Record{{"id", "a"}, {"n", "s"}}}, &report);
  EXPECT_EQ(again.code(), Code::kInvalidArgument) << again.to_string();
  EXPECT_TRUE(report.refused);
  auto after = (*r)->get(10);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->size(), 2u);
}
