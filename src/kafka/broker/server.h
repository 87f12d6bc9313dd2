// Server: the node's Kafka face, the pieces put together: the Broker (mapping onto the node's
// QueueCore), the idempotent producers' state, the Dispatcher and the Listener. persistingd
// starts one with --kafka-listen (net::Node owns it, and stops it before its buckets close).
#pragma once

#include <memory>

#include "kafka/broker/broker.h"
#include "kafka/broker/dispatcher.h"
#include "kafka/broker/group_coordinator.h"
#include "kafka/broker/listener.h"
#include "kafka/broker/producer_state.h"

namespace persisting::kafka {

struct ServerConfig {
  ListenerConfig listener;
  BrokerConfig broker;
  CatalogOptions catalog;
  DispatcherConfig dispatcher;  // advertised_host/port default to the listener's
  // The cluster this node is a member of (must outlive the server); null: a single node.
  KafkaCluster* cluster = nullptr;
};

class Server {
 public:
  static Result<std::unique_ptr<Server>> start(std::shared_ptr<detail::QueueCore> core, ServerConfig config);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int port() const { return listener_->port(); }
  // Whether the topic was created over Kafka (what GetTopic tells peers).
  bool is_kafka_topic(const std::string& name) { return broker_.catalog().is_kafka_topic(name); }
  // Marks a topic learned from a peer as a Kafka topic (its marker file).
  Status mark_kafka(const std::string& name) { return broker_.catalog().mark_kafka(name); }
  // Closes every connection (parked fetches are cancelled) and joins the io threads. Idempotent.
  void stop();

 private:
  Server(std::shared_ptr<detail::QueueCore> core, ServerConfig config);

  Broker broker_;
  ProducerState producers_;
  // In a cluster, the group coordinator's own scheduler: its commits may wait for a peer, which
  // must not hold up the process-wide pool (WAL syncs). Outlives groups_.
  std::unique_ptr<Scheduler> group_scheduler_;
  std::unique_ptr<GroupCoordinator> groups_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::unique_ptr<Listener> listener_;
};

}  // namespace persisting::kafka
