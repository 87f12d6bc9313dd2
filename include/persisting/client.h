// Client: the Queue API over a cluster of persistingd nodes (docs/wire-protocol.md).
//
//   auto c = Client::connect({.server = "127.0.0.1:7070"});
//   auto w = (*c)->writer({.topic = "events", .bucket_column = "user", .num_buckets = 8});
//   (*w)->put(records);
//   auto r = (*c)->reader({.topic = "events", .rank = 0, .world_size = 2});
//   auto msgs = (*r)->get(100, /*wait=*/true, std::chrono::seconds(1));
//
// The client computes each record's bucket (the same stable hash as the embedded Queue), asks the
// node it was given where each bucket lives (GetBucket: Ready, or Redirect to the owner, followed
// at most max_redirects times), caches the owners, and sends per-bucket batches straight to them.
// A cached owner is dropped and looked up again when a call to it fails.
//
// Every RPC has a deadline (rpc_timeout; a waiting get adds its wait). Retries, only where safe:
//   - put: on UNAVAILABLE / DEADLINE_EXCEEDED, up to put_retries more times with the same
//     (producer id, sequence), which the owner applies at most once; while a rebalance switches
//     the bucket's owner ("is owned by node", lookups bouncing), or while the node answers
//     UNAVAILABLE "... retry shortly" (a replicated bucket's leader confirming its epochs or
//     being elected, a fenced bucket), until rpc_timeout has passed, then UNAVAILABLE; and so
//     while a replicated bucket's leader cannot be reached (gone: another replica takes over
//     within the etcd lease TTL), so a put rides through a failover;
//   - get, stats, topic lookups: read-only, retried once after refreshing the owner;
//   - create topic, flush: idempotent, retried once;
//   - consumer groups: sent to the group's coordinator (the owner of bucket
//     stable_hash64(group) % num_buckets); heartbeat, commit, fetch and reset retried once after
//     refreshing it, join, leave and delete not (docs/wire-protocol.md, "Consumer groups").
// When a bucket's owner is down, calls for that bucket fail with Unavailable naming the owner
// ("topic 't' bucket 3: owner n2 (127.0.0.1:7071) unavailable: ..."); other buckets keep working.
// A group reader whose coordinator is down goes on reading its buckets while its session could
// still be current, then its get fails naming the coordinator; a later get rejoins.
//
// Thread-safety: a Client and a ClientWriter may be shared by threads (a writer sends one put at
// a time); a ClientReader belongs to one thread. No gRPC type appears here.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "persisting/store.h"

