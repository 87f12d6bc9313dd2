// Membership: who the cluster's members are (the placement set) and which of them are alive.
//
// The placement set is the CONFIGURED one: a member that is down still owns its buckets, and
// requests for them fail with "owner n2 unavailable" instead of landing on an empty bucket
// elsewhere. Liveness is only reported (cluster status, fast failure), never used to place.
//   static: `id=host:port,...` on every node; liveness = it answers a gRPC health check within 1 s.
//   etcd:   members register under a lease (etcd.h); liveness = the lease is current. A member
//           that stops cleanly revokes its lease and leaves a left/<id> mark, so that it is
//           reported as having left rather than as expired.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "persisting/status.h"
#include "runtime/placement.h"

namespace persisting::net {

class Channels;
class Elections;

struct MemberState {
  runtime::Member member;
  bool alive = false;
  std::string detail;  // why not alive
};

class Membership {
 public:
  virtual ~Membership() = default;
  virtual std::string kind() const = 0;
  // The configured members, self included, sorted by id: the placement set of topics created
  // now, and the peers a node forwards topic requests to.
  virtual std::vector<runtime::Member> configured() const = 0;
  // A member's current address; NotFound when the id is not (or no longer) known.
  virtual Result<runtime::Member> member(const NodeId& id) const = 0;
  // Why id is known to be down ("it left the cluster ...", "its membership lease has expired"),
  // or "" when it is not known to be. Static membership does not know: always "".
  virtual std::string down_reason(const NodeId& id) const { return ""; }
  // The Kafka listener address ("host:port") of each member that has one, by node id
  // (docs/kafka.md, "In a cluster"): static membership from --kafka-members, etcd from each
  // member's <prefix>/kafka/<id> key.
  virtual std::map<std::string, std::string> kafka_addresses() const { return {}; }
  // Liveness of every configured member (self is alive).
  virtual std::vector<MemberState> states(Channels& channels) = 0;
  virtual void stop() {}
  // Leader elections through etcd (net/elections.h); null: static membership (manual failover).
  virtual Elections* elections() { return nullptr; }
};

// 1-64 characters from [A-Za-z0-9_-]: a node id or a zone.
bool valid_id(const std::string& id);

// "n1=127.0.0.1:7070,n2=127.0.0.1:7071": ids [A-Za-z0-9_-]{1,64}, unique ids and addresses.
// An entry may name the member's zone after '@' ("n1=127.0.0.1:7070@a"; the same characters).
Result<std::vector<runtime::Member>> parse_members(const std::string& spec);

// Static membership from a parsed list, which must contain self. kafka: the members' Kafka
// listeners (parse_members of --kafka-members; ids must be members).
Result<std::unique_ptr<Membership>> static_membership(const NodeId& self, std::vector<runtime::Member> members,
                                                      std::vector<runtime::Member> kafka = {});

}  // namespace persisting::net
