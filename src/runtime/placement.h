// Placement: which member owns `topic:bucket`. Rendezvous (highest-random-weight) hashing over
// the configured member set: each member scores stable_hash64(member_id + '\n' + topic + ':' +
// bucket) and the highest score owns the bucket (ties broken by the smaller member id).
// Adding a member moves only the buckets it now wins; removing one moves only its own buckets.
// Part of the on-disk contract (docs/hashing.md): never change it.
#pragma once

#include <string>
#include <vector>

#include "persisting/types.h"

namespace persisting::runtime {

struct Member {
  NodeId id;
  std::string address;  // host:port; empty for the embedded single member
};

// The owner of topic:bucket among members (members must be non-empty).
const Member& rendezvous_owner(const std::vector<Member>& members, const std::string& topic,
                               BucketId bucket);

}  // namespace persisting::runtime
