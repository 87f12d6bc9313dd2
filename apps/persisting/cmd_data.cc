// put, get, topics, stats: JSON Lines in and out of a data directory.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>

#include "apps/persisting/commands.h"
#include "apps/persisting/put_progress.h"
#include "core/status_macros.h"
#include "net/node_lock.h"
#include "persisting/backend.h"
#include "persisting/client.h"
#include "persisting/json.h"
#include "persisting/queue.h"
#include "queue/topic_meta.h"

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
  // Which life of the name this is (docs/architecture.md, "Deleting a topic").
  o.set("incarnation", queue::incarnation_text(t.incarnation));
  Object opts;
  for (const auto& [k, v] : t.backend_options) opts.set(k, v);
  o.set("options", std::move(opts));
  if (t.retention.any()) {
    Object r;
    if (t.retention.records) r.set("records", static_cast<int64_t>(*t.retention.records));
    if (t.retention.bytes) r.set("bytes", static_cast<int64_t>(*t.retention.bytes));
    if (t.retention.ms) r.set("ms", static_cast<int64_t>(*t.retention.ms));
    if (t.retention.policy == RetentionPolicy::kInterest) {
      r.set("policy", "interest");
      // docs/retention.md, "Interest".
      r.set("note", std::string("kept until every consumer group has committed past it; with no group, ") +
                        (t.retention.limits() ? "the limits alone" : "everything is kept"));
    }
    o.set("retention", std::move(r));
  }
  if (t.replication_factor != 1) o.set("replication_factor", static_cast<int64_t>(t.replication_factor));
  return o;
}

// A data dir a persistingd node serves is the node's: going around it would race its writes and
// its recovery, so the embedded queue refuses it and points at --server.
Result<std::unique_ptr<Queue>> open_queue(const std::string& data_dir, bool flush_on_close) {
  RETURN_IF_ERROR(net::check_not_served_by_node(Env::Default(), data_dir));
  QueueOptions qo;
  qo.data_dir = data_dir;
  qo.flush_on_close = flush_on_close;
  return Queue::open(qo);
}

}  // namespace

Result<std::unique_ptr<Client>> open_client(const Target& t) {
  ClientOptions co;
  co.server = t.server;
  co.token = t.token;
  co.tls_ca_file = t.tls_ca;
  co.tls = !t.tls_ca.empty();
  if (t.rpc_timeout.count() > 0) co.rpc_timeout = t.rpc_timeout;
  return Client::connect(co);
}

