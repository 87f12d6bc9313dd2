// Replication in batches (docs/cluster.md, "Replication"): a follower asks a leader node for
// every bucket it follows from it in one Replicate call, and a bucket the leader refuses (another
// leader epoch) is answered with its error while the others get their records. Three persistingd
// processes on loopback.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <csignal>
#include <map>
#include <set>
#include <thread>

#include "net/connect_to.h"
#include "net/metrics_sample.h"
#include "net/node_process.h"
#include "net/wire.h"
#include "persisting/client.h"
#include "persisting/v1/queue.grpc.pb.h"

namespace persisting {
namespace {

using testing::Cluster;
using testing::connect_to;
using testing::sample;

constexpr int kBuckets = 12;

WriterOptions spread(const std::string& topic) {
  return {.topic = topic, .bucket_column = "k", .num_buckets = kBuckets, .backend = "persisting",
          .replication_factor = 3};
}

// Records {"id": i, "k": i % kBuckets}: spread over the buckets.
std::vector<Record> spread_records(int64_t from, int64_t to) {
  std::vector<Record> out;
  for (int64_t i = from; i < to; ++i) out.push_back(Record{{"id", i}, {"k", i % kBuckets}});
  return out;
}

// Each bucket's leader (node id), as cluster status through address says.
std::map<uint32_t, std::string> leaders(const std::string& address, const std::string& topic) {
  std::map<uint32_t, std::string> out;
  auto c = connect_to(address);
  if (!c) return out;
  auto st = c->cluster_status(topic);
  EXPECT_TRUE(st.ok()) << st.status().to_string();
  if (!st.ok()) return out;
  for (const auto& b : st->find("buckets")->as_list()) {
    const Object& o = b.as_object();
    out[static_cast<uint32_t>(o.find("bucket")->as_int())] = o.find("leader")->as_string();
  }
  return out;
}

TEST(ReplicationBatch, AFollowerAsksForEveryBucketItFollowsFromALeaderInOneCall) {
  std::vector<int> mports{testing::free_port(), testing::free_port(), testing::free_port()};
  Cluster cluster(3);
  for (int i = 0; i < 3; ++i) cluster.set_node_args(i, {"--metrics", "127.0.0.1:" + std::to_string(mports[i])});
  ASSERT_TRUE(cluster.start_all()) << cluster.log(0);
  auto c = connect_to(cluster.address(0));
  auto w = c->writer(spread("rb"));
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  Status p0 = (*w)->put(spread_records(0, 120));  // acks=all: on every replica
  ASSERT_TRUE(p0.ok()) << p0.to_string();
  std::map<std::string, int> led;  // node id -> buckets it leads
  for (const auto& [b, id] : leaders(cluster.address(0), "rb")) ++led[id];
  int most = 0;
  for (int l = 0; l < 3; ++l) {
    const int n = led[cluster.id(l)];
    most = std::max(most, n);
    if (n == 0) continue;
    for (int f = 0; f < 3; ++f) {
      if (f == l) continue;
      // Factor 3 on 3 nodes: f follows every bucket l leads, all of them in each call.
      const std::string series = "persisting_replicate_buckets{follower=\"" + cluster.id(f) + "\"}";
      double got = -1;
      for (int i = 0; i < 100 && got != n; ++i) {  // bounded: the calls of the first scans may list fewer
        got = sample(mports[l], series);
        if (got != n) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      EXPECT_EQ(got, n) << "leader " << cluster.id(l) << ", follower " << cluster.id(f);
    }
  }
  EXPECT_GE(most, 2) << "some node leads several buckets";
  for (int i = 0; i < 3; ++i) EXPECT_EQ(cluster.kill(i, SIGTERM), 0) << cluster.log(i);
}

TEST(ReplicationBatch, ABucketRefusedForItsEpochDoesNotStallTheOthers) {
  Cluster cluster(3);
  ASSERT_TRUE(cluster.start_all()) << cluster.log(0);
  auto c = connect_to(cluster.address(0));
  auto w = c->writer(spread("re"));
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  Status p0 = (*w)->put(spread_records(0, 120));
  ASSERT_TRUE(p0.ok()) << p0.to_string();
  // A node that leads two buckets, one of them with records, and another node (a follower of
  // both).
  std::map<std::string, std::vector<uint32_t>> by_leader;
  for (const auto& [b, id] : leaders(cluster.address(0), "re")) by_leader[id].push_back(b);
  int l = -1;
  for (int i = 0; i < 3; ++i)
    if (by_leader[cluster.id(i)].size() >= 2) l = i;
  ASSERT_GE(l, 0);
  std::map<uint32_t, int64_t> count;  // the buckets l leads: their record counts
  {
    auto st = connect_to(cluster.address(l))->cluster_status("re");
    ASSERT_TRUE(st.ok()) << st.status().to_string();
    for (const auto& b : st->find("buckets")->as_list()) {
      const Object& o = b.as_object();
      if (o.find("leader")->as_string() == cluster.id(l) && o.find("log_ends"))
        count[static_cast<uint32_t>(o.find("bucket")->as_int())] =
            o.find("log_ends")->as_object().find(cluster.id(l))->as_int();
    }
  }
  uint32_t fine = kBuckets, stale = kBuckets;
  for (const auto& [b, n] : count) {
    if (n > 0 && fine == kBuckets)
      fine = b;
    else if (stale == kBuckets)
      stale = b;
  }
  ASSERT_LT(fine, kBuckets);
  ASSERT_LT(stale, kBuckets);
  const int f = (l + 1) % 3;

  // As follower f: one bucket at an epoch the leader is not at, one at its own.
  v1::ReplicateRequest req;
  req.set_follower(cluster.id(f));
  req.set_max_records(100);
  req.set_wait_ms(0);
  for (auto [b, epoch] : {std::pair<uint32_t, uint64_t>{stale, 7}, {fine, 0}}) {
    auto* rb = req.add_buckets();
    rb->set_topic("re");
    rb->set_bucket(b);
    rb->set_leader_epoch(epoch);
    rb->set_log_end(0);
  }
  // The topic's incarnation, as the leader has it.
  {
    v1::GetTopicRequest q;
    q.set_topic("re");
    v1::GetTopicResponse r;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    auto stub = v1::QueueService::NewStub(grpc::CreateChannel(cluster.address(l), grpc::InsecureChannelCredentials()));
    ASSERT_TRUE(stub->GetTopic(&ctx, q, &r).ok());
    for (auto& rb : *req.mutable_buckets()) rb.set_incarnation(r.topic().incarnation());
  }
  v1::ReplicateResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto stub = v1::QueueService::NewStub(grpc::CreateChannel(cluster.address(l), grpc::InsecureChannelCredentials()));
  grpc::Status s = stub->Replicate(&ctx, req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(resp.buckets_size(), 2);
  EXPECT_EQ(resp.buckets(0).error_code(), static_cast<uint32_t>(Code::kFailedPrecondition));
  EXPECT_NE(resp.buckets(0).error().find("is at leader epoch 7"), std::string::npos) << resp.buckets(0).error();
  EXPECT_EQ(resp.buckets(0).run().ends_size(), 0);
  EXPECT_EQ(resp.buckets(1).error_code(), 0u) << resp.buckets(1).error();
  EXPECT_EQ(resp.buckets(1).offset(), 0u);
  auto run = net::from_wire(resp.buckets(1).run(), "bucket " + std::to_string(fine));
  ASSERT_TRUE(run.ok()) << run.status().to_string();
  EXPECT_EQ(static_cast<int64_t>(run->size()), count[fine]);

  // The real followers go on: acks=all puts to every bucket are taken.
  ASSERT_TRUE((*w)->put(spread_records(120, 240)).ok());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(cluster.kill(i, SIGTERM), 0) << cluster.log(i);
}

// ReplicateStream carries the rounds a follower sends one call each with Replicate: each request
// written is answered by one response, in order, from that request's log ends; a bucket refused
// in one round leaves the stream open for the next.
TEST(ReplicationBatch, AStreamAnswersEachRoundFromItsOwnLogEnds) {
  Cluster cluster(3);
  ASSERT_TRUE(cluster.start_all()) << cluster.log(0);
  auto c = connect_to(cluster.address(0));
  auto w = c->writer(spread("rs"));
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  ASSERT_TRUE((*w)->put(spread_records(0, 120)).ok());
  // A bucket with at least 5 records, its leader l and their count.
  uint32_t b = kBuckets;
  int64_t count = 0;
  int l = -1;
  {
    auto st = c->cluster_status("rs");
    ASSERT_TRUE(st.ok()) << st.status().to_string();
    for (const auto& e : st->find("buckets")->as_list()) {
      const Object& o = e.as_object();
      const std::string leader = o.find("leader")->as_string();
      const Value* ends = o.find("log_ends");
      if (b != kBuckets || !ends || !ends->as_object().find(leader)) continue;
      if (ends->as_object().find(leader)->as_int() < 5) continue;
      b = static_cast<uint32_t>(o.find("bucket")->as_int());
      count = ends->as_object().find(leader)->as_int();
      for (int i = 0; i < 3; ++i)
        if (cluster.id(i) == leader) l = i;
    }
  }
  ASSERT_LT(b, kBuckets);
  ASSERT_GE(l, 0);
  const int f = (l + 1) % 3;
  auto stub = v1::QueueService::NewStub(grpc::CreateChannel(cluster.address(l), grpc::InsecureChannelCredentials()));
  uint64_t incarnation = 0;
  {
    v1::GetTopicRequest q;
    q.set_topic("rs");
    v1::GetTopicResponse r;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    ASSERT_TRUE(stub->GetTopic(&ctx, q, &r).ok());
    incarnation = r.topic().incarnation();
  }
  uint64_t session = 0, version = 0;  // the producer entries this "follower" has (answered)
  auto request = [&](uint64_t log_end, uint64_t epoch, uint32_t wait_ms) {
    v1::ReplicateRequest req;
    req.set_follower(cluster.id(f));
    req.set_max_records(1000);
    req.set_wait_ms(wait_ms);
    auto* rb = req.add_buckets();
    rb->set_topic("rs");
    rb->set_incarnation(incarnation);
    rb->set_bucket(b);
    rb->set_leader_epoch(epoch);
    rb->set_log_end(log_end);
    rb->set_producers_session(session);
    rb->set_producers_version(version);
    return req;
  };
  // The ids of a bucket's answered run.
  auto ids = [&](const v1::ReplicateResponse& resp) {
    std::vector<int64_t> out;
    auto run = net::from_wire(resp.buckets(0).run(), "bucket " + std::to_string(b));
    EXPECT_TRUE(run.ok()) << run.status().to_string();
    if (!run.ok()) return out;
    for (size_t i = 0; i < run->size(); ++i) {
      auto r = run->decode(i);
      EXPECT_TRUE(r.ok()) << r.status().to_string();
      if (r.ok()) out.push_back(r->find("id")->as_int());
    }
    return out;
  };
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  auto stream = stub->ReplicateStream(&ctx);
  v1::ReplicateResponse resp;

  // Round 1, from 0: the bucket's records (ids whose k, id % 12, maps to it).
  ASSERT_TRUE(stream->Write(request(0, 0, 0)));
  ASSERT_TRUE(stream->Read(&resp));
  ASSERT_EQ(resp.buckets_size(), 1);
  EXPECT_EQ(resp.buckets(0).error_code(), 0u) << resp.buckets(0).error();
  EXPECT_EQ(resp.buckets(0).offset(), 0u);
  const std::vector<int64_t> want = ids(resp);
  ASSERT_EQ(static_cast<int64_t>(want.size()), count);
  std::set<int64_t> ks;
  for (int64_t id : want) ks.insert(id % kBuckets);

  // Round 2, from 4 (what this "follower" says it has): the records after it.
  ASSERT_TRUE(stream->Write(request(4, 0, 0)));
  ASSERT_TRUE(stream->Read(&resp));
  ASSERT_EQ(resp.buckets_size(), 1);
  EXPECT_EQ(resp.buckets(0).offset(), 4u);
  EXPECT_EQ(ids(resp), std::vector<int64_t>(want.begin() + 4, want.end()));
  session = resp.buckets(0).producers_session();  // else the leader answers its entries at once
  version = resp.buckets(0).producers_version();

  // Round 3, at another leader epoch: the bucket refused, the stream still open.
  ASSERT_TRUE(stream->Write(request(count, 7, 0)));
  ASSERT_TRUE(stream->Read(&resp));
  ASSERT_EQ(resp.buckets_size(), 1);
  EXPECT_EQ(resp.buckets(0).error_code(), static_cast<uint32_t>(Code::kFailedPrecondition));
  EXPECT_NE(resp.buckets(0).error().find("is at leader epoch 7"), std::string::npos) << resp.buckets(0).error();

  // Round 4, from the end, with every producer entry: waits, and is answered with the records
  // put after it (while it waits, or before it was read). A round at which this "follower" joins
  // the in-sync set is answered at once, empty (so that it hears it): it asks again (bounded).
  ASSERT_TRUE(stream->Write(request(count, 0, 10000)));
  ASSERT_TRUE((*w)->put(spread_records(120, 240)).ok());
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE(stream->Read(&resp));
    ASSERT_EQ(resp.buckets_size(), 1);
    EXPECT_EQ(resp.buckets(0).error_code(), 0u) << resp.buckets(0).error();
    if (resp.buckets(0).run().ends_size() > 0) break;
    ASSERT_TRUE(stream->Write(request(count, 0, 10000)));
  }
  EXPECT_EQ(resp.buckets(0).offset(), static_cast<uint64_t>(count));
  std::vector<int64_t> more;
  for (int64_t i = 120; i < 240; ++i)
    if (ks.count(i % kBuckets)) more.push_back(i);
  EXPECT_EQ(ids(resp), more);

  ASSERT_TRUE(stream->WritesDone());
  grpc::Status s = stream->Finish();
  EXPECT_TRUE(s.ok()) << s.error_message();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(cluster.kill(i, SIGTERM), 0) << cluster.log(i);
}

}  // namespace
}  // namespace persisting
