// The interface the embedded Queue and the remote Client share (docs/architecture.md, "One API,
// two homes"): a Store opens TopicWriters and TopicReaders, and code written against these three
// classes (the `persisting` CLI, for one) runs the same in-process or against a cluster. Also the
// plain types both use. No storage and no gRPC types appear here.
//
//   int copy_all(Store& from, Store& to, const std::string& topic);   // works for either
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "persisting/options.h"
#include "persisting/status.h"
#include "persisting/types.h"
#include "persisting/value.h"

namespace persisting {

// A topic's retention limits, per bucket (docs/retention.md). Unset: no limit; none set keeps
// everything. A limit must be positive. Only backends that store Lance fragments (lance,
// persisting) support retention: they remove whole flushed fragments at the front of a bucket
// while the fragments after them still hold at least the limit. Offsets never change: a read
// below a bucket's first available offset is OutOfRange naming it.
//
// The policy (retention_policy) says who else must agree before a fragment goes:
//   kLimits   (the default) the limits alone;
//   kInterest also every consumer group of the topic must have committed past the fragment's
//             last record in its bucket (a group without a commit for the bucket holds all of
//             it). Without limits, a fragment goes once every group committed past it. With no
//             group at all, interest degrades to the limits (none: keep everything).
enum class RetentionPolicy { kLimits, kInterest };

struct Retention {
  std::optional<uint64_t> records;  // retention_records: keep at least this many records
  std::optional<uint64_t> bytes;    // retention_bytes: keep at least this many bytes of data files
  // retention_ms: a fragment goes once its newest record was appended more than ms ago.
  std::optional<uint64_t> ms;
  RetentionPolicy policy = RetentionPolicy::kLimits;  // retention_policy
  bool limits() const { return records.has_value() || bytes.has_value() || ms.has_value(); }
  // Any retention at all: a limit, or the interest policy.
  bool any() const { return limits() || policy != RetentionPolicy::kLimits; }
  bool operator==(const Retention&) const = default;
};

// Settings of a topic, fixed when it is created and persisted in topic.json.
// When a put to a replicated topic is acknowledged (docs/cluster.md, "Replication").
enum class Acks {
  kDefault,  // kAll for replication_factor > 1
  kLeader,   // once the bucket's leader has the records durably
  kAll,      // once every in-sync replica has them durably (each by its own wal_sync_mode)
};

struct WriterOptions {
  std::string topic;
  std::string bucket_column = "id";
  uint32_t num_buckets = 4;
  // Records a durable backend buffers before it flushes (per bucket).
  uint32_t batch_size = 100;
  std::string backend = "memory";
  Options backend_options;
  // Retention at creation. On reopen, a retention given must equal the topic's (alter_topic
  // changes it); none given keeps the topic's.
  Retention retention;
  // Copies of each bucket in a cluster (docs/cluster.md, "Replication"): 1, 3 or 5; anything else
  // is InvalidArgument. 0: not given (a new topic gets 1; reopening keeps the topic's). More than
  // 1 needs at least that many nodes: an embedded Queue is one and refuses it for a new topic.
  uint32_t replication_factor = 0;
  // A replicated topic's puts (not a topic setting: each writer chooses). Factor 1: the leader
  // is every replica, so both are the same. Under kAll a put fails with Unavailable "not enough
  // in-sync replicas" while fewer than min_insync_replicas are in sync.
  Acks acks = Acks::kDefault;
};

struct TopicInfo {
  std::string topic;
  std::string bucket_column;
  uint32_t num_buckets = 0;
  uint32_t batch_size = 0;
  std::string backend;
  Options backend_options;
  bool durable = false;  // whether the backend's records outlive the writing process
  Retention retention;
  uint32_t replication_factor = 1;  // 1, 3 or 5 (topic.json "replication_factor"; absent: 1)
  // Which life of the name this is: a random non-zero id drawn when the topic is created
  // (topic.json "incarnation"), so a topic deleted and created again under the same name is a
  // different topic and handles to the old one get NotFound. 0: a topic created before
  // incarnations existed (docs/architecture.md, "Deleting a topic").
  uint64_t incarnation = 0;
};

// Where a group reader starts a bucket that has no usable commit (Kafka's auto.offset.reset):
// its first record, or its end (only records put from then on).
enum class OffsetReset { kEarliest, kLatest };

// Which buckets a reader covers: all (default), an explicit list, or rank of world_size
// (bucket b belongs to rank b % world_size).
//
// Consumer groups (docs/groups.md): with `group` set the reader's offsets are the group's,
// kept by the store. It starts each bucket at the group's committed offset (or by `start` when
// there is none), and commit() makes the offsets of what get has returned durable.
//  - With buckets or rank/world_size it is a static member: it commits for exactly those buckets.
//  - With neither it is a dynamic member: it joins the group and gets a share of the buckets no
//    static member holds; shares change as members join, close or miss their session timeout,
//    and the reader picks up its new share on its next get (buckets() then says which).
struct ReaderOptions {
  std::string topic;
  std::vector<uint32_t> buckets;
  std::optional<uint32_t> rank;
  uint32_t world_size = 1;

