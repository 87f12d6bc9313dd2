#include "net/node.h"

#include "core/log.h"

#include <atomic>
#include <map>
#include <mutex>

#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include "core/status_macros.h"
#include "kafka/broker/server.h"
#include "metrics/http_endpoint.h"
#include "net/bind_probe.h"
#include "net/channels.h"
#include "net/etcd.h"
#include "net/kafka_cluster.h"
#include "net/membership.h"
#include "net/replication_metrics.h"
#include "net/replicator.h"
#include "net/node_lock.h"
#include "net/service.h"
#include "net/topic_directory.h"
#include "persisting/env.h"

namespace persisting::net {

bool is_loopback_address(const std::string& address) {
  if (address.rfind("unix:", 0) == 0 || address.rfind("unix-abstract:", 0) == 0) return true;
  std::string host = address;
  if (!host.empty() && host.front() == '[') {
    host = host.substr(1, host.find(']') == std::string::npos ? std::string::npos : host.find(']') - 1);
  } else if (auto colon = host.rfind(':'); colon != std::string::npos && host.find(':') == colon) {
    host = host.substr(0, colon);  // host:port (a bare IPv6 address has several colons: kept whole)
  }
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

struct Node::Impl {
  NodeConfig config;
  std::unique_ptr<FileLock> data_dir_lock;  // held while the node runs (.node.lock)
  std::unique_ptr<Channels> peers;
  std::unique_ptr<Membership> membership;
  std::shared_ptr<detail::QueueCore> core;
  metrics::Registry registry;
  std::unique_ptr<Service> service;
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<Replicator> replicator;  // destroyed (stopped) before the service and peers
  std::unique_ptr<metrics::HttpEndpoint> http;
  std::unique_ptr<kafka::KafkaCluster> kafka_cluster;  // outlives kafka (destroyed after it)
  std::unique_ptr<kafka::Server> kafka;
  int port = 0;
  std::atomic<bool> stopped{false};
  std::mutex scrape_mu;
  std::map<std::pair<std::string, uint32_t>, uint64_t> flush_counts;  // seen at the last scrape

  void collect_bucket_metrics();
};

// Copies every local bucket's stats into the bucket metrics. Backends that count their flushes
// (flush_count, last_flush_duration_s) feed persisting_flush_duration_seconds: each flush since
// the last scrape is observed with the latest duration.
void Node::Impl::collect_bucket_metrics() {
  if (!core || stopped) return;
  std::lock_guard<std::mutex> lock(scrape_mu);
  for (const BucketStats& s : core->manager->stats()) {
    if (s.closed) continue;
    metrics::Labels l{{"topic", s.topic}, {"bucket", std::to_string(s.bucket)}};
    registry.counter("persisting_records_total", "Records appended to the bucket", l)
        .set_total(static_cast<double>(s.total_count));
    registry.gauge("persisting_buffer_size", "Records in the bucket's memory buffer, not yet flushed", l)
        .set(s.buffer ? static_cast<double>(s.buffer->buffered) : 0);
    auto& flushes = registry.histogram("persisting_flush_duration_seconds", "Time to flush a bucket's buffer", l);
    if (s.buffer) {
      uint64_t& seen = flush_counts[{s.topic, s.bucket}];
      for (uint64_t k = seen; k < s.buffer->flush_count; ++k) flushes.observe(s.buffer->last_flush_duration_s);
      seen = s.buffer->flush_count;
    }
    registry.gauge("persisting_wal_size_bytes", "Bytes of the bucket's write-ahead log", l)
        .set(static_cast<double>(s.wal_size.value_or(0)));
    registry.counter("persisting_background_errors_total",
                     "Failures of the bucket's background work (flushes, WAL syncs), each also logged", l)
        .set_total(s.background ? static_cast<double>(s.background->error_count) : 0);
    registry.gauge("persisting_background_error", "1 while the bucket's last background task of a kind failed", l)
        .set(s.background && !s.background->error.empty() ? 1 : 0);
  }
}

Node::Node(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Node::~Node() {
  log_if_error(impl_->config.logger.get(), LogLevel::kError, "stopping node " + impl_->config.id,
               shutdown(std::chrono::seconds(1)));
}

const NodeConfig& Node::config() const { return impl_->config; }
int Node::port() const { return impl_->port; }
int Node::metrics_port() const { return impl_->http ? impl_->http->port() : 0; }
int Node::kafka_port() const { return impl_->kafka ? impl_->kafka->port() : 0; }

namespace {

// The address Kafka clients are told to use: --kafka-advertise, else --kafka-listen (a bare
// ":port" is 127.0.0.1), as host:port.
Result<std::string> kafka_advertised(const NodeConfig& config) {
  ASSIGN_OR_RETURN(auto hp, kafka::parse_host_port(config.kafka_advertise.empty() ? config.kafka_listen
                                                                                  : config.kafka_advertise));
  return hp.first + ":" + std::to_string(hp.second);
}

Result<std::unique_ptr<kafka::Server>> start_kafka(const NodeConfig& config, std::shared_ptr<detail::QueueCore> core,
                                                   const std::string& cert_pem, const std::string& key_pem,
                                                   kafka::KafkaCluster* cluster) {
  kafka::ServerConfig kc;
  kc.listener.listen = config.kafka_listen;
  kc.listener.io_threads = config.kafka_io_threads;
  kc.listener.limits.max_frame_bytes = config.kafka_max_frame_bytes;
  kc.listener.tls_cert_pem = cert_pem;
  kc.listener.tls_key_pem = key_pem;
  kc.broker.auto_create_topics = config.kafka_auto_create_topics;
  kc.broker.default_partitions = config.kafka_partitions;
  kc.catalog.backend = config.kafka_backend;
  kc.catalog.backend_options = config.kafka_backend_options;
  kc.dispatcher.token = config.token;
  // One cluster id on every member (clients warn when brokers of one bootstrap list differ):
  // the etcd prefix, or the static Kafka members' ids; a lone node names itself.
  kc.dispatcher.cluster_id = "persisting-" + config.id;
  if (cluster && !config.etcd.empty()) {
    kc.dispatcher.cluster_id = "persisting:" + config.etcd_prefix;
  } else if (cluster) {
    std::string ids;
    for (const auto& b : cluster->brokers()) ids += (ids.empty() ? "" : ",") + b.node;  // sorted by node id
    kc.dispatcher.cluster_id = "persisting:" + ids;
  }
  kc.dispatcher.logger = config.logger.get();
  kc.cluster = cluster;
  if (cluster) kc.dispatcher.node_id = cluster->self_id();
  if (!config.kafka_advertise.empty()) {
    ASSIGN_OR_RETURN(auto hp, kafka::parse_host_port(config.kafka_advertise));
    kc.dispatcher.advertised_host = hp.first;
    kc.dispatcher.advertised_port = hp.second;
  }
  auto s = kafka::Server::start(std::move(core), std::move(kc));
  if (!s.ok()) return s.status().with_context("node " + config.id + ": --kafka-listen");
  return s;
}

}  // namespace

Result<std::unique_ptr<Node>> Node::start(NodeConfig config) {
  auto impl = std::make_unique<Impl>();
  if (!config.logger) config.logger = stderr_logger(LogLevel::kWarning);
  NodeId self(config.id);
  if (config.advertise.empty()) config.advertise = config.listen;

  ChannelConfig cc;
  cc.token = config.token;
  bool tls = !config.tls_cert.empty() || !config.tls_key.empty();
  if (tls && (config.tls_cert.empty() || config.tls_key.empty()))
    return InvalidArgument("TLS needs both --tls-cert and --tls-key");
  std::string cert_pem, key_pem;
  if (tls) {
    ASSIGN_OR_RETURN(cert_pem, read_text_file(config.tls_cert));
    ASSIGN_OR_RETURN(key_pem, read_text_file(config.tls_key));
    cc.tls = true;
    if (!config.tls_ca.empty()) {
      ASSIGN_OR_RETURN(cc.tls_ca_pem, read_text_file(config.tls_ca));
    }
  }
  impl->peers = std::make_unique<Channels>(cc);

  if (!config.zone.empty() && !valid_id(config.zone))
    return InvalidArgument("--zone '" + config.zone + "' must be 1-64 characters from [A-Za-z0-9_-]");
  if (!config.etcd.empty()) {
    if (!config.members.empty()) return InvalidArgument("give --members or --etcd, not both");
    if (!config.kafka_members.empty())
      return InvalidArgument("--kafka-members is for static membership; with --etcd each node registers its own "
                             "Kafka listener");
    EtcdConfig ec;
    ec.endpoint = config.etcd;
    ec.prefix = config.etcd_prefix;
    ec.ttl_s = config.etcd_ttl_s;
    ec.logger = config.logger.get();
    ec.zone = config.zone;
    if (!config.kafka_listen.empty()) {
      ASSIGN_OR_RETURN(ec.kafka_address, kafka_advertised(config));
      if (ec.kafka_address.ends_with(":0"))
        return InvalidArgument("node " + config.id + ": with --etcd, --kafka-listen (or --kafka-advertise) needs a "
                               "port other than 0: the others learn it from etcd");
    }
    ASSIGN_OR_RETURN(impl->membership, etcd_membership({self, config.advertise, config.zone}, ec));
  } else {
    std::string spec = config.members.empty() ? config.id + "=" + config.advertise : config.members;
    ASSIGN_OR_RETURN(auto members, parse_members(spec));
    for (auto& m : members) {
      if (m.id != self) continue;
      if (m.address != config.advertise)
        return InvalidArgument("member " + m.id.str() + " is listed at " + m.address + " but this node listens at " +
                               config.advertise + " (set --advertise)");
      if (!config.zone.empty() && !m.zone.empty() && m.zone != config.zone)
        return InvalidArgument("member " + m.id.str() + " is listed in zone " + m.zone + " but --zone is " +
                               config.zone);
      if (m.zone.empty() && !config.zone.empty() && members.size() > 1)
        return InvalidArgument("--zone " + config.zone + " with static --members: give every member's zone in "
                               "the list (id=host:port@zone, the same list on every node), so that every node "
                               "places replicas alike");
      if (m.zone.empty()) m.zone = config.zone;
    }
    std::vector<runtime::Member> kafka_members;
    if (!config.kafka_listen.empty() && members.size() > 1) {
      // Every node must know where the others' Kafka listeners are: Metadata names them.
      if (config.kafka_members.empty())
        return InvalidArgument("node " + config.id + ": --kafka-listen in a cluster of several --members needs "
                               "--kafka-members id=host:port,... (every member's Kafka listener, self included)");
      ASSIGN_OR_RETURN(kafka_members, parse_members(config.kafka_members));
      ASSIGN_OR_RETURN(std::string mine, kafka_advertised(config));
      std::map<int32_t, std::string> ids;
      bool listed = false;
      for (const auto& k : kafka_members) {
        RETURN_IF_ERROR(kafka::parse_host_port(k.address).status().with_context("--kafka-members " + k.id.str()));
        auto [it, fresh] = ids.emplace(kafka::broker_id_for(k.id.str()), k.id.str());
        if (!fresh)
          return InvalidArgument("--kafka-members: nodes " + it->second + " and " + k.id.str() +
                                 " derive the same Kafka broker id; rename one");
        if (k.id == self) {
          listed = true;
          if (k.address != mine)
            return InvalidArgument("--kafka-members lists " + k.id.str() + " at " + k.address +
                                   " but its Kafka listener is advertised at " + mine + " (set --kafka-advertise)");
        }
      }
      if (!listed) return InvalidArgument("--kafka-members does not list this node (" + config.id + ")");
    } else if (!config.kafka_members.empty()) {
      return InvalidArgument("--kafka-members needs --kafka-listen and --members of several nodes");
    }
    ASSIGN_OR_RETURN(impl->membership, static_membership(self, std::move(members), std::move(kafka_members)));
  }

  if (!config.data_dir.empty()) {
    ASSIGN_OR_RETURN(impl->data_dir_lock, lock_node_data_dir(Env::Default(), config.data_dir));
  }

  QueueOptions qo;
  qo.data_dir = config.data_dir;
  qo.threads = config.threads;
  qo.logger = config.logger;
  // The local StorageManager holds this node's buckets only; cluster placement is per topic, over
  // the members pinned when the topic was created (Service::owner).
  ASSIGN_OR_RETURN(impl->core, detail::make_queue_core(qo, self, {{self, config.advertise}}));
  {
    std::unique_lock<std::shared_mutex> lock(impl->core->interest->mu);
    impl->core->interest->refusal = kInterestOnClusterRefusal;
  }

  ServiceConfig sc;
  sc.token = config.token;
  sc.max_response_bytes = std::max<size_t>(config.max_message_bytes / 2, 1 << 16);
  sc.replication.lag_max = std::chrono::milliseconds(config.replica_lag_max_ms);
  sc.replication.min_insync = config.min_insync_replicas;
  sc.replication.commit_changes = !config.etcd.empty();  // elections read the sets stored in etcd
  impl->service = std::make_unique<Service>(impl->core, impl->membership.get(), impl->peers.get(),
                                            &impl->registry, sc);

  if (!config.kafka_listen.empty()) {
    // In a cluster the broker reaches buckets through the service's topic directory (placement,
    // fences, the same actors) and names every member's Kafka listener; alone it serves the
    // node's buckets directly.
    const bool cluster = !config.etcd.empty() || impl->membership->configured().size() > 1;
    if (cluster)
      impl->kafka_cluster =
          make_kafka_cluster(impl->service->directory(), impl->membership.get(), self,
                             [svc = impl->service.get()](const std::string& name) {
                               return svc->delete_topic_everywhere(name);
                             },
                             [svc = impl->service.get()] {
                               std::vector<std::string> unreached;
                               return svc->list_everywhere(&unreached);
                             },
                             [svc = impl->service.get()](std::function<void()> work) {
                               svc->post_admin(std::move(work));
                             },
                             impl->service->group_router(),
                             [svc = impl->service.get()](TopicEntry& t, uint32_t b, runtime::BucketStorage& a) {
                               return svc->ensure_in_sync_set(t, b, a);
                             },
                             impl->service->dedup());
    ASSIGN_OR_RETURN(impl->kafka, start_kafka(config, impl->core, cert_pem, key_pem, impl->kafka_cluster.get()));
    kafka::Server* k = impl->kafka.get();
    impl->service->set_kafka_topic_probe([k](const std::string& name) { return k->is_kafka_topic(name); });
    impl->service->directory()->set_kafka_marker([k](const std::string& name) { return k->mark_kafka(name); });
  }

  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  std::shared_ptr<grpc::ServerCredentials> creds;
  if (tls) {
    grpc::SslServerCredentialsOptions o;
    o.pem_key_cert_pairs.push_back({key_pem, cert_pem});
    creds = grpc::SslServerCredentials(o);
  } else {
    creds = grpc::InsecureServerCredentials();
  }
  // gRPC sets SO_REUSEPORT by default: a second node on a served port would then share its
  // connections with the first. Off, so that it fails with "address in use" instead.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddListeningPort(config.listen, creds, &impl->port);
  builder.SetMaxReceiveMessageSize(static_cast<int>(config.max_message_bytes));
  builder.RegisterService(impl->service.get());
  impl->server = builder.BuildAndStart();
  if (!impl->server || impl->port == 0) {
    // gRPC does not say why; a plain bind() of the same address does.
    std::string why = bind_error(config.listen);
    return Unavailable("node " + config.id + ": cannot listen on " + config.listen + (why.empty() ? "" : ": " + why));
  }
  impl->server->GetHealthCheckService()->SetServingStatus(true);
  // Followers of replicated topics' buckets pull from their leaders (nothing for factor 1).
  impl->replicator = std::make_unique<Replicator>(impl->service->directory(), impl->core, impl->peers.get(),
                                                  config.logger.get(), impl->service->dedup(),
                                                  impl->membership.get(), sc.peer_timeout,
                                                  config.allow_unclean_election);
  impl->replicator->start();

  if (!config.metrics.empty()) {
    Impl* raw = impl.get();
    impl->registry.set_scrape_hook([raw] {
      raw->collect_bucket_metrics();
      if (!raw->stopped) raw->service->collect_group_metrics();
      if (!raw->stopped) collect_replication_metrics(*raw->service->directory(), raw->registry);
    });
    impl->http = std::make_unique<metrics::HttpEndpoint>(&impl->registry, [raw]() -> Status {
      if (raw->stopped) return Unavailable("node " + raw->config.id + " is shutting down");
      return Status::OK();
    });
    if (Status m = impl->http->start(config.metrics); !m.ok()) {
      std::string why = bind_error(config.metrics);
      return why.empty() ? m : Unavailable(m.message() + ": " + why);
    }
  }
  impl->config = std::move(config);
  return std::unique_ptr<Node>(new Node(std::move(impl)));
}

Status Node::shutdown(std::chrono::milliseconds grace) {
  Impl& i = *impl_;
  if (i.stopped) return Status::OK();
  i.stopped = true;
  if (i.kafka) i.kafka->stop();  // its parked fetches end before the buckets close
  if (i.replicator) i.replicator->stop();  // no appends to follower copies from here on
  if (i.server) {
    i.server->GetHealthCheckService()->SetServingStatus(false);
    i.server->Shutdown(std::chrono::system_clock::now() + grace);
    i.server->Wait();
  }
  if (i.service) i.service->stop();
  Status s = i.core ? i.core->manager->close_all() : Status::OK();
  if (i.http) i.http->stop();
  i.membership->stop();
  return s;
}

}  // namespace persisting::net
