// Elections: leadership of replicated buckets decided through etcd (issue 18; docs/cluster.md,
// "Failover"; docs/wire-protocol.md, "etcd keys"). Implemented by the etcd membership only
// (Membership::elections() is null under static membership: manual `cluster elect` there).
//
// Keys, under the etcd prefix:
//   <prefix>/leaders/<topic>/<bucket>  the bucket's leader, under the winner's membership lease
//   <prefix>/isr/<topic>/<bucket>      the leader's in-sync set (no lease)
// The leader key's create_revision is the bucket's leader epoch. No gRPC here.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "persisting/status.h"

namespace persisting::net {

// One key as the last read of the prefix (or this node's own write) saw it.
struct ElectionKey {
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t lease = 0;
  std::string value;
};

class Elections {
 public:
  virtual ~Elections() = default;
  // The cached keys of a bucket (refreshed on every watch event and every quiet second).
  virtual std::optional<ElectionKey> leader_key(const std::string& topic, uint32_t bucket) const = 0;
  virtual std::optional<ElectionKey> isr_key(const std::string& topic, uint32_t bucket) const = 0;
  // Creates the leader key with value under this node's lease, in one transaction that succeeds
  // only while the key's create_revision is `expected` (0: absent). The new key's
  // create_revision (the epoch); 0 when another node holds the key.
  virtual Result<int64_t> campaign(const std::string& topic, uint32_t bucket, int64_t expected,
                                   const std::string& value) = 0;
  // Deletes the leader key when its create_revision is still `revision`.
  virtual Status resign(const std::string& topic, uint32_t bucket, int64_t revision) = 0;
  // Writes the isr key when the leader key's create_revision is still `epoch`; false when it
  // is not (this node was deposed: nothing written).
  virtual Result<bool> write_isr(const std::string& topic, uint32_t bucket, int64_t epoch,
                                 const std::string& value) = 0;
  // OK while this node may acknowledge puts of the bucket at epoch: its view of etcd (read after
  // its current lease was granted) shows the leader key at that create_revision under its
  // current lease, and the lease is valid (the last successful keepalive was sent less than the
  // TTL ago, steady clock). Unavailable naming the bucket otherwise.
  virtual Status check_leads(const std::string& topic, uint32_t bucket, uint64_t epoch) const = 0;
  // cb runs (on the thread that reads etcd) after a read finds a leader key gone, new, or with
  // another create_revision, so that elections and followers act on it without waiting for their
  // next scan. Empty: none. Returns once no call of the previous cb is going on.
  virtual void on_leaders_changed(std::function<void()> cb) = 0;
};

}  // namespace persisting::net
