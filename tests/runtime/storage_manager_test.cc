#include <gtest/gtest.h>

#include <future>

#include "runtime/storage_manager.h"

using namespace persisting;
using namespace persisting::runtime;

TEST(StorageManagerTest, GetOrCreateReturnsTheSameActor) {
  Executor ex(2);
  StorageManager m(ex, NodeId("n1"), {{NodeId("n1"), ""}}, Env::Default());
  BucketSpec spec{.topic = "t", .bucket = BucketId(2)};
  auto a = m.get_or_create(spec);
  auto b = m.get_or_create(spec);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->get(), b->get());
  EXPECT_EQ(m.find("t", BucketId(2)).get(), a->get());
  EXPECT_EQ(m.find("t", BucketId(3)), nullptr);
  auto list = m.list_buckets();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].topic, "t");
  EXPECT_EQ(list[0].bucket, BucketId(2));
  auto stats = m.stats();
  ASSERT_EQ(stats.size(), 1u);
  EXPECT_EQ(stats[0].bucket, 2u);
  EXPECT_EQ(stats[0].topic, "t");
}

TEST(StorageManagerTest, RefusesBucketsOwnedByOtherMembers) {
  Executor ex(2);
  std::vector<Member> members{{NodeId("n1"), "a:1"}, {NodeId("n2"), "b:1"}, {NodeId("n3"), "c:1"}};
  StorageManager m(ex, NodeId("n1"), members, Env::Default());
  int local = 0, remote = 0;
  for (uint32_t b = 0; b < 32; ++b) {
    BucketSpec spec{.topic = "events", .bucket = BucketId(b)};
    auto r = m.get_or_create(spec);
    const Member& owner = m.owner_of("events", BucketId(b));
    if (owner.id == NodeId("n1")) {
      EXPECT_TRUE(r.ok());
      ++local;
    } else {
      ASSERT_FALSE(r.ok());
      EXPECT_EQ(r.status().code(), Code::kFailedPrecondition);
      EXPECT_NE(r.status().message().find("owned by node " + owner.id.str()), std::string::npos);
      ++remote;
    }
  }
  EXPECT_GT(local, 0);
  EXPECT_GT(remote, 0);
  EXPECT_EQ(m.list_buckets().size(), static_cast<size_t>(local));
}

TEST(StorageManagerTest, BackendErrorsNameTheBucket) {
  Executor ex(2);
  StorageManager m(ex, NodeId("n1"), {{NodeId("n1"), ""}}, Env::Default());
  BucketSpec spec{.topic = "t", .bucket = BucketId(1), .backend = "memory", .options = {{"bogus", "1"}}};
  auto r = m.get_or_create(spec);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("topic 't' bucket 1"), std::string::npos);
  EXPECT_NE(r.status().message().find("'bogus'"), std::string::npos);
  EXPECT_TRUE(m.list_buckets().empty());
}

TEST(StorageManagerTest, CloseAllClosesEveryBucket) {
  Executor ex(2);
  StorageManager m(ex, NodeId("n1"), {{NodeId("n1"), ""}}, Env::Default());
  auto a = m.get_or_create({.topic = "t", .bucket = BucketId(0)});
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(m.close_all().ok());
  EXPECT_TRUE(m.list_buckets().empty());
  std::promise<Result<Offset>> p;
  RecordBatch batch;
  batch.add(Record{{"id", 1}});
  (*a)->put(batch, [&](Result<Offset> r) { p.set_value(std::move(r)); });
  EXPECT_EQ(p.get_future().get().status().code(), Code::kUnavailable);
}

// drop() (a cluster rebalance moving a bucket away): the actor is closed and forgotten; a holder
// of the old actor sees it closed; the next get_or_create makes a fresh one.
TEST(StorageManagerTest, DropClosesAndForgetsTheActor) {
  Executor ex(2);
  StorageManager m(ex, NodeId("n1"), {{NodeId("n1"), ""}}, Env::Default());
  BucketSpec spec{.topic = "t", .bucket = BucketId(0)};
  auto a = m.get_or_create(spec);
  ASSERT_TRUE(a.ok());
  RecordBatch batch;
  batch.add(Record{{"k", int64_t(1)}});
  std::promise<Result<Offset>> put;
  (*a)->put(batch, [&put](Result<Offset> r) { put.set_value(std::move(r)); });
  ASSERT_TRUE(put.get_future().get().ok());

  EXPECT_TRUE(m.drop("t", BucketId(0)).ok());
  EXPECT_EQ(m.find("t", BucketId(0)), nullptr);
  EXPECT_TRUE(m.list_buckets().empty());
  EXPECT_TRUE(m.drop("t", BucketId(0)).ok());  // nothing there: fine
  std::promise<Result<Offset>> late;
  (*a)->put(batch, [&late](Result<Offset> r) { late.set_value(std::move(r)); });
  auto r = late.get_future().get();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);

  auto fresh = m.get_or_create(spec);
  ASSERT_TRUE(fresh.ok());
  EXPECT_NE(fresh->get(), a->get());
  std::promise<Result<RecordBatch>> got;
  (*fresh)->get(Offset(0), 10, std::chrono::milliseconds(0), 0,
                [&got](Result<RecordBatch> b) { got.set_value(std::move(b)); });
  auto g = got.get_future().get();
  ASSERT_TRUE(g.ok());
  EXPECT_TRUE(g->empty());  // memory backend: the dropped bucket's records went with it
}
