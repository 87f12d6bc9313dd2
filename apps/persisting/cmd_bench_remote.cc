// `persisting bench --server`: one phase of the cluster benchmark (bench/cluster.sh runs several
// client processes against one persistingd and adds them up). Prints one JSON object.
//   produce: producers put batches of bench records {"id":"<tag>_<i>","idx":i,"payload":<N bytes>}
//            (id "<tag>.<p>_<i>" with several producers) for --duration seconds or
//            --max-records records each, into a topic made with --backend/--option if new;
//   consume: a rank/world_size reader reads its buckets from offset 0 up to the counts the topic
//            had when the phase started (at most --max-records, at most --duration seconds);
//   wakeup:  a reader parked in get(wait) on an empty bucket, a writer puts one record; the time
//            from the put's start to the get's return, --samples times (p50/p99).
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "apps/persisting/commands.h"
#include "apps/persisting/wakeup_sampler.h"
#include "persisting/client.h"
#include "persisting/json.h"

namespace persisting::cli {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

WriterOptions writer_options(const RemoteBenchArgs& a, std::string topic, uint32_t num_buckets) {
  WriterOptions wo{.topic = std::move(topic), .bucket_column = "id", .num_buckets = num_buckets,
                   .backend = a.backend, .backend_options = a.options, .replication_factor = a.replication_factor};
  if (a.acks == "leader") wo.acks = Acks::kLeader;
  else if (a.acks == "all") wo.acks = Acks::kAll;
  return wo;
}

Result<std::unique_ptr<Client>> connect(const Target& t) {
  ClientOptions o;
  o.server = t.server;
  o.token = t.token;
  o.tls_ca_file = t.tls_ca;
  if (t.rpc_timeout.count() > 0) o.rpc_timeout = t.rpc_timeout;
  return Client::connect(o);
}

int produce(const Target& t, const RemoteBenchArgs& a) {
  const std::string payload(a.record_size, 'x');
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> produced{0};
  std::vector<Status> errors(a.producers);
  std::vector<std::thread> threads;
  auto t0 = Clock::now();
  for (unsigned p = 0; p < a.producers; ++p) {
    threads.emplace_back([&, p] {
      auto c = connect(t);
      if (!c.ok()) return void(errors[p] = c.status());
      auto w = (*c)->writer(writer_options(a, a.topic, a.num_buckets));
      if (!w.ok()) return void(errors[p] = w.status());
      std::string prefix = a.tag + (a.producers > 1 ? "." + std::to_string(p) : "") + "_";
      const uint64_t limit = a.max_records ? a.max_records : UINT64_MAX;
      std::vector<Record> batch;
      for (uint64_t i = 0; i < limit && !stop.load(std::memory_order_relaxed);) {
        batch.clear();
        for (uint32_t k = 0; k < a.batch_size && i < limit; ++k, ++i)
          batch.push_back(Record{{"id", prefix + std::to_string(i)}, {"idx", int64_t(i)}, {"payload", payload}});
        Status s = (*w)->put(batch);
        if (!s.ok()) return void(errors[p] = s);
        produced.fetch_add(batch.size(), std::memory_order_relaxed);
      }
    });
  }
  // Until the duration passes or every producer has put its max_records.
  auto until = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(a.duration_s));
  while (Clock::now() < until && (a.max_records == 0 || produced.load() < a.max_records * a.producers))
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  stop = true;
  for (auto& th : threads) th.join();
  double s = seconds_since(t0);
  for (const auto& e : errors)
    if (!e.ok()) return fail("producer: " + e.to_string());
  std::cout << to_json(Value(Object{{"phase", "produce"},
                                    {"produced", int64_t(produced.load())},
                                    {"seconds", s},
                                    {"records_per_s", double(produced.load()) / s}}))
            << "\n";
  return 0;
}

