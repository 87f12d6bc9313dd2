// Replicator: the follower side of replication (docs/cluster.md, "Replication"), and the tick
// of the in-sync sets of the buckets this node leads (each scan). For every
// bucket of a topic with replication_factor > 1 of which this node is a follower (a replica
// other than the first), it pulls the leader's log from its own record count on (Replicate) and
// appends what it gets to a local copy of the bucket (same backend, so the same durability),
// which this node does not serve; then installs the producers' deduplication entries the answer
// carried (those whose records it now has), so that it answers a retried put as its leader would
// once it leads. One chain of rounds per leader node, a link (Kafka's replica fetcher), on one
// ReplicateStream call: a parked request that lists every bucket this node follows from that
// leader, then the local appends of every bucket's run (concurrently, each through its actor),
// then the next request. No thread per bucket or per link. A bucket refused by the leader (another epoch, not led
// there) leaves its link alone; the others go on. A scan, a task on the process pool, adds the
// buckets of the topics it knows to their leaders' links and re-adds the ones that left (every
// 500 ms).
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "core/background_task.h"
#include "net/channels.h"
#include "net/elector.h"
#include "net/put_dedup.h"
#include "net/topic_directory.h"
#include "persisting/log.h"

namespace persisting::net {

class Replicator {
 public:
  // directory, peers, logger and dedup must outlive the replicator (stop() before they go).
  Replicator(TopicDirectory* directory, std::shared_ptr<detail::QueueCore> core, Channels* peers, Logger* logger,
             PutDedup* dedup, Membership* membership = nullptr,
             std::chrono::milliseconds peer_timeout = std::chrono::seconds(2), bool allow_unclean_election = false);
  ~Replicator();
  Replicator(const Replicator&) = delete;
  Replicator& operator=(const Replicator&) = delete;

  void start();
  // Cancels the calls in flight and waits until every link has ended. Idempotent.
  void stop();

 private:
  struct Follow;
  struct Link;
  class Stream;
  void scan();
  // Replicated topics the other members have and this node's disk does not (it lost its data
  // dir, or was down when they were made): learned, so that this node follows their buckets.
  // Every kLearnEvery scans (5 s).
  void learn_topics();
  // After a restart: compares the topic's leader records with the other members' and adopts
  // newer ones; sets t.confirmed once at least one other member answered (or there is none).
  void confirm(TopicEntry& t);
  // The local copy's records past the point where the newest epoch stops agreeing with it
  // (docs/cluster.md, "Manual failover"): the copy is deleted, to be fetched again from 0.
  Status cut_divergent_tail(TopicEntry& t, uint32_t bucket, uint64_t epoch);
  // Cancels the calls in flight of links with a bucket that follows an older epoch than its
  // bucket's now (a frozen old leader would hold them until their deadline); the link calls
  // again without it.
  void cancel_stale();
  // Adds the bucket to its leader's link (made, and its first call sent, when there is none).
  void follow(const std::shared_ptr<TopicEntry>& t, uint32_t bucket);
  bool following(const std::string& key) const;  // under mu_
  // Under mu_: the link's call in flight ends at once (cancelled); the link calls again.
  void rearm(Link& l);
  void next(const std::shared_ptr<Link>& l);
  void on_answer(const std::shared_ptr<Link>& l, const Status& s);
  // Every bucket's run is durable here: installs their producer entries, drops the buckets that
  // failed, then the next call.
  void appended(const std::shared_ptr<Link>& l);
  void end(const std::shared_ptr<Link>& l, const Status& why);

  TopicDirectory* directory_;
  std::shared_ptr<detail::QueueCore> core_;
  Channels* peers_;
  Logger* logger_;
  PutDedup* dedup_;
  Membership* membership_;
  std::chrono::milliseconds peer_timeout_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool loaded_ = false;                                    // local topics loaded once
  uint64_t scans_ = 0;                                     // scan() runs one at a time
  std::map<std::string, std::shared_ptr<Link>> links_;  // leader "id\naddress" -> its running link
  std::unique_ptr<Elector> elector_;  // with etcd membership: automatic elections
  std::unique_ptr<BackgroundTask> scanner_;  // scan() on the process pool, every kScanPeriod
};

}  // namespace persisting::net
