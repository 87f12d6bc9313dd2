// A topic's placement on the nodes: where its buckets live, by rendezvous hashing over the
// placement's members (docs/wire-protocol.md, "Placement"), and the file that keeps it,
// <data_dir>/<topic>/placement.json. No gRPC here.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "persisting/env.h"
#include "persisting/status.h"
#include "runtime/placement.h"

namespace persisting::net {

// Member id -> zone, for the members that have one.
using Zones = std::map<std::string, std::string>;

// Immutable once published; a rebalance switch publishes a new one with a higher epoch.
struct Placement {
  uint64_t epoch = 1;
  // Ids and zones (addresses come from the membership). The zones are those the members had
  // when the topic was created, pinned with it like the ids, so every node places the same.
  std::vector<runtime::Member> members;

  const NodeId& owner(const std::string& topic, uint32_t bucket) const {
    return runtime::rendezvous_owner(members, topic, BucketId(bucket)).id;
  }
  // The bucket's replicas (runtime::rendezvous_replicas), the owner first. factor is clamped to
  // [1, members]: a topic's factor was checked against its members when it was created.
  std::vector<NodeId> replicas(const std::string& topic, uint32_t bucket, uint32_t factor) const;
  // The member ids, sorted.
  std::vector<std::string> ids() const;
  Zones zones() const;
};

// <data_dir>/<topic>/placement.json, format 2:
//   {"format":2,"epoch":2,"members":["n1","n2","n3"]}
// and, when members have zones, "zones":{"n1":"a","n2":"b"} (older builds ignore the key).
// written when the node first learns the topic and replaced (atomically, synced) by a rebalance
// switch. Format 1, {"format":1,"members":[...]}, written before rebalancing existed, reads as
// epoch 1. A higher format is refused.
inline constexpr int64_t kPlacementFormat = 2;

std::string placement_path(const std::string& data_dir, const std::string& topic);

struct StoredPlacement {
  uint64_t epoch = 1;
  std::vector<std::string> ids;
  Zones zones;
};

// NotFound when the file does not exist.
Result<StoredPlacement> load_placement(Env* env, const std::string& path);
// Temp file, fsync, rename, directory fsync.
Status store_placement(Env* env, const std::string& path, uint64_t epoch, const std::vector<std::string>& ids,
                       const Zones& zones = {});

}  // namespace persisting::net
