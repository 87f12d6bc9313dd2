// `persisting bench`: the seed project's throughput test in one process.
// Producers put batches of records {"id":"w<p>_<i>","idx":<i>,"payload":"<record_size bytes>"}
// for --duration seconds; consumers (rank c of world_size = consumers) read until they have
// consumed everything produced, so consumed == produced.
#include <algorithm>
#include <atomic>
#include <deque>
#include <future>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <thread>
#include <unistd.h>

#include "apps/persisting/bench_disk.h"
#include "apps/persisting/commands.h"
#include "core/status_macros.h"
#include "persisting/codec.h"
#include "persisting/json.h"
#include "persisting/queue.h"

namespace persisting::cli {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Fills batch with batch_size bench records of producer p, numbering from *i.
void make_batch(std::vector<Record>* batch, const std::string& prefix, const std::string& payload,
                uint32_t batch_size, uint64_t* i) {
  batch->clear();
  for (uint32_t k = 0; k < batch_size; ++k, ++*i) {
    Record r;
    r.reserve(3);
    r.append_unchecked("id", prefix + std::to_string(*i));
    r.append_unchecked("idx", static_cast<int64_t>(*i));
    r.append_unchecked("payload", payload);
    batch->push_back(std::move(r));
  }
}

// The same-run baseline: `threads` threads build records, encode them and decode them again
// for `seconds`, with no queue in between. It is the ceiling the queue is measured against:
// the work any queue of these records must do at least once, on this machine, right now.
double codec_baseline(unsigned threads, double seconds, uint32_t batch_size, const std::string& payload) {
  std::atomic<uint64_t> done{0};
  auto t0 = Clock::now();
  auto until = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::vector<std::thread> ts;
  for (unsigned t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      std::vector<Record> batch;
      RecordBatch encoded;
      uint64_t i = 0, n = 0;
      std::string prefix = "b" + std::to_string(t) + "_";
      while (Clock::now() < until) {
        make_batch(&batch, prefix, payload, batch_size, &i);
        encoded.clear();
        for (const auto& r : batch) encoded.add(r);
        auto back = encoded.decode_all();
        if (back.ok()) n += back->size();
      }
      done += n;
    });
  }
  for (auto& t : ts) t.join();
  return static_cast<double>(done.load()) / seconds_since(t0);
}

// This disk's physical bounds, measured in dir with the same Env calls the WAL makes:
// fdatasyncs per second (4 KiB appended before each) and sequential write bandwidth (1 MiB
// appends, one fdatasync at the end), each for about `seconds`.
struct DiskBaseline {
  double fsyncs_per_s = 0;
  double seq_write_mb_per_s = 0;
};

Result<DiskBaseline> measure_disk(const std::string& dir, double seconds) {
  Env* env = Env::Default();
  RETURN_IF_ERROR(env->create_dirs(dir));
  std::string path = join_path(dir, "disk-baseline.tmp");
  DiskBaseline out;
  {
    ASSIGN_OR_RETURN(auto f, env->new_writable_file(path, /*truncate=*/true));
    std::string block(4096, 'f');
    auto t0 = Clock::now();
    uint64_t n = 0;
    while (seconds_since(t0) < seconds / 2 && n < 1'000'000) {
      RETURN_IF_ERROR(f->append(block));
      RETURN_IF_ERROR(f->sync());
      ++n;
    }
    out.fsyncs_per_s = n / seconds_since(t0);
  }
  {
    ASSIGN_OR_RETURN(auto f, env->new_writable_file(path, /*truncate=*/true));
    std::string chunk(1 << 20, 's');
    auto t0 = Clock::now();
    uint64_t bytes = 0;
    while (seconds_since(t0) < seconds / 2 && bytes < (4ull << 30)) {
      RETURN_IF_ERROR(f->append(chunk));
      bytes += chunk.size();
    }
    RETURN_IF_ERROR(f->sync());
    out.seq_write_mb_per_s = bytes / 1e6 / seconds_since(t0);
  }
  RETURN_IF_ERROR(env->remove_file(path));
  return out;
}

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  size_t k = static_cast<size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}

}  // namespace

