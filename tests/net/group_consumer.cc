// A consumer-group reader as a process of its own, for the cluster tests that kill one with
// SIGKILL (group_cluster_test.cc). It connects to a node, opens a group reader and prints one
// line per event on stdout (flushed at once, so what a killed process printed is in its log):
//   assign 0,3,7      its bucket set changed (printed before the records of the get that saw it)
//   rec 3 41 p0-17    a record: bucket, offset, its "id" field
//   committed         an explicit commit() returned OK (commit-error <message> otherwise)
//   waiting           done reading (unless --exit): it then sleeps until killed
//   error <message>   a call failed: exits 1
//
//   group_consumer --server A --topic T --group G [--buckets 0,1 | --rank R --world-size N]
//                  [--start earliest|latest] [--read N [--commit] [--then M] [--exit]]
//                  [--follow] [--auto-commit-ms X | --no-auto-commit] [--session-ms Y]
// --read N: reads N records (--commit: then commits; --then M: then reads M more), then waits
// (or with --exit: closes the reader, which commits when auto-commit is on, and exits 0).
// --follow: reads until killed.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "persisting/client.h"

namespace {

using namespace persisting;

[[noreturn]] void fail(const std::string& what) {
  std::printf("error %s\n", what.c_str());
  std::fflush(stdout);
  std::exit(1);
}

std::string join(const std::vector<BucketId>& buckets) {
  std::string s;
  for (BucketId b : buckets) s += (s.empty() ? "" : ",") + std::to_string(b.value());
  return s.empty() ? "-" : s;
}

// Reads until n records were printed (n = 0: forever); gives up after 60 s without a record.
void read(TopicReader& r, size_t n, std::string* last_assign) {
  size_t got = 0;
  auto last_record = std::chrono::steady_clock::now();
  while (n == 0 || got < n) {
    auto msgs = r.get(n == 0 ? 100 : std::min<size_t>(100, n - got), /*wait=*/true, std::chrono::milliseconds(200));
    if (!msgs.ok()) fail(msgs.status().to_string());
    std::string a = join(r.buckets());
    if (a != *last_assign) {
      std::printf("assign %s\n", a.c_str());
      *last_assign = a;
    }
    for (const auto& m : *msgs) {
      const Value* id = m.record.find("id");
      std::printf("rec %u %llu %s\n", m.bucket.value(), static_cast<unsigned long long>(m.offset.value()),
                  id && id->is_string() ? id->as_string().c_str() : "?");
    }
    std::fflush(stdout);
    got += msgs->size();
    if (!msgs->empty()) last_record = std::chrono::steady_clock::now();
    if (n != 0 && std::chrono::steady_clock::now() - last_record > std::chrono::seconds(60))
      fail("no record for 60 s after " + std::to_string(got) + " of " + std::to_string(n));
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string server;
  ReaderOptions o;
  size_t n = 0, then = 0;
  bool commit = false, follow = false, exit_after = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) fail("missing value of " + a);
      return argv[++i];
    };
    if (a == "--server") server = next();
    else if (a == "--topic") o.topic = next();
    else if (a == "--group") o.group = next();
    else if (a == "--buckets") {
      std::string v = next();
      for (size_t p = 0; p < v.size();) {
        size_t c = std::min(v.find(',', p), v.size());
        o.buckets.push_back(static_cast<uint32_t>(std::stoul(v.substr(p, c - p))));
        p = c + 1;
      }
    } else if (a == "--rank") o.rank = static_cast<uint32_t>(std::stoul(next()));
    else if (a == "--world-size") o.world_size = static_cast<uint32_t>(std::stoul(next()));
    else if (a == "--start") o.start = next() == "latest" ? OffsetReset::kLatest : OffsetReset::kEarliest;
    else if (a == "--read") n = std::stoul(next());
    else if (a == "--then") then = std::stoul(next());
    else if (a == "--commit") commit = true;
    else if (a == "--exit") exit_after = true;
    else if (a == "--follow") follow = true;
    else if (a == "--auto-commit-ms") o.auto_commit_interval = std::chrono::milliseconds(std::stol(next()));
    else if (a == "--no-auto-commit") o.auto_commit = false;
    else if (a == "--session-ms") o.session_timeout = std::chrono::milliseconds(std::stol(next()));
    else fail("unknown argument " + a);
  }
  auto c = Client::connect({.server = server});
  if (!c.ok()) fail(c.status().to_string());
  auto r = (*c)->reader(o);
  if (!r.ok()) fail(r.status().to_string());
  std::string assign;
  if (follow) {
    read(**r, 0, &assign);
    return 0;
  }
  read(**r, n, &assign);
  if (commit) {
    Status s = (*r)->commit();
    if (s.ok()) std::printf("committed\n");
    else std::printf("commit-error %s\n", s.to_string().c_str());
    std::fflush(stdout);
  }
  if (then > 0) read(**r, then, &assign);
  if (exit_after) {
    Status s = (*r)->close();
    if (!s.ok()) fail(s.to_string());
    std::printf("closed\n");
    return 0;
  }
  std::printf("waiting\n");
  std::fflush(stdout);
  std::this_thread::sleep_for(std::chrono::minutes(10));
  return 0;
}
