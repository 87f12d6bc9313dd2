// retention_policy=interest (docs/retention.md, "Interest"): where a bucket's retention learns how
// far the topic's consumer groups have committed. The backend sees only RetentionLimits::
// InterestFloor (backend.h); this file makes one from the queue's GroupTable, which reads the
// groups' commit files again for groups without members in this process, so commits made by
// another process on the same data dir count too.
#pragma once

#include <memory>
#include <shared_mutex>
#include <string>

#include "groups/group_state.h"
#include "persisting/backend.h"

namespace persisting::detail {

// Shared by QueueCore and the floors it hands to buckets: the owner clears groups (under mu)
// before its GroupTable goes, so a floor asked later answers an error (retention then keeps
// everything) instead of touching a dead table.
struct InterestSource {
  std::shared_mutex mu;
  groups::GroupTable* groups = nullptr;  // guarded by mu
  // Non-empty: interest cannot be honoured here (a cluster node: NotSupported with this text).
  std::string refusal;  // guarded by mu
};

// The smallest offset committed in bucket over every group of topic (a group without a commit
// for the bucket: 0); nullopt when the topic has no group. A group file that fails its checks is
// its Corruption error.
RetentionLimits::InterestFloor interest_floor(std::shared_ptr<InterestSource> source, std::string topic);

}  // namespace persisting::detail
