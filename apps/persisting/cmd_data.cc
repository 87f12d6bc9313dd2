// put, get, topics, stats: JSON Lines in and out of a data directory.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include "apps/persisting/commands.h"
#include "core/status_macros.h"
#include "net/node_lock.h"
#include "persisting/backend.h"
#include "persisting/client.h"
#include "persisting/json.h"
#include "persisting/queue.h"

namespace persisting::cli {

int fail(const std::string& message) {
  std::cerr << "persisting: " << message << "\n";
  return 1;
}

namespace {

Value topic_json(const TopicInfo& t) {
  Object o{{"topic", t.topic},
           {"bucket_column", t.bucket_column},
           {"num_buckets", static_cast<int64_t>(t.num_buckets)},
           {"batch_size", static_cast<int64_t>(t.batch_size)},
           {"backend", t.backend},
           {"durable", t.durable}};
  Object opts;
  for (const auto& [k, v] : t.backend_options) opts.set(k, v);
  o.set("options", std::move(opts));
  return o;
}

// A data dir a persistingd node serves is the node's: going around it would race its writes and
// its recovery, so the embedded queue refuses it and points at --server.
Result<std::unique_ptr<Queue>> open_queue(const std::string& data_dir) {
  RETURN_IF_ERROR(net::check_not_served_by_node(Env::Default(), data_dir));
  QueueOptions qo;
  qo.data_dir = data_dir;
  return Queue::open(qo);
}

Result<std::unique_ptr<Client>> open_client(const Target& t) {
  ClientOptions co;
  co.server = t.server;
  co.token = t.token;
  co.tls_ca_file = t.tls_ca;
  co.tls = !t.tls_ca.empty();
  if (t.rpc_timeout.count() > 0) co.rpc_timeout = t.rpc_timeout;
  return Client::connect(co);
}

// Runs fn with an embedded Queue (--data-dir) or a cluster Client (--server): both have the
// same writer/reader/stats/topics calls.
template <typename Fn>
int with_queue(const Target& t, Fn fn) {
  if (!t.server.empty()) {
    auto c = open_client(t);
    if (!c.ok()) return fail(c.status().to_string());
    return fn(**c);
  }
  auto q = open_queue(t.data_dir);
  if (!q.ok()) return fail(q.status().to_string());
  return fn(**q);
}

// "line 4" or "lines 1-3,5,7-9" (ls ascending).
std::string line_list(const std::vector<uint64_t>& ls) {
  std::string out;
  for (size_t i = 0; i < ls.size();) {
    size_t j = i;
    while (j + 1 < ls.size() && ls[j + 1] == ls[j] + 1) ++j;
    out += (out.empty() ? "" : ",") + std::to_string(ls[i]) + (j > i ? "-" + std::to_string(ls[j]) : "");
    i = j + 1;
  }
  return (ls.size() == 1 ? "line " : "lines ") + out;
}

template <typename Q>
int put_lines(Q& q, const PutArgs& a) {
  WriterOptions wo;
  wo.topic = a.topic;
  // New topics made from the command line are durable by default (the library's default
  // stays memory, as in the seed).
  wo.backend = "persisting";
  if (auto existing = q.topic(a.topic); existing.ok()) {
    // Settings not given on the command line come from the topic, so a plain
    // `put --topic T` appends to T whatever it was created with.
    wo.bucket_column = existing->bucket_column;
    wo.num_buckets = existing->num_buckets;
    wo.backend = existing->backend;
  }
  if (a.bucket_column) wo.bucket_column = *a.bucket_column;
  if (a.num_buckets) wo.num_buckets = *a.num_buckets;
  if (a.backend) wo.backend = *a.backend;
  wo.batch_size = a.batch_size;
  wo.backend_options = a.options;
  auto w = q.writer(wo);
  if (!w.ok()) return fail(w.status().to_string());
  if (!(*w)->topic().durable && a.target.server.empty())
    std::cerr << "persisting: warning: topic '" << a.topic << "' uses the non-durable backend '"
              << (*w)->topic().backend
              << "': its records live only in this process and are gone when it exits\n";

  std::ifstream file;
  std::istream* in = &std::cin;
  if (a.input != "-") {
    file.open(a.input);
    if (!file) return fail("cannot open input file '" + a.input + "'");
    in = &file;
  }
  // The persisting backend acknowledges a record once it is in its WAL: a failed flush to Lance
  // loses nothing (it is retried). Other backends (lance) acknowledge records before the flush
  // that stores them: for those, where each line landed is kept, to tell which a failed flush lost.
  const TopicInfo& info = (*w)->topic();
  auto wal = info.backend_options.find("enable_wal");
  const bool acked_means_stored = !info.durable || (info.backend == "persisting" &&
                                                     (wal == info.backend_options.end() || wal->second != "false"));
  struct Landed {
    uint64_t line;
    uint32_t bucket;
    uint64_t offset;
  };
  std::vector<Landed> landed;
  std::vector<Record> batch;
  std::vector<uint64_t> lines;  // parallel to batch: input line numbers
  uint64_t line_no = 0, written = 0;
  // What the records before the failure became: how many were acknowledged, the first line not.
  auto summary = [&](uint64_t acked, uint64_t first_not_written) {
    return std::to_string(acked) + " records acknowledged; first input line not written: " +
           std::to_string(first_not_written);
  };
  auto write_batch = [&]() -> bool {
    if (batch.empty()) return true;
    PutReport report;
    Status s = (*w)->put(batch, &report, &lines);
    if (s.ok()) {
      if (!acked_means_stored)
        for (const auto& p : report.parts)
          for (size_t k = 0; k < p.records.size(); ++k)
            landed.push_back(Landed{lines[p.records[k]], p.bucket.value(), p.first.value() + k});
      written += batch.size();
      batch.clear();
      lines.clear();
      return true;
    }
    const std::string span = lines.size() == 1 ? "line " + std::to_string(lines.front())
                                               : "lines " + std::to_string(lines.front()) + "-" + std::to_string(lines.back());
    if (report.refused || report.acknowledged() == 0) {
      fail(span + ": " + s.to_string() + (report.refused ? " (records are numbered by input line)" : "; nothing of " + span + " was written"));
      fail(summary(written, lines.front()));
      return false;
    }
    // Some buckets took their records, others did not: say which lines are which, per bucket.
    uint64_t first_not = UINT64_MAX;
    for (const auto& p : report.parts) {
      std::vector<uint64_t> ls;
      for (size_t i : p.records) ls.push_back(lines[i]);
      std::string where = "bucket " + std::to_string(p.bucket.value()) + (p.owner.empty() ? "" : ", owner " + p.owner);
      if (p.acknowledged) {
        std::cerr << "persisting: " << line_list(ls) << " (" << where << "): written\n";
      } else {
        fail(line_list(ls) + " (" + where + "): not written: " + p.status.to_string());
        first_not = std::min(first_not, ls.front());
      }
    }
    fail(summary(written + report.acknowledged(), first_not));
    return false;
  };
  std::string line;
  while (std::getline(*in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto rec = parse_json_record(line);
    if (!rec.ok()) {
      fail("line " + std::to_string(line_no) + ": " + rec.status().message() + " (nothing of lines " +
           std::to_string(lines.empty() ? line_no : lines.front()) + "-" + std::to_string(line_no) +
           " was written; " + std::to_string(written) + " records before them were)");
      return fail(summary(written, lines.empty() ? line_no : lines.front()));
    }
    batch.push_back(std::move(rec).value());
    lines.push_back(line_no);
    if (batch.size() >= a.batch_size && !write_batch()) return 1;
  }
  if (!write_batch()) return 1;
  Status f = (*w)->flush();
  if (!f.ok()) {
    if (acked_means_stored) {
      std::cerr << "persisting: warning: " << f.to_string() << " (the " << written
                << " records are acknowledged: they are in the write-ahead log and reach Lance at a later flush)\n";
    } else {
      // Which lines are not on disk: those at or past each bucket's persisted count.
      auto stats = q.stats(a.topic);
      std::map<uint32_t, uint64_t> persisted;
      if (stats.ok())
        for (const auto& b : stats->find("buckets")->as_list()) {
          const Object& o = b.as_object();
          const Value* id = o.find("bucket");
          const Value* p = o.find("persisted");
          if (id && id->is_int() && p && p->is_int())
            persisted[static_cast<uint32_t>(id->as_int())] = static_cast<uint64_t>(p->as_int());
        }
      std::vector<uint64_t> lost;
      for (const auto& l : landed)
        if (!persisted.count(l.bucket) || l.offset >= persisted[l.bucket]) lost.push_back(l.line);
      std::sort(lost.begin(), lost.end());
      fail("flush failed: " + f.to_string());
      return fail("backend '" + (*w)->topic().backend +
                  "' keeps a record only once it is flushed: " + (lost.empty() ? std::string("no lines") : line_list(lost)) +
                  " of this put are not on disk; " + std::to_string(written - lost.size()) +
                  " records acknowledged and stored" +
                  (lost.empty() ? "" : "; first input line not written: " + std::to_string(lost.front())));
    }
  }
  std::cerr << "persisting: wrote " << written << " records to topic '" << a.topic << "'\n";
  return 0;
}

template <typename Q>
int get_records(Q& q, const GetArgs& a) {
  ReaderOptions ro;
  ro.topic = a.topic;
  if (a.bucket) ro.buckets = {*a.bucket};
  if (a.rank) {
    ro.rank = a.rank;
    ro.world_size = a.world_size;
  }
  auto r = q.reader(ro);
  if (!r.ok()) return fail(r.status().to_string());
  auto& reader = **r;
  if (!a.from_beginning) {
    // Start at the current end of each bucket, like a console consumer without --from-beginning.
    auto stats = q.stats(a.topic);
    if (!stats.ok()) return fail(stats.status().to_string());
    const Value* buckets = stats->find("buckets");
    for (const auto& b : buckets->as_list()) {
      const Object& o = b.as_object();
      BucketId id(static_cast<uint32_t>(o.find("bucket")->as_int()));
      uint64_t total = static_cast<uint64_t>(o.find("total_count")->as_int());
      (void)reader.set_offset(Offset(total), id);  // buckets the reader does not cover: ignored
    }
  }
  uint64_t printed = 0;
  std::string out;
  for (;;) {
    size_t want = 1000;
    if (a.limit) {
      if (printed >= *a.limit) break;
      want = static_cast<size_t>(std::min<uint64_t>(want, *a.limit - printed));
    }
    auto msgs = reader.get(want, /*wait=*/a.follow, std::chrono::milliseconds(500));
    if (!msgs.ok()) return fail(msgs.status().to_string());
    if (msgs->empty()) {
      if (a.follow) continue;
      break;
    }
    out.clear();
    for (const auto& m : *msgs) {
      if (a.with_position) {
        out += "{\"bucket\":" + std::to_string(m.bucket.value()) + ",\"offset\":" +
               std::to_string(m.offset.value()) + ",\"record\":";
        to_json(Value(m.record), &out);
        out += "}\n";
      } else {
        out += to_json(m.record);
        out += '\n';
      }
    }
    std::cout << out << std::flush;
    printed += msgs->size();
  }
  return 0;
}

}  // namespace

int run_put(const PutArgs& a) {
  // The input is checked before the queue is opened: a put that cannot read it changes nothing.
  if (a.input != "-") {
    std::error_code ec;
    if (std::filesystem::is_directory(a.input, ec)) return fail("cannot read input '" + a.input + "': is a directory");
    if (std::ifstream f(a.input); !f) return fail("cannot read input '" + a.input + "': " + std::strerror(errno));
  }
  return with_queue(a.target, [&](auto& q) { return put_lines(q, a); });
}

int run_get(const GetArgs& a) {
  return with_queue(a.target, [&](auto& q) { return get_records(q, a); });
}

int run_topics(const Target& t) {
  return with_queue(t, [&](auto& q) {
    auto topics = q.topics();
    if (!topics.ok()) return fail(topics.status().to_string());
    List l;
    for (const auto& info : *topics) l.push_back(topic_json(info));
    std::cout << to_json(Value(std::move(l))) << "\n";
    return 0;
  });
}

int run_stats(const Target& t, const std::string& topic) {
  return with_queue(t, [&](auto& q) {
    auto stats = q.stats(topic);
    if (!stats.ok()) return fail(stats.status().to_string());
    std::cout << to_json(*stats) << "\n";
    // Against a cluster with an owner down: the live buckets are printed, the rest is an error.
    if (const Value* errors = stats->find("errors"); errors && errors->is_list()) {
      for (const auto& e : errors->as_list())
        if (const Value* why = e.as_object().find("error"); why && why->is_string())
          fail("stats incomplete: " + why->as_string());
      return 1;
    }
    return 0;
  });
}

int run_cluster_status(const Target& t, const std::string& topic) {
  auto c = open_client(t);
  if (!c.ok()) return fail(c.status().to_string());
  auto st = (*c)->cluster_status(topic);
  if (!st.ok()) return fail(st.status().to_string());
  std::cout << to_json(*st) << "\n";
  return 0;
}

int run_cluster_rebalance(const Target& t, const std::string& topic, bool dry_run, bool rehearse) {
  auto c = open_client(t);
  if (!c.ok()) return fail(c.status().to_string());
  auto r = (*c)->rebalance(topic, {.dry_run = dry_run, .rehearse = rehearse});
  if (!r.ok()) return fail(r.status().to_string());
  std::cout << to_json(*r) << "\n";
  return 0;
}

}  // namespace persisting::cli
