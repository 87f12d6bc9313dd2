// Broker::fetch parking over several partitions, driven directly (no sockets) on a memory
// QueueCore, with a partition's actor held busy by the test to order the messages of a race:
// a record that lands between a fetch's read and its park answers it at once.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>

#include "kafka/broker/broker.h"
#include "queue/queue_core.h"
#include "runtime/bucket_storage.h"

namespace persisting::kafka {
namespace {

class BrokerFetchParkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    QueueOptions qo;
    qo.threads = 2;
    auto core = detail::make_queue_core(qo, NodeId("n1"), {{NodeId("n1"), ""}});
    ASSERT_TRUE(core.ok()) << core.status().to_string();
    core_ = *core;
    broker_ = std::make_unique<Broker>(core_, CatalogOptions{}, BrokerConfig{});
    auto t = broker_->catalog().create("t", 2);
    ASSERT_TRUE(t.ok()) << t.status().to_string();
    topic_ = *t;
  }
  void TearDown() override {
    broker_.reset();
    topic_.reset();
    if (core_) (void)core_->manager->close_all();
  }

  std::shared_ptr<runtime::BucketStorage> actor(uint32_t p) {
    auto a = topic_->partition(p);
    EXPECT_TRUE(a.ok()) << a.status().to_string();
    return a.ok() ? *a : nullptr;
  }

  void produce_one(uint32_t partition, const std::string& value) {
    RecordBatch b;
    Record r;
    r.value = value;
    b.records.push_back(r);
    std::promise<ProduceOutcome> done;
    broker_->produce(topic_, partition, {b}, -1, [&](ProduceOutcome o) { done.set_value(o); });
    auto o = done.get_future().get();
    ASSERT_EQ(o.error, ErrorCode::NONE) << o.message;
  }

  std::shared_ptr<detail::QueueCore> core_;
  std::unique_ptr<Broker> broker_;
  std::shared_ptr<CatalogTopic> topic_;
};

// Partition 1's actor is held busy, so the fetch's read of partition 1 runs last and parks the
// fetch from the thread that releases it. Partition 0 was read empty, then got a record: its get
// finds that record at once, before the get of partition 1 is posted. The cancel of partition
// 1's wait must not overtake that get (else it parks for the whole max_wait).
TEST_F(BrokerFetchParkTest, RecordBetweenReadAndParkAnswersAtOnceAcrossPartitions) {
  auto busy = actor(1);
  ASSERT_TRUE(busy);
  std::promise<void> release, holding;
  auto released = release.get_future().share();
  std::thread holder([&] {
    busy->flush([&](Status) {  // runs inside partition 1's actor, which stays busy meanwhile
      holding.set_value();
      released.wait();
    });
  });
  holding.get_future().wait();

  // Shared: without the fix the answer comes at teardown, after this test has failed.
  auto answered = std::make_shared<std::promise<std::vector<FetchedPart>>>();
  auto answer = answered->get_future();
  // max_wait far longer than the wait below: an answer within it came from the record.
  broker_->fetch({{topic_, 0, 0, 1 << 20}, {topic_, 1, 0, 1 << 20}}, 30000, 1, 1 << 20, nullptr,
                 [answered](std::vector<FetchedPart> got) { answered->set_value(std::move(got)); });
  produce_one(0, "late");  // after partition 0 was read (empty), before the fetch parks
  release.set_value();
  holder.join();

  ASSERT_EQ(answer.wait_for(std::chrono::seconds(10)), std::future_status::ready)
      << "the fetch waited for its deadline although partition 0 had a record";
  auto got = answer.get();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].error, ErrorCode::NONE);
  EXPECT_FALSE(got[0].records.empty());
  EXPECT_TRUE(got[1].records.empty());
}

}  // namespace
}  // namespace persisting::kafka
