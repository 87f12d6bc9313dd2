#include "metrics/http_endpoint.h"

#include <httplib.h>
#include <sys/socket.h>

#include <thread>

namespace persisting::metrics {
namespace {

// Connections served at once. cpp-httplib gives each connection a worker for as long as it is
// open, so a few clients that connect and send nothing (or half a request) used to hold all of
// its default 8 workers and stall /healthz for seconds. Idle workers cost a thread stack each.
constexpr size_t kWorkers = 64;
// How long a connection may stay silent mid-request, or idle between keep-alive requests,
// before its worker drops it (cpp-httplib's defaults are 5 s).
constexpr time_t kReadTimeoutS = 2;
constexpr time_t kKeepAliveTimeoutS = 2;
// Connections the kernel queues until accepted (cpp-httplib's compiled-in 5 drops the SYNs of a
// burst of clients, and a health check among them waits a second or more for its retry).
constexpr int kBacklog = 128;

}  // namespace

struct HttpEndpoint::Impl {
  Registry* registry;
  std::function<Status()> health;
  httplib::Server server;
  std::thread thread;
  int port = 0;
  int listen_fd = -1;  // the last socket cpp-httplib created: the bound one once bind succeeded
};

HttpEndpoint::HttpEndpoint(Registry* registry, std::function<Status()> health) : impl_(new Impl) {
  impl_->registry = registry;
  impl_->health = std::move(health);
}

HttpEndpoint::~HttpEndpoint() { stop(); }

Status HttpEndpoint::start(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos)
    return InvalidArgument("metrics address '" + address + "' is not host:port");
  std::string host = address.substr(0, colon);
  int port = 0;
  try {
    port = std::stoi(address.substr(colon + 1));
  } catch (...) {
    return InvalidArgument("metrics address '" + address + "' has no numeric port");
  }
  Impl* impl = impl_.get();
  // cpp-httplib's default options add SO_REUSEPORT, with which a second node on the same
  // metrics port binds too and takes half the scrapes. SO_REUSEADDR only: it fails instead.
  impl->server.set_socket_options([impl](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    impl->listen_fd = sock;
  });
  impl->server.new_task_queue = [] { return new httplib::ThreadPool(kWorkers); };
  impl->server.set_read_timeout(kReadTimeoutS, 0);
  impl->server.set_write_timeout(kReadTimeoutS, 0);
  impl->server.set_keep_alive_timeout(kKeepAliveTimeoutS);
  impl->server.Get("/metrics", [impl](const httplib::Request&, httplib::Response& res) {
    res.set_content(impl->registry->render(), "text/plain; version=0.0.4");
  });
  impl->server.Get("/healthz", [impl](const httplib::Request&, httplib::Response& res) {
    Status s = impl->health ? impl->health() : Status::OK();
    res.status = s.ok() ? 200 : 503;
    res.set_content(s.ok() ? "ok\n" : s.to_string() + "\n", "text/plain");
  });
  if (port == 0) {
    impl->port = impl->server.bind_to_any_port(host);
    if (impl->port < 0) return Unavailable("metrics: cannot bind " + address);
  } else {
    if (!impl->server.bind_to_port(host, port)) return Unavailable("metrics: cannot bind " + address);
    impl->port = port;
  }
  // listen() again on a listening socket sets its backlog; if it fails, the backlog stays 5.
  if (impl->listen_fd >= 0) (void)::listen(impl->listen_fd, kBacklog);
  impl->thread = std::thread([impl] { impl->server.listen_after_bind(); });
  return Status::OK();
}

int HttpEndpoint::port() const { return impl_->port; }

void HttpEndpoint::stop() {
  if (impl_ && impl_->thread.joinable()) {
    impl_->server.stop();
    impl_->thread.join();
  }
}

}  // namespace persisting::metrics
