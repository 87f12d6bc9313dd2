// Consumer groups on the wire (docs/wire-protocol.md, "Consumer groups"): who coordinates a
// group, and the conversions between the persisting.v1 group messages and the groups layer's
// types. Shared by the remote Client and the node's service.
#pragma once

#include <string>
#include <vector>

#include "groups/group_types.h"
#include "persisting/v1/queue.pb.h"

namespace persisting::net {

// The bucket whose owner coordinates (topic, group): stable_hash64(group) % num_buckets.
uint32_t coordinator_bucket(const std::string& group, uint32_t num_buckets);

// "topic 't' group 'g'": how errors name a group.
std::string group_name(const std::string& topic, const std::string& group);

// A join as the coordinator gets it (num_buckets is the coordinator's to fill in).
void to_wire(const groups::JoinRequest& r, v1::JoinGroupRequest* out);

void to_wire(const groups::Assignment& a, v1::GroupAssignment* out);
groups::Assignment from_wire(const v1::GroupAssignment& a);

void to_wire(const groups::Commits& offsets, google::protobuf::RepeatedPtrField<v1::BucketCursor>* out);
void to_wire(const groups::Committed& offsets, google::protobuf::RepeatedPtrField<v1::BucketCursor>* out);
groups::Commits commits_from_wire(const google::protobuf::RepeatedPtrField<v1::BucketCursor>& in);
groups::Committed committed_from_wire(const google::protobuf::RepeatedPtrField<v1::BucketCursor>& in);

// A coordinator's own view of a group (ListGroups with local_only): members and commits.
void to_wire(const groups::GroupSummary& s, v1::GroupStatus* out);
groups::GroupSummary summary_from_wire(const v1::GroupStatus& s);
// A group with every bucket's lag (ListGroups merged answers).
void to_wire(const GroupInfo& g, v1::GroupStatus* out);
GroupInfo info_from_wire(const v1::GroupStatus& s);

}  // namespace persisting::net
