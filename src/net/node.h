// Node: one persistingd process. Serves the node's StorageManager and buckets over gRPC
// (persisting.v1.QueueService + grpc.health.v1.Health), and /metrics + /healthz over HTTP.
// Kept free of gRPC headers so apps and tests include it cheaply.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "persisting/log.h"
#include "persisting/status.h"

namespace persisting::net {

struct NodeConfig {
  std::string id = "n1";
  std::string listen = "127.0.0.1:7070";  // loopback unless told otherwise
  std::string data_dir;                   // empty: no files (memory topics only)
  // Membership: static list "id=host:port,..." (must contain id at its listen address), or etcd.
  std::string members;
  std::string etcd;                        // etcd client URL, e.g. http://127.0.0.1:2379
  std::string etcd_prefix = "/persisting";
  int etcd_ttl_s = 5;
  std::string advertise;                   // address peers and clients use (default: listen)
  // This node's zone (failure domain; docs/cluster.md, "Replication"): replicas of a bucket go
  // to as many zones as there are. Static membership may also name each member's zone in
  // --members (id=host:port@zone); both given for this node must agree. Empty: none.
  std::string zone;
  // Replication (docs/cluster.md, "Replication"): a follower not caught up with its leader for
  // longer than this leaves the bucket's in-sync set; and the in-sync replicas (leader included)
  // an acks=all put needs (0: 2 for factor 3, 3 for factor 5).
  uint32_t replica_lag_max_ms = 10000;
  uint32_t min_insync_replicas = 0;
  // With etcd (docs/cluster.md, "Failover"): a replica outside the in-sync set may campaign for
  // a leaderless bucket (after every in-sync one had its turn), accepting to lose what it lacks.
  bool allow_unclean_election = false;
  std::string metrics;                     // host:port of /metrics and /healthz; empty: off
  std::string token;                       // empty: no access control
  std::string tls_cert, tls_key;           // PEM files: serve TLS when both are given
  std::string tls_ca;                      // PEM roots for calls to peers (TLS clusters)
  unsigned threads = 0;                    // actor threads (0: hardware threads)
  size_t max_message_bytes = 16u << 20;    // larger requests are refused (RESOURCE_EXHAUSTED)
  // The Kafka protocol listener (docs/kafka.md): host:port, off when empty. It uses the node's
  // TLS certificate and, with a token, SASL/PLAIN with the token as the password.
  std::string kafka_listen;
  std::string kafka_advertise;             // host:port Metadata hands out (default: kafka_listen)
  // In a static cluster, every member's Kafka listener "id=host:port,..." (self included, at
  // its advertised address); with etcd each member registers its own (docs/kafka.md).
  std::string kafka_members;
  bool kafka_auto_create_topics = true;    // Metadata/Produce create unknown topics
  uint32_t kafka_partitions = 1;           // partitions of an auto-created topic
  std::string kafka_backend;               // backend of topics created over Kafka (empty: persisting
                                           // with a data dir, memory without)
  std::map<std::string, std::string> kafka_backend_options;  // their backend options
  size_t kafka_max_frame_bytes = 100u << 20;  // a larger request frame closes its connection
  unsigned kafka_io_threads = 2;           // threads of the Kafka listener's event loop
  // Background failures, recovery warnings, peers and etcd (persistingd --log-level); null:
  // stderr at warning.
  std::shared_ptr<Logger> logger;
};

// Whether a listen address ("host:port", "[::1]:port", "unix:path") is reachable from this host
// only: 127.0.0.0/8, ::1, localhost, or a unix socket. Anything else (0.0.0.0, an empty host, a
// routable address) is exposed.
bool is_loopback_address(const std::string& address);

class Node {
 public:
  static Result<std::unique_ptr<Node>> start(NodeConfig config);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  const NodeConfig& config() const;
  int port() const;          // the gRPC port actually bound
  int metrics_port() const;  // 0 when metrics are off
  int kafka_port() const;    // 0 when the Kafka listener is off
  // Stops taking RPCs, lets in-flight ones finish (up to grace), then flushes and closes every
  // bucket. Returns the first flush error. Idempotent.
  Status shutdown(std::chrono::milliseconds grace = std::chrono::seconds(5));

 private:
  struct Impl;
  explicit Node(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace persisting::net
