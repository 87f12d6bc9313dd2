// PutDedup: a node's memory of producers' puts, so a retried put is applied once (the cluster's
// exactly-once for a producer that retries: docs/cluster.md "Retries"). A put carries (producer
// id, sequence); the first put of a key is applied, a repeat of the same sequence gets the first
// answer (waiting for it while it is still pending), an older sequence is refused. Entries move
// with their bucket on a rebalance (export_bucket / import_bucket). Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
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

  // One producer's last applied put to a bucket, as a rebalance carries it to the new owner.
  struct ProducerState {
    uint64_t producer_id = 0;
    uint64_t sequence = 0;
    uint64_t first_offset = 0;
    uint32_t count = 0;
  };

  // The key of (topic, bucket, producer).
  static std::string key(const std::string& topic, uint32_t bucket, uint64_t producer_id);

  // Appends batch to actor once per (key, sequence): a repeat gets the first answer. what names
  // the bucket in errors. An empty key means no deduplication.
  void apply(const std::string& key, uint64_t sequence, const std::string& what,
             std::shared_ptr<runtime::BucketStorage> actor, RecordBatch batch, Applied cb);

  // The applied entries of a bucket, and installing them on a new owner (an entry with a newer
  // sequence already there wins).
  std::vector<ProducerState> export_bucket(const std::string& topic, uint32_t bucket) const;
  void import_bucket(const std::string& topic, uint32_t bucket, const std::vector<ProducerState>& in);

 private:
  struct Entry {
    uint64_t sequence = 0;
    bool pending = true;
    uint64_t first_offset = 0;
    uint32_t count = 0;
    std::vector<std::function<void(Result<Offset>)>> waiters;  // repeats that arrived while pending
    std::chrono::steady_clock::time_point last_used;
  };
  static std::string prefix(const std::string& topic, uint32_t bucket);
  void applied(const std::string& key, Result<Offset> r, uint32_t count);
  // Drops idle entries once there are many (called with mu_ held).
  void sweep(std::chrono::steady_clock::time_point now);

  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Entry>> entries_;  // key: topic \0 bucket \0 producer id
  std::chrono::steady_clock::time_point last_sweep_;
};

}  // namespace persisting::net
