// TopicDirectory: the topics a node serves. Each topic's entry holds its settings, its placement
// (which node owns which bucket), the rebalance fences and the actors of the buckets this node
// owns, opened on first use. A topic this node does not know yet is looked up on disk and then,
// when asked to, on the peers (whose placement it adopts). The gRPC service and the Kafka listener
// reach buckets through it. Thread-safe; entries live as long as the directory.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "net/channels.h"
#include "net/fences.h"
#include "net/leaders.h"
#include "net/membership.h"
#include "net/placement.h"
#include "net/replica_tracker.h"
#include "queue/queue_core.h"
#include "runtime/bucket_storage.h"

namespace persisting::net {

// Why a node refuses retention_policy=interest (docs/retention.md, "Interest"): creating or
// altering a topic to it is NotSupported with this text, and the node's buckets of a topic that
// has it anyway (topic.json written by an embedded queue) remove nothing and say so in stats.
inline constexpr const char* kInterestOnClusterRefusal =
    "retention_policy=interest is not supported on a cluster yet: a consumer group's commits live on its "
    "coordinator node (the owner of bucket hash(group) % num_buckets), so a bucket's owner does not see the "
    "commits of the groups other nodes coordinate";

struct TopicEntry {
  TopicInfo info;
  std::mutex mu;
  std::vector<std::shared_ptr<runtime::BucketStorage>> actors;  // index = bucket; null until opened
  std::mutex switch_mu;  // serializes placement changes (file, then memory)
  Fences fences;         // rebalance fences (see Fences for the locking)
  // Replication (replication_factor > 1): the in-sync sets of the buckets this node leads.
  std::unique_ptr<ReplicaTracker> tracker;

  // Leader epochs (replication_factor > 1; docs/cluster.md, "Manual failover"), under leaders_mu.
  // What this node's replication chain last heard from a bucket's leader.
  struct FollowerView {
    uint64_t epoch = 0;
    bool in_sync = false;
    uint64_t high_watermark = 0;
  };
  mutable std::mutex leaders_mu;
  std::condition_variable leaders_cv;             // appending changes
  std::map<uint32_t, BucketLeaders> leaders;      // the buckets with a record (leaders.json)
  std::map<uint32_t, FollowerView> followed;
  std::map<uint32_t, bool> appending;             // a replication chain appends to the bucket now
  std::map<uint32_t, bool> taking_over;           // this node is being elected: no more appends
  std::mutex adopt_mu;                            // serializes adoptions (file, then memory)
  // False while this node has not compared its records with the other members' since it
  // loaded the topic from its disk (a restart): it serves no bucket it leads until then.
  std::atomic<bool> confirmed{true};

  std::shared_ptr<const Placement> placement() const {
    std::lock_guard<std::mutex> lock(placement_mu);
    return placement_;
  }
  void set_placement(std::shared_ptr<const Placement> p) {
    std::lock_guard<std::mutex> lock(placement_mu);
    placement_ = std::move(p);
    placed_.clear();
  }
  // The bucket's replicas under the current placement and the topic's replication_factor, the
  // owner first (Placement::replicas), and its owner (Placement::owner). Each bucket's ranking is
  // computed once per placement: hashing every member (and the strings it builds) on each call
  // was a share of every put part's and replication round's cost.
  std::vector<NodeId> placed_replicas(uint32_t bucket) const;
  NodeId placed_owner(uint32_t bucket) const;

 private:
  // Under placement_mu: placed_[bucket], computed when missing.
  const std::vector<NodeId>& placed(uint32_t bucket) const;

  mutable std::mutex placement_mu;
  std::shared_ptr<const Placement> placement_;
  mutable std::vector<std::vector<NodeId>> placed_;  // index = bucket; empty: not computed yet
};

// The record count of a bucket this node holds (its stats' total_count). Blocks.
Result<uint64_t> total_count(runtime::BucketStorage& actor);

// A bucket's leader as a node knows it: its record's, else the first replica at epoch 0.
struct Leadership {
  NodeId leader;
  uint64_t epoch = 0;
};

// "topic 'T' bucket B", as errors name a bucket.
std::string bucket_name(const std::string& topic, uint32_t bucket);
// InvalidArgument naming the topic when bucket is out of its range.
Status check_bucket(const TopicEntry& t, uint32_t bucket);

class TopicDirectory {
 public:
  // membership and peers must outlive the directory; peer_timeout bounds each peer lookup.
  TopicDirectory(std::shared_ptr<detail::QueueCore> core, Membership* membership, Channels* peers,
                 std::chrono::milliseconds peer_timeout, runtime::Member self,
                 ReplicationConfig replication = {});
  ~TopicDirectory();
  TopicDirectory(const TopicDirectory&) = delete;
  TopicDirectory& operator=(const TopicDirectory&) = delete;

