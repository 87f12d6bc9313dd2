#include "kafka/broker/topic_catalog.h"

#include "core/status_macros.h"
#include "persisting/backend.h"
#include "queue/topic_meta.h"

namespace persisting::kafka {
namespace {

constexpr const char* kMarkerFile = "kafka.json";
constexpr const char* kMarkerJson = "{\"format\":1,\"kind\":\"kafka\"}\n";

std::string marker_path(const std::string& data_dir, const std::string& topic) {
  return queue::topic_dir(data_dir, topic) + "/" + kMarkerFile;
}

}  // namespace

CatalogTopic::CatalogTopic(std::shared_ptr<detail::QueueCore> core, TopicInfo info, TopicKind kind,
                           KafkaCluster* cluster)
    : core_(std::move(core)), info_(std::move(info)), kind_(kind), cluster_(cluster), actors_(info_.num_buckets) {}

Result<std::shared_ptr<runtime::BucketStorage>> CatalogTopic::partition(uint32_t p) {
  if (p >= info_.num_buckets)
    return InvalidArgument("topic '" + info_.topic + "' has no partition " + std::to_string(p) +
                           " (it has " + std::to_string(info_.num_buckets) + ")");
  // In a cluster the owner is checked on every request (a rebalance may move the bucket), and
  // the actor is the one the node's directory holds.
  if (cluster_) return cluster_->local_partition(info_.topic, p);
  std::lock_guard<std::mutex> lock(mu_);
  auto& a = actors_[p];
  if (!a) {
    ASSIGN_OR_RETURN(auto actors, core_->actors(info_, {BucketId(p)}, {}));
    a = std::move(actors[0]);
  }
  return a;
}

Result<ProduceSlot> CatalogTopic::produce_slot(uint32_t p) {
  if (cluster_ && p < info_.num_buckets) return cluster_->begin_produce(info_.topic, p);
  ASSIGN_OR_RETURN(auto actor, partition(p));
  return ProduceSlot{std::move(actor), {}};
}

int32_t CatalogTopic::leader(uint32_t p, int32_t self_id) {
  return cluster_ ? cluster_->leader(info_.topic, p) : self_id;
}

PartitionReplicas CatalogTopic::describe(uint32_t p, int32_t self_id) {
  if (cluster_) return cluster_->describe(info_.topic, p);
  PartitionReplicas out;
  out.leader = self_id;
  out.leader_epoch = 0;
  out.replicas = out.in_sync = {self_id};
  return out;
}

void CatalogTopic::producer_appended(uint32_t p, int64_t producer_id, uint64_t first_offset, uint32_t count,
                                     std::string snapshot) {
  if (replicated()) cluster_->producer_appended(info_.topic, p, producer_id, first_offset, count, std::move(snapshot));
}

std::optional<std::string> CatalogTopic::producer_snapshot(uint32_t p, int64_t producer_id) {
  return replicated() ? cluster_->producer_snapshot(info_.topic, p, producer_id) : std::nullopt;
}

Result<std::optional<uint64_t>> CatalogTopic::high_watermark(uint32_t p) {
  if (!replicated()) return std::optional<uint64_t>();
  return cluster_->high_watermark(info_.topic, p);
}

void CatalogTopic::wait_high_watermark(uint32_t p, uint64_t end, std::function<void(Status)> cb) {
  if (!replicated()) return cb(Status::OK());
  cluster_->wait_high_watermark(info_.topic, p, end, std::move(cb));
}

Status CatalogTopic::check_acks_all(uint32_t p) {
  return replicated() ? cluster_->check_acks_all(info_.topic, p) : Status::OK();
}

void CatalogTopic::produced(uint32_t p, uint64_t end, bool acks_all, std::function<void(Status)> done) {
  if (!replicated()) return done(Status::OK());
  cluster_->produced(info_.topic, p, end, acks_all, std::move(done));
}

TopicCatalog::TopicCatalog(std::shared_ptr<detail::QueueCore> core, CatalogOptions options)
    : core_(std::move(core)), options_(std::move(options)) {
  if (options_.backend.empty()) options_.backend = core_->has_data_dir() ? "persisting" : "memory";
  observer_ = core_->on_topic_deleted([this](const std::string& name) { forget(name); });
}

TopicCatalog::~TopicCatalog() { core_->remove_observer(observer_); }

void TopicCatalog::forget(const std::string& name) {
  std::unique_lock lock(mu_);
  topics_.erase(name);
  kafka_in_memory_.erase(name);
}

Status TopicCatalog::remove(const std::string& name) {
  std::lock_guard<std::mutex> create_lock(create_mu_);  // not while the same name is being made
  if (cluster_) return cluster_->delete_topic(name);  // every member's copy
  return core_->delete_topic(name).status();
}

bool TopicCatalog::is_kafka_topic(const std::string& name) {
  {
    std::shared_lock lock(mu_);
    if (creating_.count(name)) return true;
    if (!core_->has_data_dir()) return kafka_in_memory_.count(name) > 0;
  }
  return core_->env->file_exists(marker_path(core_->options.data_dir, name));
}

Result<std::shared_ptr<CatalogTopic>> TopicCatalog::remember(const TopicInfo& info) {
  return remember(info, is_kafka_topic(info.topic) ? TopicKind::kKafka : TopicKind::kRecords);
}

Result<std::shared_ptr<CatalogTopic>> TopicCatalog::remember(const TopicInfo& info, TopicKind kind) {
  std::unique_lock lock(mu_);
  auto& e = topics_[info.topic];
  if (!e) e = std::make_shared<CatalogTopic>(core_, info, kind, cluster_);
  return e;
}

Result<std::shared_ptr<CatalogTopic>> TopicCatalog::find(const std::string& name) {
  {
    std::shared_lock lock(mu_);
    if (auto it = topics_.find(name); it != topics_.end()) return it->second;
  }
  if (cluster_) {
    ASSIGN_OR_RETURN(ClusterTopic t, cluster_->find_topic(name));
    if (t.kafka && !is_kafka_topic(name)) RETURN_IF_ERROR(mark_kafka(name));
    return remember(t.info);
  }
  ASSIGN_OR_RETURN(TopicInfo info, core_->lookup(name));
  return remember(info);
}

Status TopicCatalog::mark_kafka(const std::string& name) {
  if (core_->has_data_dir())
    return core_->env->write_file_atomic(marker_path(core_->options.data_dir, name), kMarkerJson)
        .with_context("topic '" + name + "': writing its Kafka marker");
  std::unique_lock lock(mu_);
  kafka_in_memory_.insert(name);
  return Status::OK();
}

Status TopicCatalog::check_replication_factor(const std::string& name, uint32_t factor) const {
  if (factor == 1) return Status::OK();
  if (cluster_) return cluster_->check_replication_factor(name, factor);
  return InvalidArgument("topic '" + name + "': replication factor " + std::to_string(factor) +
                         " needs as many nodes, and this broker is a single node (1 is allowed)");
}

Result<std::shared_ptr<CatalogTopic>> TopicCatalog::create(const std::string& name, uint32_t partitions,
                                                           uint32_t replication_factor) {
  RETURN_IF_ERROR(check_replication_factor(name, replication_factor));  // before anything is written
  std::lock_guard<std::mutex> create_lock(create_mu_);
  // In a cluster a peer may have the topic: it is looked up there too.
  auto existing = cluster_ ? cluster_->find_topic(name).status() : core_->lookup(name).status();
  if (existing.ok()) return AlreadyExists("topic '" + name + "' already exists");
  if (existing.code() != Code::kNotFound) return existing;
  WriterOptions w;
  w.topic = name;
  w.bucket_column = kKeyColumn;
  w.num_buckets = partitions;
  w.replication_factor = replication_factor;
  w.batch_size = options_.batch_size;
  w.backend = options_.backend;
  w.backend_options = options_.backend_options;
  // From topic.json to the marker, lookups (here, or a peer's through this node) see a topic
  // being made over Kafka: one that found it in between took it for a topic of JSON records for
  // good, and refused every produce.
  {
    std::unique_lock lock(mu_);
    creating_.insert(name);
  }
  auto made = core_->open_for_write(w);
  // After topic.json: a crash in between leaves a topic our APIs see whole and Kafka serves as
  // JSON records; never a marker without a topic.
  Status marked = made.ok() ? mark_kafka(name) : made.status();
  {
    std::unique_lock lock(mu_);
    creating_.erase(name);
  }
  if (!marked.ok()) {
    forget(name);  // an entry remembered in the window: looked up afresh (JSON records)
    return marked;
  }
  TopicInfo info = std::move(made).value();
  if (cluster_) RETURN_IF_ERROR(cluster_->adopt_topic(info));  // its placement, before any use
  return remember(info, TopicKind::kKafka);
}

Result<std::vector<std::shared_ptr<CatalogTopic>>> TopicCatalog::list() {
  std::vector<TopicInfo> infos;
  if (cluster_) {
    infos = cluster_->topics();
  } else {
    ASSIGN_OR_RETURN(infos, core_->list_topics());
  }
  std::vector<std::shared_ptr<CatalogTopic>> out;
  out.reserve(infos.size());
  for (const auto& info : infos) {
    {
      std::shared_lock lock(mu_);
      if (auto it = topics_.find(info.topic); it != topics_.end()) {
        out.push_back(it->second);
        continue;
      }
    }
    ASSIGN_OR_RETURN(auto t, remember(info));
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace persisting::kafka
