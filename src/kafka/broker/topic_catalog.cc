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

CatalogTopic::CatalogTopic(std::shared_ptr<detail::QueueCore> core, TopicInfo info, TopicKind kind)
    : core_(std::move(core)), info_(std::move(info)), kind_(kind), actors_(info_.num_buckets) {}

Result<std::shared_ptr<runtime::BucketStorage>> CatalogTopic::partition(uint32_t p) {
  if (p >= info_.num_buckets)
    return InvalidArgument("topic '" + info_.topic + "' has no partition " + std::to_string(p) +
                           " (it has " + std::to_string(info_.num_buckets) + ")");
  std::lock_guard<std::mutex> lock(mu_);
  auto& a = actors_[p];
  if (!a) {
    ASSIGN_OR_RETURN(auto actors, core_->actors(info_, {BucketId(p)}, {}));
    a = std::move(actors[0]);
  }
  return a;
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
  return core_->delete_topic(name).status();
}

bool TopicCatalog::is_kafka_topic(const std::string& name) {
  if (!core_->has_data_dir()) {
    std::shared_lock lock(mu_);
    return kafka_in_memory_.count(name) > 0;
  }
  return core_->env->file_exists(marker_path(core_->options.data_dir, name));
}

Result<std::shared_ptr<CatalogTopic>> TopicCatalog::remember(const TopicInfo& info) {
  TopicKind kind = is_kafka_topic(info.topic) ? TopicKind::kKafka : TopicKind::kRecords;
  std::unique_lock lock(mu_);
  auto& e = topics_[info.topic];
  if (!e) e = std::make_shared<CatalogTopic>(core_, info, kind);
  return e;
}

Result<std::shared_ptr<CatalogTopic>> TopicCatalog::find(const std::string& name) {
  {
    std::shared_lock lock(mu_);
    if (auto it = topics_.find(name); it != topics_.end()) return it->second;
  }
  ASSIGN_OR_RETURN(TopicInfo info, core_->lookup(name));
  return remember(info);
}

Result<std::shared_ptr<CatalogTopic>> TopicCatalog::create(const std::string& name, uint32_t partitions) {
  std::lock_guard<std::mutex> create_lock(create_mu_);
  auto existing = core_->lookup(name);
  if (existing.ok()) return AlreadyExists("topic '" + name + "' already exists");
  if (existing.status().code() != Code::kNotFound) return existing.status();
  WriterOptions w;
  w.topic = name;
  w.bucket_column = kKeyColumn;
  w.num_buckets = partitions;
  w.batch_size = options_.batch_size;
  w.backend = options_.backend;
  w.backend_options = options_.backend_options;
  ASSIGN_OR_RETURN(TopicInfo info, core_->open_for_write(w));
  if (core_->has_data_dir()) {
    // After topic.json: a crash in between leaves a topic our APIs see whole and Kafka serves as
    // JSON records; never a marker without a topic.
    Env* env = core_->env;
    RETURN_IF_ERROR(env->write_file_atomic(marker_path(core_->options.data_dir, name), kMarkerJson)
                        .with_context("topic '" + name + "': writing its Kafka marker"));
  } else {
    std::unique_lock lock(mu_);
    kafka_in_memory_.insert(name);
  }
  return remember(info);
}

Result<std::vector<std::shared_ptr<CatalogTopic>>> TopicCatalog::list() {
  ASSIGN_OR_RETURN(auto infos, core_->list_topics());
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
