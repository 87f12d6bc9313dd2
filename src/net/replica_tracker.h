// ReplicaTracker: the in-sync sets of one topic's buckets that this node leads (issue 18;
// docs/cluster.md, "Replication"). One replication::InSyncSet per replicated bucket, made on
// first use with the leader's record count, fed by the Replicate handler (each follower's log
// end, reported after its own durable append), by puts (the leader's end) and by the replication
// scan's tick (followers that lag more than replica_lag_max_ms leave the set).
//
// Thread-safe: one mutex per topic. The InSyncSet's callbacks (acks=all puts, readers waiting
// for the high watermark) are collected under the lock and run after it is released, so a
// callback may call the tracker again.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "replication/in_sync_set.h"

namespace persisting::net {

struct ReplicationConfig {
  std::chrono::milliseconds lag_max{10000};  // replica_lag_max_ms
  uint32_t min_insync = 0;                   // min_insync_replicas; 0: by factor (2 for 3, 3 for 5)
  // The in-sync sets are stored in etcd (elections): a change counts once stored (committed).
  bool commit_changes = false;
};

// What cluster status shows of a bucket the node leads.
struct InSyncSnapshot {
  std::vector<replication::ReplicaProgress> replicas;  // the leader first
  uint64_t high_watermark = 0;
  uint32_t min_insync = 0;
};

class ReplicaTracker {
 public:
  using Callback = std::function<void(Status)>;

  ReplicaTracker(std::string topic, uint32_t replication_factor, ReplicationConfig config);
  ~ReplicaTracker();  // fails what still waits (its leader stopped)

  bool has(uint32_t bucket) const;
  // Makes the bucket's set (replicas: leader, this node, first; leader_end: its record count)
  // unless it exists; out_of_sync: replicas that start outside the in-sync set.
  void create(uint32_t bucket, std::vector<NodeId> replicas, uint64_t leader_end,
              const std::vector<NodeId>& out_of_sync = {});
  // The leader holds records [0, end). No set: nothing.
  void leader_appended(uint32_t bucket, uint64_t end);
  // A follower's Replicate said its log end (after its own durable append). The leader's end is
  // at least that: the follower got those records from it.
  Status follower_fetched(uint32_t bucket, const NodeId& follower, uint64_t end);
  // Whether the follower is in the bucket's in-sync set (false without a set).
  bool in_sync(uint32_t bucket, const NodeId& follower) const;
  // Unavailable "not enough in-sync replicas" while fewer than min_insync_replicas are in sync.
  Status check_acks_all(uint32_t bucket) const;
  // cb once the high watermark reaches end (see InSyncSet::wait_for); at once without a set.
  // id (not 0) lets cancel_waits() drop it unanswered.
  void wait_for(uint32_t bucket, uint64_t end, Callback cb, bool acks, uint64_t id = 0);
  void cancel_waits(const std::vector<uint32_t>& buckets, uint64_t id);
  // The high watermark; nullopt without a set.
  std::optional<uint64_t> high_watermark(uint32_t bucket) const;
  // The leader's record count as the set knows it (puts, Kafka produces, Replicate reads);
  // nullopt without a set.
  std::optional<uint64_t> leader_end(uint32_t bucket) const;
  // A parked Replicate: cb once the bucket's leader end passes `from` (at once when it has, or
  // without a set). cancel_records(id) drops the waiters registered with id.
  void wait_records(uint32_t bucket, uint64_t from, uint64_t id, std::function<void()> cb);
  void cancel_records(uint64_t id);
  std::optional<InSyncSnapshot> snapshot(uint32_t bucket) const;
  // Followers lagging longer than lag_max leave their sets.
  void tick();
  // The bucket's in-sync set stored in etcd is now members (InSyncSet::committed).
  void committed(uint32_t bucket, const std::vector<NodeId>& members);
  // The node stops leading the bucket: waiters fail with why, the set is dropped.
  void close(uint32_t bucket, const Status& why);

 private:
  replication::InSyncSet* find(uint32_t bucket) const;  // under mu_
  // cb, wrapped to be queued in ready_ when the set answers it (under mu_).
  replication::InSyncSet::AckCallback defer(Callback cb);
  // Releases lock, then runs what the sets answered meanwhile.
  void run_ready(std::unique_lock<std::mutex>& lock);

  const std::string topic_;
  replication::InSyncConfig config_;
  mutable std::mutex mu_;
  std::map<uint32_t, std::unique_ptr<replication::InSyncSet>> sets_;
  // Queues the record waiters of the bucket whose `from` lies below end in ready_ (under mu_).
  void wake_records(uint32_t bucket, uint64_t end);

  struct RecordWaiter {
    uint32_t bucket;
    uint64_t from;
    uint64_t id;
    std::function<void()> cb;
  };
  std::vector<RecordWaiter> record_waiters_;  // under mu_
  std::vector<std::function<void()>> ready_;  // answered callbacks not run yet (under mu_)
};

}  // namespace persisting::net
