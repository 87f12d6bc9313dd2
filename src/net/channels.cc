#include "net/channels.h"

#include <absl/synchronization/mutex.h>
#include <grpc/support/log.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <future>
#include <sstream>

#include "net/grpc_status.h"

namespace persisting::net {

Result<std::string> read_text_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return NotFound("cannot open '" + path + "'");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void quiet_grpc_logging() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (std::getenv("GRPC_VERBOSITY") != nullptr) return;
    gpr_set_log_function([](gpr_log_func_args* a) {
      // gRPC's own failed assertion (it aborts next) is still printed: it is no transport noise.
      if (a->severity == GPR_LOG_SEVERITY_ERROR && std::strncmp(a->message, "assertion failed", 16) == 0)
        std::fprintf(stderr, "gRPC %s:%d: %s\n", a->file, a->line, a->message);
    });
  });
}

void skip_abseil_deadlock_checks() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (std::getenv("PERSISTING_ABSL_DEADLOCK_CHECKS") == nullptr)
      absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  });
}

Channels::Channels(ChannelConfig config) : config_(std::move(config)) {
  quiet_grpc_logging();
  skip_abseil_deadlock_checks();
}

std::shared_ptr<grpc::Channel> Channels::channel(const std::string& address) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& ch = channels_[address];
  if (!ch) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(-1);  // answers are bounded by the node's response budget
    args.SetMaxSendMessageSize(-1);     // the node enforces its limit and says so
    // A restarted node is found again within a second, not after gRPC's 1-120 s backoff.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    // Despite its name this is how long one connection attempt may take (TCP, TLS, and the
    // server's first HTTP/2 SETTINGS), gRPC's "min connect timeout"; a refused connection (node
    // down) still fails at once. At 100 ms a loaded node or a TLS handshake failed the first
    // RPC with "connection attempt timed out before receiving SETTINGS frame".
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 5000);
    // This Channels' own connections, not gRPC's process-wide pool of them: in that pool a new
    // client's channel to a dead node shares the old connection's reconnect backoff (up to the
    // 1 s above), so its first call waited that out before failing, instead of failing at once
    // and trying the next node (bench/failover.py: a producer that moved to another node after a
    // leader died lost up to a second there).
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    std::shared_ptr<grpc::ChannelCredentials> creds;
    if (config_.tls) {
      grpc::SslCredentialsOptions o;
      o.pem_root_certs = config_.tls_ca_pem;
      creds = grpc::SslCredentials(o);
      if (!config_.tls_server_name.empty())
        args.SetSslTargetNameOverride(config_.tls_server_name);
    } else {
      creds = grpc::InsecureChannelCredentials();
    }
    ch = grpc::CreateCustomChannel(address, creds, args);
  }
  return ch;
}

std::shared_ptr<v1::QueueService::Stub> Channels::stub(const std::string& address) {
  auto ch = channel(address);
  std::lock_guard<std::mutex> lock(mu_);
  auto& s = stubs_[address];
  if (!s) s = std::shared_ptr<v1::QueueService::Stub>(v1::QueueService::NewStub(ch));
  return s;
}

void Channels::prepare(grpc::ClientContext* ctx, std::chrono::milliseconds timeout) const {
  ctx->set_deadline(std::chrono::system_clock::now() + timeout);
  prepare_stream(ctx);
}

void Channels::prepare_stream(grpc::ClientContext* ctx) const {
  if (!config_.token.empty()) ctx->AddMetadata("authorization", "Bearer " + config_.token);
}

Status Channels::reconnect(const std::string& address, std::chrono::milliseconds timeout) {
  auto ch = channel(address);
  grpc::experimental::ChannelResetConnectionBackoff(ch.get());
  if (ch->WaitForConnected(std::chrono::system_clock::now() + timeout)) return Status::OK();
  return Unavailable("no connection to " + address + " within " + std::to_string(timeout.count()) + " ms");
}

bool Channels::never_sent(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::UNAVAILABLE && s.error_message().find("failed to connect") != std::string::npos;
}

bool Channels::connection_lost(const grpc::Status& s) {
  if (s.error_code() != grpc::StatusCode::UNAVAILABLE) return false;
  const std::string& m = s.error_message();
  return m.find("Socket closed") != std::string::npos || m.find("Connection reset") != std::string::npos;
}

Status Channels::probe(const std::string& address, std::chrono::milliseconds timeout) {
  grpc::GenericStub stub(channel(address));
  grpc::ClientContext ctx;
  prepare(&ctx, timeout);
  grpc::Slice empty(std::string(""));  // an empty HealthCheckRequest: the whole server
  grpc::ByteBuffer req(&empty, 1), resp;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &req, &resp,
                 [&done](grpc::Status s) { done.set_value(std::move(s)); });
  grpc::Status s = done.get_future().get();
  if (s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED)
    return DeadlineExceeded("no answer to a health check from " + address + " within " +
                            std::to_string(timeout.count()) + " ms (stopped, frozen or overloaded)");
  if (!s.ok()) return from_grpc(s, "health check of " + address);
  std::vector<grpc::Slice> slices;
  std::string bytes;
  if (resp.Dump(&slices).ok())
    for (const auto& sl : slices) bytes.append(reinterpret_cast<const char*>(sl.begin()), sl.size());
  if (bytes != std::string("\x08\x01", 2))  // HealthCheckResponse{status: SERVING}
    return Unavailable("node at " + address + " is not serving (shutting down)");
  return Status::OK();
}

}  // namespace persisting::net
