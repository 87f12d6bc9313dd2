// KafkaOffsets: a Kafka group's committed offsets, kept in our groups::GroupTable so that the
// commits of group G on topic T are the very commits the gRPC API, the CLI and Python see for
// group G of topic T (partition = bucket, offset = the next offset to read).
//
// The GroupTable accepts commits from its members only. So a Kafka group commits to topic T
// through one member of group G of topic T that this class holds, a "claim": a static member
// with every bucket of T (instance id "kafka-consumer-group"), joined exclusively. While the
// claim is held our readers of G on T are refused (naming it), and a claim is refused while our
// readers are in G on T (the OffsetCommit gets INCONSISTENT_GROUP_PROTOCOL for T's partitions).
// The claim is taken at the Kafka group's first commit to T and left when the Kafka group has no
// members any more (release()), or at once after a commit without membership.
//
// The group calls go to a groups::Coordinator: the node's GroupTable alone; in a cluster one that
// sends each topic's calls to that topic's coordinator of group G (KafkaCluster::group_offsets),
// so the claim is a member of G on the node that keeps G's commits for gRPC, the CLI and Python.
// Calls may read or fsync the group's offsets file, or wait for a peer (bounded): the
// GroupCoordinator runs them on its Scheduler, never on a network thread. Thread-safe; one
// group's calls run one at a time.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "groups/group_state.h"
#include "kafka/broker/group_requests.h"

namespace persisting::kafka {

// How many partitions a topic has; NotFound when there is no such topic.
using PartitionCountFn = std::function<Result<uint32_t>(const std::string& topic)>;
// Every topic of the node (for an OffsetFetch of all the group's topics).
using TopicListFn = std::function<std::vector<std::string>()>;

// The instance id of the GroupTable member through which Kafka groups commit.
inline constexpr const char* kKafkaClaimInstance = "kafka-consumer-group";

class KafkaOffsets {
 public:
  KafkaOffsets(groups::Coordinator* table, PartitionCountFn partitions, TopicListFn topics,
               std::chrono::milliseconds claim_session_timeout, size_t max_metadata_bytes);
  ~KafkaOffsets();  // leaves every claim

  // Commits r's offsets (r was checked against the Kafka group). Per partition errors.
  coord::OffsetCommitResponse commit(const coord::OffsetCommitRequest& r);
  coord::OffsetFetchResponse fetch(const coord::OffsetFetchRequest& r);
  // Renews the group's claims (the Kafka group is alive); a claim the table dropped is forgotten
  // and taken again at the next commit.
  void renew(const std::string& group);
  // Leaves the group's claims unless still_needed() (asked under the group's lock, so no commit
  // of the group runs in between).
  void release(const std::string& group, const std::function<bool()>& still_needed);
  // Topics the group holds a claim on (tests).
  std::vector<std::string> claimed(const std::string& group);

 private:
  struct Claim {
    std::string member_id;
    uint64_t generation = 0;
  };
  struct Claims {
    std::mutex mu;
    std::map<std::string, Claim> by_topic;
  };
  std::shared_ptr<Claims> claims_of(const std::string& group);
  // Commits to one topic (holding the group's claims lock). The message of a failure in *message.
  ErrorCode commit_topic(Claims& claims, const std::string& group, const std::string& topic, uint32_t num_buckets,
                         const groups::Commits& offsets, std::string* message);
  void leave_all(const std::string& group, Claims& claims);

  groups::Coordinator* table_;
  PartitionCountFn partitions_;
  TopicListFn topics_;
  std::chrono::milliseconds claim_session_timeout_;
  size_t max_metadata_bytes_;
  std::mutex mu_;  // guards groups_
  std::map<std::string, std::shared_ptr<Claims>> groups_;
};

// The Kafka error for a Status of the groups layer (refusals, I/O).
ErrorCode error_for(const Status& status);

}  // namespace persisting::kafka
