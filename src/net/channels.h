// gRPC channels to nodes, one per address, shared by every call to that address; and the
// per-call setup every RPC gets (a deadline, the access token). Used by the remote Client and by
// nodes calling their peers. Internal to src/net: includes grpcpp.
#pragma once

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "persisting/status.h"
#include "persisting/v1/queue.grpc.pb.h"

namespace persisting::net {

struct ChannelConfig {
  std::string token;        // sent as "authorization: Bearer <token>" when not empty
  bool tls = false;         // TLS to every node
  std::string tls_ca_pem;   // roots to verify node certificates (empty: system roots)
  std::string tls_server_name;  // expected certificate name when it differs from the host
};

// Sends gRPC's own log lines (connection and TLS failures, already reported to the caller as a
// Status) nowhere, unless GRPC_VERBOSITY is set in the environment: then gRPC logs as it would.
// A failed gRPC assertion (before it aborts) is still printed.
// Idempotent; every Channels calls it, so both binaries get it.
void quiet_grpc_logging();

// Turns off abseil's mutex deadlock detection for the process, unless
// PERSISTING_ABSL_DEADLOCK_CHECKS is set. Debian's abseil leaves it on (a debug setting): every
// lock of gRPC's mutexes then updates a lock-order graph, 1-4% of a node's CPU under puts.
// Idempotent; every Channels calls it, so both binaries get it.
void skip_abseil_deadlock_checks();

// Reads a whole file (certificates, keys, tokens).
Result<std::string> read_text_file(const std::string& path);

class Channels {
 public:
  explicit Channels(ChannelConfig config);
  std::shared_ptr<grpc::Channel> channel(const std::string& address);
  std::shared_ptr<v1::QueueService::Stub> stub(const std::string& address);
  // Deadline now + timeout, and the token.
  void prepare(grpc::ClientContext* ctx, std::chrono::milliseconds timeout) const;
  // The token only: a long-lived stream, whose caller watches its progress itself.
  void prepare_stream(grpc::ClientContext* ctx) const;
  // A grpc.health.v1 check answered SERVING within timeout: OK; otherwise why not. A mere
  // connection is not enough: a frozen process (SIGSTOP) still completes TCP handshakes.
  Status probe(const std::string& address, std::chrono::milliseconds timeout);
  // Forgets the channel's reconnect backoff and waits up to timeout for it to connect: OK once
  // connected. A node that has just restarted is then reached at once, not after the backoff left
  // from while it was down (calls fail fast in the meantime).
  Status reconnect(const std::string& address, std::chrono::milliseconds timeout);
  // Whether a call failed unsent: gRPC had no connection to the node (refused, or the channel
  // still backing off after earlier failures: up to a second after the node restarted).
  static bool never_sent(const grpc::Status& s);
  // Whether gRPC lost the call's connection mid-way (UNAVAILABLE "Socket closed" or "Connection
  // reset"): the node went away, or dropped a handshake it could not read.
  static bool connection_lost(const grpc::Status& s);
  // Runs call() (one attempt, answering its grpc::Status); when it was never sent, forgets the
  // channel's backoff, waits up to `wait` for a connection and runs it once more. A node that
  // restarted a moment ago is then reached at once; one that is really down costs up to `wait`.
  template <typename Call>
  grpc::Status with_reconnect(const std::string& address, std::chrono::milliseconds wait, Call call) {
    grpc::Status s = call();
    if (never_sent(s) && reconnect(address, wait).ok()) s = call();
    return s;
  }

 private:
  ChannelConfig config_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<grpc::Channel>> channels_;
  std::map<std::string, std::shared_ptr<v1::QueueService::Stub>> stubs_;
};

}  // namespace persisting::net
