// The replication gauges of /metrics (docs/cluster.md, "Replication"; docs/metrics.md): copied
// from the in-sync sets of the buckets this node leads at every scrape.
#pragma once

#include "metrics/metrics.h"
#include "net/topic_directory.h"

namespace persisting::net {

// persisting_under_replicated_buckets: buckets this node leads whose in-sync set is smaller than
// their replicas; per (topic, bucket, follower): persisting_replica_lag_records (the leader's
// log end minus the follower's) and persisting_replica_last_fetch_ms (since its last Replicate).
void collect_replication_metrics(TopicDirectory& directory, metrics::Registry& registry);

}  // namespace persisting::net
