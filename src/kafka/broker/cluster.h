// KafkaCluster: what the broker needs to know about the cluster it is part of (docs/kafka.md,
// "In a cluster"). The node implements it (net::make_kafka_cluster) over its topic directory and
// membership; a broker without one serves a single node (every partition is its own).
//
// - brokers(): every member with a Kafka listener, self included, with its broker id.
// - A partition's leader is the owner of its bucket under the topic's placement; a node answers
//   Produce, Fetch and ListOffsets only for the partitions it owns (NOT_LEADER_OR_FOLLOWER for
//   the others, so clients refresh their metadata and go to the owner).
// - A consumer group's coordinator is one member, the same on every node: the rendezvous owner
//   of the group id among the brokers. It keeps the Kafka membership; its commits to topic T go
//   to T's coordinator of our group of the same name (group_offsets()), the one gRPC, the CLI
//   and Python use.
// - A partition of a replicated topic (replication_factor > 1; docs/cluster.md, "Replication")
//   has a high watermark on its leader: Fetch and ListOffsets(latest) stop at it, and a Produce
//   with acks=-1 waits for the in-sync replicas (the defaults below: not replicated).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "groups/group_types.h"
#include "persisting/status.h"
#include "persisting/store.h"
#include "runtime/bucket_storage.h"

namespace persisting::kafka {

// A Kafka broker id for a node id: the upper 31 bits of stable_hash64(node id) (docs/hashing.md),
// so every node derives the same id for a member without being told, and it stays the same
// across restarts. Non-negative.
int32_t broker_id_for(const std::string& node_id);

struct BrokerAddress {
  int32_t id = -1;
  std::string node;  // the member's node id
  std::string host;
  int32_t port = 0;
};

// A topic the cluster knows, as the node learned it.
struct ClusterTopic {
  TopicInfo info;
  bool kafka = false;  // created over Kafka (its peer said so); only meaningful when learned from a peer
};

// A partition as Metadata describes it (docs/kafka.md, "In a cluster").
struct PartitionReplicas {
  int32_t leader = -1;        // broker id; -1 when the leader has no Kafka listener
  int32_t leader_epoch = -1;  // our leader epoch when it fits an int32; -1 (unknown) otherwise
  std::vector<int32_t> replicas;  // broker ids, the leader's placement order
  std::vector<int32_t> in_sync;   // broker ids, the leader first, as this node knows the set
};

// A produce to a partition this node owns, counted in flight until finished() is called (a
// rebalance fence waits for it).
struct ProduceSlot {
  std::shared_ptr<runtime::BucketStorage> actor;
  std::function<void()> finished;
};

class KafkaCluster {
 public:
  virtual ~KafkaCluster() = default;
  virtual int32_t self_id() const = 0;
  // Every member with a Kafka listener (self included), sorted by node id.
  virtual std::vector<BrokerAddress> brokers() const = 0;
  // The topic; known locally, or learned from a peer (then opened here with the peer's
  // placement). NotFound when no member knows it. May block (files, peers).
  virtual Result<ClusterTopic> find_topic(const std::string& name) = 0;
  // Registers a topic just created on this node (its placement: the configured members now).
  virtual Status adopt_topic(const TopicInfo& info) = 0;
  // Every topic this node knows.
  virtual std::vector<TopicInfo> topics() = 0;
  // The broker id of the partition's owner, -1 when the owner has no Kafka listener.
  virtual int32_t leader(const std::string& topic, uint32_t partition) = 0;
  // The partition's leader, epoch, replicas and in-sync set (those with a Kafka listener). The
  // default: the leader alone, at epoch 0 (a topic without replication).
  virtual PartitionReplicas describe(const std::string& topic, uint32_t partition) {
    PartitionReplicas out;
    out.leader = leader(topic, partition);
    out.leader_epoch = 0;
    if (out.leader >= 0) out.replicas = out.in_sync = {out.leader};
    return out;
  }
  // Whether a topic of this replication factor can be created now (CreateTopics): OK, or
  // InvalidArgument naming the factor and why (not 1, 3 or 5; more than the members).
  virtual Status check_replication_factor(const std::string& topic, uint32_t factor) {
    if (factor == 1) return Status::OK();
    return InvalidArgument("topic '" + topic + "': replication factor " + std::to_string(factor) +
                           " is not supported by this broker (it keeps one copy of each partition)");
  }
  // The actor of a partition this node owns: FailedPrecondition naming the owner otherwise.
  virtual Result<std::shared_ptr<runtime::BucketStorage>> local_partition(const std::string& topic,
                                                                          uint32_t partition) = 0;
  // Like local_partition, for a produce: also Unavailable while a rebalance moves the bucket.
  virtual Result<ProduceSlot> begin_produce(const std::string& topic, uint32_t partition) = 0;
  // Deletes the topic on every member (each one's records, files and groups' commits); NotFound
  // when no member has it. Blocks (peers).
  virtual Status delete_topic(const std::string& name) = 0;
  // The broker coordinating a group (brokers() is never empty: self is in it).
  virtual BrokerAddress coordinator(const std::string& group) const = 0;
  // Runs work where it may block on files and peers (the node's admin pool), never on the
  // listener's io threads: Metadata, CreateTopics and DeleteTopics run there in a cluster, so a
  // slow member stalls only the request that asks it. Work posted before the listener stops
  // runs before the node's service stops.
  virtual void run_blocking(std::function<void()> work) = 0;
  // Our consumer groups as Kafka groups' commits reach them: each call goes to the coordinator
  // of (topic, group) (net: the owner of bucket stable_hash64(group) % num_buckets), on this
  // node or a peer. Calls may block (a peer, bounded by its timeout): the broker makes them on
  // its group scheduler, never on an io thread. An unreachable coordinator: Unavailable.
  // nullptr: this node's GroupTable keeps them.
  virtual groups::Coordinator* group_offsets() { return nullptr; }

