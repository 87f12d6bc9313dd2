// The remote Client's put retries while a bucket's owner is being switched by a rebalance
// (docs/wire-protocol.md, "Rebalance"), against an in-process fake node that stands for the
// switch: its lookups keep naming it the owner while its puts answer "is owned by node n3", as
// an old owner does for a moment when it has switched and the node the client asked has not.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>

#include "net/grpc_status.h"
#include "persisting/client.h"
#include "persisting/v1/queue.grpc.pb.h"

namespace persisting {
namespace {

namespace v1 = persisting::v1;

// Answers GetBucket with Ready(itself) always, and the first `refusals` puts with the old
// owner's stale-owner refusal; the puts after that are applied (at offset 0).
class SwitchingOwner final : public v1::QueueService::Service {
 public:
  explicit SwitchingOwner(int refusals) : refusals_(refusals) {}
  std::string address;
  std::atomic<int> puts{0};

  grpc::Status CreateTopic(grpc::ServerContext*, const v1::CreateTopicRequest* req,
                           v1::CreateTopicResponse* resp) override {
    *resp->mutable_topic() = req->spec();
    return grpc::Status::OK;
  }
  grpc::Status GetBucket(grpc::ServerContext*, const v1::GetBucketRequest*, v1::GetBucketResponse* resp) override {
    resp->mutable_ready()->mutable_owner()->set_id("n1");
    resp->mutable_ready()->mutable_owner()->set_address(address);
    return grpc::Status::OK;
  }
  grpc::Status Put(grpc::ServerContext*, const v1::PutRequest* req, v1::PutResponse* resp) override {
    if (++puts <= refusals_) {
      const std::string b = std::to_string(req->buckets(0).bucket());
      return net::to_grpc(FailedPrecondition("topic '" + req->topic() + "' bucket " + b +
                                             " is owned by node n3, not n1: ask GetBucket for the owner"));
    }
    for (const auto& br : req->buckets()) {
      auto* a = resp->add_buckets();
      a->set_bucket(br.bucket());
      a->set_count(static_cast<uint32_t>(br.run().ends_size()));
      a->set_first_offset(0);
    }
    return grpc::Status::OK;
  }

 private:
  const int refusals_;
};

struct FakeNode {
  explicit FakeNode(int refusals) : service(refusals) {
    grpc::ServerBuilder b;
    int port = 0;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    b.RegisterService(&service);
    server = b.BuildAndStart();
    service.address = "127.0.0.1:" + std::to_string(port);
  }
  ~FakeNode() {
    if (server) server->Shutdown();
  }
  SwitchingOwner service;
  std::unique_ptr<grpc::Server> server;
};

Result<std::unique_ptr<ClientWriter>> writer_to(Client& c) {
  return c.writer({.topic = "live", .bucket_column = "id", .num_buckets = 4, .backend = "persisting"});
}

// put_retries (2) retries, 50 + 100 ms apart, can all fall within one switch (under load it
// takes longer): the put goes on until the owner settles instead of failing with the old
// owner's FAILED_PRECONDITION.
TEST(ClientRetry, APutGoesOnWhileTheOwnerSwitchesLongerThanItsCountedRetries) {
  FakeNode node(/*refusals=*/5);
  ASSERT_TRUE(node.server) << "the fake node could not listen";
  auto c = Client::connect({.server = node.service.address});
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  auto w = writer_to(**c);
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  auto pos = (*w)->put(Record{{"id", int64_t(7)}});
  EXPECT_TRUE(pos.ok()) << pos.status().to_string();
  EXPECT_EQ(node.service.puts, 6);
}

// An owner that never settles (a switch interrupted half-way; the next rebalance finishes it):
// after rpc_timeout the put fails with the retryable UNAVAILABLE the docs promise while a bucket
// moves, naming the bucket and the owners.
TEST(ClientRetry, APutToAnOwnerThatNeverSettlesFailsUnavailableAfterTheRpcTimeout) {
  FakeNode node(/*refusals=*/1000000);
  ASSERT_TRUE(node.server) << "the fake node could not listen";
  auto c = Client::connect({.server = node.service.address, .rpc_timeout = std::chrono::milliseconds(600)});
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  auto w = writer_to(**c);
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  auto pos = (*w)->put(Record{{"id", int64_t(7)}});
  ASSERT_FALSE(pos.ok());
  EXPECT_EQ(pos.status().code(), Code::kUnavailable) << pos.status().to_string();
  EXPECT_NE(pos.status().message().find("is owned by node n3, not n1"), std::string::npos) << pos.status().to_string();
  EXPECT_NE(pos.status().message().find("did not settle"), std::string::npos) << pos.status().to_string();
  EXPECT_GT(node.service.puts, 3);  // more than the counted retries
}

}  // namespace
}  // namespace persisting
