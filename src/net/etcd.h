// etcd membership through etcd's v3 JSON gateway (no etcd client library needed).
//
// Keys, under the configured prefix (default /persisting):
//   <prefix>/nodes/<id> = address   permanent: the member exists (configured set, addresses)
//   <prefix>/alive/<id> = address   under the node's lease (TTL): the member is up
//   <prefix>/kafka/<id> = host:port permanent, written at registration by a member with a Kafka
//                                   listener (its advertised address), deleted by one without
//   <prefix>/zones/<id> = zone      permanent, written at registration by a member with a zone
//                                   (persistingd --zone), deleted by one without
//   <prefix>/left/<id>  = address   written by a clean stop (no lease), deleted when it registers:
//                                   the member left on purpose ("left the cluster", not "expired")
//   <prefix>/leaders/<topic>/<bucket>, <prefix>/isr/<topic>/<bucket>
//                                   leader elections of replicated buckets (net/elections.h; the
//                                   membership implements Elections): the leader key is put under
//                                   the node's membership lease
// A node grants a lease, writes both keys, keeps the lease alive (every TTL/3), and watches the
// prefix; after any change (or a quiet second) it re-reads the prefix. A node whose lease expires
// (killed, partitioned) loses its alive key and is reported down; it stays in the configured set,
// so its buckets are never placed elsewhere.
#pragma once

#include "persisting/log.h"

#include <memory>
#include <string>

#include "net/membership.h"

namespace persisting::net {

struct EtcdConfig {
  std::string endpoint;  // http://host:port
  std::string prefix = "/persisting";
  int ttl_s = 5;
  std::string kafka_address;  // this node's advertised Kafka listener; empty: none
  std::string zone;           // this node's zone (<prefix>/zones/<id>); empty: none
  // Where failed keepalives, watches and refreshes are logged (once per failure, not per retry).
  Logger* logger = nullptr;
};

// Registers self and starts the keepalive and watch threads.
Result<std::unique_ptr<Membership>> etcd_membership(const runtime::Member& self, const EtcdConfig& config);

}  // namespace persisting::net
