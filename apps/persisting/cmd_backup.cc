// backup, backup verify, restore: a topic's files into a backup directory and back
// (docs/backup.md). The work is src/backup's; this file flushes first, prints and picks exit codes.
#include <chrono>
#include <iostream>

#include "apps/persisting/cluster_backup_source.h"
#include "apps/persisting/commands.h"
#include "net/node_lock.h"
#include "persisting/backup.h"
#include "persisting/json.h"
#include "persisting/queue.h"
#include "queue/topic_meta.h"
#include "queue/topic_settings.h"

namespace persisting::cli {

namespace {

Value buckets_json(const std::vector<backup::BackupBucket>& buckets) {
  List out;
  for (const auto& b : buckets)
    out.push_back(Object{{"bucket", static_cast<int64_t>(b.bucket)},
                         {"version", static_cast<int64_t>(b.version)},
                         {"first_offset", static_cast<int64_t>(b.first_offset)},
                         {"end_offset", static_cast<int64_t>(b.end_offset)}});
  return out;
}

Value strings_json(const std::vector<std::string>& v) {
  List out;
  for (const auto& s : v) out.push_back(s);
  return out;
}

// Makes every acknowledged record of the topic a Lance record when no other process writes it:
// opening the buckets to write recovers a killed writer's log into them, and the flush puts it in
// Lance (a process that only reads would serve those records from memory and flush nothing). A
// live writer in another process keeps its unflushed records (the buckets open as readers and
// flush nothing); the backup holds what it has flushed. A data dir a node serves is not opened at
// all (the node owns its log); the backup holds what the node flushed.
Status flush_what_we_can(const std::string& data_dir, const std::string& topic) {
  if (Status s = net::check_not_served_by_node(Env::Default(), data_dir); !s.ok()) {
    if (s.code() != Code::kFailedPrecondition) return s;  // not "served": the check itself failed
    std::cerr << "persisting: note: data dir '" << data_dir
              << "' is served by a persistingd node; the backup holds what the node has flushed to Lance\n";
    return Status::OK();
  }
  QueueOptions qo;
  qo.data_dir = data_dir;
  auto q = Queue::open(qo);
  if (!q.ok()) return q.status();
  auto info = (*q)->topic(topic);
  if (!info.ok()) return info.status();
  auto w = (*q)->writer(queue::writer_options(*info));  // the topic's own settings
  if (!w.ok()) return w.status();
  return (*q)->flush();
}

}  // namespace

int run_backup(const Target& t, const std::string& topic, const std::string& to) {
  auto start = std::chrono::steady_clock::now();
  auto copy_start = start;
  std::unique_ptr<Client> client;
  std::unique_ptr<backup::BackupSource> remote;
  if (!t.server.empty()) {
    // The nodes flush each bucket they own and stream its pinned version (docs/backup.md,
    // "Backup of a cluster"); bad input (an unknown topic, a memory topic) is refused before
    // anything is written.
    auto c = open_client(t);
    if (!c.ok()) return fail(c.status().to_string());
    client = std::move(*c);
    remote = std::make_unique<ClusterBackupSource>(client.get());
  } else {
    // Bad input (an unknown topic, a missing data dir) is refused before the flush opens anything.
    if (Status s = backup::check_backup_source(Env::Default(), t.data_dir, topic); !s.ok()) return fail(s.to_string());
    if (Status s = flush_what_we_can(t.data_dir, topic); !s.ok()) return fail(s.to_string());
    copy_start = std::chrono::steady_clock::now();
  }
  auto r = remote ? backup::backup_topic(Env::Default(), remote.get(), topic, to)
                  : backup::backup_topic(Env::Default(), t.data_dir, topic, to);
  if (!r.ok()) return fail(r.status().to_string());
  auto end = std::chrono::steady_clock::now();
  double secs = std::chrono::duration<double>(end - start).count();
  double copy_secs = std::chrono::duration<double>(end - copy_start).count();
  const auto& m = r->manifest;
  Object o{{"topic", m.topic},
           {"incarnation", queue::incarnation_text(m.incarnation)},
           {"to", to},
           {"created_at", m.created_at}};
  o.set("buckets", buckets_json(m.buckets));
  o.set("groups", strings_json(m.groups));
  o.set("files", static_cast<int64_t>(m.files.size()));
  o.set("files_copied", static_cast<int64_t>(r->files_copied));
  o.set("files_skipped", static_cast<int64_t>(r->files_skipped));
  o.set("files_removed", static_cast<int64_t>(r->files_removed));
  o.set("bytes_copied", static_cast<int64_t>(r->bytes_copied));
  o.set("bytes_skipped", static_cast<int64_t>(r->bytes_skipped));
  o.set("seconds", secs);            // all of it, opening the topic included
  o.set("copy_seconds", copy_secs);  // the copy alone (pin, copy, sync, backup.json; --server: all)
  std::cout << to_json(Value(std::move(o))) << "\n";
  return 0;
}

int run_backup_verify(const std::string& dir) {
  auto r = backup::verify_backup(Env::Default(), dir);
  if (!r.ok()) return fail(r.status().to_string());
  List problems;
  for (const auto& p : r->problems) problems.push_back(Object{{"path", p.path}, {"problem", p.what}});
  Object o{{"backup", dir},
           {"topic", r->manifest.topic},
           {"ok", r->ok()},
           {"files", static_cast<int64_t>(r->manifest.files.size())},
           {"files_checked", static_cast<int64_t>(r->files_checked)},
           {"bytes_checked", static_cast<int64_t>(r->bytes_checked)}};
  o.set("problems", std::move(problems));
  std::cout << to_json(Value(std::move(o))) << "\n";
  if (!r->ok()) {
    for (const auto& p : r->problems) fail(dir + "/" + p.path + ": " + p.what);
    return fail("backup '" + dir + "' fails verification: " + std::to_string(r->problems.size()) + " problem(s)");
  }
  return 0;
}

int run_restore(const std::string& from, const std::string& data_dir, const std::string& topic) {
  if (Status s = net::check_not_served_by_node(Env::Default(), data_dir); !s.ok()) return fail(s.to_string());
  auto r = backup::restore_topic(Env::Default(), from, data_dir, {.topic = topic});
  if (!r.ok()) return fail(r.status().to_string());
  for (const auto& c : r->clamped)
    std::cerr << "persisting: note: commit past the backup's end moved back to it: " << c << "\n";
  Object o{{"topic", r->info.topic},
           {"from_topic", r->manifest.topic},
           {"incarnation", queue::incarnation_text(r->info.incarnation)},
           {"data_dir", data_dir}};
  o.set("buckets", buckets_json(r->manifest.buckets));
  o.set("groups", strings_json(r->manifest.groups));
  o.set("files", static_cast<int64_t>(r->files));
  o.set("bytes", static_cast<int64_t>(r->bytes));
  std::cout << to_json(Value(std::move(o))) << "\n";
  return 0;
}

}  // namespace persisting::cli
