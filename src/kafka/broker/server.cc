#include "kafka/broker/server.h"

namespace persisting::kafka {

Server::Server(std::shared_ptr<detail::QueueCore> core, ServerConfig config)
    : broker_(std::move(core), config.catalog, config.broker), producers_(Scheduler::Default(), {.accept_other_brokers_ids = config.cluster != nullptr}) {}

Result<std::unique_ptr<Server>> Server::start(std::shared_ptr<detail::QueueCore> core, ServerConfig config) {
  if (config.broker.default_partitions < 1 || config.broker.default_partitions > 65536)
    return InvalidArgument("Kafka: the default partition count must be in [1, 65536], got " +
                           std::to_string(config.broker.default_partitions));
  std::unique_ptr<Server> s(new Server(core, config));
  if (config.cluster) s->broker_.catalog().set_cluster(config.cluster);
  Broker* broker = &s->broker_;
  // A Kafka group's commits are our groups' commits: the node's GroupTable, or in a cluster
  // each topic's group coordinator (docs/kafka.md, "In a cluster").
  groups::Coordinator* commits = core->groups.get();
  Scheduler* scheduler = Scheduler::Default();
  if (config.cluster && config.cluster->group_offsets()) {
    commits = config.cluster->group_offsets();
    s->group_scheduler_ = Scheduler::make_pool(2);
    scheduler = s->group_scheduler_.get();
  }
  s->groups_ = std::make_unique<GroupCoordinator>(
      commits, scheduler,
      [broker](const std::string& topic) -> Result<uint32_t> {
        auto t = broker->catalog().find(topic);
        if (!t.ok()) return t.status();
        return (*t)->partitions();
      },
      [broker]() {
        std::vector<std::string> names;
        if (auto all = broker->catalog().list(); all.ok())
          for (const auto& t : *all) names.push_back(t->name());
        return names;
      });
  // The dispatcher is made before the listener and outlives it (destroyed after it).
  s->dispatcher_ = std::make_unique<Dispatcher>(&s->broker_, &s->producers_, s->groups_.get(), config.dispatcher);
  auto l = Listener::start(config.listener, s->dispatcher_.get());
  if (!l.ok()) return l.status();
  s->listener_ = std::move(l).value();
  DispatcherConfig& dc = s->dispatcher_->config();
  if (dc.advertised_host.empty()) dc.advertised_host = s->listener_->host();
  if (dc.advertised_port == 0) dc.advertised_port = s->listener_->port();
  s->listener_->serve();
  return s;
}

void Server::stop() {
  if (listener_) listener_->stop();
}

Server::~Server() {
  stop();
  listener_.reset();
  dispatcher_.reset();
  groups_.reset();  // answers what still waits in it, then leaves its GroupTable members
}

}  // namespace persisting::kafka