  // Empty: a plain reader (offsets in its memory only). Names follow the topic-name rule.
  std::string group;
  OffsetReset start = OffsetReset::kEarliest;
  // Commit every auto_commit_interval (checked on get) and on close().
  bool auto_commit = true;
  std::chrono::milliseconds auto_commit_interval = std::chrono::seconds(5);
  // A member that sends no heartbeat for this long (a get heartbeats every third of it) is
  // dropped from the group; a dynamic member's buckets go to the others.
  std::chrono::milliseconds session_timeout = std::chrono::seconds(10);

  // A reader of a remote node (Client) asks for up to this many records per round trip and
  // keeps what a get does not return for the gets after it, as Kafka consumers prefetch: a loop
  // of small gets then costs one round trip per read_ahead records, not one per get. Records
  // kept ahead are returned in order and only once; set_offset() and reset() drop them. 0 asks for
  // exactly each get's limit. At most 100,000 (a node's largest get); a node also stops an
  // answer at 8 MiB. The embedded Queue reads ahead within each get's limit and ignores this.
  uint32_t read_ahead = 1000;
};

// One consumer group of a topic, as Store::groups lists it.
struct GroupInfo {
  std::string group;
  uint64_t generation = 0;  // bumped by every membership change
  struct Member {
    std::string id;
    std::vector<BucketId> buckets;
    bool is_static = false;
  };
  std::vector<Member> members;  // live members, by id
  struct BucketLag {
    BucketId bucket;
    std::optional<Offset> committed;  // none: the group never committed this bucket
    Offset end;                       // the bucket's next offset (its record count)
    uint64_t lag = 0;                 // end - committed (end when nothing is committed)
  };
  std::vector<BucketLag> buckets;  // every bucket of the topic, in order
};

// Where Store::reset_group moves a group: every bucket to its first record, to its end, or to
// one offset.
struct GroupReset {
  enum Kind { kEarliest, kLatest, kOffset } kind = kEarliest;
  uint64_t offset = 0;  // kOffset only
};

// Where a record landed.
struct Position {
  BucketId bucket;
  Offset offset;
};

// What a batch put did, bucket by bucket, so a caller can tell exactly which of its records were
// written (QueueWriter::put and ClientWriter::put fill it, whether they succeed or fail).
struct PutReport {
  struct Part {                   // one bucket's share of the batch
    BucketId bucket;
    std::vector<size_t> records;  // indexes into the batch, in batch order
    bool acknowledged = false;    // written: records[k] is at offset first + k
    Offset first;
    Status status;                // why not, when not acknowledged
    std::string owner;            // the node that owns the bucket (Client only: "n2 (host:port)")
  };
  std::vector<Part> parts;  // the buckets the batch touched, in bucket order
  // The batch was refused before anything was sent (a bad record, a type its bucket refuses):
  // nothing of it is written; the returned Status names the record.
  bool refused = false;

