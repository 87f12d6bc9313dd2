// Elector: automatic leader election of replicated buckets through etcd (issue 18;
// docs/cluster.md, "Failover"; the keys: docs/wire-protocol.md, "etcd keys"). Driven by the
// replication scan (every 500 ms, on the process pool: no thread of its own), one bucket at a
// time, from the etcd membership's cached view of the keys:
//  - a leader key naming a newer epoch is adopted (TopicDirectory::adopt): the replication
//    chains then follow the new leader and cut divergent tails, as after a manual election;
//  - the leader keeps the isr key in step with its in-sync set;
//  - with no leader key, an in-sync replica (listed in the isr key, with at least its high
//    watermark) campaigns, the first live one in replica order at once and the others one
//    second later per rank; an out-of-sync one only with allow_unclean_election, after them.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "net/elections.h"
#include "net/topic_directory.h"
#include "persisting/log.h"

namespace persisting::net {

// The members of a bucket's in-sync set as its isr key's value stores them, when the value is
// of epoch `epoch` (a set its leader stored at that epoch); nullopt otherwise.
std::optional<std::vector<std::string>> stored_in_sync(const std::string& isr_value, uint64_t epoch);

class Elector {
 public:
  // All must outlive the elector.
  Elector(TopicDirectory* directory, std::shared_ptr<detail::QueueCore> core, Membership* membership,
          Elections* elections, Logger* logger, bool allow_unclean);

  // One step for a bucket of a replicated topic this node is a replica of. Blocks (etcd, the
  // bucket's actor); errors are logged here.
  void step(TopicEntry& t, uint32_t bucket);

 private:
  Status follow_key(TopicEntry& t, uint32_t bucket, const ElectionKey& key, bool* leads);
  Status keep_isr(TopicEntry& t, uint32_t bucket, uint64_t epoch);
  Status maybe_campaign(TopicEntry& t, uint32_t bucket);
  Status campaign(TopicEntry& t, uint32_t bucket, int64_t expected, bool clean, uint64_t min_end,
                  const std::vector<NodeId>& in_sync);

  TopicDirectory* directory_;
  std::shared_ptr<detail::QueueCore> core_;
  Membership* membership_;
  Elections* elections_;
  Logger* logger_;
  const bool allow_unclean_;
  // "topic/bucket" -> when this node first saw it without a leader; the last isr write.
  std::map<std::string, std::chrono::steady_clock::time_point> leaderless_since_, isr_written_;
};

}  // namespace persisting::net
