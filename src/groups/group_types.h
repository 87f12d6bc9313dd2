// The vocabulary of consumer groups (docs/groups.md) shared by the coordinator (GroupTable, on
// the storage side) and the reader-side Member (embedded QueueReader and remote ClientReader):
// join requests, assignments, commits, the Coordinator interface, group-name rules.
// Built into persisting_groups_member on the records alone, so the remote client links no file
// system code.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "persisting/status.h"
#include "persisting/store.h"
#include "persisting/types.h"

namespace persisting::groups {

// Time as the group code sees it; tests inject one they move by hand.
using Clock = std::function<std::chrono::steady_clock::time_point()>;
Clock system_clock();  // std::chrono::steady_clock::now

// Group names follow the topic-name rule (1-128 characters from [A-Za-z0-9._-], not starting
// with '.' or '-', no ".."): they name files. Errors say "group name".
Status validate_group_name(const std::string& group);
// The same rule for any name; errors say "<what> name" ("topic").
Status validate_name(const std::string& what, const std::string& name);

// The offsets a commit makes durable: (bucket, next offset to read), ascending by bucket.
using Commits = std::vector<std::pair<BucketId, Offset>>;
// A group's committed offsets by bucket (buckets never committed are absent).
using Committed = std::map<BucketId, Offset>;

struct JoinRequest {
  std::string topic;
  std::string group;
  uint32_t num_buckets = 0;
  // Static members: their bucket set, and instance_id = static_instance_id(static_buckets).
  // A join whose instance_id is already in the group replaces that member (a restarted static
  // reader takes its place at once; the old one is fenced). Dynamic members: both empty.
  std::string instance_id;
  std::vector<BucketId> static_buckets;
  std::chrono::milliseconds session_timeout = std::chrono::seconds(10);
  // The member must be the group's only one: refused while the group has other members, and
  // while it is in the group every other join is refused (FailedPrecondition naming it; a join
  // with its instance_id still replaces it). The Kafka broker's commits use one (docs/kafka.md).
  bool exclusive = false;
};

// A member's share of the group at one generation.
struct Assignment {
  std::string member_id;
  uint64_t generation = 0;
  std::vector<BucketId> buckets;  // ascending
};

// "static:0,2,4": the instance id of a static member covering buckets.
std::string static_instance_id(const std::vector<BucketId>& buckets);

// The coordinator of groups as a reader's Member sees it: the node's GroupTable in process
// (queue layer adaptor) or over gRPC (net layer). Every call names topic and group in errors.
class Coordinator {
 public:
  virtual ~Coordinator() = default;
  virtual Result<Assignment> join(const JoinRequest& request) = 0;
  // The member's current assignment (its generation tells whether it changed). A member the
  // group no longer has: NotFound (rejoin); one replaced by a newer static member:
  // FailedPrecondition naming "fenced" (do not rejoin).
  virtual Result<Assignment> heartbeat(const std::string& topic, const std::string& group,
                                       const std::string& member_id, uint64_t generation) = 0;
  virtual Status leave(const std::string& topic, const std::string& group, const std::string& member_id) = 0;
  // Durable when it returns OK. A generation other than the group's: FailedPrecondition naming
  // "fenced", nothing changes; a bucket the member does not own: FailedPrecondition too.
  virtual Status commit(const std::string& topic, const std::string& group, const std::string& member_id,
                        uint64_t generation, const Commits& offsets) = 0;
  virtual Result<Committed> committed(const std::string& topic, const std::string& group) = 0;
};

// True when s is a coordinator's "fenced" refusal (stale generation or replaced member).
bool is_fenced(const Status& s);

// A group's GroupInfo from its state and each bucket's end offset (index = bucket): committed,
// end and lag for every bucket.
struct GroupSummary {
  std::string group;
  uint64_t generation = 0;
  std::vector<GroupInfo::Member> members;  // by id
  Committed committed;
};
GroupInfo group_info(const GroupSummary& summary, const std::vector<Offset>& ends);

// The committed offsets GroupReset asks for, for a topic whose buckets end at ends (index =
// bucket): 0 everywhere, the ends, or one offset everywhere (a bucket that ends before it: its
// end, as Kafka's --to-offset clamps).
Committed reset_offsets(const GroupReset& to, const std::vector<Offset>& ends);

}  // namespace persisting::groups
