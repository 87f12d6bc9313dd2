// What the translation units of net::Service share: the RPC method indices (metrics). service.cc
// holds the ordinary handlers; rebalance_steps.cc the operator rebalance's; group_service.cc the
// consumer groups'. Included by those only (it includes gRPC through service.h).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "net/service.h"
#include "runtime/bucket_storage.h"

namespace persisting::net {

enum Method {
  kCreateTopic, kGetTopic, kListTopics, kGetBucket, kPut, kGet, kFlush, kStats, kClusterStatus,
  kRebalance, kFenceBucket, kCopyBucket, kSetPlacement, kDropBuckets,
  kJoinGroup, kHeartbeat, kLeaveGroup, kCommitOffsets, kFetchOffsets, kListGroups, kResetGroup, kDeleteGroup,
  kDeleteTopic, kReplicate, kAlterTopic, kBackupBucket, kCompactTopic, kBucketLeader, kElectLeader, kCopyGroupCommits, kMethods
};
inline constexpr const char* kMethodNames[kMethods] = {
    "CreateTopic", "GetTopic", "ListTopics", "GetBucket", "Put", "Get", "Flush", "Stats", "ClusterStatus",
    "Rebalance", "FenceBucket", "CopyBucket", "SetPlacement", "DropBuckets",
    "JoinGroup", "Heartbeat", "LeaveGroup", "CommitOffsets", "FetchOffsets", "ListGroups", "ResetGroup", "DeleteGroup",
    "DeleteTopic", "Replicate", "AlterTopic", "BackupBucket", "CompactTopic", "BucketLeader", "ElectLeader", "CopyGroupCommits"};

}  // namespace persisting::net
