// persistingd: one Persisting cluster node. Flags, or the same keys in a config file
// (--config node.toml: `id = "n1"`, `listen = "127.0.0.1:7070"`, ...). SIGTERM or SIGINT: stop
// taking RPCs, finish in-flight ones, flush every bucket, exit 0.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>

#include "net/node.h"
#include "persisting/tail_cache.h"

int main(int argc, char** argv) {
  persisting::net::NodeConfig c;
  CLI::App app{"persistingd: a Persisting cluster node (gRPC persisting.v1)"};
  app.set_config("--config", "", "Config file (TOML/INI keys named like the flags)");
  app.add_option("--id", c.id, "Node id (unique in the cluster)")->capture_default_str();
  app.add_option("--listen", c.listen, "gRPC listen address host:port")->capture_default_str();
  app.add_option("--advertise", c.advertise, "Address peers and clients use (default: --listen)");
  app.add_option("--zone", c.zone, "This node's zone (failure domain): a bucket's replicas spread over zones");
  app.add_option("--replica-lag-max-ms", c.replica_lag_max_ms,
                 "A follower not caught up for longer than this leaves the in-sync set")
      ->capture_default_str()->check(CLI::Range(1u, 3600000u));
  app.add_option("--min-insync-replicas", c.min_insync_replicas,
                 "In-sync replicas an acks=all put needs (0: 2 for factor 3, 3 for factor 5)")
      ->check(CLI::Range(0u, 5u));
  app.add_flag("--allow-unclean-election", c.allow_unclean_election,
               "With --etcd: an out-of-sync replica may take over a leaderless bucket (may lose records)");
  app.add_option("--data-dir", c.data_dir, "Data directory (topics, buckets)");
  app.add_option("--members", c.members, "Static membership: id=host:port,... (all nodes, self included)");
  auto* etcd = app.add_option("--etcd", c.etcd, "etcd client URL for dynamic membership");
  app.add_option("--etcd-prefix", c.etcd_prefix, "etcd key prefix")->capture_default_str();
  app.add_option("--etcd-ttl", c.etcd_ttl_s, "Membership lease TTL, seconds")->check(CLI::Range(1, 3600));
  app.get_option("--members")->excludes(etcd);
  app.add_option("--metrics", c.metrics, "HTTP address for /metrics and /healthz (off when empty)");
  std::string token_file;
  auto* tok = app.add_option("--token", c.token, "Access token every RPC must carry");
  app.add_option("--token-file", token_file, "Read the access token from this file")->excludes(tok);
  app.add_option("--tls-cert", c.tls_cert, "Server certificate (PEM)");
  app.add_option("--tls-key", c.tls_key, "Server private key (PEM)");
  app.add_option("--tls-ca", c.tls_ca, "CA certificates for calls to peers (PEM)");
  app.add_option("--threads", c.threads, "Actor threads (0: hardware threads)");
  uint64_t tail_cache_bytes = persisting::TailCache::Default()->budget();
  app.add_option("--tail-cache-bytes", tail_cache_bytes,
                 "Memory for recently flushed records, served without reading Lance (all buckets together; 0: off)")
      ->capture_default_str();
  app.add_option("--max-message-bytes", c.max_message_bytes, "Largest request accepted")
      ->check(CLI::Range(size_t(1) << 16, size_t(1) << 30));
  app.add_option("--kafka-listen", c.kafka_listen,
                 "Serve the Kafka protocol on host:port (off when empty; a bare :port is 127.0.0.1)");
  app.add_option("--kafka-advertise", c.kafka_advertise, "host:port Kafka clients are told to use (default: --kafka-listen)");
  app.add_option("--kafka-members", c.kafka_members,
                 "In a static cluster: every member's Kafka listener, id=host:port,... (self included)");
  app.add_option("--kafka-auto-create-topics", c.kafka_auto_create_topics,
                 "Create unknown topics on Kafka Metadata/Produce (true/false)")
      ->capture_default_str();
  app.add_option("--kafka-partitions", c.kafka_partitions, "Partitions of a topic created over Kafka without a count")
      ->check(CLI::Range(1, 65536))
      ->capture_default_str();
  app.add_option("--kafka-backend", c.kafka_backend,
                 "Backend of topics created over Kafka (default: persisting with --data-dir, memory without)");
  std::vector<std::string> kafka_options;
  app.add_option("--kafka-backend-option", kafka_options,
                 "Backend option key=value of topics created over Kafka (repeat the flag for more)");
  app.add_option("--kafka-max-frame-bytes", c.kafka_max_frame_bytes, "Largest Kafka request frame; larger ones close the connection")
      ->check(CLI::Range(size_t(1) << 16, size_t(1) << 30))
      ->capture_default_str();
  app.add_option("--kafka-io-threads", c.kafka_io_threads, "Threads of the Kafka listener's event loop")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  std::string log_level = "info";
  app.add_option("--log-level", log_level,
                 "What goes to stderr: debug, info, warning, error or off (background failures are "
                 "errors; recoveries from them info)")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  auto level = persisting::parse_log_level(log_level);
  if (!level.ok()) {
    std::cerr << "persistingd: --log-level: " << level.status().message() << "\n";
    return 2;
  }
  c.logger = persisting::stderr_logger(*level);
  persisting::TailCache::Default()->set_budget(tail_cache_bytes);
  // An empty token would mean "no access control": refused, so that a typo or an unset
  // variable (--token "$TOKEN") never opens a node.
  if (app.count("--token") > 0 && c.token.empty()) {
    std::cerr << "persistingd: --token is empty: give a non-empty token, or leave --token out for a node "
                 "without access control\n";
    return 2;
  }
  if (!token_file.empty()) {
    std::ifstream f(token_file);
    if (!f) {
      std::cerr << "persistingd: cannot read a token from '" << token_file << "'\n";
      return 2;
    }
    std::getline(f, c.token);
    while (!c.token.empty() && (c.token.back() == '\r' || c.token.back() == ' ' || c.token.back() == '\t'))
      c.token.pop_back();
    if (c.token.empty()) {
      std::cerr << "persistingd: --token-file '" << token_file << "' is empty: it must hold the token on its "
                   "first line\n";
      return 2;
    }
  }
  for (const auto& kv : kafka_options) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::cerr << "persistingd: --kafka-backend-option '" << kv << "': expected key=value" << std::endl;
      return 2;
    }
    c.kafka_backend_options[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  if (c.token.empty()) {
    for (const auto& [flag, address] : {std::pair<const char*, const std::string&>{"--listen", c.listen},
                                        {"--metrics", c.metrics},
                                        {"--kafka-listen", c.kafka_listen}}) {
      if (!address.empty() && !persisting::net::is_loopback_address(address))
        std::cerr << "persistingd: WARNING: " << flag << " " << address
                  << " is not a loopback address and no --token is set: anyone who can reach it "
                  << (flag == std::string("--metrics") ? "can read the metrics"
                                                       : "can read and write every topic")
                  << " (set --token or --token-file, or listen on 127.0.0.1)" << std::endl;
    }
  }
  if (c.data_dir.empty())
    std::cerr << "persistingd: no --data-dir: only the memory backend is available (durable topics, backends "
                 "persisting and lance, are refused; nothing survives a restart)"
              << std::endl;

  // Block the stop signals in every thread; the main thread waits for them below.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  auto node = persisting::net::Node::start(c);
  if (!node.ok()) {
    std::cerr << "persistingd: " << node.status().to_string() << "\n";
    return 1;
  }
  std::cerr << "persistingd: node " << c.id << " serving on port " << (*node)->port();
  if ((*node)->metrics_port() != 0) std::cerr << ", metrics on port " << (*node)->metrics_port();
  if ((*node)->kafka_port() != 0) std::cerr << ", Kafka on port " << (*node)->kafka_port();
  std::cerr << std::endl;
  int sig = 0;
  sigwait(&stop, &sig);
  std::cerr << "persistingd: node " << c.id << " stopping (signal " << sig << ")" << std::endl;
  persisting::Status s = (*node)->shutdown();
  if (!s.ok()) {
    std::cerr << "persistingd: shutdown: " << s.to_string() << "\n";
    return 1;
  }
  return 0;
}
