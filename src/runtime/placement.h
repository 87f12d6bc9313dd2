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
  std::string zone;     // failure domain (persistingd --zone); empty: none given
};

// The owner of topic:bucket among members (members must be non-empty).
const Member& rendezvous_owner(const std::vector<Member>& members, const std::string& topic,
                               BucketId bucket);

// Every member ranked for topic:bucket, best first: by the score rendezvous_owner uses, ties by
// the smaller id. Element 0 is rendezvous_owner's answer.
std::vector<const Member*> rendezvous_ranking(const std::vector<Member>& members, const std::string& topic,
                                              BucketId bucket);

// The replicas of topic:bucket: `factor` members (1 <= factor <= members.size()), leader
// candidate first. Walks the ranking and takes the best member of each zone not used yet, then
// fills up with the best members left, in ranking order. Without zones (all empty: one zone)
// this is the top `factor` of the ranking; with as many zones as the factor, one replica per
// zone. Element 0 is always rendezvous_owner's answer, so factor 1 is the owner.
std::vector<const Member*> rendezvous_replicas(const std::vector<Member>& members, const std::string& topic,
                                               BucketId bucket, size_t factor);

}  // namespace persisting::runtime
