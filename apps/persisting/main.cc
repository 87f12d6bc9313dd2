// `persisting`: one binary, JSON Lines in and out. Exit 0 ok, 2 usage error, 1 failure; errors
// go to stderr. The only file that includes CLI11.
#include <CLI/CLI.hpp>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "apps/persisting/commands.h"
#include "core/status_macros.h"
#include "persisting/backend.h"
#include "queue/topic_meta.h"

using namespace persisting;

namespace {

// --option k=v, repeatable.
Status parse_options(const std::vector<std::string>& raw, Options* out) {
  for (const auto& kv : raw) {
    ASSIGN_OR_RETURN(auto pair, parse_option_assignment(kv));
    (*out)[pair.first] = pair.second;
  }
  return Status::OK();
}

// Flags of a command that talks to a node: --token or --token-file, --timeout. Declared once
// for every such command; resolve() checks them after parsing and fills the Target.
struct Connection {
  CLI::App* cmd = nullptr;
  cli::Target* target = nullptr;
  CLI::Option* token = nullptr;
  CLI::Option* token_file = nullptr;
  CLI::Option* timeout = nullptr;
  std::string token_path;
  double timeout_s = 0;
};

// server: the --server option these flags go with (they need it), or null when the command
// always talks to a node.
void add_connection(CLI::App* cmd, cli::Target* t, CLI::Option* server, Connection* c) {
  c->cmd = cmd;
  c->target = t;
  c->token = cmd->add_option("--token", t->token, "Access token (with --server; shows in ps: prefer --token-file)");
  c->token_file = cmd->add_option("--token-file", c->token_path, "Read the access token from this file (with --server)");
  c->token->excludes(c->token_file);
  c->timeout = cmd->add_option("--timeout", c->timeout_s, "Seconds each request to a node may take (with --server; default 10)")
                   ->check(CLI::Range(0.001, 86400.0));
  if (server != nullptr)
    for (auto* o : {c->token, c->token_file, c->timeout}) o->needs(server);
}

// After parsing: reads --token-file, refuses an empty token, sets the RPC timeout. False (the
// message printed) on a usage error.
bool resolve(Connection& c) {
  auto usage = [](const std::string& m) {
    std::cerr << "persisting: " << m << "\n";
    return false;
  };
  if (c.token->count() > 0 && c.target->token.empty())
    return usage("--token is empty (a token cannot be empty; leave the flag out to connect without one)");
  if (c.token_file->count() > 0) {
    if (std::error_code ec; std::filesystem::is_directory(c.token_path, ec))
      return usage("cannot read token file '" + c.token_path + "': is a directory");
    std::ifstream f(c.token_path);
    if (!f) return usage("cannot read token file '" + c.token_path + "': " + std::strerror(errno));
    std::stringstream text;
    text << f.rdbuf();
    std::string token = text.str();
    while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
    if (token.empty()) return usage("token file '" + c.token_path + "' is empty");
    c.target->token = std::move(token);
  }
  if (c.timeout->count() > 0)
    c.target->rpc_timeout = std::chrono::milliseconds(std::llround(c.timeout_s * 1000));
  return true;
}

// --option k=v: one value per flag, repeat the flag for more (like Kafka's --property), so a
// FILE after it stays the input even when its name has a '='.
CLI::Option* add_backend_options(CLI::App* cmd, std::vector<std::string>* raw) {
  return cmd->add_option("--option", *raw, "Backend option key=value (one per flag; repeat the flag for more)")
      ->allow_extra_args(false);
}

// --data-dir (embedded) or --server (a cluster node), exactly one; --token, --token-file,
// --timeout and --tls-ca go with --server.
void add_target(CLI::App* cmd, cli::Target* t, Connection* c) {
  auto* dir = cmd->add_option("--data-dir", t->data_dir, "Data directory (embedded queue)");
  auto* server = cmd->add_option("--server", t->server, "host:port of a persistingd node");
  dir->excludes(server);
  add_connection(cmd, t, server, c);
  cmd->add_option("--tls-ca", t->tls_ca, "CA file: connect with TLS (with --server)")->needs(server);
}

bool check_target(const cli::Target& t) {
  if (t.data_dir.empty() == t.server.empty()) {
    std::cerr << "persisting: give --data-dir DIR or --server HOST:PORT\n";
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"persisting: a persistent queue whose buckets land as Lance datasets"};
  app.require_subcommand(1);
  std::vector<std::string> plugins;
  app.add_option("--plugin", plugins, "Load backends from a shared library (repeatable)");

  app.add_subcommand("demo", "A producer and a consumer exchanging records on the embedded default");
  std::deque<Connection> connections;  // stable addresses: the options point into them
  auto conn = [&connections] { return &connections.emplace_back(); };

  cli::PutArgs put;
  std::vector<std::string> put_opts;
  auto* put_cmd = app.add_subcommand("put", "Append JSON Lines records to a topic");
  add_target(put_cmd, &put.target, conn());
  put_cmd->add_option("--topic", put.topic, "Topic")->required();
  put_cmd->add_option("--bucket-column", put.bucket_column, "Field that picks the bucket (new topics)");
  put_cmd->add_option("--num-buckets", put.num_buckets, "Buckets (new topics)")->check(CLI::Range(1, 65536));
  put_cmd->add_option("--backend", put.backend, "Backend (new topics; default persisting: WAL + Lance)");
  add_backend_options(put_cmd, &put_opts);
  put_cmd->add_option("--batch-size", put.batch_size, "Lines per batch")->check(CLI::Range(1, 1000000));
  put_cmd->add_option("--retention-records", put.retention.records,
                      "New topics: keep at least this many records per bucket; older whole fragments go")
      ->check(CLI::PositiveNumber);
  put_cmd->add_option("--retention-bytes", put.retention.bytes,
                      "New topics: keep at least this many bytes of data files per bucket")
      ->check(CLI::PositiveNumber);
  put_cmd->add_option("--retention-ms", put.retention.ms,
                      "New topics: a whole fragment goes once its newest record is older than this (ms)")
      ->check(CLI::PositiveNumber);
  std::optional<std::string> put_policy;
  put_cmd->add_option("--retention-policy", put_policy,
                      "New topics: 'limits' (default) or 'interest': also keep what a consumer group has not "
                      "committed (docs/retention.md)");
  put_cmd->add_option("--replication-factor", put.replication_factor,
                      "New topics: copies of each bucket, 1 (default), 3 or 5 (needs that many nodes)");
  put_cmd->add_flag("--flush", put.flush,
                    "Flush every bucket to Lance before exiting, so LanceDB sees the records at once "
                    "(default with the persisting backend: they stay in the write-ahead log until a "
                    "later process opens the topic)");
  put_cmd->add_option("--acks", put.acks,
                      "Replicated topics: acknowledged once the leader (leader) or every in-sync replica "
                      "(all, the default) has the records")
      ->check(CLI::IsMember({"leader", "all"}));
  put_cmd->add_option("input", put.input, "JSON Lines file, or - for stdin");

  cli::GetArgs get;
  auto* get_cmd = app.add_subcommand("get", "Read records of a topic as JSON Lines");
  add_target(get_cmd, &get.target, conn());
  get_cmd->add_option("--topic", get.topic, "Topic")->required();
  get_cmd->add_flag("--from-beginning", get.from_beginning, "Start at offset 0 (default: at the end)");
  get_cmd->add_option("--from-time", get.from_time,
                      "Start at the first record appended at or after this time: milliseconds since the epoch, "
                      "or ISO 8601 (2026-12-05T18:00:00Z; no zone: UTC)")
      ->excludes("--from-beginning");
  get_cmd->add_option("--limit", get.limit, "Stop after this many records");
  get_cmd->add_flag("--follow", get.follow, "Keep waiting for new records");
  get_cmd->add_flag("--with-position", get.with_position, "Print {\"bucket\",\"offset\",\"timestamp\",\"record\"} (timestamp: append time, ms since the epoch)");
  auto* bucket_opt = get_cmd->add_option("--bucket", get.bucket, "Read one bucket");
  auto* rank_opt = get_cmd->add_option("--rank", get.rank, "Read the buckets of this rank");
  auto* ws_opt = get_cmd->add_option("--world-size", get.world_size, "Number of ranks")->check(CLI::Range(1, 65536));
  bucket_opt->excludes(rank_opt);
  rank_opt->needs(ws_opt);
  ws_opt->needs(rank_opt);
  auto* group_opt = get_cmd->add_option("--group", get.group,
                                        "Consumer group: start at its commits, commit what is printed");
  get_cmd->add_option("--start", get.start, "With --group: where a bucket with no commit starts")
      ->check(CLI::IsMember({"earliest", "latest"}))->needs(group_opt);
  get_cmd->add_option("--commit-interval", get.commit_interval_s,
                      "With --group: seconds between auto-commits (default 5)")
      ->check(CLI::Range(0.001, 86400.0))->needs(group_opt);
  get_cmd->add_option("--session-timeout", get.session_timeout_s,
                      "With --group: seconds without a heartbeat before the group drops this reader (default 10)")
      ->check(CLI::Range(0.001, 86400.0))->needs(group_opt);
  group_opt->excludes("--from-beginning");
  group_opt->excludes("--from-time");

  cli::Target topics_target;
  auto* topics_cmd = app.add_subcommand("topics", "List topics as JSON");
  add_target(topics_cmd, &topics_target, conn());
  cli::Target tdelete_target;
  std::string tdelete_topic;
  auto* tdelete_cmd = topics_cmd->add_subcommand(
      "delete", "Delete a topic: its records, files and consumer groups (writers and readers of it get NotFound)");
  add_target(tdelete_cmd, &tdelete_target, conn());
  tdelete_cmd->add_option("--topic", tdelete_topic, "Topic")->required();
  cli::AlterArgs talter;
  auto* talter_cmd = topics_cmd->add_subcommand(
      "alter", "Change a topic's retention (docs/retention.md); prints the topic's settings");
  add_target(talter_cmd, &talter.target, conn());
  talter_cmd->add_option("--topic", talter.topic, "Topic")->required();
  talter_cmd->add_option("--retention-records", talter.retention_records,
                                        "Keep at least this many records per bucket, or 'none'");
  talter_cmd->add_option("--retention-bytes", talter.retention_bytes,
                                        "Keep at least this many bytes of data files per bucket, or 'none'");
  talter_cmd->add_option("--retention-ms", talter.retention_ms,
                         "Remove whole fragments whose newest record is older than this many ms, or 'none'");
  talter_cmd->add_option("--retention-policy", talter.retention_policy,
                         "'limits' or 'interest' (also keep what a consumer group has not committed)");

  cli::Target stats_target;
  std::string stats_topic;
  auto* stats_cmd = app.add_subcommand("stats", "Print a topic's stats as JSON");
  add_target(stats_cmd, &stats_target, conn());
  stats_cmd->add_option("--topic", stats_topic, "Topic")->required();

  // groups [--topic T] | groups reset ... | groups delete ...
  cli::Target groups_target;
  std::string groups_topic;
  auto* groups_cmd = app.add_subcommand("groups", "Consumer groups of a topic as JSON: members, commits, lag");
  add_target(groups_cmd, &groups_target, conn());
  groups_cmd->add_option("--topic", groups_topic, "Topic");
  cli::GroupResetArgs greset;
  auto* greset_cmd = groups_cmd->add_subcommand("reset", "Move a group's commits (only while it has no live members)");
  add_target(greset_cmd, &greset.target, conn());
  greset_cmd->add_option("--topic", greset.topic, "Topic")->required();
  greset_cmd->add_option("--group", greset.group, "Group")->required();
  greset_cmd->add_option("--to", greset.to, "earliest, latest or an offset (per bucket, at most its end)")->required();
  cli::Target gdelete_target;
  std::string gdelete_topic, gdelete_group;
  auto* gdelete_cmd = groups_cmd->add_subcommand("delete", "Forget a group and its commits (only while it has no live members)");
  add_target(gdelete_cmd, &gdelete_target, conn());
  gdelete_cmd->add_option("--topic", gdelete_topic, "Topic")->required();
  gdelete_cmd->add_option("--group", gdelete_group, "Group")->required();

  // backup --topic T --to DIR | backup verify DIR | restore --from DIR --data-dir D [--topic NEW]
  cli::Target backup_target;
  std::string backup_topic, backup_to;
  auto* backup_cmd = app.add_subcommand("backup", "Copy a topic's files (Lance datasets at a pinned version, "
                                                  "topic.json, group commits) into a backup directory");
  add_target(backup_cmd, &backup_target, conn());
  backup_cmd->add_option("--topic", backup_topic, "Topic");
  backup_cmd->add_option("--to", backup_to, "Backup directory (new, empty, or an earlier backup of the topic)");
  std::string verify_dir;
  auto* verify_cmd = backup_cmd->add_subcommand("verify", "Check every file of a backup against its backup.json");
  verify_cmd->add_option("dir", verify_dir, "Backup directory")->required();
  std::string restore_from, restore_dir, restore_topic;
  auto* restore_cmd = app.add_subcommand("restore", "Restore a topic from a backup directory (never over an existing topic)");
  restore_cmd->add_option("--from", restore_from, "Backup directory")->required();
  restore_cmd->add_option("--data-dir", restore_dir, "Data directory to restore into")->required();
  restore_cmd->add_option("--topic", restore_topic, "Name of the restored topic (default: the backed-up one)");

  std::string inspect_dir, inspect_topic;
  auto* inspect_cmd = app.add_subcommand("inspect", "Show a topic's Lance datasets: versions, fragments, schema, rows");
  inspect_cmd->add_option("--data-dir", inspect_dir, "Data directory")->required();
  inspect_cmd->add_option("--topic", inspect_topic, "Topic")->required();

  cli::CompactArgs compact;
  auto* compact_cmd = app.add_subcommand(
      "compact", "Merge a topic's small Lance fragments and remove old versions now (docs/compaction.md)");
  add_target(compact_cmd, &compact.target, conn());
  compact_cmd->add_option("--topic", compact.topic, "Topic")->required();
  compact_cmd->add_option("--bucket", compact.bucket, "Only this bucket");
  compact_cmd->add_option("--version-retention", compact.version_retention,
                          "Seconds a replaced version is kept (default: the topic's version_retention, 3600)");

  cli::BenchArgs bench;
  std::vector<std::string> bench_opts;
  auto* bench_cmd = app.add_subcommand("bench", "Throughput test: producers and consumers in one process");
  bench_cmd->add_option("--backend", bench.backend, "Backend");
  bench_cmd->add_option("--data-dir", bench.data_dir, "Data directory (default: a fresh temporary one)");
  add_backend_options(bench_cmd, &bench_opts);
  bench_cmd->add_option("--producers", bench.producers, "Producer threads")->check(CLI::Range(1, 256));
  bench_cmd->add_option("--consumers", bench.consumers, "Consumer threads")->check(CLI::Range(0, 256));
  bench_cmd->add_option("--duration", bench.duration_s, "Seconds of producing")->check(CLI::Range(0.1, 3600.0));
  bench_cmd->add_option("--batch-size", bench.batch_size, "Records per put")->check(CLI::Range(1, 1000000));
  bench_cmd->add_option("--record-size", bench.record_size, "Payload bytes per record")->check(CLI::Range(0, 16 << 20));
  bench_cmd->add_option("--fetch", bench.fetch, "Records per consumer get")->check(CLI::Range(1, 1000000));
  bench_cmd->add_option("--inflight", bench.inflight, "Puts each producer keeps in flight (1: blocking puts)")
      ->check(CLI::Range(1, 1024));
  bench_cmd->add_option("--num-buckets", bench.num_buckets, "Buckets")->check(CLI::Range(1, 65536));
  bench_cmd->add_flag("--json", bench.json, "Print one JSON object instead of progress and a table");
  // --server: one phase of the cluster benchmark (bench/cluster.sh), JSON out.
  cli::Target bench_target;
  cli::RemoteBenchArgs rbench;
  auto* bench_server = bench_cmd->add_option("--server", bench_target.server, "Benchmark a persistingd node");
  bench_server->excludes("--data-dir");
  add_connection(bench_cmd, &bench_target, bench_server, conn());
  bench_cmd->add_option("--phase", rbench.phase, "With --server: produce, consume or wakeup")->needs(bench_server);
  bench_cmd->add_option("--topic", rbench.topic, "With --server: topic")->needs(bench_server);
  bench_cmd->add_option("--replication-factor", rbench.replication_factor,
                        "With --server: a new topic's copies of each bucket, 1 (default), 3 or 5")
      ->check(CLI::IsMember({1, 3, 5}))->needs(bench_server);
  bench_cmd->add_option("--acks", rbench.acks, "With --server: leader or all (default all above factor 1)")
      ->check(CLI::IsMember({"leader", "all"}))->needs(bench_server);
  bench_cmd->add_option("--tag", rbench.tag, "With --server: record id prefix (one per client process)");
  bench_cmd->add_option("--rank", rbench.rank, "With --server --phase consume: rank")->needs(bench_server);
  bench_cmd->add_option("--world-size", rbench.world_size, "With --server --phase consume: ranks")
      ->check(CLI::Range(1, 65536))->needs(bench_server);
  bench_cmd->add_option("--samples", rbench.samples, "With --server --phase wakeup: samples")->needs(bench_server);
  bench_cmd->add_flag("--consume-after", bench.consume_after,
                      "Start the consumers when the producers are done: the consume rate of reading alone");
  bench_cmd->add_option("--group", bench.groups.group, "Consumers read as members of this consumer group");
  bench_cmd->add_option("--auto-commit-interval", bench.groups.auto_commit_interval_s,
                        "With --group: seconds between auto-commits")
      ->check(CLI::Range(0.001, 3600.0))->capture_default_str();
  bench_cmd->add_flag("--commit-each-get", bench.groups.commit_each_get,
                      "With --group: commit after every get, and report commit latency");
  bench_cmd->add_option("--max-records", rbench.max_records,
                        "Records per producer at most (with --server --phase consume: in all)");
  bench_cmd->add_option("--retention-records", bench.retention.records,
                        "Create the topic with this retention_records (docs/retention.md)")
      ->check(CLI::PositiveNumber)->excludes(bench_server);
  bench_cmd->add_option("--retention-bytes", bench.retention.bytes,
                        "Create the topic with this retention_bytes (docs/retention.md)")
      ->check(CLI::PositiveNumber)->excludes(bench_server);

  cli::Target cluster_target;
  std::string cluster_topic;
  auto* cluster_cmd = app.add_subcommand("cluster", "Cluster commands (persistingd nodes)");
  cluster_cmd->require_subcommand(1);
  auto* status_cmd = cluster_cmd->add_subcommand("status", "Members, liveness and bucket ownership as JSON");
  status_cmd->add_option("--server", cluster_target.server, "host:port of a persistingd node")->required();
  add_connection(status_cmd, &cluster_target, nullptr, conn());
  status_cmd->add_option("--tls-ca", cluster_target.tls_ca, "CA file: connect with TLS");
  status_cmd->add_option("--topic", cluster_topic, "Also show this topic's bucket owners");
  cli::Target rebalance_target;
  std::string rebalance_topic;
  bool rebalance_dry_run = false, rebalance_rehearse = false;
  auto* rebalance_cmd = cluster_cmd->add_subcommand(
      "rebalance", "Move a topic's buckets onto the members the node knows now (copy, fence, switch, delete)");
  rebalance_cmd->add_option("--server", rebalance_target.server, "host:port of a persistingd node")->required();
  add_connection(rebalance_cmd, &rebalance_target, nullptr, conn());
  rebalance_cmd->add_option("--tls-ca", rebalance_target.tls_ca, "CA file: connect with TLS");
  rebalance_cmd->add_option("--topic", rebalance_topic, "Topic")->required();
  auto* dry_flag = rebalance_cmd->add_flag("--dry-run", rebalance_dry_run, "Print the plan, change nothing");
  rebalance_cmd->add_flag("--rehearse", rebalance_rehearse,
                          "Fence, copy and verify every moving bucket, then undo it all")
      ->excludes(dry_flag);
  cli::Target elect_target;
  std::string elect_topic, elect_node;
  uint32_t elect_bucket = 0;
  bool elect_unclean = false;
  auto* elect_cmd = cluster_cmd->add_subcommand(
      "elect", "Make a replica the leader of a replicated bucket at a new epoch (manual failover)");
  elect_cmd->add_option("--server", elect_target.server, "host:port of a persistingd node")->required();
  add_connection(elect_cmd, &elect_target, nullptr, conn());
  elect_cmd->add_option("--tls-ca", elect_target.tls_ca, "CA file: connect with TLS");
  elect_cmd->add_option("--topic", elect_topic, "Topic")->required();
  elect_cmd->add_option("--bucket", elect_bucket, "Bucket")->required();
  elect_cmd->add_option("--node", elect_node, "The new leader's node id (one of the bucket's replicas)")->required();
  elect_cmd->add_flag("--allow-unclean", elect_unclean,
                      "Elect a replica that is not known to be in sync (records it lacks are lost)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  for (auto& c : connections)
    if (c.cmd->parsed() && !resolve(c)) return 2;

  for (const auto& p : plugins) {
    Status s = BackendRegistry::global().load_plugin(p);
    if (!s.ok()) return cli::fail(s.to_string());
  }
  if (app.got_subcommand("demo")) return cli::run_demo();
  if (app.got_subcommand(put_cmd)) {
    if (Status s = parse_options(put_opts, &put.options); !s.ok()) {
      std::cerr << "persisting: " << s.message() << "\n";
      return 2;
    }
    if (put_policy) {
      auto p = queue::parse_retention_policy(*put_policy, "--retention-policy");
      if (!p.ok()) {
        std::cerr << "persisting: " << p.status().message() << "\n";
        return 2;
      }
      put.retention.policy = *p;
    }
    if (!check_target(put.target)) return 2;
    return cli::run_put(put);
  }
  if (app.got_subcommand(get_cmd)) return check_target(get.target) ? cli::run_get(get) : 2;
  if (topics_cmd->got_subcommand(talter_cmd)) {
    if (!talter.retention_records && !talter.retention_bytes && !talter.retention_ms && !talter.retention_policy) {
      std::cerr << "persisting: topics alter needs --retention-records, --retention-bytes, --retention-ms or "
                   "--retention-policy\n";
      return 2;
    }
    return check_target(talter.target) ? cli::run_topics_alter(talter) : 2;
  }
  if (topics_cmd->got_subcommand(tdelete_cmd))
    return check_target(tdelete_target) ? cli::run_topics_delete(tdelete_target, tdelete_topic) : 2;
  if (app.got_subcommand(topics_cmd)) return check_target(topics_target) ? cli::run_topics(topics_target) : 2;
  if (app.got_subcommand(stats_cmd))
    return check_target(stats_target) ? cli::run_stats(stats_target, stats_topic) : 2;
  if (groups_cmd->got_subcommand(greset_cmd))
    return check_target(greset.target) ? cli::run_groups_reset(greset) : 2;
  if (groups_cmd->got_subcommand(gdelete_cmd))
    return check_target(gdelete_target) ? cli::run_groups_delete(gdelete_target, gdelete_topic, gdelete_group) : 2;
  if (app.got_subcommand(groups_cmd)) {
    if (groups_topic.empty()) {
      std::cerr << "persisting: groups: --topic is required\n";
      return 2;
    }
    return check_target(groups_target) ? cli::run_groups(groups_target, groups_topic) : 2;
  }
  if (backup_cmd->got_subcommand(verify_cmd)) return cli::run_backup_verify(verify_dir);
  if (app.got_subcommand(backup_cmd)) {
    if (backup_topic.empty() || backup_to.empty()) {
      std::cerr << "persisting: backup needs --topic T and --to DIR\n";
      return 2;
    }
    return check_target(backup_target) ? cli::run_backup(backup_target, backup_topic, backup_to) : 2;
  }
  if (app.got_subcommand(restore_cmd)) return cli::run_restore(restore_from, restore_dir, restore_topic);
  if (app.got_subcommand(inspect_cmd)) return cli::run_inspect(inspect_dir, inspect_topic);
  if (app.got_subcommand(compact_cmd)) return check_target(compact.target) ? cli::run_compact(compact) : 2;
  if (cluster_cmd->got_subcommand(elect_cmd))
    return cli::run_cluster_elect(elect_target, elect_topic, elect_bucket, elect_node, elect_unclean);
  if (cluster_cmd->got_subcommand(rebalance_cmd))
    return cli::run_cluster_rebalance(rebalance_target, rebalance_topic, rebalance_dry_run, rebalance_rehearse);
  if (app.got_subcommand(cluster_cmd)) return cli::run_cluster_status(cluster_target, cluster_topic);
  if (app.got_subcommand(bench_cmd)) {
    if (Status s = parse_options(bench_opts, &bench.options); !s.ok()) {
      std::cerr << "persisting: " << s.message() << "\n";
      return 2;
    }
    if (!bench_target.server.empty()) {
      rbench.producers = bench.producers;
      rbench.duration_s = bench.duration_s;
      rbench.batch_size = bench.batch_size;
      rbench.record_size = bench.record_size;
      rbench.fetch = bench.fetch;
      rbench.num_buckets = bench.num_buckets;
      rbench.backend = bench.backend;
      rbench.options = bench.options;
      rbench.groups = bench.groups;
      return cli::run_bench_remote(bench_target, rbench);
    }
    if (bench.groups.group.empty() && (bench_cmd->count("--commit-each-get") || bench_cmd->count("--auto-commit-interval"))) {
      std::cerr << "persisting: --commit-each-get and --auto-commit-interval need --group\n";
      return 2;
    }
    bench.max_records = rbench.max_records;
    return cli::run_bench(bench);
  }
  return 2;
}
