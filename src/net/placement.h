// A topic's placement on the nodes: where its buckets live, by rendezvous hashing over the
// placement's members (docs/wire-protocol.md, "Placement"), and the file that keeps it,
// <data_dir>/<topic>/placement.json. No gRPC here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "persisting/env.h"
#include "persisting/status.h"
#include "runtime/placement.h"

namespace persisting::net {

// Immutable once published; a rebalance switch publishes a new one with a higher epoch.
struct Placement {
  uint64_t epoch = 1;
  std::vector<runtime::Member> members;  // ids only (addresses come from the membership)

  const NodeId& owner(const std::string& topic, uint32_t bucket) const {
    return runtime::rendezvous_owner(members, topic, BucketId(bucket)).id;
  }
  // The member ids, sorted.
  std::vector<std::string> ids() const;
};

// <data_dir>/<topic>/placement.json, format 2:
//   {"format":2,"epoch":2,"members":["n1","n2","n3"]}
// written when the node first learns the topic and replaced (atomically, synced) by a rebalance
// switch. Format 1, {"format":1,"members":[...]}, written before rebalancing existed, reads as
// epoch 1. A higher format is refused.
inline constexpr int64_t kPlacementFormat = 2;

std::string placement_path(const std::string& data_dir, const std::string& topic);

struct StoredPlacement {
  uint64_t epoch = 1;
  std::vector<std::string> ids;
};

// NotFound when the file does not exist.
Result<StoredPlacement> load_placement(Env* env, const std::string& path);
// Temp file, fsync, rename, directory fsync.
Status store_placement(Env* env, const std::string& path, uint64_t epoch, const std::vector<std::string>& ids);

}  // namespace persisting::net