  // The entry when this node has used the topic since it started (never blocks).
  std::shared_ptr<TopicEntry> cached(const std::string& name) const;
  // The topic's entry; NotFound when neither this node nor (forward) any peer knows it.
  // May block (files, peers). A topic learned from a peer that says it was created over Kafka
  // is marked so here (set_kafka_marker) before any caller can see it.
  Result<std::shared_ptr<TopicEntry>> find(const std::string& name, bool forward);
  // How a topic learned from a peer is marked as a Kafka topic on this node (the Kafka
  // listener's marker). Set before the node serves; unset: not marked.
  void set_kafka_marker(std::function<Status(const std::string&)> mark) { kafka_marker_ = std::move(mark); }
  // Opens (creates) the topic locally and caches it. Its placement: the one stored with the
  // topic, else ids (with their zones) at epoch (from the creating node), else the configured
  // members now with their zones. kafka: the topic was created over Kafka (a peer said so); it
  // is marked (set_kafka_marker) once its topic.json exists and before the entry is published.
  // A new topic whose replication_factor exceeds its placement's members is refused
  // (InvalidArgument) before anything is written. learned: the topic was made elsewhere before
  // (this node missed its creation, or lost its disk), so a replicated topic's leader epochs
  // are asked of the other members before this node serves it (TopicEntry::confirmed).
  Result<std::shared_ptr<TopicEntry>> remember(const TopicInfo& info, std::vector<std::string> ids,
                                               uint64_t epoch, bool kafka = false, Zones zones = {},
                                               bool learned = false);
  // Every topic on this node's disk (or in its memory), used or not.
  Result<std::vector<TopicInfo>> local_topics() { return core_->list_topics(); }
  // Every topic used since start (and not deleted since).
  std::vector<std::shared_ptr<TopicEntry>> all() const;
  // Drops a deleted topic's entry (QueueCore::delete_topic tells it): the next use of the name
  // looks it up afresh. The entry itself stays alive with the directory (handlers in flight
  // hold it by reference); its actors are retired, so they answer NotFound.
  void forget(const std::string& name);

  // The bucket's replicas under its placement and the topic's replication_factor, the owner
  // (leader candidate) first.
  std::vector<NodeId> replicas(const TopicEntry& t, uint32_t bucket) const;
  // The bucket's leader and epoch: for a replicated topic its leader record, else (and without
  // one) its first replica, the owner, at epoch 0.
  Leadership leader(const TopicEntry& t, uint32_t bucket) const;
  // The leader of a bucket (the owner) with its current address; Unavailable when the
  // membership has no address for it.
  Result<runtime::Member> owner(const TopicEntry& t, uint32_t bucket) const;
  // The local actor of a bucket this node leads; errors name topic, bucket and leader.
  Result<std::shared_ptr<runtime::BucketStorage>> local_bucket(TopicEntry& t, uint32_t bucket);
  // Unavailable while this node has not confirmed the topic's leader records (t.confirmed).
  Status check_confirmed(const TopicEntry& t, uint32_t bucket) const;
  // With etcd elections, for a replicated bucket: OK only while this node holds the bucket's
  // leader key at its epoch under a valid lease (Elections::check_leads), so that a deposed or
  // frozen leader neither appends nor acknowledges (the gRPC Put and the Kafka Produce check it
  // before the append and before the answer). OK otherwise.
  Status check_leads(const TopicEntry& t, uint32_t bucket) const;
  // Adopts a bucket's election history (ascending) when its newest epoch is newer than this
  // node's record (else nothing, *changed false). Stored in leaders.json before it is used.
  // When it makes this node the leader, the epoch's start is this node's record count, taken
  // once no replication append is in flight; when it takes the leadership away, the bucket's
  // in-sync set is closed (waiting acks=all puts fail with "not leader").
  Status adopt(TopicEntry& t, uint32_t bucket, std::vector<LeaderEpoch> epochs, bool* changed);
  // Records that this node's copy of the bucket agrees with its newest epoch (after the check
  // or cut of a divergent tail): local_epoch = epoch, stored.
  Status set_local_epoch(TopicEntry& t, uint32_t bucket, uint64_t epoch);

  const runtime::Member& self() const { return self_; }

 private:
  std::shared_ptr<detail::QueueCore> core_;
  Membership* membership_;
  Channels* peers_;
  std::chrono::milliseconds peer_timeout_;
  runtime::Member self_;
  ReplicationConfig replication_;

  mutable std::shared_mutex mu_;
  std::map<std::string, std::shared_ptr<TopicEntry>> topics_;
  std::vector<std::shared_ptr<TopicEntry>> deleted_;  // forgotten entries, kept alive
  uint64_t observer_ = 0;                             // QueueCore::on_topic_deleted
  std::function<Status(const std::string&)> kafka_marker_;
};

}  // namespace persisting::net
