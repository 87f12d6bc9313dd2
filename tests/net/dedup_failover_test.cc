// Producer deduplication across a failover (issue 18; docs/cluster.md, "Replication" and
// "Retries"): followers install their leader's deduplication entries with its records, so a put
// retried after `persisting cluster elect` is answered with its first offsets by the new leader
// instead of being appended again. Separate persistingd processes on loopback; every wait is
// bounded and waits for a condition (cluster status), never for time.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <csignal>
#include <optional>
#include <set>
#include <thread>

#include "net/connect_to.h"
#include "net/leader_view.h"
#include "net/node_process.h"
#include "net/replicated_topic.h"
#include "net/wire.h"
#include "persisting/client.h"
#include "persisting/v1/queue.grpc.pb.h"
#include "util/run_process.h"

namespace persisting {
namespace {

using testing::Cluster;
using testing::connect_to;
using testing::led_by;
using testing::View;
using testing::wait_led;
using testing::read_all;
using testing::records;
using testing::replicated;

// A put of records [from, to) to bucket 0 as producer 77 with sequence `sequence`, acks=all,
// straight to address (no client retries: the test does them).
grpc::Status put_as_producer(const std::string& address, int64_t from, int64_t to, uint64_t sequence,
                             v1::PutResponse* resp) {
  v1::PutRequest req;
  req.set_topic("dd");
  req.set_producer_id(77);
  req.set_acks(v1::ACKS_ALL);
  auto* br = req.add_buckets();
  br->set_bucket(0);
  br->set_sequence(sequence);
  RecordBatch batch;
  for (const Record& r : records(from, to)) batch.add(r);
  net::to_wire(batch, br->mutable_run());
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto stub = v1::QueueService::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  return stub->Put(&ctx, req, resp);
}

std::vector<int64_t> ids(int64_t from, int64_t to) {
  std::vector<int64_t> out;
  for (int64_t i = from; i < to; ++i) out.push_back(i);
  return out;
}

TEST(DedupFailover, APutRetriedAfterAnElectionIsAnsweredWithItsFirstOffsets) {
  Cluster cluster(3, {"--replica-lag-max-ms", "3000"});
  ASSERT_TRUE(cluster.start_all()) << cluster.log(0);
  auto c = connect_to(cluster.address(0));
  auto w = c->writer(replicated("dd"));
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  ASSERT_TRUE((*w)->put(records(0, 10)).ok());
  const int old = testing::leader_index(cluster, 3, "dd");
  ASSERT_GE(old, 0);
  std::optional<View> v;
  v = wait_led(cluster, old, "dd", [](const View& v) { return v.in_sync.size() == 3 && v.high_watermark == 10; });
  ASSERT_TRUE(v && v->in_sync.size() == 3) << "every follower in sync before the put";

  // Producer 77's put, acknowledged by every in-sync replica.
  v1::PutResponse first;
  grpc::Status s = put_as_producer(cluster.address(old), 10, 15, 1, &first);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(first.buckets_size(), 1);
  EXPECT_FALSE(first.buckets(0).duplicate());
  EXPECT_EQ(first.buckets(0).first_offset(), 10u);
  // A later acks=all put: its records reach each follower after the entry of producer 77's put
  // (applied before this one was sent), so once it is acknowledged with every follower in the
  // set, every follower has installed that entry.
  ASSERT_TRUE((*w)->put(records(15, 20)).ok());
  v = led_by(cluster, old, "dd");
  ASSERT_TRUE(v && v->in_sync.size() == 3 && v->high_watermark == 20);

  // The leader dies before its answer reached the producer (as far as the producer knows); a
  // follower is elected, and the producer retries through it.
  const std::string old_id = cluster.id(old);
  const std::string next_id = v->replicas[1] == old_id ? v->replicas[0] : v->replicas[1];
  const int next = cluster.index_of(next_id);
  ASSERT_EQ(cluster.kill(old, SIGKILL), -1);
  auto elected = testing::run_process({PERSISTING_BIN, "cluster", "elect", "--server", cluster.address(next), "--topic",
                                       "dd", "--bucket", "0", "--node", next_id});
  ASSERT_EQ(elected.exit_code, 0) << elected.err;

  v1::PutResponse retried;
  s = put_as_producer(cluster.address(next), 10, 15, 1, &retried);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(retried.buckets_size(), 1);
  EXPECT_TRUE(retried.buckets(0).duplicate()) << "the retry was appended again";
  EXPECT_EQ(retried.buckets(0).first_offset(), 10u);
  // The records are there once, in order, read through the new leader; the producer's next
  // sequence is applied as usual.
  v1::PutResponse later;
  s = put_as_producer(cluster.address(next), 20, 25, 2, &later);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_FALSE(later.buckets(0).duplicate());
  EXPECT_EQ(later.buckets(0).first_offset(), 20u);
  v = wait_led(cluster, next, "dd", [](const View& v) { return v.high_watermark == 25; });
  ASSERT_TRUE(v && v->high_watermark == 25);
  EXPECT_EQ(read_all(cluster.address(next), "dd"), ids(0, 25));
  w->reset();
  c.reset();
  for (int n = 0; n < 3; ++n) {
    if (n != old) {
      EXPECT_EQ(cluster.kill(n, SIGTERM), 0) << cluster.log(n);
    }
  }
}

}  // namespace
}  // namespace persisting
