// TopicCatalog: the broker's view of the node's topics. A Kafka topic is one of our topics, a
// Kafka partition one of its buckets. It remembers which topics were created over Kafka (their
// records are {key, value, timestamp, headers}) and which by our own APIs (their records are
// JSON-like objects served as JSON text), and caches each topic's bucket actors so that a Produce
// or a Fetch reaches the actor without a lookup.
//
// The kind of a topic survives a restart: a Kafka topic has a marker file
// <data_dir>/<topic>/kafka.json next to its topic.json (docs/kafka.md). Without a data dir the
// marker is kept in memory (and so are the topics).
//
// Thread-safe. find() and create() may touch files (the first time a topic is seen, and when one
// is made); everything after that is a map lookup under a shared lock.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <vector>

#include "kafka/broker/cluster.h"
#include "persisting/store.h"
#include "queue/queue_core.h"
#include "runtime/bucket_storage.h"

namespace persisting::kafka {

enum class TopicKind {
  kKafka,    // created over Kafka: columns key, value, timestamp, headers
  kRecords,  // created by our APIs: JSON-like records, bucket = hash(bucket column)
};

// One topic as the broker sees it. Held by shared_ptr: a deleted topic's entry is dropped from
// the catalog, and requests still holding it reach retired actors, which answer NotFound.
class CatalogTopic {
 public:
  // cluster (may be null: a single node) decides which partitions are this node's.
  CatalogTopic(std::shared_ptr<detail::QueueCore> core, TopicInfo info, TopicKind kind, KafkaCluster* cluster = nullptr);

  const TopicInfo& info() const { return info_; }
  const std::string& name() const { return info_.topic; }
  TopicKind kind() const { return kind_; }
  uint32_t partitions() const { return info_.num_buckets; }
  // The actor of a partition, opened on first use. InvalidArgument when out of range; in a
  // cluster, FailedPrecondition when another node owns it.
  Result<std::shared_ptr<runtime::BucketStorage>> partition(uint32_t p);
  // The same for a produce: in a cluster also Unavailable while a rebalance moves the bucket,
  // and counted in flight until the slot's finished() (empty on a single node) is called.
  Result<ProduceSlot> produce_slot(uint32_t p);
  // The broker id of the partition's leader (self_id on a single node).
  int32_t leader(uint32_t p, int32_t self_id);
  // The partition's leader, leader epoch, replicas and in-sync set, as Metadata reports them
  // (on a single node: self_id alone at epoch 0).
  PartitionReplicas describe(uint32_t p, int32_t self_id);
  // Idempotent producers' state of a replicated partition (KafkaCluster::producer_appended and
  // producer_snapshot); nothing / nullopt when the partition is not replicated.
  void producer_appended(uint32_t p, int64_t producer_id, uint64_t first_offset, uint32_t count, std::string snapshot);
  std::optional<std::string> producer_snapshot(uint32_t p, int64_t producer_id);
  // A replicated partition (replication_factor > 1 in a cluster): its high watermark bounds
  // what consumers see and acks=-1 waits for its in-sync replicas (KafkaCluster). The calls
  // below are the cluster's, or what a partition that is not replicated answers.
  bool replicated() const { return cluster_ && info_.replication_factor > 1; }
  Result<std::optional<uint64_t>> high_watermark(uint32_t p);
  void wait_high_watermark(uint32_t p, uint64_t end, std::function<void(Status)> cb);
  Status check_acks_all(uint32_t p);
  void produced(uint32_t p, uint64_t end, bool acks_all, std::function<void(Status)> done);
  // The mean stored size of the records of the topic's last Fetch answer (0: none yet): how many
  // records a Fetch asks of a bucket to fill its max_bytes without reading far more.
  uint32_t record_bytes_hint() const { return record_bytes_.load(std::memory_order_relaxed); }
  void note_record_bytes(uint32_t mean) { record_bytes_.store(mean, std::memory_order_relaxed); }

