// Leader epochs of a replicated topic's buckets (issue 18; docs/cluster.md, "Replication",
// "Manual failover") and the file that keeps them on a node, <data_dir>/<topic>/leaders.json.
// A bucket without a record is led by its first replica at epoch 0 (as before elections
// existed). No gRPC here.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "persisting/env.h"
#include "persisting/status.h"

namespace persisting::net {

// One epoch of a bucket: who led it and the leader's log end when the epoch began (Kafka's
// leader epoch start offset). Records below `start` are the previous epochs' log.
struct LeaderEpoch {
  uint64_t epoch = 0;
  std::string leader;
  uint64_t start = 0;
  bool operator==(const LeaderEpoch&) const = default;
};

// A bucket's elections as this node knows them, and how far its own copy is known to agree.
struct BucketLeaders {
  std::vector<LeaderEpoch> epochs;  // ascending by epoch; empty: epoch 0, the first replica
  // The newest epoch whose log this node's copy agrees with: its records past the start of the
  // next epoch (if any) are a divergent tail, cut before it follows a newer epoch.
  uint64_t local_epoch = 0;

  uint64_t epoch() const { return epochs.empty() ? 0 : epochs.back().epoch; }
  // The leader's id; empty: the first replica (no election yet).
  std::string leader() const { return epochs.empty() ? "" : epochs.back().leader; }
  // Where a copy that agrees with local_epoch stops agreeing with the newest epoch: the start
  // of the first epoch after local_epoch; nullopt when local_epoch is the newest.
  std::optional<uint64_t> divergence_point() const;
};

// <data_dir>/<topic>/leaders.json, format 1:
//   {"format":1,"buckets":{"0":{"epochs":[{"epoch":1,"leader":"n2","start":120}],"local_epoch":1}}}
// Written (temp file, fsync, rename) when the node adopts a newer epoch or its copy is checked
// against one; absent until the topic's first election.
std::string leaders_path(const std::string& data_dir, const std::string& topic);
// No file: no records.
Result<std::map<uint32_t, BucketLeaders>> load_leaders(Env* env, const std::string& path);
Status store_leaders(Env* env, const std::string& path, const std::map<uint32_t, BucketLeaders>& leaders);

}  // namespace persisting::net