namespace {

int put_lines(Store& q, const PutArgs& a) {
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
  wo.retention = a.retention;
  if (a.replication_factor) {
    // 0 would read as "not given" below the CLI: refused here with the others.
    if (!queue::valid_replication_factor(*a.replication_factor))
      return fail("--replication-factor must be 1, 3 or 5, got " + std::to_string(*a.replication_factor));
    wo.replication_factor = *a.replication_factor;
  }
  if (a.acks == "leader") wo.acks = Acks::kLeader;
  else if (a.acks == "all") wo.acks = Acks::kAll;
  auto w = q.open_writer(wo);
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
  // that stores them.
  const TopicInfo& info = (*w)->topic();
  auto wal = info.backend_options.find("enable_wal");
  const bool acked_means_stored = !info.durable || (info.backend == "persisting" &&
                                                     (wal == info.backend_options.end() || wal->second != "false"));
  PutProgress progress(/*track_offsets=*/!acked_means_stored);
  auto say = [](const std::vector<std::string>& messages) {
    for (const auto& m : messages) fail(m);
    return 1;
  };
  std::vector<Record> batch;
  std::vector<uint64_t> lines;  // parallel to batch: input line numbers
  auto write_batch = [&]() -> bool {
    if (batch.empty()) return true;
    PutReport report;
    Status s = (*w)->put(batch, &report, &lines);
    if (!s.ok()) {
      say(progress.batch_failed(s, report, lines));
      return false;
    }
    progress.acknowledged(report, lines);
    batch.clear();
    lines.clear();
    return true;
  };
  std::string line;
  uint64_t line_no = 0;
  while (std::getline(*in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto rec = parse_json_record(line);
    if (!rec.ok()) return say(progress.bad_line(line_no, rec.status().message(), lines.empty() ? line_no : lines.front()));
    batch.push_back(std::move(rec).value());
    lines.push_back(line_no);
    if (batch.size() >= a.batch_size && !write_batch()) return 1;
  }
  if (!write_batch()) return 1;
  // Acknowledged records the log holds need no flush to be kept; --flush makes LanceDB see them.
  const bool flush = !acked_means_stored || a.flush;
  if (Status f = flush ? (*w)->flush() : Status::OK(); !f.ok()) {
    if (!acked_means_stored) {
      // Which lines are not on disk: those at or past each bucket's persisted count.
      std::map<uint32_t, uint64_t> persisted;
      if (auto stats = q.stats(a.topic); stats.ok())
        for (const auto& b : stats->find("buckets")->as_list()) {
          const Value* id = b.as_object().find("bucket");
          const Value* p = b.as_object().find("persisted");
          if (id && id->is_int() && p && p->is_int())
            persisted[static_cast<uint32_t>(id->as_int())] = static_cast<uint64_t>(p->as_int());
        }
      return say({"flush failed: " + f.to_string(), progress.flush_lost(info.backend, persisted)});
    }
    std::cerr << "persisting: warning: " << f.to_string() << " (the " << progress.written()
              << " records are acknowledged: they are in the write-ahead log and reach Lance at a later flush)\n";
  }
  std::cerr << "persisting: wrote " << progress.written() << " records to topic '" << a.topic << "'\n";
  return 0;
}

// SIGINT/SIGTERM during `get --group --follow`: stop reading, commit, leave.
volatile std::sig_atomic_t g_stop = 0;
extern "C" void on_stop_signal(int) { g_stop = 1; }

int get_records(Store& q, const GetArgs& a) {
  ReaderOptions ro;
  ro.topic = a.topic;
  if (a.bucket) ro.buckets = {*a.bucket};
  if (a.rank) {
    ro.rank = a.rank;
    ro.world_size = a.world_size;
  }
  const bool grouped = !a.group.empty();
  if (grouped) {
    ro.group = a.group;
    ro.start = a.start == "latest" ? OffsetReset::kLatest : OffsetReset::kEarliest;
    // Auto-commit: a get commits what the gets before it returned, which is printed by then.
    ro.auto_commit = true;
    ro.auto_commit_interval = std::chrono::milliseconds(std::llround(a.commit_interval_s * 1000));
    ro.session_timeout = std::chrono::milliseconds(std::llround(a.session_timeout_s * 1000));
    if (a.follow) {
      std::signal(SIGINT, on_stop_signal);
      std::signal(SIGTERM, on_stop_signal);
    }
  }
  std::optional<int64_t> from_time;
  if (a.from_time) {
    auto t = parse_time_arg(*a.from_time);
    if (!t.ok()) {
      std::cerr << "persisting: --from-time: " << t.status().message() << "\n";
      return 2;
    }
    from_time = *t;
  }
  auto r = q.open_reader(ro);
  if (!r.ok()) return fail(r.status().to_string());
  auto& reader = **r;
  if (from_time) {
    if (Status s = reader.seek_to_time(*from_time); !s.ok()) return fail(s.to_string());
  } else if (!a.from_beginning && !grouped) {
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
    if (g_stop) break;
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
               std::to_string(m.offset.value()) + ",\"timestamp\":" + std::to_string(m.timestamp) +
               ",\"record\":";
        to_json(Value(m.record), &out);
        out += "}\n";
      } else {
        out += to_json(m.record);
        out += '\n';
      }
    }
    std::cout << out << std::flush;
    if (!std::cout) {
      // Not printed, so not to be committed (closing the reader commits its offsets): back to
      // the first record of this batch in each bucket.
      std::map<uint32_t, uint64_t> first;
      for (const auto& m : *msgs) first.emplace(m.bucket.value(), m.offset.value());
      for (const auto& [b, o] : first) (void)reader.set_offset(Offset(o), BucketId(b));  // a covered bucket
      return fail("cannot write to stdout" + std::string(grouped ? ": the records not printed are not committed" : ""));
    }
    printed += msgs->size();
  }
  // The last commit (close commits with auto-commit on): everything printed, and the position
  // even when nothing was printed (so --start latest keeps its place). A crash before it prints
  // the records since the previous commit again next time (at-least-once).
  if (grouped)
    if (Status c = reader.close(); !c.ok()) return fail(c.to_string());
  return 0;
}

}  // namespace