 private:
  std::shared_ptr<detail::QueueCore> core_;
  TopicInfo info_;
  TopicKind kind_;
  KafkaCluster* cluster_;
  std::mutex mu_;
  std::vector<std::shared_ptr<runtime::BucketStorage>> actors_;  // index = partition
  std::atomic<uint32_t> record_bytes_{0};
};

struct CatalogOptions {
  std::string backend;       // backend of topics created over Kafka (empty: persisting with a
                             // data dir, memory without)
  Options backend_options;
  uint32_t batch_size = 1000;  // records a durable bucket buffers before it flushes
};

class TopicCatalog {
 public:
  TopicCatalog(std::shared_ptr<detail::QueueCore> core, CatalogOptions options);
  ~TopicCatalog();
  TopicCatalog(const TopicCatalog&) = delete;
  TopicCatalog& operator=(const TopicCatalog&) = delete;

  // The topic, or NotFound.
  Result<std::shared_ptr<CatalogTopic>> find(const std::string& name);
  // Creates a Kafka topic with the given partition count and replication factor (above 1 only
  // in a cluster of enough members: KafkaCluster::check_replication_factor, checked before
  // anything is written, InvalidArgument naming why); AlreadyExists when the name is taken.
  Result<std::shared_ptr<CatalogTopic>> create(const std::string& name, uint32_t partitions,
                                               uint32_t replication_factor = 1);
  // OK when a topic of this replication factor can be made: 1 always, 3 or 5 in a cluster of
  // as many members; InvalidArgument naming the factor and why otherwise.
  Status check_replication_factor(const std::string& name, uint32_t factor) const;
  // Deletes a topic (QueueCore::delete_topic: records, files, groups); NotFound when unknown.
  Status remove(const std::string& name);
  // Every topic of the node (Kafka's and ours).
  Result<std::vector<std::shared_ptr<CatalogTopic>>> list();
  const std::string& backend() const { return options_.backend; }
  // Makes the catalog a cluster member's (before any use; must outlive it): topics are found
  // through the cluster (learned from peers) and partitions are served only where owned.
  void set_cluster(KafkaCluster* cluster) { cluster_ = cluster; }
  KafkaCluster* cluster() const { return cluster_; }
  // Whether the topic was created over Kafka (its marker; in memory without a data dir), or is
  // being created over Kafka here: a lookup between its topic.json and its marker, here or by a
  // peer asking this node (the service's probe), learns the kind the topic is getting.
  bool is_kafka_topic(const std::string& name);
  // Marks a topic learned from a peer as a Kafka topic (writes its marker).
  Status mark_kafka(const std::string& name);

 private:
  // The entry for a topic found in the queue (or the cluster), made once.
  Result<std::shared_ptr<CatalogTopic>> remember(const TopicInfo& info);
  Result<std::shared_ptr<CatalogTopic>> remember(const TopicInfo& info, TopicKind kind);
  // Drops a deleted topic (however it was deleted: QueueCore tells the catalog).
  void forget(const std::string& name);

  std::shared_ptr<detail::QueueCore> core_;
  CatalogOptions options_;
  KafkaCluster* cluster_ = nullptr;
  std::mutex create_mu_;  // one creation at a time (topic.json, then the marker)
  std::shared_mutex mu_;
  std::map<std::string, std::shared_ptr<CatalogTopic>> topics_;
  std::set<std::string> kafka_in_memory_;  // Kafka topics of a node without a data dir
  std::set<std::string> creating_;         // names create() is making (topic.json to marker)
  uint64_t observer_ = 0;                  // QueueCore::on_topic_deleted
};

// The column names of a Kafka topic's records.
inline constexpr const char* kKeyColumn = "key";
inline constexpr const char* kValueColumn = "value";
inline constexpr const char* kTimestampColumn = "timestamp";
inline constexpr const char* kHeadersColumn = "headers";

}  // namespace persisting::kafka
