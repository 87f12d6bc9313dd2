// The `persisting` CLI's commands. main.cc parses flags (CLI11 stays in that one file) and calls
// these. Each returns the process exit code: 0 ok, 1 failure (message already on stderr).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "apps/persisting/bench_group.h"
#include "persisting/client.h"
#include "persisting/options.h"

namespace persisting {
class Store;
}

namespace persisting::cli {

// Where a command's data lives: an embedded queue in a data directory, or a cluster node.
// Exactly one of data_dir and server is set.
struct Target {
  std::string data_dir;
  std::string server;  // host:port of any persistingd node
  std::string token;   // access token for --server (given, or read from --token-file)
  std::string tls_ca;  // CA file: connect with TLS
  std::chrono::milliseconds rpc_timeout{0};  // --timeout: each RPC's deadline (0: the client's default)
};

struct PutArgs {
  Target target;
  std::string topic, input = "-";
  // Settings of a new topic. For an existing topic, the ones not given come from the topic.
  std::optional<std::string> bucket_column, backend;
  std::optional<uint32_t> num_buckets;
  uint32_t batch_size = 1000;  // lines per batch (and the topic's batch_size when it is created)
  Options options;
  Retention retention;  // a new topic's (docs/retention.md); an existing topic's must match
  std::optional<uint32_t> replication_factor;  // a new topic's (1, 3, 5); an existing topic's must match
  bool flush = false;  // flush every bucket to Lance before exiting (LanceDB sees the records at once)
  std::string acks;                            // "leader" or "all"; empty: all for factor > 1
};

// `topics alter`: each limit given is set ("none" removes it); those not given stay.
struct AlterArgs {
  Target target;
  std::string topic;
  std::optional<std::string> retention_records, retention_bytes, retention_ms;
  std::optional<std::string> retention_policy;  // "limits" or "interest"
};

// --from-time's argument: milliseconds since the Unix epoch, or ISO 8601
// (YYYY-MM-DD[THH:MM[:SS[.fff]]][Z|+HH:MM|-HH:MM]; no zone: UTC). InvalidArgument otherwise.
Result<int64_t> parse_time_arg(const std::string& text);

struct GetArgs {
  Target target;
  std::string topic;
  bool from_beginning = false, follow = false, with_position = false;
  // --from-time: start each bucket at its first record appended at or after this time
  // (milliseconds since the epoch, or ISO 8601: parse_time_arg).
  std::optional<std::string> from_time;
  std::optional<uint64_t> limit;
  std::optional<uint32_t> bucket, rank;
  uint32_t world_size = 1;
  // Consumer group (docs/groups.md): read from the group's commits and commit what was printed.
  std::string group;
  std::string start = "earliest";   // earliest | latest: where a bucket with no commit starts
  double commit_interval_s = 5;     // --follow: auto-commit period
  double session_timeout_s = 10;
};

// `groups reset --to`: earliest, latest or an offset.
struct GroupResetArgs {
  Target target;
  std::string topic, group, to;
};

struct BenchArgs {
  std::string backend = "memory", data_dir;
  Options options;
  unsigned producers = 1, consumers = 1;
  double duration_s = 5;
  uint32_t batch_size = 100, record_size = 0, fetch = 1000, num_buckets = 4;
  uint32_t inflight = 1;  // puts each producer keeps in flight (1 = blocking puts)
  bool json = false;
  bool consume_after = false;  // consumers start when the producers are done (a consume-only rate)
  GroupBenchArgs groups;  // consumers as members of a group
  uint64_t max_records = 0;  // per producer, as well as duration_s (0: no count bound)
  Retention retention;       // the bench topic's, at creation
};

// One phase of the cluster benchmark against a node (--server): see cmd_bench_remote.cc.
struct RemoteBenchArgs {
  std::string phase = "produce", topic = "bench", tag = "c";
  unsigned producers = 1;
  double duration_s = 5;
  uint32_t batch_size = 100, record_size = 0, fetch = 1000, num_buckets = 16;
  uint32_t rank = 0, world_size = 1, samples = 1000;
  // The topic's backend and options when the phase creates it (bench/peers: persisting modes).
  std::string backend = "memory";
  Options options;
  uint32_t replication_factor = 0;  // a new topic's copies (0: the default, 1)
  std::string acks;                 // "leader" or "all"; empty: the default (all above factor 1)
  // produce: stop after this many records per producer as well as after duration_s;
  // consume: read at most this many, and stop after duration_s (0: no count bound).
  uint64_t max_records = 0;
  GroupBenchArgs groups;  // consume: read as a member of a group
};

int run_demo();
int run_put(const PutArgs& a);
int run_get(const GetArgs& a);
int run_topics(const Target& t);
// Deletes a topic with its records, files and groups (docs/cli.md, "topics delete").
int run_topics_delete(const Target& t, const std::string& topic);
// Changes a topic's retention (docs/cli.md, "topics alter"); prints the topic as `topics` does.
int run_topics_alter(const AlterArgs& a);
int run_stats(const Target& t, const std::string& topic);
// Consumer groups of a topic as JSON; reset and delete one (cmd_groups.cc).
int run_groups(const Target& t, const std::string& topic);
int run_groups_reset(const GroupResetArgs& a);
int run_groups_delete(const Target& t, const std::string& topic, const std::string& group);
// Lance datasets of a topic on local disk, as JSON (cmd_inspect.cc).
int run_inspect(const std::string& data_dir, const std::string& topic);

// `compact`: compaction and version cleanup of a topic's Lance datasets now (cmd_compact.cc,
// docs/compaction.md).
struct CompactArgs {
  Target target;  // --data-dir: compact the files here; --server: the nodes that own the buckets
  std::string topic;
  std::optional<int64_t> bucket;                  // all buckets when empty
  std::optional<std::string> version_retention;   // seconds; the topic's setting when empty
};
int run_compact(const CompactArgs& a);
// Members, liveness, and (with a topic) bucket ownership, as JSON.
int run_cluster_status(const Target& t, const std::string& topic);
// Operator rebalance of a topic onto the members the node knows (docs/cli.md): dry_run prints
// the plan; rehearse copies, verifies and undoes. Prints the result as JSON.
int run_cluster_rebalance(const Target& t, const std::string& topic, bool dry_run, bool rehearse);
// Manual failover (docs/cluster.md, "Manual failover"): node becomes the bucket's leader at a
// new epoch. Prints the result as JSON.
int run_cluster_elect(const Target& t, const std::string& topic, uint32_t bucket, const std::string& node,
                      bool allow_unclean);
// Backup of a topic's files into a directory, its check, and restore (cmd_backup.cc,
// docs/backup.md).
int run_backup(const Target& t, const std::string& topic, const std::string& to);
// A remote Client for --server and the connection flags (cmd_data.cc).
Result<std::unique_ptr<Client>> open_client(const Target& t);
int run_backup_verify(const std::string& dir);
int run_restore(const std::string& from, const std::string& data_dir, const std::string& topic);
int run_bench(const BenchArgs& a);
int run_bench_remote(const Target& t, const RemoteBenchArgs& a);

// Prints "persisting: <message>" to stderr and returns 1.
int fail(const std::string& message);
// Runs fn with the Store of the target: an embedded Queue (--data-dir) or a cluster Client
// (--server); a failure to open it is printed and returns 1.
// flush_on_close: QueueOptions::flush_on_close of an embedded queue (a server's own setting
// applies to a --server target).
int with_store(const Target& t, const std::function<int(Store&)>& fn, bool flush_on_close = true);

}  // namespace persisting::cli
