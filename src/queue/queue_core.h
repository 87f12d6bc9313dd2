// QueueCore: the shared state behind Queue, QueueWriter and QueueReader: the actor executor, the
// node's StorageManager (one member: this process), the topics this process has opened and the
// consumer groups' coordinator state (GroupTable; a cluster node's is the same object).
// Writers and readers keep it alive through a shared_ptr.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <vector>

#include "groups/group_state.h"
#include "groups/membership.h"
#include "persisting/queue.h"
#include "queue/interest.h"
#include "queue/read_cursor.h"
#include "runtime/executor.h"
#include "runtime/storage_manager.h"

namespace persisting::detail {

struct QueueCore {
  QueueOptions options;
  Env* env = nullptr;
  std::unique_ptr<runtime::Executor> executor;
  std::unique_ptr<runtime::StorageManager> manager;
  // Consumer groups of every topic (docs/groups.md); commits under <data_dir>/<topic>/groups/,
  // in memory without a data dir.
  std::unique_ptr<groups::GroupTable> groups;

  std::mutex mu;
  std::map<std::string, TopicInfo> topics;  // opened in this process
  std::set<std::string> written_here;       // topics this process opened for writing
  // Each topic's retention limits, shared with its buckets' backends and changed in place by
  // alter_retention (guarded by mu; created on first use).
  std::map<std::string, std::shared_ptr<RetentionLimits>> retention;
  std::shared_ptr<RetentionLimits> retention_limits(const TopicInfo& info);
  // What retention_policy=interest asks (queue/interest.h): the groups above, until they go.
  std::shared_ptr<InterestSource> interest = std::make_shared<InterestSource>();

  ~QueueCore();

  bool has_data_dir() const { return !options.data_dir.empty(); }
  // Creates or opens a topic for writing (validates, persists topic.json). incarnation: the id a
  // new topic gets (0: a fresh random one); for an existing topic, non-zero must match its own
  // (FailedPrecondition otherwise: it is another life of the name).
  Result<TopicInfo> open_for_write(const WriterOptions& w, uint64_t incarnation = 0);
  // Opens an existing topic by name for reading.
  Result<TopicInfo> open_for_read(const std::string& topic);
  // The actors of the given buckets, creating them with the topic's backend if needed.
  // session_options override the stored backend options for buckets created now. With
  // Access::kRead, buckets created now are opened to read (they take nothing a writer in another
  // process needs, until their first put).
  enum class Access { kWrite, kRead };
  Result<std::vector<std::shared_ptr<runtime::BucketStorage>>> actors(
      const TopicInfo& info, const std::vector<BucketId>& buckets, const Options& session_options,
      Access access = Access::kWrite);
  Result<Object> stats(const TopicInfo& info, Access access = Access::kWrite);
  // Each bucket's end offset (its record count), index = bucket; opens the buckets to read.
  Result<std::vector<Offset>> bucket_ends(const TopicInfo& info);
  // The topic's settings; NotFound when it does not exist or is being deleted.
  Result<TopicInfo> lookup(const std::string& topic);
  // The same, also while a delete of it is in progress (or failed after retiring its buckets).
  Result<TopicInfo> lookup_any(const std::string& topic);
  // Topics opened in this process and those with a topic.json in the data dir.
  Result<std::vector<TopicInfo>> list_topics();

  // Replaces a topic's retention (Store::alter_topic): checks it, rewrites topic.json, updates
  // the limits its open buckets share, then flushes every bucket so each applies them now (a
  // bucket another process writes is left to that process). only: flush just these buckets (a
  // node flushes the buckets it owns); null: all. Answers the topic's new settings.
  Result<TopicInfo> alter_retention(const std::string& topic, const Retention& retention,
                                    const std::vector<BucketId>* only = nullptr);