  size_t acknowledged() const {
    size_t n = 0;
    for (const auto& p : parts) n += p.acknowledged ? p.records.size() : 0;
    return n;
  }
};

// A record read back, with where it came from.
struct Message {
  BucketId bucket;
  Offset offset;
  Record record;
  // When its bucket appended it: milliseconds since the Unix epoch (docs/records.md, "Append
  // time"). Records read back from Lance carry their fragment's latest time; 0 means unknown.
  int64_t timestamp = 0;
};

// Writes records into a topic: QueueWriter (embedded) and ClientWriter (remote).
class TopicWriter {
 public:
  virtual ~TopicWriter() = default;
  virtual const TopicInfo& topic() const = 0;
  // Appends one record to its bucket.
  virtual Result<Position> put(const Record& record) = 0;
  // Appends a batch, checked whole first (a bad record fails it and nothing is written).
  virtual Status put(const std::vector<Record>& records) = 0;
  // The same, saying in report what was written, bucket by bucket; numbers (one per record,
  // optional) is how errors name the records (default: their index in records).
  virtual Status put(const std::vector<Record>& records, PutReport* report,
                     const std::vector<uint64_t>* numbers = nullptr) = 0;
  // Flushes the buckets this writer has written since its last flush.
  virtual Status flush() = 0;
  // {"topic":..., "buckets":[<bucket stats>...], "total_count": N}
  virtual Result<Object> stats() = 0;
};

// Reads a topic's buckets, one offset per bucket: QueueReader (embedded), ClientReader (remote).
// One thread at a time.
class TopicReader {
 public:
  virtual ~TopicReader() = default;
  virtual const TopicInfo& topic() const = 0;
  virtual const std::vector<BucketId>& buckets() const = 0;
  // Up to limit records, fair across buckets; wait parks until a record arrives or timeout.
  virtual Result<std::vector<Message>> get(size_t limit, bool wait = false,
                                           std::chrono::milliseconds timeout = std::chrono::seconds(1)) = 0;
  // Back to offset 0 in every covered bucket.
  virtual void reset() = 0;
  // Sets the next offset of one covered bucket, or of all when bucket is empty.
  virtual Status set_offset(Offset offset, std::optional<BucketId> bucket = std::nullopt) = 0;
  // Next offset per covered bucket, in buckets() order.
  virtual std::vector<Offset> offsets() const = 0;
  // Sets every covered bucket's next offset to its first record appended at or after time_ms
  // (milliseconds since the Unix epoch; Message::timestamp), or to its end when none is that
  // recent. Exact for records a bucket holds in memory, per Lance fragment for the others
  // (docs/records.md, "Append time"). A negative time is InvalidArgument; nothing changes on an
  // error. Readers that cannot look times up answer NotSupported.
  virtual Status seek_to_time(int64_t time_ms) {
    (void)time_ms;
    return NotSupported("reader of topic '" + topic().topic + "' cannot look offsets up by time");
  }

  // Group readers: makes the offsets of what get has returned (offsets()) durable in the group;
  // returns once they survive kill -9. A plain reader: FailedPrecondition("reader of topic 't'
  // has no group"). A member whose assignment changed meanwhile gets FailedPrecondition naming
  // "fenced" for the buckets it no longer owns (it commits the others; nothing of the lost ones
  // changes) and picks up its new assignment on its next get.
  virtual Status commit() = 0;
  // Group readers: commits first when auto_commit is on, then leaves the group (its buckets go
  // to the other members at once). The destructor does it too; a second call does nothing.
  // After close, get fails. Plain readers: OK, nothing to do.
  virtual Status close() = 0;
};

// Where topics live: Queue (this process) or Client (a cluster of persistingd nodes).
class Store {
 public:
  virtual ~Store() = default;
  // Creates the topic, or opens it (its settings must match).
  virtual Result<std::unique_ptr<TopicWriter>> open_writer(const WriterOptions& options) = 0;
  // Opens an existing topic by name alone.
  virtual Result<std::unique_ptr<TopicReader>> open_reader(const ReaderOptions& options) = 0;
  virtual Result<std::vector<TopicInfo>> topics() = 0;
  virtual Result<TopicInfo> topic(const std::string& name) = 0;
  // {"topic":..., "num_buckets":..., "buckets":[...], "total_count": N}
  virtual Result<Object> stats(const std::string& topic) = 0;

  // Consumer groups of topic (docs/groups.md): those with commits or live members, by name,
  // each with its live members and every bucket's committed offset, end and lag.
  virtual Result<std::vector<GroupInfo>> groups(const std::string& topic) = 0;
  // Moves every bucket's committed offset of group. Only while the group has no live members
  // (FailedPrecondition naming them otherwise). An unknown group is NotFound.
  virtual Status reset_group(const std::string& topic, const std::string& group, GroupReset to) = 0;
  // Forgets group and its commits. Only while it has no live members; unknown: NotFound.
  virtual Status delete_group(const std::string& topic, const std::string& group) = 0;

  // Deletes the topic: its records, files, consumer groups and commits (docs/architecture.md,
  // "Deleting a topic"). Writers and readers open on it get NotFound from then on (a parked get
  // wakes with it), also after a topic of the same name is created again: that one is new and
  // starts empty at offset 0. An unknown topic is NotFound naming it, and nothing changes.
  virtual Status delete_topic(const std::string& topic) = 0;

  // Replaces the topic's retention limits and policy (docs/retention.md; none set: keep
  // everything from now on). The new limits are persisted in topic.json and applied at once to the buckets this
  // store serves. An unknown topic is NotFound, a bad limit InvalidArgument; nothing changes then.
  virtual Status alter_topic(const std::string& topic, const Retention& retention) = 0;
};

}  // namespace persisting
