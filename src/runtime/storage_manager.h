// StorageManager: one per node. Decides the owner of each `topic:bucket` (rendezvous hashing over
// the configured members), gets or creates the local BucketStorage actors, lists them, and
// gathers their stats. It is a thread-safe object rather than an actor: its only mutable state is
// the bucket table, touched rarely (callers cache the actors it returns), and keeping it
// synchronous lets the network layer answer "ready here" / "redirect" without a hop.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "persisting/backend.h"
#include "runtime/bucket_storage.h"
#include "runtime/executor.h"
#include "runtime/placement.h"

namespace persisting::runtime {

// What a bucket actor needs to be created.
struct BucketSpec {
  std::string topic;
  BucketId bucket{0};
  std::string backend = "memory";
  Options options;
  uint32_t batch_size = 100;
  std::string bucket_dir;  // empty: no data dir
  std::string data_dir;    // the data dir bucket_dir is in (BackendContext::data_dir)
  // Opened to read (BackendContext::read_only); the first put makes it a writer. Only matters
  // when the actor is created: an existing one is returned as it is.
  bool read_only = false;
  // The topic's incarnation (TopicInfo::incarnation): a deleted one's buckets are never made again.
  uint64_t incarnation = 0;
  // The topic's retention limits (BackendContext::retention); null: keep everything.
  std::shared_ptr<const RetentionLimits> retention;
};

struct BucketRef {
  std::string topic;
  BucketId bucket;
};

// "topic 'T' (incarnation 9f3c0a51d2e4b768) was deleted": what a deleted topic's handles answer.
std::string deleted_message(const std::string& topic, uint64_t incarnation);

class StorageManager {
 public:
  // members must contain self. env must outlive the manager.
  // logger: where background failures go (null: the process default).
  // scheduler: where the backends run background work (null: Scheduler::Default()).
  // tail_cache: where durable buckets keep recently flushed records (null: TailCache::Default()).
  StorageManager(Executor& executor, NodeId self, std::vector<Member> members, Env* env,
                 Logger* logger = nullptr, Scheduler* scheduler = nullptr, TailCache* tail_cache = nullptr);
  ~StorageManager();

  const NodeId& self() const { return self_; }
  const std::vector<Member>& members() const { return members_; }
  const Member& owner_of(const std::string& topic, BucketId bucket) const;
  bool is_local(const std::string& topic, BucketId bucket) const;

  // The local actor for spec's bucket, created on first use. FailedPrecondition naming the owner
  // when another member owns the bucket; the backend's error when it cannot be created.
  Result<std::shared_ptr<BucketStorage>> get_or_create(const BucketSpec& spec);
  // The actor if it exists, else null.
  std::shared_ptr<BucketStorage> find(const std::string& topic, BucketId bucket) const;
  std::vector<BucketRef> list_buckets() const;
  // Forgets the local actor of a bucket and closes it (flush, then parked readers fail with
  // Unavailable); callers holding the actor see it closed. OK when there is none. The bucket's
  // files stay: deleting them is the caller's business (a cluster rebalance moving it away).
  Status drop(const std::string& topic, BucketId bucket);
  // Deleting a topic: forgets every local actor of topic and refuses to make one again for this
  // incarnation (get_or_create answers NotFound "was deleted"), then retires the actors
  // (BucketStorage::retire with NotFound: callers holding them get it, parked readers wake with
  // it) and waits until their backends are gone. Blocks: not from inside an actor's message.
  void retire_topic(const std::string& topic, uint64_t incarnation);
  // Whether retire_topic was called for this incarnation of topic.
  bool is_deleted(const std::string& topic, uint64_t incarnation) const;
  // Stats of every local bucket (blocks until each actor answers).
  std::vector<BucketStats> stats() const;
  // Closes every local bucket; returns the first error. Each is flushed first, except, while
  // set_flush_on_close(false), a bucket whose log holds its unflushed records.
  Status close_all();
  // Whether close_all (and the destructor) flush buckets whose log holds their unflushed records
  // (default true: LanceDB then sees every record after a clean close).
  void set_flush_on_close(bool flush) { flush_on_close_ = flush; }

 private:
  Executor& executor_;
  NodeId self_;
  std::vector<Member> members_;
  Env* env_;
  Logger* logger_;
  Scheduler* scheduler_;
  TailCache* tail_cache_;
  std::atomic<bool> flush_on_close_{true};
  mutable std::mutex mu_;
  std::map<std::pair<std::string, uint32_t>, std::shared_ptr<BucketStorage>> buckets_;
  std::set<std::pair<std::string, uint64_t>> deleted_;  // (topic, incarnation) retired
  std::map<std::string, std::weak_ptr<AppendSignal>> signals_;  // per topic (mu_)
};

}  // namespace persisting::runtime
