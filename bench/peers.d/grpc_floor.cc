// grpc_floor: the wake-up test of bench/peers over bare gRPC, to show what the transport alone
// costs. The server stores nothing: a Wait call parks until a Wake call arrives, which answers
// it. It uses the same gRPC library, server API (callback) and client API (blocking calls on one
// channel) as persistingd and `persisting bench --server`, so the difference between its wake-up
// and persisting-memory's is what Persisting adds, and the difference to Redis's is gRPC's.
//   grpc_floor --serve PORT                                  (listens on 127.0.0.1:PORT)
//   grpc_floor --server host:port --phase wakeup --samples N (prints the wakeup JSON line)
#include <grpcpp/grpcpp.h>

#include <mutex>
#include <vector>

#include "bench_common.h"
#include "grpc_floor.grpc.pb.h"

namespace {

using persisting::benchfloor::v1::Floor;
using persisting::benchfloor::v1::Nothing;
using persisting::benchfloor::v1::WaitRequest;
using persisting::benchfloor::v1::WakeResponse;

class FloorService final : public Floor::CallbackService {
 public:
  grpc::ServerUnaryReactor* Wait(grpc::CallbackServerContext* ctx, const WaitRequest* req, Nothing*) override {
    auto* r = ctx->DefaultReactor();
    std::unique_lock<std::mutex> lock(mu_);
    if (wakes_ > req->after()) {
      lock.unlock();
      r->Finish(grpc::Status::OK);
    } else {
      parked_.push_back(r);
    }
    return r;
  }
  grpc::ServerUnaryReactor* Wake(grpc::CallbackServerContext* ctx, const Nothing*, WakeResponse* resp) override {
    std::vector<grpc::ServerUnaryReactor*> woken;
    {
      std::lock_guard<std::mutex> lock(mu_);
      resp->set_wakes(++wakes_);
      woken.swap(parked_);
    }
    for (auto* w : woken) w->Finish(grpc::Status::OK);
    auto* r = ctx->DefaultReactor();
    r->Finish(grpc::Status::OK);
    return r;
  }

 private:
  std::mutex mu_;
  uint64_t wakes_ = 0;
  std::vector<grpc::ServerUnaryReactor*> parked_;  // a Wait whose caller gave up is answered anyway
};

int serve(const std::string& port) {
  FloorService service;
  grpc::ServerBuilder b;
  b.AddListeningPort("127.0.0.1:" + port, grpc::InsecureServerCredentials());
  b.RegisterService(&service);
  auto server = b.BuildAndStart();
  if (!server) peers::die("cannot listen on 127.0.0.1:" + port);
  server->Wait();  // until killed, as the other servers of bench/peers
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--serve") return serve(argv[2]);
  peers::Args a = peers::parse_args(argc, argv);
  if (a.phase != "wakeup") peers::die("grpc_floor runs only --phase wakeup");
  auto channel = grpc::CreateChannel(a.host + ":" + std::to_string(a.port), grpc::InsecureChannelCredentials());
  auto stub = Floor::NewStub(channel);
  // Each call has a deadline; an error ends the run (peers::die).
  auto wait = [&](uint64_t after) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    WaitRequest req;
    req.set_after(after);
    Nothing resp;
    grpc::Status s = stub->Wait(&ctx, req, &resp);
    if (!s.ok()) peers::die("grpc Wait: " + s.error_message());
    return true;
  };
  auto wake = [&] {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    Nothing req;
    WakeResponse resp;
    grpc::Status s = stub->Wake(&ctx, req, &resp);
    if (!s.ok()) peers::die("grpc Wake: " + s.error_message());
    return resp.wakes();
  };
  // Also connects before the first sample. Sample i's Wait returns once sample i's Wake is in.
  const uint64_t base = wake();
  peers::run_wakeup(a, [&](uint32_t i) { return wait(base + i); }, [&](uint32_t) { return wake() > 0; });
  return 0;
}