  // Replicated partitions (of a partition this node leads). The high watermark: consumers see
  // the records below it only; nullopt when the partition is not replicated (its whole log).
  // May block the first time (the leader's record count).
  virtual Result<std::optional<uint64_t>> high_watermark(const std::string&, uint32_t) {
    return std::optional<uint64_t>();
  }
  // cb(OK) once the high watermark reaches end; cb(error) when this node stops leading the
  // partition. At once when it is not replicated. cb may run on this thread.
  virtual void wait_high_watermark(const std::string&, uint32_t, uint64_t, std::function<void(Status)> cb) {
    cb(Status::OK());
  }
  // Before a produce with acks=-1: Unavailable while fewer than min_insync_replicas are in sync
  // (Kafka's NOT_ENOUGH_REPLICAS); nothing is appended then.
  virtual Status check_acks_all(const std::string&, uint32_t) { return Status::OK(); }
  // The leader holds the partition's records [0, end) durably (a produce's, or a retried one's).
  // done(OK) at once, or with acks_all once every in-sync replica has them: Unavailable when
  // fewer than min_insync_replicas were in sync by then (NOT_ENOUGH_REPLICAS_AFTER_APPEND: the
  // records are in the log), FailedPrecondition when this node stopped leading the partition.
  virtual void produced(const std::string&, uint32_t, uint64_t, bool, std::function<void(Status)> done) {
    done(Status::OK());
  }

  // Idempotent producers of a replicated partition (docs/kafka.md, "Idempotent producers"): the
  // leader hands each producer's state of the partition (ProducerState::snapshot, opaque here)
  // to the cluster once the batch ending at first_offset + count is in its log; the followers
  // receive it with the records (net: the deduplication entries of Replicate), and the one that
  // becomes leader takes it (producer_snapshot) before it checks that producer's next batch.
  virtual void producer_appended(const std::string&, uint32_t, int64_t /*producer_id*/, uint64_t /*first_offset*/,
                                 uint32_t /*count*/, std::string /*snapshot*/) {}
  virtual std::optional<std::string> producer_snapshot(const std::string&, uint32_t, int64_t /*producer_id*/) {
    return std::nullopt;
  }
};

}  // namespace persisting::kafka
