// Helper for node_log_kill_test.cc: appends to a node log from three threads, each batch to one
// of three streams picked at random (so group commits span streams), until it is killed, and
// reports on stdout (one line per write(), after the call returned):
//   A <stream> <first offset> <count> <tag>   records <tag>-0 .. hold the stream's offsets first..
//   F <stream> <offset>                       about to checkpoint the stream there: the records
//                                             below it count as held elsewhere from now on
// Usage: node_log_kill_child <dir> <always|interval> <run id> <seed> <s0 held> <s1 held> <s2 held>
// (held: the offset each stream's records are held elsewhere below, from earlier runs' F lines).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "storage/wal/node_log.h"
#include "tests/wal/kill_record.h"

using namespace persisting;
using namespace persisting::wal;

namespace {

using testing::say;

void die(const char* what, const Status& s) {
  std::fprintf(stderr, "%s: %s\n", what, s.to_string().c_str());
  std::_Exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 8) {
    std::fprintf(stderr, "usage: node_log_kill_child <dir> <always|always-caller|interval> <run id> <seed> <held> <held> <held>\n");
    return 2;
  }
  const std::string dir = argv[1];
  // "always-caller": kAlways, with each group written by the append that starts it
  // (NodeLogOptions::caller_commits), as the persisting backend's node log does.
  const bool caller_commits = std::string(argv[2]) == "always-caller";
  auto mode = parse_sync_mode(caller_commits ? "always" : argv[2]);
  if (!mode.ok()) die("mode", mode.status());
  const std::string run = argv[3];
  const unsigned seed = static_cast<unsigned>(std::strtoul(argv[4], nullptr, 10));

  NodeLogOptions o;
  o.wal.max_segment_size = 32 << 10;  // rotate often, so kills land in rotations too
  o.caller_commits = caller_commits;
  auto opened = NodeLog::open(dir, o, nullptr);
  if (!opened.ok()) die("open", opened.status());
  NodeLog* log = opened->get();
  StreamOptions so;
  so.sync_mode = *mode;
  so.sync_interval_s = 0.002;
  for (int s = 0; s < 3; ++s) {
    const Offset held(std::strtoull(argv[5 + s], nullptr, 10));
    auto end = log->attach("s" + std::to_string(s), held, [](Offset, std::string_view) { return Status::OK(); }, so);
    if (!end.ok()) die("attach", end.status());
  }
  std::mutex checkpoint_mu;
  std::vector<uint64_t> checkpointed(3, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(seed * 31 + static_cast<unsigned>(t));
      for (uint64_t seq = 0;; ++seq) {
        const int s = static_cast<int>(rng() % 3);
        const std::string stream = "s" + std::to_string(s);
        const std::string tag = "r" + run + "t" + std::to_string(t) + "b" + std::to_string(seq);
        const bool big = t == 2 && seq % 4 == 3;  // a write() that SIGKILL can cut short
        const size_t n = big ? 64 : 1 + rng() % 8;
        RecordBatch b;
        for (size_t k = 0; k < n; ++k) {
          std::string rec = testing::kill_record(tag, k);
          if (big) rec.append(8192, '.');
          b.add_encoded(rec);
        }
        auto first = log->append(stream, b);
        if (!first.ok()) die("append", first.status());
        say("A " + stream + " " + std::to_string(first->value()) + " " + std::to_string(n) + " " + tag + "\n");
        if (t == 0 && seq % 4 == 3) {
          // A flush of this stream somewhere below its end; keeps the log short.
          std::lock_guard l(checkpoint_mu);
          const uint64_t end = log->stream_end(stream).value();
          const uint64_t c = end > 300 ? end - 300 : end / 2;
          if (c > checkpointed[s]) {
            say("F " + stream + " " + std::to_string(c) + "\n");
            Status st = log->checkpoint(stream, Offset(c));
            if (!st.ok()) die("checkpoint", st);
            checkpointed[s] = c;
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();  // never: the parent kills us
  return 0;
}
