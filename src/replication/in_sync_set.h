// InSyncSet: what a bucket's leader knows about its replicas' logs (issue 18; docs/cluster.md,
// "Replication"): each replica's log end, which replicas are in sync, the high watermark, and the
// puts waiting for it (acks=all). Pure bookkeeping, no I/O and no clock of its own: callers pass
// the time, so tests drive it. Not thread-safe: one bucket's actor owns it.
//
// Rules (Kafka's ISR, without its epochs):
//  - The leader is always in sync. A follower is caught up when it fetches at the leader's log
//    end, or (as of its previous fetch) from the end the leader had at its previous fetch; one
//    that has not been caught up for longer than lag_max (it lags, or it stopped
//    fetching: Kafka's replica.lag.time.max.ms) leaves the in-sync set (tick), and rejoins once
//    its log end reaches the high watermark again. Followers must fetch more often than lag_max.
//  - high watermark = the smallest log end among in-sync replicas. It never goes down.
//  - A put with acks=all is acknowledged once the high watermark covers its last record. It is
//    refused up front (NotEnoughReplicas as Unavailable) while fewer than min_insync replicas
//    are in sync; when the high watermark reaches it while fewer than min_insync are in sync
//    (the set shrank meanwhile: followers left it), it fails as Kafka's
//    NOT_ENOUGH_REPLICAS_AFTER_APPEND does; and it fails when the set is closed (leadership lost).
//  - A reader may wait for the high watermark too (wait_for with acks false): answered OK once
//    it passes, whatever the set's size.
//  - With commit_changes (the set is stored in etcd, where elections read it), a change of the
//    set counts only once it is stored (committed, Kafka's AlterPartition): until then the high
//    watermark waits for both the old and the new members (a leaving follower holds it back, a
//    joining one is waited for too), and min_insync counts the stored members. So every
//    acknowledged record is on every member of the stored set, the one a failover elects from.
//    It starts with every replica counted, until the first commit.
// The node's leaders keep one per replicated bucket (net/replica_tracker.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "persisting/status.h"
#include "persisting/types.h"

namespace persisting::replication {

using Clock = std::chrono::steady_clock;

struct InSyncConfig {
  std::chrono::milliseconds lag_max{10000};  // replica_lag_max_ms
  uint32_t min_insync = 1;                   // min_insync_replicas, leader included
  bool commit_changes = false;               // changes count once committed (see above)
};

// The default min_insync_replicas of a replication factor: 1 for 1, 2 for 3, 3 for 5.
uint32_t default_min_insync(uint32_t replication_factor);

struct ReplicaProgress {
  NodeId id;
  uint64_t log_end = 0;
  bool in_sync = true;
  // In the set as last committed (without commit_changes: in_sync). The high watermark waits for
  // replicas in_sync or counted; min_insync counts the counted ones.
  bool counted = true;
  Clock::time_point caught_up_at;  // last time it held everything the leader had
  // The leader's log end and the time when its previous fetch arrived: a fetch from at least
  // that end means it was caught up then (Kafka's lastFetchLeaderLogEndOffset), so a follower
  // that keeps up with a leader appending all the time is not taken for a lagging one.
  uint64_t previous_fetch_leader_end = 0;
  Clock::time_point previous_fetch_at;
  bool fetched = false;
};

class InSyncSet {
 public:
  using AckCallback = std::function<void(Status)>;

  // replicas: the bucket's replicas, the leader (this node) first; leader_end: its log end now.
  // Every replica starts in sync and caught up at now (a new leader gives each lag_max to
  // show up), except those in out_of_sync (an elected leader's replicas that were not in the
  // in-sync set it took over, or are down): they join once they reach the high watermark.
  // what names the bucket in errors ("topic 't' bucket 3").
  InSyncSet(std::string what, std::vector<NodeId> replicas, uint64_t leader_end, InSyncConfig config,
            Clock::time_point now, const std::vector<NodeId>& out_of_sync = {});
  InSyncSet(const InSyncSet&) = delete;
  InSyncSet& operator=(const InSyncSet&) = delete;
  ~InSyncSet();  // fails the waiters still pending (as close)

  // The leader appended records: its log end is now end (not below the previous one).
  void leader_appended(uint64_t end, Clock::time_point now);
  // A follower fetched from `end`, its log end. Unknown follower, the leader's own id or an end
  // beyond the leader's: InvalidArgument, nothing changes. A log end below the one it reported
  // before (it truncated) is taken as it is.
  Status follower_fetched(const NodeId& follower, uint64_t end, Clock::time_point now);
  // Followers not caught up for longer than lag_max leave the in-sync set.
  void tick(Clock::time_point now);
  // With commit_changes: members (ids) is the set now stored; the leader always counts. Without
  // it: nothing (changes count at once).
  void committed(const std::vector<NodeId>& members);

  // Whether a put with acks=all may be appended now: Unavailable "not enough in-sync replicas"
  // while fewer than min_insync are in sync.
  Status check_acks_all() const;
  // cb(OK) once the high watermark reaches end (at once when it has); cb(error) on close. With
  // acks (a put's acks=all), reaching end while fewer than min_insync are in sync is
  // cb(Unavailable "not enough in-sync replicas after the append").
  void wait_for(uint64_t end, AckCallback cb, bool acks = true, uint64_t id = 0);
  // Drops the waiters registered with id (not 0) without answering them: a reader parked on
  // several buckets' high watermarks lets go of the others once one answers.
  void cancel(uint64_t id);
  // Leadership lost or the bucket closes: every waiter gets why.
  void close(const Status& why);

  uint64_t high_watermark() const { return high_watermark_; }
  uint64_t leader_end() const { return replicas_.front().log_end; }
  const std::vector<ReplicaProgress>& replicas() const { return replicas_; }
  size_t in_sync_count() const;
  size_t counted_count() const;  // what min_insync is checked against
  size_t waiting() const { return waiters_.size(); }
  const InSyncConfig& config() const { return config_; }

 private:
  struct Waiter {
    AckCallback cb;
    bool acks;
    uint64_t id;  // cancel(id); 0: none
  };
  void advance();  // recomputes the high watermark and answers the waiters it covers
  Status answer_for(const Waiter& w) const;

  std::string what_;
  std::vector<ReplicaProgress> replicas_;  // [0] is the leader
  InSyncConfig config_;
  uint64_t high_watermark_ = 0;
  std::multimap<uint64_t, Waiter> waiters_;  // by the end each waits for
  bool closed_ = false;
  Status closed_why_;
};

}  // namespace persisting::replication