int run_bench(const BenchArgs& a) {
  std::string data_dir = a.data_dir;
  bool temp_dir = false;
  if (data_dir.empty()) {
    auto base = std::filesystem::temp_directory_path() / ("persisting-bench-" + std::to_string(::getpid()));
    data_dir = base.string();
    temp_dir = true;
  }
  uint32_t buckets = std::max<uint32_t>(a.num_buckets, a.consumers);
  int rc = 0;
  {
    auto q = Queue::open({.data_dir = data_dir});
    if (!q.ok()) return fail(q.status().to_string());
    WriterOptions wo;
    wo.topic = "bench";
    wo.num_buckets = buckets;
    wo.batch_size = std::max<uint32_t>(a.batch_size, 1000);
    wo.backend = a.backend;
    wo.backend_options = a.options;
    wo.retention = a.retention;
    auto writer = (*q)->writer(wo);
    if (!writer.ok()) return fail(writer.status().to_string());
    std::vector<std::unique_ptr<QueueReader>> readers;
    std::vector<CommitTimer> commit_timers(a.consumers, CommitTimer(a.groups));
    for (unsigned c = 0; c < a.consumers; ++c) {
      ReaderOptions ro{.topic = "bench", .rank = c, .world_size = a.consumers};
      apply_group(a.groups, &ro);
      auto r = (*q)->reader(ro);
      if (!r.ok()) return fail(r.status().to_string());
      readers.push_back(std::move(r).value());
    }

    const std::string payload(a.record_size, 'x');
    if (!a.json) std::fprintf(stderr, "  measuring the codec baseline (1 s)...\n");
    double baseline = codec_baseline(std::max(1u, a.producers), 1.0, a.batch_size, payload);
    std::optional<DiskBaseline> disk;
    if ((*writer)->topic().durable) {
      if (!a.json) std::fprintf(stderr, "  measuring this disk: fdatasync rate and sequential writes (2 s)...\n");
      auto d = measure_disk(data_dir, 2.0);
      if (!d.ok()) return fail("disk baseline: " + d.status().to_string());
      disk = *d;
    }
    std::atomic<bool> stop{false}, producers_done{false};
    std::atomic<unsigned> producers_running{a.producers};
    std::atomic<uint64_t> produced{0}, consumed{0}, produced_bytes{0};
    std::vector<std::vector<double>> latencies(a.producers);
    std::vector<Status> producer_errors(a.producers), consumer_errors(a.consumers);
    auto t0 = Clock::now();

    std::vector<std::thread> producers;
    for (unsigned p = 0; p < a.producers; ++p) {
      producers.emplace_back([&, p] {
        std::vector<Record> batch;
        std::string prefix = "w" + std::to_string(p) + "_";
        uint64_t i = 0;
        struct InFlight {
          Clock::time_point start;
          size_t records;
          std::future<Status> ack;
        };
        std::deque<InFlight> window;
        auto settle_oldest = [&]() -> bool {
          InFlight f = std::move(window.front());
          window.pop_front();
          Status s = f.ack.get();
          latencies[p].push_back(std::chrono::duration<double, std::micro>(Clock::now() - f.start).count());
          if (!s.ok()) {
            producer_errors[p] = s;
            return false;
          }
          produced.fetch_add(f.records, std::memory_order_relaxed);
          produced_bytes.fetch_add(f.records * payload.size(), std::memory_order_relaxed);
          return true;
        };
        struct Done {
          std::atomic<unsigned>* running;
          ~Done() { running->fetch_sub(1); }
        } done{&producers_running};
        while (!stop.load(std::memory_order_relaxed) && (a.max_records == 0 || i < a.max_records)) {
          const uint64_t n = a.max_records == 0 ? a.batch_size : std::min<uint64_t>(a.batch_size, a.max_records - i);
          make_batch(&batch, prefix, payload, static_cast<uint32_t>(n), &i);
          // Up to --inflight puts outstanding; the oldest is waited for first (like a Kafka
          // producer's max in-flight requests). Latency: submit to acknowledgement.
          window.push_back({Clock::now(), batch.size(), (*writer)->put_async(batch)});
          if (window.size() >= a.inflight && !settle_oldest()) return;
        }
        while (!window.empty())
          if (!settle_oldest()) return;
      });
    }
    std::vector<std::thread> consumers;
    std::atomic<unsigned> consumers_running{a.consumers};
    Clock::time_point consume_t0 = t0;
    auto start_consumers = [&] {
      for (unsigned c = 0; c < a.consumers; ++c) {
        consumers.emplace_back([&, c] {
          for (;;) {
            if (producers_done.load() && consumed.load() >= produced.load()) break;
            auto msgs = readers[c]->get(a.fetch, /*wait=*/true, std::chrono::milliseconds(50));
            if (!msgs.ok()) {
              consumer_errors[c] = msgs.status();
              break;
            }
            if (Status s = commit_timers[c].after_get(*readers[c], msgs->size()); !s.ok()) {
              consumer_errors[c] = s;
              break;
            }
            consumed.fetch_add(msgs->size(), std::memory_order_relaxed);
          }
          // A group member's last commit (with auto-commit) and leave, inside the measured time.
          if (Status s = readers[c]->close(); !s.ok() && consumer_errors[c].ok()) consumer_errors[c] = s;
          consumers_running.fetch_sub(1);
        });
      }
    };
    if (!a.consume_after) start_consumers();

    // Progress once a second (to stderr) while producing, then stop the producers (at the
    // deadline, or when --max-records ended them all). A durable topic's disk use is sampled too.
    const bool durable = (*writer)->topic().durable;
    uint64_t peak_disk = 0, peak_topic_disk = 0;  // the data dir; the topic's directory (no WAL)
    auto deadline = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(a.duration_s));
    while (Clock::now() < deadline && producers_running.load() > 0) {
      std::this_thread::sleep_until(std::min(deadline, Clock::now() + std::chrono::seconds(1)));
      if (durable) {
        peak_disk = std::max(peak_disk, disk_bytes(data_dir));
        peak_topic_disk = std::max(peak_topic_disk, disk_bytes(join_path(data_dir, "bench")));
      }
      if (!a.json)
        std::fprintf(stderr, "  t=%5.1fs  produced %12llu  consumed %12llu\n", seconds_since(t0),
                     static_cast<unsigned long long>(produced.load()),
                     static_cast<unsigned long long>(consumed.load()));
    }
    stop = true;
    for (auto& t : producers) t.join();
    double produce_s = seconds_since(t0);
    producers_done = true;
    if (a.consume_after) {  // --consume-after: the consumers read what is there, alone
      consume_t0 = Clock::now();
      start_consumers();
    }
    // Consumers drain everything; bounded so a bug cannot hang the bench forever.
    auto drain_deadline = Clock::now() + std::chrono::seconds(120);
    while (consumers_running.load() > 0 && Clock::now() < drain_deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    double consume_s = seconds_since(consume_t0);
    if (consumers_running.load() > 0) {
      stop = true;
      std::cerr << "persisting: consumers did not drain within 120 s\n";
      for (auto& t : consumers) t.detach();
      std::_Exit(1);
    }
    for (auto& t : consumers) t.join();
    for (const auto& s : producer_errors)
      if (!s.ok()) return fail("producer: " + s.to_string());
    for (const auto& s : consumer_errors)
      if (!s.ok()) return fail("consumer: " + s.to_string());
    // Disk use against the data the buckets hold, once the queue has closed (its last flushes,
    // retention and cleanups done): data dir bytes on disk, at the end and at the peak sampled.
    std::optional<Object> disk_use;
    if (durable && (a.backend == "persisting" || a.backend == "lance")) {
      readers.clear();
      writer->reset();
      q->reset();
      const uint64_t end_disk = disk_bytes(data_dir);
      auto kept = retained_data(data_dir, "bench", buckets);
      if (!kept.ok()) return fail("disk use: " + kept.status().to_string());
      peak_disk = std::max(peak_disk, end_disk);
      disk_use = Object{{"disk_bytes", static_cast<int64_t>(end_disk)},
                        {"peak_disk_bytes", static_cast<int64_t>(peak_disk)},
                        {"peak_topic_disk_bytes", static_cast<int64_t>(peak_topic_disk)},
                        {"retained_records", static_cast<int64_t>(kept->records)},
                        {"retained_data_bytes", static_cast<int64_t>(kept->bytes)},
                        {"disk_to_retained", kept->bytes ? double(end_disk) / double(kept->bytes) : 0.0},
                        {"peak_disk_to_retained", kept->bytes ? double(peak_disk) / double(kept->bytes) : 0.0}};
    }

    std::vector<double> all;
    for (auto& v : latencies) all.insert(all.end(), v.begin(), v.end());
    double p50 = percentile(all, 0.50), p99 = percentile(all, 0.99);
    // Bytes per record: the JSON-equivalent size of the record, as the seed's bench counts it.
    double rec_bytes = static_cast<double>(produced_bytes.load()) / std::max<uint64_t>(1, produced.load());
    double overhead = 30;  // id, idx and field names
    double mb = (rec_bytes + overhead) / 1e6;
    uint64_t prod = produced.load(), cons = consumed.load();
    double prod_rate = prod / produce_s, cons_rate = a.consumers ? cons / consume_s : 0;

    Object result{{"backend", a.backend},
                  {"producers", static_cast<int64_t>(a.producers)},
                  {"consumers", static_cast<int64_t>(a.consumers)},
                  {"batch_size", static_cast<int64_t>(a.batch_size)},
                  {"inflight", static_cast<int64_t>(a.inflight)},
                  {"record_size", static_cast<int64_t>(a.record_size)},
                  {"duration_s", a.duration_s},
                  {"produced", static_cast<int64_t>(prod)},
                  {"consumed", static_cast<int64_t>(cons)},
                  {"produce_records_per_s", prod_rate},
                  {"consume_records_per_s", cons_rate},
                  {"produce_mb_per_s", prod_rate * mb},
                  {"consume_mb_per_s", cons_rate * mb},
                  {"put_p50_us", p50},
                  {"put_p99_us", p99},
                  {"codec_baseline_records_per_s", baseline},
                  {"produce_ratio_to_baseline", prod_rate / baseline},
                  {"consume_ratio_to_baseline", cons_rate / baseline}};
    if (!a.groups.group.empty()) {
      result.set("group", a.groups.group);
      result.set("auto_commit_interval_s", a.groups.auto_commit_interval_s);
      std::vector<const CommitTimer*> timers;
      for (const auto& t : commit_timers) timers.push_back(&t);
      add_commit_stats(timers, consume_s, &result);
    }
    if (a.retention.records) result.set("retention_records", static_cast<int64_t>(*a.retention.records));
    if (a.retention.bytes) result.set("retention_bytes", static_cast<int64_t>(*a.retention.bytes));
    if (disk_use) {
      for (const auto& [k, v] : *disk_use) result.set(std::string(k), v);
    }
    if (disk) {
      // Durable modes against the physical bounds measured in the same run.
      result.set("disk_fsyncs_per_s", disk->fsyncs_per_s);
      result.set("disk_seq_write_mb_per_s", disk->seq_write_mb_per_s);
      result.set("produce_records_per_fsync", prod_rate / disk->fsyncs_per_s);
      result.set("produce_fraction_of_seq_write", prod_rate * mb / disk->seq_write_mb_per_s);
    }
    if (a.json) {
      std::cout << to_json(result) << "\n";
    } else {
      std::printf("\n%-24s %s\n", "backend", a.backend.c_str());
      std::printf("%-24s %u x batch %u, record %u B\n", "producers", a.producers, a.batch_size, a.record_size);
      std::printf("%-24s %u x fetch %u%s%s\n", "consumers", a.consumers, a.fetch,
                  a.groups.group.empty() ? "" : ", group ", a.groups.group.c_str());
      if (const Value* n = result.find("commits"))
        std::printf("%-24s %lld, %.0f/s, p50 %.1f us  p99 %.1f us\n", "commits", static_cast<long long>(n->as_int()),
                    result.find("commits_per_s")->as_double(), result.find("commit_p50_us")->as_double(),
                    result.find("commit_p99_us")->as_double());
      std::printf("%-24s %llu in %.2f s\n", "produced", static_cast<unsigned long long>(prod), produce_s);
      std::printf("%-24s %llu in %.2f s\n", "consumed", static_cast<unsigned long long>(cons), consume_s);
      std::printf("%-24s %.0f records/s  (%.1f MB/s)\n", "produce rate", prod_rate, prod_rate * mb);
      std::printf("%-24s %.0f records/s  (%.1f MB/s)\n", "consume rate", cons_rate, cons_rate * mb);
      std::printf("%-24s p50 %.1f us  p99 %.1f us\n", "put latency", p50, p99);
      std::printf("%-24s %.0f records/s (build+encode+decode, no queue, %u threads)\n",
                  "codec baseline", baseline, std::max(1u, a.producers));
      std::printf("%-24s produce %.2f  consume %.2f\n", "ratio to baseline", prod_rate / baseline,
                  cons_rate / baseline);
      if (disk_use) {
        std::printf("%-24s %.1f MB at the end (peak %.1f MB); the buckets hold %.1f MB in %lld records: %.2fx (peak %.2fx)\n",
                    "data dir on disk", disk_use->find("disk_bytes")->as_int() / 1e6,
                    disk_use->find("peak_disk_bytes")->as_int() / 1e6,
                    disk_use->find("retained_data_bytes")->as_int() / 1e6,
                    static_cast<long long>(disk_use->find("retained_records")->as_int()),
                    disk_use->find("disk_to_retained")->as_double(), disk_use->find("peak_disk_to_retained")->as_double());
      }
      if (disk) {
        std::printf("%-24s %.0f fdatasync/s, %.0f MB/s sequential\n", "this disk", disk->fsyncs_per_s,
                    disk->seq_write_mb_per_s);
        std::printf("%-24s %.1f records per fdatasync the disk can do, %.0f%% of its write bandwidth\n",
                    "against the disk", prod_rate / disk->fsyncs_per_s, 100 * prod_rate * mb / disk->seq_write_mb_per_s);
      }
    }
    if (a.consumers > 0 && cons != prod) rc = fail("consumed " + std::to_string(cons) + " != produced " + std::to_string(prod));
  }
  if (temp_dir) std::filesystem::remove_all(data_dir);
  return rc;
}

}  // namespace persisting::cli
