// GroupTable: the coordinator's state of every consumer group of every topic on this node
// (docs/groups.md): members and their assignments, generations, committed offsets.
//
// Membership lives in memory only (members rejoin after a restart); commits are made durable by
// the GroupStore before commit() returns (no store: they stay in memory). While a group has
// members here the table holds its lock file (GroupStore::lock): another process on the same
// data dir can then neither run members of it nor reset or delete it. While it has none, every
// call reads its commits from the file again.
//
// Assignment: static members keep exactly their buckets (two static members may not share one).
// The other buckets, ascending, go round-robin to the dynamic members sorted by member id
// (bucket k of them to member k % n). Every membership change (join, leave, expiry, a static
// member replaced) bumps the group's generation and recomputes the dynamic shares, so every
// bucket has exactly one live owner (or none when only static members cover other buckets).
// A commit must carry the current generation and only buckets its member owns; otherwise it is
// refused ("fenced") and changes nothing.
//
// Thread-safe: a mutex over the map of groups and one per group (commits of different groups do
// not wait for each other's fsync). Time comes from an injected Clock; expire() drops members
// past their session timeout. It runs at the start of every call and whenever the owner's timer
// calls it: no thread of its own.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "groups/group_store.h"
#include "groups/group_types.h"

namespace persisting::groups {

class GroupTable final : public Coordinator {
 public:
  // store may be null: commits then stay in memory.
  explicit GroupTable(std::unique_ptr<GroupStore> store, Clock clock = system_clock());
  ~GroupTable() override;

  // A new member, or (same instance_id) the replacement of a static one. Its assignment at the
  // group's new generation.
  Result<Assignment> join(const JoinRequest& request) override;
  Result<Assignment> heartbeat(const std::string& topic, const std::string& group,
                               const std::string& member_id, uint64_t generation) override;
  // Leaving twice, or after expiry, is NotFound.
  Status leave(const std::string& topic, const std::string& group, const std::string& member_id) override;
  Status commit(const std::string& topic, const std::string& group, const std::string& member_id,
                uint64_t generation, const Commits& offsets) override;
  // Empty for a group nobody committed to (not an error: a new group).
  Result<Committed> committed(const std::string& topic, const std::string& group) override;

  // The groups of topic with commits or live members, by name.
  Result<std::vector<GroupSummary>> list(const std::string& topic);
  // One group; NotFound when it has neither commits nor live members.
  Result<GroupSummary> describe(const std::string& topic, const std::string& group);
  // Replaces the group's commits with offsets. Refused while it has live members
  // (FailedPrecondition naming them); NotFound for an unknown group.
  Status reset(const std::string& topic, const std::string& group, const Committed& offsets);
  // Forgets the group and its commits; the same refusals as reset.
  Status remove(const std::string& topic, const std::string& group);

  // Forgets every group of topic, members and all (the topic was deleted; its commits went with
  // its directory). Their members' next calls find no group.
  void forget_topic(const std::string& topic);

  // Drops the members whose last heartbeat is older than their session timeout (each drop
  // bumps its group's generation). Returns how many were dropped.
  size_t expire();

  // Commits accepted since this table was made, per (topic, group): for metrics.
  uint64_t commits_accepted(const std::string& topic, const std::string& group);

  // Called once commit, reset or remove changed a group's commits here (offsets; nullptr once
  // they are deleted), under the group's lock and before the call answers: a cluster node copies
  // them to the other replicas of the group's coordinator bucket (src/net/group_copy.cc). Its
  // error is the call's (the change stays here). Set before the table is shared.
  using Copier = std::function<Status(const std::string& topic, const std::string& group, const Committed* offsets)>;
  void set_copier(Copier copier) { copier_ = std::move(copier); }
  // A copy from the group's coordinator on another node: stores offsets as the group's commits
  // (nullptr: deletes them), as commit or remove would, but with no member check and without
  // calling the copier.
  Status install(const std::string& topic, const std::string& group, const Committed* offsets);

 private:
  struct Group;
  // The group's state, loaded from the store the first time (create: make it when unknown).
  Result<std::shared_ptr<Group>> find(const std::string& topic, const std::string& group, bool create);
  void forget_if_empty(const std::string& topic, const std::string& group);
  // The copier's answer for a change of the group's commits (OK without a copier).
  Status copy(const std::string& topic, const std::string& group, const Committed* offsets) const;
  // Removes the group's stored commits (a missing file is fine) and forgets them; g is locked.
  Status drop_commits(const std::string& topic, const std::string& group, Group& g);
  // Reads the group's commits from the store again (another process may have changed them while
  // this table held no member of the group, so no lock).
  Status refresh(Group& g);
  template <typename Fn>
  auto with_group(const std::string& topic, const std::string& group, bool create, Fn fn)
      -> decltype(fn(std::declval<Group&>()));

  std::unique_ptr<GroupStore> store_;
  Copier copier_;
  Clock clock_;
  std::mutex mu_;  // guards groups_ and next_member_
  std::map<std::pair<std::string, std::string>, std::shared_ptr<Group>> groups_;
  uint64_t next_member_ = 0;
  std::string token_;  // in member ids: differs from one table (node start) to the next
};

}  // namespace persisting::groups
