// The group APIs' requests and responses as the GroupCoordinator sees them (docs/kafka.md,
// "Consumer groups"): Kafka's fields, wire-independent. The broker fills a request from whichever
// version it decoded (fields a version lacks keep their defaults) and encodes the response at
// that version (fields it lacks are dropped). Member metadata and assignments are opaque bytes:
// the clients' assignors read and write them.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "kafka/broker/error_codes.h"

namespace persisting::kafka {

struct GroupCoordinatorOptions {
  // JoinGroup's session timeout must lie within these (Kafka's group.min/max.session.timeout.ms);
  // otherwise INVALID_SESSION_TIMEOUT.
  std::chrono::milliseconds min_session_timeout = std::chrono::seconds(6);
  std::chrono::milliseconds max_session_timeout = std::chrono::minutes(30);
  // The first rebalance of an empty group waits this long for more members before it completes
  // (Kafka's group.initial.rebalance.delay.ms), so consumers starting together share one.
  std::chrono::milliseconds initial_rebalance_delay = std::chrono::seconds(3);
  // OffsetCommit metadata longer than this: OFFSET_METADATA_TOO_LARGE (metadata is not stored).
  size_t max_metadata_bytes = 4096;
  // The session timeout of the GroupTable member through which a Kafka group commits to a topic;
  // heartbeats of the Kafka group's members renew it.
  std::chrono::milliseconds claim_session_timeout = std::chrono::minutes(5);
};

struct GroupProtocol {
  std::string name;      // the assignor ("range", "roundrobin", ...)
  std::string metadata;  // the member's subscription, as its client encoded it
};

// Named like the wire's messages (kafka/protocol/messages/), which the broker converts from and
// to: kept apart in their own namespace.
namespace coord {

struct JoinGroupRequest {
  std::string group_id;
  int32_t session_timeout_ms = 0;
  int32_t rebalance_timeout_ms = -1;  // v0 has none: -1 = the session timeout
  std::string member_id;              // "" on a first join
  std::optional<std::string> group_instance_id;  // static membership (v5+)
  std::string protocol_type;                     // "consumer" for consumers
  std::vector<GroupProtocol> protocols;          // by preference
  // v4+: a dynamic member joining with "" first gets MEMBER_ID_REQUIRED and its id, and joins again.
  bool require_known_member_id = false;
  std::string client_id;
  std::string client_host;
};

struct JoinGroupResponse {
  ErrorCode error = ErrorCode::NONE;
  std::string message;  // why, for the broker's log (not on the wire)
  int32_t generation_id = -1;
  std::string protocol_type;
  std::string protocol_name;
  std::string leader;
  std::string member_id;
  struct Member {
    std::string member_id;
    std::optional<std::string> group_instance_id;
    std::string metadata;  // for the chosen protocol
  };
  std::vector<Member> members;  // the leader's response only
};

struct SyncGroupRequest {
  std::string group_id;
  int32_t generation_id = -1;
  std::string member_id;
  std::optional<std::string> group_instance_id;
  std::optional<std::string> protocol_type;  // v5+
  std::optional<std::string> protocol_name;  // v5+
  struct Assignment {
    std::string member_id;
    std::string assignment;
  };
  std::vector<Assignment> assignments;  // the leader's only
};

struct SyncGroupResponse {
  ErrorCode error = ErrorCode::NONE;
  std::string message;
  std::string protocol_type;
  std::string protocol_name;
  std::string assignment;
};

struct HeartbeatRequest {
  std::string group_id;
  int32_t generation_id = -1;
  std::string member_id;
  std::optional<std::string> group_instance_id;
};

struct HeartbeatResponse {
  ErrorCode error = ErrorCode::NONE;
  std::string message;
};

struct LeaveGroupRequest {
  std::string group_id;
  struct Member {
    std::string member_id;  // v3+: may be "" when group_instance_id names the member
    std::optional<std::string> group_instance_id;
  };
  std::vector<Member> members;  // v0-v2: exactly one
};

struct LeaveGroupResponse {
  ErrorCode error = ErrorCode::NONE;  // v0-v2: the one member's error
  std::string message;
  struct Member {
    std::string member_id;
    std::optional<std::string> group_instance_id;
    ErrorCode error = ErrorCode::NONE;
  };
  std::vector<Member> members;  // parallel to the request's
};

struct OffsetCommitRequest {
  std::string group_id;
  int32_t generation_id = -1;  // -1 with member_id "": a commit without membership (simple consumer)
  std::string member_id;
  std::optional<std::string> group_instance_id;
  struct Partition {
    int32_t partition = 0;
    int64_t offset = 0;  // the next offset to read
    std::optional<std::string> metadata;
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  std::vector<Topic> topics;
};

struct OffsetCommitResponse {
  std::string message;  // the first error's explanation, for the broker's log
  struct Partition {
    int32_t partition = 0;
    ErrorCode error = ErrorCode::NONE;
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  std::vector<Topic> topics;  // parallel to the request's
};

struct OffsetFetchRequest {
  std::string group_id;
  struct Topic {
    std::string name;
    std::vector<int32_t> partitions;
  };
  // nullopt: every topic the group has commits in (v2+ "null topics").
  std::optional<std::vector<Topic>> topics;
};

struct OffsetFetchResponse {
  ErrorCode error = ErrorCode::NONE;  // top-level (v2+)
  std::string message;
  struct Partition {
    int32_t partition = 0;
    int64_t committed_offset = -1;  // -1: never committed
    std::string metadata;           // always "": not stored
    ErrorCode error = ErrorCode::NONE;
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  std::vector<Topic> topics;
};

}  // namespace coord

// Completions. Each is called exactly once, on the calling thread or on another (a member's
// request, a timer, the scheduler's pool): it must be thread-safe and must not block.
using JoinGroupCallback = std::function<void(coord::JoinGroupResponse)>;
using SyncGroupCallback = std::function<void(coord::SyncGroupResponse)>;
using HeartbeatCallback = std::function<void(coord::HeartbeatResponse)>;
using LeaveGroupCallback = std::function<void(coord::LeaveGroupResponse)>;
using OffsetCommitCallback = std::function<void(coord::OffsetCommitResponse)>;
using OffsetFetchCallback = std::function<void(coord::OffsetFetchResponse)>;

}  // namespace persisting::kafka
