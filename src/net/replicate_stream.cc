// net::Service::ReplicateStream: a follower's Replicate rounds to this node, one after another on
// one call (docs/wire-protocol.md, "Replication"). Each request read is one round, answered as a
// unary Replicate would be (Service::replicate), then the next request is read. One call per
// follower and leader instead of one per round: a round costs the messages, not a call's setup.
#include "net/grpc_status.h"
#include "net/service_internal.h"

namespace persisting::net {
namespace {

class ReplicateStreamReactor final : public grpc::ServerBidiReactor<v1::ReplicateRequest, v1::ReplicateResponse> {
 public:
  using Done = std::function<void(Status)>;
  using Round = std::function<void(const v1::ReplicateRequest*, v1::ReplicateResponse*, CancelHook*, Done)>;
  using Recorder = std::function<std::function<void(const Status&)>()>;

  ReplicateStreamReactor(Round round, Recorder recorder) : round_(std::move(round)), recorder_(std::move(recorder)) {}

  void start() { StartRead(&req_); }

  // One operation at a time (a read, a round, or its answer's write): whichever fails finishes
  // the call, once.
  void OnReadDone(bool ok) override {
    if (!ok) return Finish(grpc::Status::OK);  // the follower closed its side, or went away
    resp_.Clear();
    round_(&req_, &resp_, &hook_, [this, record = recorder_()](Status s) {
      record(s);
      if (!s.ok()) return Finish(to_grpc(s));
      StartWrite(&resp_);
    });
  }
  void OnWriteDone(bool ok) override {
    if (!ok) return Finish(grpc::Status(grpc::StatusCode::CANCELLED, "replication stream: the follower went away"));
    req_.Clear();
    StartRead(&req_);
  }
  void OnCancel() override { hook_.cancel(); }  // a parked round answers now
  void OnDone() override { delete this; }

 private:
  Round round_;
  Recorder recorder_;
  CancelHook hook_;
  v1::ReplicateRequest req_;
  v1::ReplicateResponse resp_;
};

}  // namespace

grpc::ServerBidiReactor<v1::ReplicateRequest, v1::ReplicateResponse>* Service::ReplicateStream(
    grpc::CallbackServerContext* ctx) {
  auto* reactor = new ReplicateStreamReactor(
      [this](const v1::ReplicateRequest* req, v1::ReplicateResponse* resp, CancelHook* hook, Done done) {
        replicate(req, resp, hook, std::move(done));
      },
      [this] { return recorder(kReplicate); });
  if (Status a = authorize(ctx); !a.ok()) {
    recorder(kReplicate)(a);
    reactor->Finish(to_grpc(a));
    return reactor;
  }
  reactor->start();
  return reactor;
}

}  // namespace persisting::net
