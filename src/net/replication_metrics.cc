#include "net/replication_metrics.h"

#include <chrono>

namespace persisting::net {

void collect_replication_metrics(TopicDirectory& directory, metrics::Registry& registry) {
  const auto now = replication::Clock::now();
  double under = 0;
  for (const auto& t : directory.all()) {
    if (!t->tracker) continue;
    for (uint32_t b = 0; b < t->info.num_buckets; ++b) {
      if (directory.leader(*t, b).leader != directory.self().id) continue;
      auto snap = t->tracker->snapshot(b);
      if (!snap || snap->replicas.empty()) continue;  // not used since it became leader
      size_t in_sync = 0;
      for (const auto& r : snap->replicas) in_sync += r.in_sync ? 1 : 0;
      if (in_sync < snap->replicas.size()) ++under;
      const uint64_t leader_end = snap->replicas.front().log_end;
      for (size_t i = 1; i < snap->replicas.size(); ++i) {
        const auto& r = snap->replicas[i];
        metrics::Labels l{{"topic", t->info.topic}, {"bucket", std::to_string(b)}, {"follower", r.id.str()}};
        registry
            .gauge("persisting_replica_lag_records", "Records the follower lacks of the leader's log (leader's view)", l)
            .set(static_cast<double>(leader_end > r.log_end ? leader_end - r.log_end : 0));
        // Since its last fetch; one that has not fetched since this node took the bucket: since then.
        const auto since = r.fetched ? r.previous_fetch_at : r.caught_up_at;
        registry
            .gauge("persisting_replica_last_fetch_ms", "Milliseconds since the follower's last Replicate (leader's view)", l)
            .set(static_cast<double>(std::chrono::duration_cast<std::chrono::milliseconds>(now - since).count()));
      }
    }
  }
  registry
      .gauge("persisting_under_replicated_buckets",
             "Buckets this node leads whose in-sync set is smaller than their replicas")
      .set(under);
}

}  // namespace persisting::net
