// Member: a group reader's side of consumer-group membership (docs/groups.md), shared by the
// embedded QueueReader (over the node's GroupTable) and the remote ClientReader (over gRPC), both
// reaching the coordinator through the Coordinator interface.
//
// It joins, keeps the assignment, heartbeats when due (every session_timeout / 3), rejoins after
// the coordinator forgot it, auto-commits when due and on close, and tells the reader when its
// bucket set changed and where each new bucket starts. The reader owns the offsets: it hands in
// its current (bucket, next offset) pairs, what get has returned so far.
//
//   Member m(coordinator, options);
//   RETURN_IF_ERROR(m.join());                 // then m.take_change() has the first bucket set
//   ... before each get:  ASSIGN_OR_RETURN(auto change, m.poll(positions));
//                         if (change) { switch the cursor to change->buckets; }
//   reader.commit():      m.commit(positions);
//   reader.close():       m.close(positions);
//
// On a fenced commit (the group moved on) it fetches the new assignment, commits again the
// buckets it still owns and reports FailedPrecondition "fenced" for the others when it had
// uncommitted progress there (their new owner re-reads from the last commit: at-least-once).
// Not thread-safe: one reader drives it.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "groups/group_types.h"

namespace persisting::groups {

struct MemberOptions {
  std::string topic;
  std::string group;
  uint32_t num_buckets = 0;
  std::vector<BucketId> static_buckets;  // empty: a dynamic member
  bool auto_commit = true;
  std::chrono::milliseconds auto_commit_interval = std::chrono::seconds(5);
  std::chrono::milliseconds session_timeout = std::chrono::seconds(10);
  Clock clock = system_clock();
};

// The MemberOptions of a group reader (group set), validated: the group name, the intervals.
// static_buckets are the reader's buckets when it named some (explicit or rank/world_size).
Result<MemberOptions> member_options(const ReaderOptions& options, uint32_t num_buckets,
                                     const std::vector<BucketId>& static_buckets);

// A new bucket set for the reader.
struct AssignmentChange {
  std::vector<BucketId> buckets;  // the whole new set, ascending
  // For each bucket not in the previous set: the group's committed offset, or none (the reader
  // applies the start rule). Buckets it keeps are absent: the reader keeps its own offset.
  std::map<BucketId, std::optional<Offset>> starts;
};

class Member {
 public:
  Member(Coordinator& coordinator, MemberOptions options);
  ~Member();  // does not leave: the owner calls close()

  // Joins the group; the first bucket set is then in take_change().
  Status join();
  // The pending bucket-set change, if any (cleared by taking it: the reader now has that set).
  std::optional<AssignmentChange> take_change();
  // After applying a change: the reader's offsets, so the member knows where it started each new
  // bucket (the commit or the start rule's offset) and can tell lost progress from none.
  void note_positions(const Commits& positions);

  // Before a get (and between slices of a long wait): heartbeats when due, rejoins when the
  // coordinator forgot this member, auto-commits positions when due. A change of bucket set is
  // returned (and cleared). Errors: the member was replaced (fenced), the coordinator failed.
  Result<std::optional<AssignmentChange>> poll(const Commits& positions);
  // Commits positions (only the buckets this member owns and whose offset moved since the last
  // commit); durable on OK. See the class comment for fencing.
  Status commit(const Commits& positions);
  // Commits (when auto_commit) and leaves. Idempotent.
  Status close(const Commits& positions);

  bool closed() const { return closed_; }
  const Assignment& assignment() const { return assignment_; }
  const MemberOptions& options() const { return options_; }
  // How long a get may wait before it must poll() again.
  std::chrono::milliseconds heartbeat_interval() const;

 private:
  Status heartbeat_now();
  // Takes a, and when its bucket set differs from the reader's prepares the change (fetching the
  // group's commits for the new buckets).
  Status set_assignment(Assignment a);
  std::string name() const;

  Coordinator& coordinator_;
  MemberOptions options_;
  Assignment assignment_;
  bool pending_ready_ = false;           // assignment_ holds a real assignment
  std::vector<BucketId> reader_buckets_;  // the set the reader has (last change taken)
  std::optional<AssignmentChange> pending_;
  Committed group_commit_;  // the group's commit of each owned bucket, as this member last knew it
  Committed base_;          // per bucket: where the reader started it or last committed it
  std::chrono::steady_clock::time_point last_heartbeat_{};
  std::chrono::steady_clock::time_point last_commit_{};
  bool joined_ = false;
  bool closed_ = false;
};

}  // namespace persisting::groups
