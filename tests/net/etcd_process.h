// A throwaway etcd (Debian's etcd-server) on loopback ports the kernel picked, for the tests of
// etcd membership.
#pragma once

#include <httplib.h>

#include <chrono>
#include <csignal>
#include <string>
#include <thread>

#include "net/node_process.h"
#include "util/temp_dir.h"

namespace persisting::testing {

class Etcd {
 public:
  bool start() {
    client_port_ = free_port();
    peer_port_ = free_port();
    metrics_port_ = free_port();
    return run();
  }
  // Kills etcd (SIGKILL) and starts it again on the same ports and data dir.
  void kill() { proc_.kill(SIGKILL); }
  bool restart() { return run(); }
  bool healthy() {
    httplib::Client c("127.0.0.1", client_port_);
    for (int i = 0; i < 100; ++i) {  // bounded: 10 s
      auto r = c.Get("/health");
      if (r && r->status == 200 && r->body.find("true") != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(client_port_); }
  std::string log() const { return proc_.log(); }

 private:
  bool run() {
    auto url = [](int p) { return "http://127.0.0.1:" + std::to_string(p); };
    return proc_.start({ETCD_BIN, "--name", "t1", "--data-dir", dir_.path() + "/etcd", "--listen-client-urls",
                        url(client_port_), "--advertise-client-urls", url(client_port_), "--listen-peer-urls",
                        url(peer_port_), "--initial-advertise-peer-urls", url(peer_port_), "--initial-cluster",
                        "t1=" + url(peer_port_), "--listen-metrics-urls", url(metrics_port_)},
                       dir_.path() + "/etcd.log") &&
           wait_for_port(client_port_, proc_) && healthy();
  }

  TempDir dir_;
  Process proc_;
  int client_port_ = 0, peer_port_ = 0, metrics_port_ = 0;
};

}  // namespace persisting::testing
