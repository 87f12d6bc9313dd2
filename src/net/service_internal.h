// What the translation units of net::Service share: a topic's entry (its actors, placement and
// fences), the deduplication entry of a producer's puts, the RPC method indices (metrics), and
// the naming of buckets in messages. service.cc holds the ordinary handlers; rebalance_steps.cc
// the operator rebalance's; group_service.cc the consumer groups'. Included by those only (it
// includes gRPC through service.h).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "net/fences.h"
#include "net/placement.h"
#include "net/service.h"
#include "runtime/bucket_storage.h"

namespace persisting::net {

enum Method {
  kCreateTopic, kGetTopic, kListTopics, kGetBucket, kPut, kGet, kFlush, kStats, kClusterStatus,
  kRebalance, kFenceBucket, kCopyBucket, kSetPlacement, kDropBuckets,
  kJoinGroup, kHeartbeat, kLeaveGroup, kCommitOffsets, kFetchOffsets, kListGroups, kResetGroup, kDeleteGroup,
  kMethods
};
inline constexpr const char* kMethodNames[kMethods] = {
    "CreateTopic", "GetTopic", "ListTopics", "GetBucket", "Put", "Get", "Flush", "Stats", "ClusterStatus",
    "Rebalance", "FenceBucket", "CopyBucket", "SetPlacement", "DropBuckets",
    "JoinGroup", "Heartbeat", "LeaveGroup", "CommitOffsets", "FetchOffsets", "ListGroups", "ResetGroup", "DeleteGroup"};

inline std::string bucket_name(const std::string& topic, uint32_t bucket) {
  return "topic '" + topic + "' bucket " + std::to_string(bucket);
}

// Deduplication keys: topic \0 bucket \0 producer_id (decimal).
inline std::string dedup_prefix(const std::string& topic, uint32_t bucket) {
  return topic + '\0' + std::to_string(bucket) + '\0';
}

// The record count of a bucket this node holds (its stats' total_count). Blocks.
Result<uint64_t> total_count(runtime::BucketStorage& actor);

struct Service::TopicEntry {
  TopicInfo info;
  std::mutex mu;
  std::vector<std::shared_ptr<runtime::BucketStorage>> actors;  // index = bucket; null until opened
  std::mutex switch_mu;  // serializes placement changes (file, then memory)
  Fences fences;         // rebalance fences (see Fences for the locking)

  std::shared_ptr<const Placement> placement() const {
    std::lock_guard<std::mutex> lock(placement_mu);
    return placement_;
  }
  void set_placement(std::shared_ptr<const Placement> p) {
    std::lock_guard<std::mutex> lock(placement_mu);
    placement_ = std::move(p);
  }

 private:
  mutable std::mutex placement_mu;
  std::shared_ptr<const Placement> placement_;
};

struct Service::DedupEntry {
  uint64_t sequence = 0;
  bool pending = true;
  uint64_t first_offset = 0;
  uint32_t count = 0;
  std::vector<std::function<void(Result<Offset>)>> waiters;  // repeats that arrived while pending
  std::chrono::steady_clock::time_point last_used;
};

}  // namespace persisting::net
