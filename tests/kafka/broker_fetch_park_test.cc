// Broker::fetch parking over several partitions, driven directly (no sockets) on a memory
// QueueCore, with a partition's actor held busy by the test to order the messages of a race:
// a record that lands between a fetch's read and its park answers it at once.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "core/status_macros.h"
#include "kafka/broker/broker.h"
#include "kafka/broker/cluster.h"
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

// One node leading every partition of a replicated topic: each partition's high watermark is
// what the test sets, and a wait for it to pass is answered at once, with the high watermark
// moved there (as when the followers' reports arrive while the fetch parks).
class LeaderOfAll final : public KafkaCluster {
 public:
  explicit LeaderOfAll(std::shared_ptr<detail::QueueCore> core) : core_(std::move(core)) {}
  int32_t self_id() const override { return 1; }
  std::vector<BrokerAddress> brokers() const override { return {{1, "n1", "127.0.0.1", 9}}; }
  Result<ClusterTopic> find_topic(const std::string& name) override {
    ASSIGN_OR_RETURN(TopicInfo info, core_->lookup(name));
    return ClusterTopic{info, true};
  }
  Status adopt_topic(const TopicInfo&) override { return Status::OK(); }
  std::vector<TopicInfo> topics() override {
    auto all = core_->list_topics();
    return all.ok() ? *all : std::vector<TopicInfo>{};
  }
  int32_t leader(const std::string&, uint32_t) override { return 1; }
  Status check_replication_factor(const std::string&, uint32_t) override { return Status::OK(); }
  Result<std::shared_ptr<runtime::BucketStorage>> local_partition(const std::string& topic, uint32_t p) override {
    ASSIGN_OR_RETURN(TopicInfo info, core_->lookup(topic));
    ASSIGN_OR_RETURN(auto actors, core_->actors(info, {BucketId(p)}, {}));
    return actors[0];
  }
  Result<ProduceSlot> begin_produce(const std::string& topic, uint32_t p) override {
    ASSIGN_OR_RETURN(auto actor, local_partition(topic, p));
    return ProduceSlot{std::move(actor), [] {}};
  }
  Status delete_topic(const std::string& name) override { return core_->delete_topic(name).status(); }
  BrokerAddress coordinator(const std::string&) const override { return {1, "n1", "127.0.0.1", 9}; }
  void run_blocking(std::function<void()> work) override { work(); }
  Result<std::optional<uint64_t>> high_watermark(const std::string&, uint32_t p) override {
    std::lock_guard<std::mutex> lock(mu_);
    return std::optional<uint64_t>(hw_[p]);
  }
  void wait_high_watermark(const std::string&, uint32_t p, uint64_t end, std::function<void(Status)> cb) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      hw_[p] = std::max(hw_[p], end);
    }
    cb(Status::OK());
  }

 private:
  std::shared_ptr<detail::QueueCore> core_;
  std::mutex mu_;
  std::map<uint32_t, uint64_t> hw_;  // 0 until a wait moves it
};

// A fetch of a replicated topic parks on partition 0's high watermark (its record is held back)
// and on an append to partition 1. The high watermark passes while the waits are registered,
// before partition 1's get is posted: the fetch answers with the record, and no get of it may
// stay parked in partition 1 afterwards (one did, for the whole max_wait).
TEST(BrokerFetchParkReplicatedTest, AWinnerWhileParkingLeavesNoWaiterBehind) {
  QueueOptions qo;
  qo.threads = 2;
  auto core = detail::make_queue_core(qo, NodeId("n1"), {{NodeId("n1"), ""}});
  ASSERT_TRUE(core.ok()) << core.status().to_string();
  LeaderOfAll cluster(*core);
  {
    Broker broker(*core, CatalogOptions{}, BrokerConfig{});
    broker.catalog().set_cluster(&cluster);
    auto t = broker.catalog().create("r", 2, 3);
    ASSERT_TRUE(t.ok()) << t.status().to_string();
    ASSERT_TRUE((*t)->replicated());
    RecordBatch b;
    Record r;
    r.value = "held";
    b.records.push_back(r);
    std::promise<ProduceOutcome> produced;
    broker.produce(*t, 0, {b}, -1, [&](ProduceOutcome o) { produced.set_value(o); });
    auto o = produced.get_future().get();
    ASSERT_EQ(o.error, ErrorCode::NONE) << o.message;

    auto answered = std::make_shared<std::promise<std::vector<FetchedPart>>>();
    auto answer = answered->get_future();
    broker.fetch({{*t, 0, 0, 1 << 20}, {*t, 1, 0, 1 << 20}}, 30000, 1, 1 << 20, nullptr,
                 [answered](std::vector<FetchedPart> got) { answered->set_value(std::move(got)); });
    ASSERT_EQ(answer.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    auto got = answer.get();
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].error, ErrorCode::NONE);
    EXPECT_FALSE(got[0].records.empty());
    EXPECT_TRUE(got[1].records.empty());

    auto p1 = (*t)->partition(1);
    ASSERT_TRUE(p1.ok()) << p1.status().to_string();
    // The cancel is posted to partition 1's mailbox: a stats call behind it sees its effect.
    auto stats = runtime::stats_of({*p1});
    ASSERT_EQ(stats.size(), 1u);
    EXPECT_EQ(stats[0].parked_readers, 0u) << "a get of the answered fetch is still parked in partition 1";
  }
  (void)(*core)->manager->close_all();
}

}  // namespace
}  // namespace persisting::kafka
