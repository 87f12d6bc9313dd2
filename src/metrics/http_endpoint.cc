#include "metrics/http_endpoint.h"

#include <httplib.h>
#include <sys/socket.h>

#include <thread>

namespace persisting::metrics {

struct HttpEndpoint::Impl {
  Registry* registry;
  std::function<Status()> health;
  httplib::Server server;
  std::thread thread;
  int port = 0;
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
  impl->server.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
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