int consume(const Target& t, const RemoteBenchArgs& a) {
  auto c = connect(t);
  if (!c.ok()) return fail(c.status().to_string());
  auto stats = (*c)->stats(a.topic);
  if (!stats.ok()) return fail(stats.status().to_string());
  uint64_t want = 0;
  for (const auto& b : stats->find("buckets")->as_list()) {
    const Object& o = b.as_object();
    if (uint32_t(o.find("bucket")->as_int()) % a.world_size == a.rank) want += uint64_t(o.find("total_count")->as_int());
  }
  if (a.max_records) want = std::min(want, a.max_records);
  ReaderOptions ro{.topic = a.topic, .rank = a.rank, .world_size = a.world_size};
  apply_group(a.groups, &ro);
  auto r = (*c)->reader(ro);
  if (!r.ok()) return fail(r.status().to_string());
  CommitTimer commits(a.groups);
  uint64_t got = 0;
  auto t0 = Clock::now();
  while (got < want && seconds_since(t0) < a.duration_s) {
    auto msgs = (*r)->get(std::min<uint64_t>(a.fetch, want - got), /*wait=*/true, std::chrono::seconds(5));
    if (!msgs.ok()) return fail(msgs.status().to_string());
    if (msgs->empty()) return fail("consumer stalled at " + std::to_string(got) + " of " + std::to_string(want));
    if (Status cs = commits.after_get(**r, msgs->size()); !cs.ok()) return fail("commit: " + cs.to_string());
    got += msgs->size();
  }
  if (Status cs = (*r)->close(); !cs.ok()) return fail("close: " + cs.to_string());  // a group's last commit
  double s = seconds_since(t0);
  Object out{{"phase", "consume"}, {"consumed", int64_t(got)}, {"seconds", s}, {"records_per_s", double(got) / s}};
  if (!a.groups.group.empty()) out.set("group", a.groups.group);
  add_commit_stats({&commits}, s, &out);
  std::cout << to_json(Value(out)) << "\n";
  return 0;
}

int wakeup(const Target& t, const RemoteBenchArgs& a) {
  auto c = connect(t);
  if (!c.ok()) return fail(c.status().to_string());
  std::string topic = a.topic + "-wakeup";
  auto w = (*c)->writer(writer_options(a, topic, 1));
  if (!w.ok()) return fail(w.status().to_string());
  auto r = (*c)->reader({.topic = topic});
  if (!r.ok()) return fail(r.status().to_string());
  {  // start at the end
    auto st = (*c)->stats(topic);
    if (!st.ok()) return fail(st.status().to_string());
    if (Status s = (*r)->set_offset(Offset(uint64_t(st->find("total_count")->as_int()))); !s.ok())
      return fail(s.to_string());
  }
  auto us = bench::sample_wakeups(
      a.samples,
      [&](uint32_t) {
        auto m = (*r)->get(1, /*wait=*/true, std::chrono::seconds(10));
        return m.ok() && !m->empty();
      },
      [&](uint32_t i) {
        auto p = (*w)->put(Record{{"id", int64_t(i)}});
        if (!p.ok()) std::cerr << "persisting: wake-up put: " << p.status().to_string() << "\n";
        return p.ok();
      },
      [] { std::_Exit(1); });  // the reader is parked for a record that will not come
  if (us.empty()) return fail("no wake-up measured");
  std::sort(us.begin(), us.end());
  auto pct = [&](double q) { return us[size_t(q * double(us.size() - 1))]; };
  std::cout << to_json(Value(Object{{"phase", "wakeup"},
                                    {"samples", int64_t(us.size())},
                                    {"p50_us", pct(0.5)},
                                    {"p99_us", pct(0.99)},
                                    {"max_us", us.back()}}))
            << "\n";
  return 0;
}

}  // namespace

int run_bench_remote(const Target& t, const RemoteBenchArgs& a) {
  if (a.phase == "produce") return produce(t, a);
  if (a.phase == "consume") return consume(t, a);
  if (a.phase == "wakeup") return wakeup(t, a);
  return fail("unknown bench phase '" + a.phase + "' (produce, consume, wakeup)");
}

}  // namespace persisting::cli