namespace persisting {

namespace detail {
struct ClientCore;
struct ClientWriterState;
struct ClientReaderState;
}  // namespace detail

struct ClientOptions {
  std::string server;                  // host:port of any node; "h1:p1,h2:p2" tries them in turn
  std::string token;                   // access token, when the cluster requires one
  bool tls = false;                    // connect with TLS
  std::string tls_ca_file;             // PEM roots that sign the nodes' certificates
  std::string tls_server_name;         // expected certificate name if not the host
  std::chrono::milliseconds rpc_timeout = std::chrono::seconds(10);
  int max_redirects = 3;
  int put_retries = 2;
};

// Client::rebalance: the operator rebalance of a topic (docs/cluster.md, "Adding a node:
// rebalance"; docs/wire-protocol.md, "Rebalance").
struct RebalanceOptions {
  bool dry_run = false;   // only compute the plan (and count the records that would move)
  bool rehearse = false;  // fence, copy and verify every moving bucket, then undo it all
  std::chrono::milliseconds timeout = std::chrono::hours(1);  // the whole rebalance
};

// Client::compact: compaction and version cleanup of a topic's Lance datasets on the nodes that
// own its buckets (docs/compaction.md, "Compaction over the network").
struct CompactOptions {
  std::optional<uint32_t> bucket;                 // only this bucket
  std::optional<int64_t> version_retention_s;     // instead of the topic's version_retention
  std::chrono::milliseconds timeout = std::chrono::minutes(10);  // the whole call
};

// Client::backup_bucket: a bucket's pinned Lance version as its owner streams it
// (docs/wire-protocol.md, "Backup"). Paths are relative to the bucket's dataset directory.
struct BackupFileSize {
  std::string path;
  uint64_t size = 0;
};
struct BucketBackupHeader {
  std::string node;  // the owner that answered ("n2 (host:port)")
  uint64_t version = 0, first_offset = 0, end_offset = 0;
  std::vector<BackupFileSize> files;  // every file of the version
};
class BucketBackupReceiver {
 public:
  virtual ~BucketBackupReceiver() = default;
  virtual Status header(const BucketBackupHeader& h) = 0;
  // The bytes [offset, offset + data.size()) of one of the header's files; each file's chunks in
  // order, file after file (an empty file: one empty chunk).
  virtual Status chunk(const std::string& path, uint64_t offset, std::string_view data) = 0;
};
// Client::backup_topic_files: topic.json as the entry node stores it, and the consumer groups'
// commit files gathered from the nodes that coordinate them.
struct TopicBackupFiles {
  std::string topic_meta;
  std::vector<std::pair<std::string, std::string>> groups;  // group name, commit file bytes
};

class ClientWriter final : public TopicWriter {
 public:
  ~ClientWriter() override;
  const TopicInfo& topic() const override;
  Result<Position> put(const Record& record) override;
  // All-or-nothing per bucket; buckets are sent in parallel. Bad records fail the batch before
  // anything is sent (the error names the record). A bucket whose owner is down fails the call
  // (naming the owner) while the other buckets' parts are written.
  Status put(const std::vector<Record>& records) override;
  // The same, saying per bucket (and its owner) what was written, as QueueWriter::put(records,
  // report, numbers): a bucket whose owner is down is not acknowledged while the others are.
  Status put(const std::vector<Record>& records, PutReport* report,
             const std::vector<uint64_t>* numbers = nullptr) override;
  // Flushes the buckets this writer has written since its last flush, on their owners only (an
  // owner it did not write to is not asked, so a dead one does not fail this flush).
  Status flush() override;
  Result<Object> stats() override;

 private:
  friend class Client;
  explicit ClientWriter(std::unique_ptr<detail::ClientWriterState> s);
  std::unique_ptr<detail::ClientWriterState> s_;
};

class ClientReader final : public TopicReader {
 public:
  ~ClientReader() override;
  const TopicInfo& topic() const override;
  const std::vector<BucketId>& buckets() const override;
  // As QueueReader::get: fair across buckets (and nodes); wait parks on the owners, holding no
  // server thread, until a record arrives or timeout passes.
  Result<std::vector<Message>> get(size_t limit, bool wait = false,
                                   std::chrono::milliseconds timeout = std::chrono::seconds(1)) override;
  void reset() override;
  Status set_offset(Offset offset, std::optional<BucketId> bucket = std::nullopt) override;
  std::vector<Offset> offsets() const override;
  // Consumer groups (store.h, docs/groups.md).
  Status commit() override;
  Status close() override;

 private:
  friend class Client;
  explicit ClientReader(std::unique_ptr<detail::ClientReaderState> s);
  std::unique_ptr<detail::ClientReaderState> s_;
};

class Client final : public Store {
 public:
  // Does not contact the server yet (the first call does).
  static Result<std::unique_ptr<Client>> connect(ClientOptions options);
  ~Client() override;

