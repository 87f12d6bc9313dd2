// Listener: the Kafka port. A fixed, small number of io threads (io_threads, default 2), each
// running its own asio io_context; a connection lives on one of them (round robin) and every
// answer is written there, never a thread per connection or per waiting Fetch. With a
// certificate and key it serves TLS only.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "kafka/broker/connection.h"
#include "persisting/status.h"

namespace persisting::kafka {

struct ListenerConfig {
  std::string listen = "127.0.0.1:9092";  // host:port ("[::1]:9092"); a bare ":9092" is 127.0.0.1
  unsigned io_threads = 2;
  ConnectionLimits limits;
  std::string tls_cert_pem, tls_key_pem;  // both set: TLS
};

// "host:port" -> (host, port); the host defaults to 127.0.0.1.
Result<std::pair<std::string, int>> parse_host_port(const std::string& address);

class Listener {
 public:
  // Binds the address and starts the io threads; connections are taken once serve() is called
  // (port() is known before: what a broker advertises). handler must outlive the listener.
  static Result<std::unique_ptr<Listener>> start(ListenerConfig config, FrameHandler* handler);
  void serve();
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  int port() const { return port_; }
  const std::string& host() const { return host_; }
  // Stops accepting, closes every connection (their parked fetches are cancelled), waits a
  // bounded time for them to go, and joins the io threads. Idempotent.
  void stop();

 private:
  struct State;
  Listener() = default;
  void accept();

  std::shared_ptr<State> state_;
  std::vector<std::thread> threads_;
  int port_ = 0;
  std::string host_;
  bool stopped_ = false;
};

}  // namespace persisting::kafka
