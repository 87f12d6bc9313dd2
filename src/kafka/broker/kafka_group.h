// KafkaGroup: the state machine of one Kafka consumer group (the "classic" protocol with
// client-side assignors): members, the rebalance barrier, generations, the leader's assignments.
// Internal to the GroupCoordinator, which locks it, drives its timers and stores its commits.
//
// Phases: Empty -> PreparingRebalance (JoinGroup barrier: it completes when every member has
// rejoined, not before the initial delay of a group that was empty, or at the rebalance timeout,
// dropping the members that did not rejoin) -> CompletingRebalance (the new generation's leader
// got the member list; everyone waits in SyncGroup for the leader's assignments) -> Stable.
// A join of a new member, a leave, a session expiry, or a join of the leader or with changed
// protocols starts a new rebalance. Static members (group.instance.id) that rejoin with unchanged
// protocols get a new member id and keep their assignment without a rebalance; the old id is
// fenced (FENCED_INSTANCE_ID).
//
// Pure: no locks, no timers, no I/O. Time is passed in; the callbacks a call completes are
// appended to `done` for the caller to run after releasing its lock; next_deadline() says when
// tick() must run next.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "kafka/broker/group_requests.h"

namespace persisting::kafka {

enum class GroupPhase { kEmpty, kPreparingRebalance, kCompletingRebalance, kStable };
const char* phase_name(GroupPhase phase);

// What describe() shows (tests, logs).
struct KafkaGroupDescription {
  GroupPhase phase = GroupPhase::kEmpty;
  int32_t generation = 0;
  std::string protocol_type;
  std::string protocol_name;
  std::string leader;
  std::vector<std::string> members;  // member ids, by id
};

class KafkaGroup {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  using Done = std::vector<std::function<void()>>;
  // Makes a member id for a client id (unique within this broker run).
  using MemberIdFn = std::function<std::string(const std::string& client_id)>;

  KafkaGroup(std::string group_id, const GroupCoordinatorOptions& options, MemberIdFn new_member_id);

  void join(coord::JoinGroupRequest r, JoinGroupCallback cb, TimePoint now, Done& done);
  void sync(coord::SyncGroupRequest r, SyncGroupCallback cb, TimePoint now, Done& done);
  coord::HeartbeatResponse heartbeat(const coord::HeartbeatRequest& r, TimePoint now);
  coord::LeaveGroupResponse leave(const coord::LeaveGroupRequest& r, TimePoint now, Done& done);
  // Whether an OffsetCommit of (generation, member) may be accepted now: NONE, or the error
  // (the whole request's). Generation -1 with member "" is accepted only while the group has no
  // members (a consumer committing without group membership).
  ErrorCode check_commit(int32_t generation, const std::string& member_id,
                         const std::optional<std::string>& instance_id, TimePoint now, std::string* message);
  // Runs what is due: session expiries, the rebalance barrier's delay and timeout.
  void tick(TimePoint now, Done& done);
  // When tick() must run next (nothing pending: nullopt).
  std::optional<TimePoint> next_deadline() const;
  // Completes every waiting call with COORDINATOR_NOT_AVAILABLE and forgets the members.
  void shutdown(Done& done);

  // No members, no member ids waiting for their second join.
  bool empty() const { return members_.empty() && pending_.empty(); }
  bool has_members() const { return !members_.empty(); }
  KafkaGroupDescription describe() const;

 private:
  struct Member {
    std::string id;
    std::optional<std::string> instance_id;
    std::string client_id;
    std::string client_host;
    std::chrono::milliseconds session_timeout{};
    std::chrono::milliseconds rebalance_timeout{};
    std::string protocol_type;
    std::vector<GroupProtocol> protocols;
    TimePoint last_seen{};
    uint64_t order = 0;  // join order: the first becomes leader when there is none
    JoinGroupCallback awaiting_join;
    SyncGroupCallback awaiting_sync;
    std::string assignment;
  };

  std::string name() const;
  std::string mismatch(const coord::JoinGroupRequest& r) const;  // INCONSISTENT_GROUP_PROTOCOL's message
  // The member a request names, or the error (UNKNOWN_MEMBER_ID / FENCED_INSTANCE_ID).
  Member* find(const std::string& member_id, const std::optional<std::string>& instance_id, ErrorCode* error,
               std::string* message);
  // INCONSISTENT_GROUP_PROTOCOL when r cannot join the group's protocol (except: ignoring member
  // `self`'s current protocols).
  bool compatible(const coord::JoinGroupRequest& r, const std::string& self) const;
  Member& add_member(const std::string& id, const coord::JoinGroupRequest& r, TimePoint now);
  void update_member(Member& m, const coord::JoinGroupRequest& r, TimePoint now);
  static bool same_protocols(const Member& m, const coord::JoinGroupRequest& r);
  coord::JoinGroupResponse current_join_response(const Member& m, bool with_members) const;
  // Static member `old` restarted: the same member under a new id; old's waiting calls are fenced.
  Member& replace_member(const std::string& old, const std::string& id, const coord::JoinGroupRequest& r, TimePoint now,
                         Done& done);
  // Member m joined again (restarted: a static member's new incarnation): answered at once when
  // that changes nothing, otherwise it waits for a rebalance.
  void rejoin(Member& m, bool unchanged, bool restarted, JoinGroupCallback cb, TimePoint now, Done& done);
  void prepare_rebalance(TimePoint now, Done& done);
  bool all_rejoined() const;  // every member waits in JoinGroup
  void try_complete_join(TimePoint now, Done& done);
  void complete_join(TimePoint now, Done& done);
  std::string select_protocol() const;
  void remove_member(const std::string& id, ErrorCode why, Done& done);
  void members_changed(TimePoint now, Done& done);

  std::string group_id_;
  GroupCoordinatorOptions options_;
  MemberIdFn new_member_id_;
  GroupPhase phase_ = GroupPhase::kEmpty;
  int32_t generation_ = 0;
  std::string protocol_type_;
  std::string protocol_name_;
  std::string leader_;
  std::map<std::string, Member> members_;
  std::map<std::string, std::string> static_;   // instance id -> member id
  std::map<std::string, TimePoint> pending_;    // MEMBER_ID_REQUIRED handed out: id -> expiry
  uint64_t next_order_ = 0;
  TimePoint join_not_before_{};  // PreparingRebalance: the initial delay's end
  TimePoint join_deadline_{};    // PreparingRebalance: the rebalance timeout
};

}  // namespace persisting::kafka
