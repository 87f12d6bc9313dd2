// Helper for kill_test.cc: appends to a WAL until it is killed, and reports every acknowledged
// append on stdout (one line written with one write(), after append returned):
//   A <first offset> <count> <tag>     records <tag>-0 .. <tag>-(count-1) hold offsets first..
//   C <offset>                          checkpoint(offset) returned OK
// Usage: wal_kill_child <dir> <always|interval> <run id> <seed>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "storage/wal/wal.h"
#include "tests/wal/kill_record.h"

using namespace persisting;
using namespace persisting::wal;

namespace {

using testing::say;

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: wal_kill_child <dir> <always|interval> <run id> <seed>\n");
    return 2;
  }
  const std::string dir = argv[1];
  auto mode = parse_sync_mode(argv[2]);
  if (!mode.ok()) {
    std::fprintf(stderr, "%s\n", mode.status().to_string().c_str());
    return 2;
  }
  const std::string run = argv[3];
  const unsigned seed = static_cast<unsigned>(std::strtoul(argv[4], nullptr, 10));

  WalOptions o;
  o.sync_mode = *mode;
  o.sync_interval_s = 0.002;
  o.max_segment_size = 32 << 10;  // rotate often, so kills land in rotations too
  auto w = Wal::open(dir, o, [](Offset, std::string_view) { return Status::OK(); }, nullptr);
  if (!w.ok()) {
    std::fprintf(stderr, "open: %s\n", w.status().to_string().c_str());
    return 1;
  }
  Wal* wal = w->get();
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([wal, t, &run, seed] {
      std::mt19937 rng(seed * 31 + static_cast<unsigned>(t));
      for (uint64_t seq = 0;; ++seq) {
        const std::string tag = "r" + run + "t" + std::to_string(t) + "b" + std::to_string(seq);
        // Thread 2 now and then writes a large batch: a write() that big can be cut short by
        // SIGKILL, which leaves a torn frame for recovery to cut off.
        const bool big = t == 2 && seq % 4 == 3;
        const size_t n = big ? 64 : 1 + rng() % 8;
        RecordBatch b;
        for (size_t k = 0; k < n; ++k) {
          std::string rec = testing::kill_record(tag, k);
          if (big) rec.append(8192, '.');
          b.add_encoded(rec);
        }
        auto first = wal->append(b);
        if (!first.ok()) {
          std::fprintf(stderr, "append: %s\n", first.status().to_string().c_str());
          std::_Exit(1);
        }
        say("A " + std::to_string(first->value()) + " " + std::to_string(n) + " " + tag + "\n");
        if (t == 0 && seq % 4 == 3) {
          // Checkpoint somewhere below the end, as a flush would; keeps the log short.
          const uint64_t end = wal->durable_offset().value();
          const Offset c(end > 300 ? end - 300 : end / 2);
          if (c > wal->checkpoint_offset()) {
            Status s = wal->checkpoint(c);
            if (!s.ok()) {
              std::fprintf(stderr, "checkpoint: %s\n", s.to_string().c_str());
              std::_Exit(1);
            }
            say("C " + std::to_string(c.value()) + "\n");
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();  // never: the parent kills us
  return 0;
}