  // Creates the topic on every node (or checks its settings), then opens a writer.
  Result<std::unique_ptr<ClientWriter>> writer(const WriterOptions& options);
  Result<std::unique_ptr<ClientReader>> reader(const ReaderOptions& options);
  // The same through the Store interface (store.h).
  Result<std::unique_ptr<TopicWriter>> open_writer(const WriterOptions& options) override;
  Result<std::unique_ptr<TopicReader>> open_reader(const ReaderOptions& options) override;
  Result<std::vector<TopicInfo>> topics() override;
  Result<TopicInfo> topic(const std::string& name) override;
  // {"topic":..., "num_buckets":..., "buckets":[...], "total_count": N}, gathered from the owners.
  // When some owners cannot be reached, the others' buckets are still there (total_count counts
  // only them) and "errors": [{"buckets":[...], "owner":"n3 (host:port)", "error":"..."}] says
  // which are missing and why; the call fails only when no owner answered.
  Result<Object> stats(const std::string& topic) override;
  // Consumer groups (store.h, docs/groups.md).
  Result<std::vector<GroupInfo>> groups(const std::string& topic) override;
  Status reset_group(const std::string& topic, const std::string& group, GroupReset to) override;
  Status delete_group(const std::string& topic, const std::string& group) override;
  // Deletes the topic on every node (DeleteTopic; store.h). Writers and readers of it, in this
  // process or another, get NotFound from then on, also once the name is created again. A member
  // that cannot be reached keeps its copy: the call then fails with Unavailable naming it (the
  // others have deleted theirs); delete again once it is back.
  Status delete_topic(const std::string& topic) override;
  // Replaces the topic's retention limits on every node that has it (AlterTopic; store.h,
  // docs/retention.md): each stores them and its buckets apply them at once. A member that cannot
  // be reached keeps the old limits: the call then fails with Unavailable naming it (the others
  // have changed theirs); alter again once it is back.
  Status alter_topic(const std::string& topic, const Retention& retention) override;
  // Flushes every bucket of topic on every owner (all topics when empty).
  Status flush(const std::string& topic = "");
  // {"self":..., "membership":..., "members":[{"id","address","alive","detail"}],
  //  "ownership":{"<bucket>": "<node>"}, "placement":{"epoch","members"}} (the last two only
  //  when topic is given: the answering node's view).
  Result<Object> cluster_status(const std::string& topic = "");
  // Moves the buckets of topic whose owner changes when its placement becomes the members the
  // node knows now (copy, fence, switch, delete; coordinated by the node). Answers
  // {"topic","result":"planned"|"rehearsed"|"moved"|"nothing to move","dry_run","rehearse",
  //  "previous_placement":{"epoch","members"},"placement":{"epoch","members"},
  //  "moves":[{"bucket","from","to","records"}],"records":<sum>,"dropped":["n1:3",...]}.
  // Not retried. A failure before the switch changes nothing (the error says so).
  Result<Object> rebalance(const std::string& topic, const RebalanceOptions& options = {});
  // Compacts the topic's datasets and cleans up their old versions on every node that owns
  // buckets of it (CompactTopic). Answers {"topic", "buckets": [{"bucket", "node", "version",
  // "fragments_before", "fragments", "rows", "fragments_compacted", "fragments_written",
  // "rows_rewritten", "versions_removed", "files_removed", "bytes_removed"} or {"bucket", "node",
  // "error"}], "compacted_on": [...]}, the shape of `persisting compact --data-dir`.
  Result<Object> compact(const std::string& topic, const CompactOptions& options = {});
  // Backup (docs/backup.md, "Backup of a cluster"): the bucket's owner flushes it, pins its
  // latest Lance version and streams it to receiver: the header, then every file not in `have`
  // with that size. incarnation: the topic's life the backup is of (NotFound otherwise). Errors
  // name the bucket and the node.
  Status backup_bucket(const std::string& topic, uint32_t bucket, uint64_t incarnation,
                       const std::vector<BackupFileSize>& have, BucketBackupReceiver* receiver);
  // topic.json (from the entry node) and, with groups, the commit files of the topic's groups
  // (from every owner of its buckets: each sends those it coordinates).
  Result<TopicBackupFiles> backup_topic_files(const std::string& topic, bool groups);
  // Manual failover of a replicated topic's bucket (docs/cluster.md, "Manual failover"): makes
  // `node` its leader at a new epoch, coordinated by the node the client is connected to.
  // Refused (nothing changed) unless node is a replica that is in sync (see the docs for how
  // that is checked with the leader down), unless allow_unclean. Answers {"topic","bucket",
  // "leader","epoch","start","previous_leader","updated":[ids],"unreached":[ids]}. Not retried.
  Result<Object> elect_leader(const std::string& topic, uint32_t bucket, const std::string& node,
                              bool allow_unclean = false);

 private:
  friend class ClientWriter;
  explicit Client(std::shared_ptr<detail::ClientCore> core);
  std::shared_ptr<detail::ClientCore> core_;
};

}  // namespace persisting
