// PutDedup: a node's memory of producers' puts, so a retried put is applied once (the cluster's
// exactly-once for a producer that retries: docs/cluster.md "Retries"). A put carries (producer
// id, sequence); the first put of a key is applied, a repeat of the same sequence gets the first
// answer (waiting for it while it is still pending), an older sequence is refused. Entries move
// with their bucket on a rebalance (export_bucket / import_bucket), and reach a replicated
// bucket's followers with its records (changes_since / import_bucket; docs/cluster.md,
// "Replication"), so the follower that becomes leader answers a retry as the old leader would.
// Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "persisting/codec.h"
#include "persisting/status.h"
#include "persisting/types.h"
#include "runtime/bucket_storage.h"

namespace persisting::net {

class PutDedup {
 public:
  using Applied = std::function<void(Result<Offset>, bool duplicate)>;

  PutDedup();

  // One producer's last applied put to a bucket, as a rebalance carries it to the new owner.
  // An idempotent Kafka producer's entry has kafka_state (kafka::ProducerState::snapshot, opaque
  // here; its producer id is Kafka's, a namespace of its own), sequence = the end offset of its
  // last batch, and first_offset, count of that batch.
  struct ProducerState {
    uint64_t producer_id = 0;
    uint64_t sequence = 0;
    uint64_t first_offset = 0;
    uint32_t count = 0;
    std::string kafka_state;
  };

  // The key of (topic, bucket, producer).
  static std::string key(const std::string& topic, uint32_t bucket, uint64_t producer_id);

  // Appends batch to actor once per (key, sequence): a repeat gets the first answer. what names
  // the bucket in errors. An empty key means no deduplication. hold (optional) is let go once
  // the bucket's backend has the batch (BucketStorage::put), or at once for a repeat.
  void apply(const std::string& key, uint64_t sequence, const std::string& what,
             std::shared_ptr<runtime::BucketStorage> actor, RecordBatch batch, Applied cb,
             std::shared_ptr<void> hold = nullptr);

  // A Kafka producer's state of a bucket once the batch [first_offset, first_offset + count) is
  // in its log (the leader's Kafka listener); replaces an older one (of a lower end offset).
  void record_kafka(const std::string& topic, uint32_t bucket, int64_t producer_id, uint64_t first_offset,
                    uint32_t count, std::string state);
  // The Kafka producer's state of a bucket this node has (recorded, or received as a follower).
  std::optional<std::string> kafka_state(const std::string& topic, uint32_t bucket, int64_t producer_id) const;

  // The applied entries of a bucket, and installing them on a new owner (an entry with a newer
  // sequence already there wins).
  std::vector<ProducerState> export_bucket(const std::string& topic, uint32_t bucket) const;
  void import_bucket(const std::string& topic, uint32_t bucket, const std::vector<ProducerState>& in);
  // Forgets a bucket's entries (its local copy was deleted).
  void forget_bucket(const std::string& topic, uint32_t bucket);

  // What a follower that has the bucket's records [0, log_end) may learn (a Replicate answer).
  // Every applied entry gets a version, increasing within this table's session (a random id per
  // process); a follower asks with the (session, version) of its previous answer. The answer
  // holds the entries of a newer version (all of them when the session is not this table's),
  // oldest first, up to the first whose records end past log_end (the follower has them later)
  // and at most max entries; `through` is the version the follower has everything of then.
  struct Changes {
    uint64_t session = 0;
    uint64_t through = 0;
    std::vector<ProducerState> states;
  };
  Changes changes_since(const std::string& topic, uint32_t bucket, uint64_t session, uint64_t since,
                        uint64_t log_end, size_t max) const;

 private:
  struct Entry {
    uint64_t sequence = 0;
    bool pending = true;
    uint64_t version = 0;  // once applied: its place in versions_
    uint64_t first_offset = 0;
    uint32_t count = 0;
    std::string kafka_state;  // a Kafka producer's (its key's tail starts with 'k')
    std::vector<std::function<void(Result<Offset>)>> waiters;  // repeats that arrived while pending
    std::chrono::steady_clock::time_point last_used;
  };
  static std::string prefix(const std::string& topic, uint32_t bucket);
  static std::string kafka_key(const std::string& topic, uint32_t bucket, uint64_t producer_id);
  // The entry under key (its tail past the bucket prefix names the producer) as shipped.
  static ProducerState state_of(const std::string& tail, const Entry& e);
  void applied(const std::string& key, Result<Offset> r, uint32_t count);
  // Marks an entry applied at a new version / forgets its version (with mu_ held).
  void stamp(const std::string& key, Entry& e);
  void unstamp(const std::string& key, const Entry& e);
  // Erases entries_[it] and its version (with mu_ held); the next entry.
  std::map<std::string, std::unique_ptr<Entry>>::iterator erase(std::map<std::string, std::unique_ptr<Entry>>::iterator it);
  // Drops idle entries once there are many (called with mu_ held).
  void sweep(std::chrono::steady_clock::time_point now);

  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Entry>> entries_;  // key: topic \0 bucket \0 producer id
  std::chrono::steady_clock::time_point last_sweep_;
  const uint64_t session_;
  uint64_t version_ = 0;  // the last version given
  // Per bucket (its key prefix): version -> key of its applied entries.
  std::map<std::string, std::map<uint64_t, std::string>> versions_;
};

}  // namespace persisting::net