// Every command is written once, against the Store interface (store.h).
int with_store(const Target& t, const std::function<int(Store&)>& fn, bool flush_on_close) {
  if (!t.server.empty()) {
    auto c = open_client(t);
    if (!c.ok()) return fail(c.status().to_string());
    return fn(**c);
  }
  auto q = open_queue(t.data_dir, flush_on_close);
  if (!q.ok()) return fail(q.status().to_string());
  return fn(**q);
}

int run_put(const PutArgs& a) {
  // The input is checked before the queue is opened: a put that cannot read it changes nothing.
  if (a.input != "-") {
    std::error_code ec;
    if (std::filesystem::is_directory(a.input, ec)) return fail("cannot read input '" + a.input + "': is a directory");
    if (std::ifstream f(a.input); !f) return fail("cannot read input '" + a.input + "': " + std::strerror(errno));
  }
  // Without --flush, records the write-ahead log holds stay there at exit (the next process to
  // open a bucket flushes them to Lance): no fragment per bucket at every put.
  return with_store(a.target, [&](Store& q) { return put_lines(q, a); }, /*flush_on_close=*/a.flush);
}

Result<int64_t> parse_time_arg(const std::string& text) {
  const auto bad = [&](const std::string& why) {
    return InvalidArgument("'" + text + "' is not a time (" + why +
                           "): give milliseconds since the Unix epoch or ISO 8601 such as 2026-12-05T18:00:00Z");
  };
  if (text.empty()) return bad("empty");
  if (text.find_first_not_of("0123456789") == std::string::npos) {
    if (text.size() > 18) return bad("too large");
    return static_cast<int64_t>(std::stoll(text));
  }
  // YYYY-MM-DD[THH:MM[:SS[.fff]]][Z|+HH:MM|-HH:MM]
  size_t p = 0;
  auto digits = [&](size_t n, int* out) {
    if (p + n > text.size()) return false;
    int v = 0;
    for (size_t k = 0; k < n; ++k) {
      const char c = text[p + k];
      if (c < '0' || c > '9') return false;
      v = v * 10 + (c - '0');
    }
    *out = v;
    p += n;
    return true;
  };
  auto lit = [&](char c) {
    if (p < text.size() && text[p] == c) {
      ++p;
      return true;
    }
    return false;
  };
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, ms = 0;
  if (!digits(4, &y) || !lit('-') || !digits(2, &mo) || !lit('-') || !digits(2, &d)) return bad("no YYYY-MM-DD date");
  if (lit('T') || lit(' ')) {
    if (!digits(2, &h) || !lit(':') || !digits(2, &mi)) return bad("no HH:MM after the date");
    if (lit(':')) {
      if (!digits(2, &s)) return bad("bad seconds");
      if (lit('.')) {
        const size_t start = p;
        int frac = 0;
        while (p < text.size() && text[p] >= '0' && text[p] <= '9') {
          if (p - start < 3) frac = frac * 10 + (text[p] - '0');
          ++p;
        }
        if (p == start) return bad("bad fraction of a second");
        for (size_t k = p - start; k < 3; ++k) frac *= 10;
        ms = frac;
      }
    }
  }
  int64_t offset_min = 0;
  if (lit('Z') || lit('z')) {
  } else if (p < text.size() && (text[p] == '+' || text[p] == '-')) {
    const int sign = text[p++] == '-' ? -1 : 1;
    int oh = 0, om = 0;
    if (!digits(2, &oh) || !lit(':') || !digits(2, &om) || oh > 23 || om > 59) return bad("bad zone offset");
    offset_min = sign * (oh * 60 + om);
  }
  if (p != text.size()) return bad("unexpected '" + text.substr(p) + "'");
  static const int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > kDays[mo - 1] || (mo == 2 && d == 29 && !leap) || h > 23 ||
      mi > 59 || s > 59)
    return bad("out of range");
  // Days since 1970-01-01 of the civil date (proleptic Gregorian).
  const int yy = mo <= 2 ? y - 1 : y;
  const int era = yy / 400;
  const int yoe = yy - era * 400;
  const int doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const int64_t days = static_cast<int64_t>(era) * 146097 + doe - 719468;
  const int64_t t = ((days * 24 + h) * 60 + mi - offset_min) * 60 + s;
  if (t < 0) return bad("before 1970");
  return t * 1000 + ms;
}

