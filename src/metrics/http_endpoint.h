// The node's HTTP endpoint: GET /metrics (Prometheus text) and GET /healthz ("ok", or 503 with
// the reason). One listening thread and a pool of workers (cpp-httplib, kept out of every other
// header); slow or silent clients are dropped after a short read timeout, so a few of them cannot
// starve a health check.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "metrics/metrics.h"
#include "persisting/status.h"

namespace persisting::metrics {

class HttpEndpoint {
 public:
  // health returns OK when the node serves; its message is shown otherwise.
  HttpEndpoint(Registry* registry, std::function<Status()> health);
  ~HttpEndpoint();  // stops
  HttpEndpoint(const HttpEndpoint&) = delete;
  HttpEndpoint& operator=(const HttpEndpoint&) = delete;

  // Binds host:port (port 0 picks a free one) and starts serving.
  Status start(const std::string& address);
  int port() const;
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace persisting::metrics