  // Deletes a topic (docs/architecture.md, "Deleting a topic"): retires its bucket actors
  // (StorageManager::retire_topic: their holders get NotFound), moves its directory to a
  // tombstone name (queue::deleted_topic_dir) and removes it, forgets its consumer groups and
  // tells the observers. incarnation: delete only that life of the name (NotFound otherwise).
  // NotFound naming the topic when it does not exist; nothing changes then. Answers what was
  // deleted. Blocks.
  Result<TopicInfo> delete_topic(const std::string& topic, std::optional<uint64_t> incarnation = std::nullopt);
  // Calls observer with the name of every topic deleted from now on (after its files are gone),
  // so caches above the queue (a node's topic directory, the Kafka catalog) forget it. It must
  // not block or call back into delete_topic. Answers an id for remove_observer, which the
  // observer's owner calls before it goes.
  uint64_t on_topic_deleted(std::function<void(const std::string&)> observer);
  void remove_observer(uint64_t id);
  // Removes what deletes interrupted by a crash left (<data_dir>/.deleted.*); failures are logged.
  void remove_deleted_leftovers();

  std::mutex delete_mu;  // one delete at a time
  std::map<uint64_t, std::function<void(const std::string&)>> deleted_observers;  // guarded by mu
  uint64_t next_observer = 1;                                                      // guarded by mu
};

struct WriterState {
  std::shared_ptr<QueueCore> core;
  TopicInfo info;
  // Index = bucket id; fixed at open, and held by each put in flight (one reference for its
  // parts, not one per part's actor).
  std::shared_ptr<const std::vector<std::shared_ptr<runtime::BucketStorage>>> actors;
  std::mutex mu;
  std::vector<bool> written;  // index = bucket id: put to since the last flush
  // Per bucket: the record shape (record_shape in writer.cc) of the last part it accepted whole, so a
  // later part of only that shape skips the check round (a bucket accepts again what it accepted:
  // StorageBackend::check_batch). Shared with puts in flight; guarded by its own mutex.
  struct Shapes {
    std::mutex mu;
    std::vector<uint64_t> accepted;
  };
  std::shared_ptr<Shapes> shapes = std::make_shared<Shapes>();
  void mark_written(uint32_t bucket) {
    std::lock_guard<std::mutex> lock(mu);
    if (written.size() <= bucket) written.resize(actors->size());
    written[bucket] = true;
  }
};

struct ReaderState {
  std::shared_ptr<QueueCore> core;
  TopicInfo info;
  queue::Cursor cursor;                                         // buckets, offsets, rotation
  // Plain readers of a durable topic: each bucket's first available offset when the reader
  // opened, where it starts and where reset() goes (parallel to cursor.buckets).
  std::vector<uint64_t> firsts;
  // Parallel to cursor.buckets; replaced whole (never changed in place), so a get's fetch holds
  // the list by one reference.
  std::shared_ptr<const std::vector<std::shared_ptr<runtime::BucketStorage>>> actors =
      std::make_shared<const std::vector<std::shared_ptr<runtime::BucketStorage>>>();

  // Group readers only (ReaderOptions::group): the membership over core->groups.
  std::unique_ptr<groups::Member> member;
  OffsetReset start = OffsetReset::kEarliest;
  bool closed = false;

  // The cursor's (bucket, next offset) pairs: what get has returned so far.
  groups::Commits positions() const;
  // Switches the cursor and actors to a new bucket set, keeping the offsets of the buckets it
  // keeps and starting the others at the group's commit or by the start rule.
  Status apply(const groups::AssignmentChange& change);
  // Heartbeats/auto-commits when due (Member::poll) and applies a new assignment.
  Status sync_group();
};

// A QueueCore whose StorageManager places buckets over members (which must contain self).
// Queue::open uses a single member "local"; a cluster node (src/net) passes its membership.
Result<std::shared_ptr<QueueCore>> make_queue_core(QueueOptions options, NodeId self,
                                                  std::vector<runtime::Member> members);

// Flushes every actor (all at once) and returns the first error.
Status flush_actors(const std::vector<std::shared_ptr<runtime::BucketStorage>>& actors);

}  // namespace persisting::detail
