// GroupCoordinator: Kafka's consumer-group APIs (JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
// OffsetCommit, OffsetFetch) over our consumer groups (docs/kafka.md, "Consumer groups").
//
//   GroupCoordinator coordinator(&group_table, scheduler, partition_count, list_topics);
//   coordinator.join_group(request, [conn](coord::JoinGroupResponse r) { conn->post(encode(r)); });
//
// Membership (generations, the rebalance barrier, the leader's assignments) lives here, in
// memory: one KafkaGroup state machine per group id; after a restart the members rejoin.
// Committed offsets live in our groups (KafkaOffsets, through `table`: the node's
// groups::GroupTable, or in a cluster each topic's group coordinator): a Kafka group's
// commits to topic T are group G's commits on T for gRPC, the CLI and Python too; one group id
// may span topics (Kafka's groups do), its commits then go to G on each topic.
//
// Asynchronous: every call completes through its callback, exactly once; a JoinGroup completes
// when its rebalance does, a follower's SyncGroup when the leader's arrives; no thread waits.
// Membership calls run on the caller's thread under a mutex (in memory, short); OffsetCommit and
// OffsetFetch run on the Scheduler (they may read or fsync the offsets file) and complete there.
// Timers (session expiry, rebalance timeouts, the initial delay) run on the Scheduler too.
// Thread-safe. The table and the Scheduler must outlive this object. The destructor answers
// waiting calls with COORDINATOR_NOT_AVAILABLE and leaves the Kafka groups' GroupTable members.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "groups/group_state.h"
#include "kafka/broker/group_requests.h"
#include "kafka/broker/kafka_group.h"
#include "kafka/broker/kafka_offsets.h"
#include "persisting/scheduler.h"

namespace persisting::kafka {

class GroupCoordinator {
 public:
  // partitions: a topic's partition (bucket) count, NotFound for an unknown topic. topics: every
  // topic (for an OffsetFetch of all topics; may be empty: such a fetch then answers none).
  GroupCoordinator(groups::Coordinator* table, Scheduler* scheduler, PartitionCountFn partitions,
                   TopicListFn topics = {}, GroupCoordinatorOptions options = {});
  ~GroupCoordinator();
  GroupCoordinator(const GroupCoordinator&) = delete;
  GroupCoordinator& operator=(const GroupCoordinator&) = delete;

  void join_group(coord::JoinGroupRequest request, JoinGroupCallback done);
  void sync_group(coord::SyncGroupRequest request, SyncGroupCallback done);
  void heartbeat(coord::HeartbeatRequest request, HeartbeatCallback done);
  void leave_group(coord::LeaveGroupRequest request, LeaveGroupCallback done);
  void offset_commit(coord::OffsetCommitRequest request, OffsetCommitCallback done);
  void offset_fetch(coord::OffsetFetchRequest request, OffsetFetchCallback done);

  // A group's membership state; nullopt when the coordinator has no member of it.
  std::optional<KafkaGroupDescription> describe(const std::string& group_id) const;
  // Topics on which the group holds the GroupTable member it commits through (tests).
  std::vector<std::string> claimed_topics(const std::string& group_id) const;

 private:
  struct Core;
  std::shared_ptr<Core> core_;
};

}  // namespace persisting::kafka
