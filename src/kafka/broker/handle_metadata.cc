// Metadata (with auto-creation), CreateTopics and DeleteTopics. These may touch files (a topic's
// first lookup, a creation) and, in a cluster, ask other members: Dispatcher::admin runs them
// on the cluster's blocking pool there, and on the io thread that read the request on a single
// node (files only, for calls this rare).
#include "kafka/broker/dispatcher.h"

#include "core/log.h"
#include "queue/topic_meta.h"

namespace persisting::kafka {
namespace {

// Each partition's leader, leader epoch, replicas and in-sync set: this node alone at epoch 0
// on a single node; in a cluster the bucket's leader (LEADER_NOT_AVAILABLE when it has no Kafka
// listener) and, for a replicated topic, its replicas and in-sync set as this node knows them.
void describe(CatalogTopic& t, int32_t node_id, MetadataResponse::Topic* out) {
  out->name = t.name();
  out->partitions.resize(t.partitions());
  for (uint32_t p = 0; p < t.partitions(); ++p) {
    auto& mp = out->partitions[p];
    PartitionReplicas r = t.describe(p, node_id);
    mp.partition_index = static_cast<int32_t>(p);
    mp.leader_id = r.leader;
    mp.leader_epoch = r.leader_epoch;
    mp.replica_nodes = std::move(r.replicas);
    mp.isr_nodes = std::move(r.in_sync);
    if (r.leader < 0) mp.error_code = error_value(ErrorCode::LEADER_NOT_AVAILABLE);
  }
}

ErrorCode topic_error(const Status& s) {
  if (s.code() == Code::kInvalidArgument) return ErrorCode::INVALID_TOPIC_EXCEPTION;
  if (s.code() == Code::kNotFound) return ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
  if (s.code() == Code::kAlreadyExists) return ErrorCode::TOPIC_ALREADY_EXISTS;
  return ErrorCode::UNKNOWN_SERVER_ERROR;
}

}  // namespace

void Dispatcher::handle(const RequestHeader& h, MetadataRequest req, const Reply& reply) {
  MetadataResponse r;
  if (KafkaCluster* c = broker_->catalog().cluster()) {
    for (const auto& b : c->brokers()) r.brokers.push_back({b.id, b.host, b.port, std::nullopt});
  } else {
    r.brokers.push_back({config_.node_id, config_.advertised_host, config_.advertised_port, std::nullopt});
  }
  r.cluster_id = config_.cluster_id;
  r.controller_id = config_.node_id;
  if (!req.topics) {
    auto all = broker_->catalog().list();
    if (all.ok())
      for (const auto& t : *all) describe(*t, config_.node_id, &r.topics.emplace_back());
  } else {
    // v0-v3 have no allow_auto_topic_creation field: the broker's setting decides.
    const bool create = h.api_version < 4 || req.allow_auto_topic_creation;
    for (const auto& name : *req.topics) {
      auto t = topic_for(name, create);
      auto& mt = r.topics.emplace_back();
      if (!t.ok()) {
        mt.name = name;
        mt.error_code = error_value(topic_error(t.status()));
        continue;
      }
      describe(**t, config_.node_id, &mt);
    }
  }
  reply.send(response_frame(h, r));
}

void Dispatcher::handle(const RequestHeader& h, CreateTopicsRequest req, const Reply& reply) {
  CreateTopicsResponse r;
  for (const auto& t : req.topics) {
    auto& out = r.topics.emplace_back();
    out.name = t.name;
    auto fail = [&](ErrorCode e, std::string m) {
      out.error_code = error_value(e);
      out.error_message = std::move(m);
    };
    // -1: the broker's default, 1. Others as `persisting put --replication-factor`: 1, 3 or 5,
    // and at most the cluster's members.
    const int32_t factor = t.replication_factor == -1 ? 1 : t.replication_factor;
    if (factor != 1 && factor != 3 && factor != 5) {
      fail(ErrorCode::INVALID_REPLICATION_FACTOR, "topic '" + t.name + "': replication factor " +
                                                      std::to_string(t.replication_factor) +
                                                      " is not supported: 1, 3 or 5 (-1: the default, 1)");
      continue;
    }
    if (factor != 1) {
      Status s = broker_->catalog().check_replication_factor(t.name, static_cast<uint32_t>(factor));
      if (!s.ok()) {
        fail(ErrorCode::INVALID_REPLICATION_FACTOR, s.message());
        continue;
      }
    }
    if (!t.assignments.empty()) {
      fail(ErrorCode::INVALID_REPLICA_ASSIGNMENT, "topic '" + t.name + "': manual replica assignments are not supported");
      continue;
    }
    if (!t.configs.empty()) {
      fail(ErrorCode::INVALID_CONFIG, "topic '" + t.name + "': topic configs (" + t.configs[0].name +
                                          ", ...) are not supported; create it without them");
      continue;
    }
    const int32_t partitions =
        t.num_partitions == -1 ? static_cast<int32_t>(broker_->config().default_partitions) : t.num_partitions;
    if (partitions < 1 || partitions > 65536) {
      fail(ErrorCode::INVALID_PARTITIONS,
           "topic '" + t.name + "': partitions must be in [1, 65536], got " + std::to_string(partitions));
      continue;
    }
    if (req.validate_only) {
      Status v = validate_topic_name(t.name);
      if (!v.ok()) fail(ErrorCode::INVALID_TOPIC_EXCEPTION, v.message());
      else if (broker_->catalog().find(t.name).ok())
        fail(ErrorCode::TOPIC_ALREADY_EXISTS, "topic '" + t.name + "' already exists");
      continue;
    }
    auto made = broker_->catalog().create(t.name, static_cast<uint32_t>(partitions), static_cast<uint32_t>(factor));
    if (!made.ok()) fail(topic_error(made.status()), made.status().message());
  }
  reply.send(response_frame(h, r));
}

void Dispatcher::handle(const RequestHeader& h, DeleteTopicsRequest req, const Reply& reply) {
  // Each topic on its own: an unknown one is UNKNOWN_TOPIC_OR_PARTITION and the others are still
  // deleted (records, files, groups' commits; docs/kafka.md, "DeleteTopics").
  DeleteTopicsResponse r;
  for (const auto& name : req.topic_names) {
    auto& out = r.responses.emplace_back();
    out.name = name;
    Status s = broker_->catalog().remove(name);
    out.error_code = error_value(s.ok() ? ErrorCode::NONE : topic_error(s));
    if (!s.ok() && config_.logger) config_.logger->log(LogLevel::kInfo, "kafka: DeleteTopics: " + s.to_string());
  }
  reply.send(response_frame(h, r));
}

}  // namespace persisting::kafka
