// What the peer benchmark clients (redis_bench.cc, nats_bench.cc) share with each other and with
// `persisting bench --server`: the flags, the records, the clock, and one JSON object per phase
// on stdout with the same fields, so bench/peers treats every system alike.
//
//   --server host:port  --phase produce|consume|wakeup  --stream NAME  --tag w0
//   --batch-size N  --record-size N  --duration S  --max-records N  --fetch N  --samples N
//   --storage file|memory (NATS only: the stream's storage when the client creates it)
//   --replicas N (NATS only: the stream's copies when the client creates it; 1, 3 or 5)
//   --group NAME (consume: share the stream with the other consumers of group NAME, each record
//                 to one of them: Redis XREADGROUP NOACK, NATS a shared durable pull consumer)
//   --rank R --world-size W (consume, Kafka: this consumer reads partitions p with p % W == R)
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "../../apps/persisting/wakeup_sampler.h"

namespace peers {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

struct Args {
  std::string host = "127.0.0.1", phase = "produce", stream = "bench", tag = "w0", storage = "file", group;
  int port = 0;
  uint32_t batch_size = 100, record_size = 0, fetch = 1000, samples = 2000, rank = 0, world_size = 1;
  uint32_t replicas = 1;
  double duration_s = 5;
  uint64_t max_records = 0;  // 0: bounded by duration only
};

[[noreturn]] inline void die(const std::string& message) {
  std::fprintf(stderr, "peer bench: %s\n", message.c_str());
  std::exit(1);
}

inline Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    if (i + 1 >= argc) die("flag " + k + " needs a value");
    std::string v = argv[++i];
    auto num = [&](auto& out) {
      char* end = nullptr;
      double d = std::strtod(v.c_str(), &end);
      if (end == v.c_str() || *end != '\0' || d < 0) die("bad number for " + k + ": " + v);
      out = static_cast<std::remove_reference_t<decltype(out)>>(d);
    };
    if (k == "--server") {
      auto colon = v.rfind(':');
      if (colon == std::string::npos) die("--server wants host:port");
      a.host = v.substr(0, colon);
      a.port = std::atoi(v.c_str() + colon + 1);
    } else if (k == "--phase") a.phase = v;
    else if (k == "--stream") a.stream = v;
    else if (k == "--tag") a.tag = v;
    else if (k == "--storage") a.storage = v;
    else if (k == "--group") a.group = v;
    else if (k == "--batch-size") num(a.batch_size);
    else if (k == "--record-size") num(a.record_size);
    else if (k == "--fetch") num(a.fetch);
    else if (k == "--samples") num(a.samples);
    else if (k == "--rank") num(a.rank);
    else if (k == "--world-size") num(a.world_size);
    else if (k == "--replicas") num(a.replicas);
    else if (k == "--duration") num(a.duration_s);
    else if (k == "--max-records") num(a.max_records);
    else die("unknown flag " + k);
  }
  if (a.port <= 0) die("--server host:port is required");
  if (a.batch_size == 0 || a.fetch == 0) die("--batch-size and --fetch must be positive");
  if (a.world_size == 0 || a.rank >= a.world_size) die("--rank must be below --world-size");
  return a;
}

// The benchmark record {"id":"<tag>_<i>","idx":<i>,"payload":"<N bytes>"} as JSON text (NATS
// message bodies); Redis stores the same three fields as stream entry fields.
inline std::string record_id(const Args& a, uint64_t i) { return a.tag + "_" + std::to_string(i); }

inline std::string record_json(const Args& a, uint64_t i, const std::string& payload) {
  return "{\"id\":\"" + record_id(a, i) + "\",\"idx\":" + std::to_string(i) + ",\"payload\":\"" + payload + "\"}";
}

// Runs put_batch(first_index, count) until duration_s passes or max_records are put; prints the
// produce JSON line. put_batch returns false on error (after printing it).
template <typename PutBatch>
void run_produce(const Args& a, PutBatch&& put_batch) {
  const uint64_t limit = a.max_records ? a.max_records : UINT64_MAX;
  uint64_t produced = 0;
  auto t0 = Clock::now();
  while (produced < limit && seconds_since(t0) < a.duration_s) {
    uint64_t n = std::min<uint64_t>(a.batch_size, limit - produced);
    if (!put_batch(produced, n)) die("produce failed after " + std::to_string(produced) + " records");
    produced += n;
  }
  double s = seconds_since(t0);
  std::printf("{\"phase\":\"produce\",\"produced\":%llu,\"seconds\":%.6f,\"records_per_s\":%.3f}\n",
              (unsigned long long)produced, s, double(produced) / s);
}

// Reads with get(limit) -> records returned until want records, max_records or duration_s.
// want == kShare (a consumer group): until a read comes back empty (the group has read
// everything); the time then ends at the last read that returned records.
constexpr uint64_t kShare = UINT64_MAX;

template <typename Get>
void run_consume(const Args& a, uint64_t want, Get&& get) {
  const bool share = want == kShare;
  if (a.max_records) want = std::min(want, a.max_records);
  uint64_t got = 0;
  auto t0 = Clock::now();
  auto last = t0;
  while (got < want && seconds_since(t0) < a.duration_s) {
    uint64_t n = get(std::min<uint64_t>(a.fetch, want - got));
    if (n == 0 && share) break;
    if (n == 0) die("consumer stalled at " + std::to_string(got) + " of " + std::to_string(want));
    got += n;
    last = Clock::now();
  }
  double s = std::chrono::duration<double>(last - t0).count();  // 0 when a group member got nothing
  std::printf("{\"phase\":\"consume\",\"consumed\":%llu,\"seconds\":%.6f,\"records_per_s\":%.3f}\n",
              (unsigned long long)got, s, s > 0 ? double(got) / s : 0.0);
}

// The wake-up test, timed as `persisting bench --phase wakeup` times it (the same sampler:
// one reader thread for every sample, parked in read_one(sample); put_one(sample) timed from its
// start to the reader's return).
template <typename ReadOne, typename PutOne>
void run_wakeup(const Args& a, ReadOne&& read_one, PutOne&& put_one) {
  std::vector<double> us = persisting::bench::sample_wakeups(a.samples, read_one, put_one,
                                                             [] { die("wake-up put failed"); });
  if (us.empty()) die("no wake-up measured");
  std::sort(us.begin(), us.end());
  auto pct = [&](double q) { return us[size_t(q * double(us.size() - 1))]; };
  std::printf("{\"phase\":\"wakeup\",\"samples\":%zu,\"p50_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f}\n", us.size(),
              pct(0.5), pct(0.99), us.back());
}

}  // namespace peers