int run_get(const GetArgs& a) {
  return with_store(a.target, [&](Store& q) { return get_records(q, a); });
}

int run_topics(const Target& t) {
  return with_store(t, [&](Store& q) {
    auto topics = q.topics();
    if (!topics.ok()) return fail(topics.status().to_string());
    List l;
    for (const auto& info : *topics) l.push_back(topic_json(info));
    std::cout << to_json(Value(std::move(l))) << "\n";
    return 0;
  });
}

int run_topics_delete(const Target& t, const std::string& topic) {
  return with_store(t, [&](Store& q) {
    if (Status s = q.delete_topic(topic); !s.ok()) return fail(s.to_string());
    std::cerr << "persisting: deleted topic '" << topic << "'\n";
    return 0;
  });
}

// "none" (no limit) or a positive decimal integer.
Status parse_limit(const std::string& flag, const std::string& text, std::optional<uint64_t>* out) {
  if (text == "none") {
    out->reset();
    return Status::OK();
  }
  uint64_t v = 0;
  bool ok = !text.empty() && text.size() <= 19;
  for (char c : text) {
    if (c < '0' || c > '9') ok = false;
    else v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (!ok || v == 0) return InvalidArgument(flag + " must be a positive integer or 'none', got '" + text + "'");
  *out = v;
  return Status::OK();
}

int run_topics_alter(const AlterArgs& a) {
  return with_store(a.target, [&](Store& q) {
    auto info = q.topic(a.topic);
    if (!info.ok()) return fail(info.status().to_string());
    Retention r = info->retention;
    if (a.retention_records) {
      if (Status s = parse_limit("--retention-records", *a.retention_records, &r.records); !s.ok()) {
        std::cerr << "persisting: " << s.message() << "\n";
        return 2;
      }
    }
    if (a.retention_bytes) {
      if (Status s = parse_limit("--retention-bytes", *a.retention_bytes, &r.bytes); !s.ok()) {
        std::cerr << "persisting: " << s.message() << "\n";
        return 2;
      }
    }
    if (a.retention_ms) {
      if (Status s = parse_limit("--retention-ms", *a.retention_ms, &r.ms); !s.ok()) {
        std::cerr << "persisting: " << s.message() << "\n";
        return 2;
      }
    }
    if (a.retention_policy) {
      auto p = queue::parse_retention_policy(*a.retention_policy, "--retention-policy");
      if (!p.ok()) {
        std::cerr << "persisting: " << p.status().message() << "\n";
        return 2;
      }
      r.policy = *p;
    }
    if (Status s = q.alter_topic(a.topic, r); !s.ok()) return fail(s.to_string());
    auto now = q.topic(a.topic);
    if (!now.ok()) return fail(now.status().to_string());
    std::cout << to_json(topic_json(*now)) << "\n";
    return 0;
  });
}

int run_stats(const Target& t, const std::string& topic) {
  return with_store(t, [&](Store& q) {
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

int run_cluster_elect(const Target& t, const std::string& topic, uint32_t bucket, const std::string& node,
                      bool allow_unclean) {
  auto c = open_client(t);
  if (!c.ok()) return fail(c.status().to_string());
  auto r = (*c)->elect_leader(topic, bucket, node, allow_unclean);
  if (!r.ok()) return fail(r.status().to_string());
  std::cout << to_json(*r) << "\n";
  return 0;
}

}  // namespace persisting::cli
