// The kill tests' child: puts batches into topic "k" (backend persisting, wal_sync_mode from
// argv, a small log so flushes and checkpoints happen all the time) from three threads, each into
// one bucket (its key), and after each acknowledged put prints "A <run> <thread> <first seq>
// <count>" on stdout.
// It runs until killed (or exits 3 after 60 s, which the parent reports as a failure).
//   queue_kill_child DATA_DIR MODE RUN SEED
#include <unistd.h>

#include <cstdio>
#include <mutex>
#include <random>
#include <thread>

#include "persisting/queue.h"

using namespace persisting;

int main(int argc, char** argv) {
  if (argc != 5) return 2;
  std::string dir = argv[1], mode = argv[2];
  int run = std::atoi(argv[3]);
  unsigned seed = static_cast<unsigned>(std::atoi(argv[4]));
  auto q = Queue::open({.data_dir = dir, .threads = 2});
  if (!q.ok()) {
    std::fprintf(stderr, "open: %s\n", q.status().to_string().c_str());
    return 1;
  }
  WriterOptions wo;
  wo.topic = "k";
  wo.bucket_column = "p";
  wo.num_buckets = 2;
  wo.batch_size = 50;
  wo.backend = "persisting";
  wo.backend_options = {{"wal_sync_mode", mode}, {"wal_sync_interval", "0.02"}, {"max_wal_size", "64K"}};
  auto w = (*q)->writer(wo);
  if (!w.ok()) {
    std::fprintf(stderr, "writer: %s\n", w.status().to_string().c_str());
    return 1;
  }
  std::mutex out_mu;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(seed * 7 + t);
      std::string key = "r" + std::to_string(run) + "t" + std::to_string(t);
      int64_t seq = 0;
      while (std::chrono::steady_clock::now() < deadline) {
        int n = 1 + static_cast<int>(rng() % 20);
        std::vector<Record> batch;
        for (int i = 0; i < n; ++i)
          batch.push_back(Record{{"p", key}, {"run", run}, {"t", t}, {"seq", seq + i},
                                 {"pad", std::string(rng() % 64, 'x')}});
        Status s = (*w)->put(batch);
        // A full log (the flushes it asked for have not freed a segment yet) refuses the put and
        // changes nothing: a producer tries again (bounded).
        for (int attempt = 0; attempt < 2000 && s.code() == Code::kResourceExhausted; ++attempt) {
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
          s = (*w)->put(batch);
        }
        if (!s.ok()) {
          std::fprintf(stderr, "put: %s\n", s.to_string().c_str());
          std::_Exit(1);
        }
        char line[96];
        int len = std::snprintf(line, sizeof line, "A %d %d %lld %d\n", run, t, static_cast<long long>(seq), n);
        {
          std::lock_guard<std::mutex> lock(out_mu);
          if (::write(STDOUT_FILENO, line, static_cast<size_t>(len)) != len) std::_Exit(1);
        }
        seq += n;
      }
    });
  }
  for (auto& th : threads) th.join();
  return 3;  // never killed: the parent treats this as a failure
}
