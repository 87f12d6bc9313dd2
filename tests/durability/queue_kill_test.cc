// Kill tests of the persisting backend: queue_kill_child puts from three threads with
// wal_sync_mode=always (then interval) and reports every acknowledged put over a pipe; this test
// SIGKILLs it at a random moment, reopens the data as a restarted process would, and checks:
//   - every acknowledged record, from this run and all earlier ones, is there exactly once;
//   - no record (acknowledged or not) appears twice;
//   - one writer thread's records keep their order in their bucket, with dense offsets.
// Kills land anywhere: in a put, a WAL sync, a Lance flush or a checkpoint.
// Under interval, "acknowledged" means put returned (after write()): SIGKILL keeps the page cache,
// so the check is the same; a power loss is covered by the WAL's fault tests.
// PERSISTING_KILL_ITERATIONS sets the kills per mode (default 50; 1000 for the long run).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <iostream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <tuple>

#include "persisting/queue.h"
#include "util/temp_dir.h"

using namespace persisting;
using persisting::testing::TempDir;

namespace {

int iterations() {
  const char* v = std::getenv("PERSISTING_KILL_ITERATIONS");
  return v != nullptr && std::atoi(v) > 0 ? std::atoi(v) : 50;
}

// Reads what is available on fd into *buf, waiting at most timeout_ms. False at EOF.
bool pump(int fd, std::string* buf, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) <= 0) return true;
  char tmp[65536];
  ssize_t n = ::read(fd, tmp, sizeof tmp);
  if (n <= 0) return false;
  buf->append(tmp, static_cast<size_t>(n));
  return true;
}

using Key = std::tuple<int64_t, int64_t, int64_t>;  // run, thread, seq

void run_kills(const std::string& mode) {
  TempDir dir;
  std::mt19937 rng(4242);
  std::set<Key> acked;
  uint64_t max_records_seen = 0;
  for (int run = 0; run < iterations(); ++run) {
    SCOPED_TRACE("mode " + mode + ", kill " + std::to_string(run));
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    std::string run_s = std::to_string(run), seed_s = std::to_string(rng());
    pid_t pid = ::fork();
    if (pid == 0) {
      ::dup2(fds[1], STDOUT_FILENO);
      const char* argv[] = {QUEUE_KILL_CHILD, dir.path().c_str(), mode.c_str(), run_s.c_str(), seed_s.c_str(), nullptr};
      ::execv(QUEUE_KILL_CHILD, const_cast<char* const*>(argv));
      ::_exit(127);
    }
    ::close(fds[1]);
    std::string out;
    bool open = true;
    // Wait for the first acknowledgement (a hang guard, not a measurement), then kill at a
    // random moment up to 40 ms later.
    auto guard = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (open && out.find('\n') == std::string::npos && std::chrono::steady_clock::now() < guard)
      open = pump(fds[0], &out, 100);
    auto kill_at = std::chrono::steady_clock::now() + std::chrono::microseconds(rng() % 40000);
    while (open && std::chrono::steady_clock::now() < kill_at) open = pump(fds[0], &out, 1);
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    while (pump(fds[0], &out, 1000)) {
    }
    ::close(fds[0]);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "child exited by itself: " << status;

    std::istringstream lines(out);
    std::string tag;
    int64_t r, t, first, n;
    while (lines >> tag >> r >> t >> first >> n) {
      ASSERT_EQ(tag, "A");
      for (int64_t s = first; s < first + n; ++s) acked.insert({r, t, s});
    }

    // Reopen as a restarted process and read everything.
    auto q = Queue::open({.data_dir = dir.path(), .threads = 2});
    ASSERT_TRUE(q.ok()) << q.status().to_string();
    auto reader = (*q)->reader({.topic = "k"});
    ASSERT_TRUE(reader.ok()) << reader.status().to_string();
    std::set<Key> seen;
    std::map<std::pair<int64_t, int64_t>, int64_t> last_seq;  // (run, thread) -> seq
    std::map<uint32_t, uint64_t> next_offset;
    for (;;) {
      auto msgs = (*reader)->get(10000);
      ASSERT_TRUE(msgs.ok()) << msgs.status().to_string();
      if (msgs->empty()) break;
      for (const auto& m : *msgs) {
        ASSERT_EQ(m.offset.value(), next_offset[m.bucket.value()]++) << "offsets are not dense";
        Key k{m.record.find("run")->as_int(), m.record.find("t")->as_int(), m.record.find("seq")->as_int()};
        ASSERT_TRUE(seen.insert(k).second) << "record appears twice: run " << std::get<0>(k) << " thread "
                                           << std::get<1>(k) << " seq " << std::get<2>(k);
        auto writer = std::make_pair(std::get<0>(k), std::get<1>(k));
        if (last_seq.count(writer)) {
          ASSERT_GT(std::get<2>(k), last_seq[writer]) << "order broken";
        }
        last_seq[writer] = std::get<2>(k);
      }
    }
    for (const Key& k : acked)
      ASSERT_TRUE(seen.count(k)) << "acknowledged record lost: run " << std::get<0>(k) << " thread "
                                 << std::get<1>(k) << " seq " << std::get<2>(k);
    ASSERT_GE(seen.size(), max_records_seen) << "records that were there before are gone";
    max_records_seen = seen.size();
  }
  EXPECT_GT(acked.size(), 0u);
  std::cout << "[ kills ] mode " << mode << ": " << iterations() << " kills, " << acked.size()
            << " acknowledged records, " << max_records_seen << " records in the end\n";
}

}  // namespace

TEST(QueueKillTest, AlwaysModeLosesNothingAcknowledged) { run_kills("always"); }
TEST(QueueKillTest, IntervalModeLosesNothingAcknowledged) { run_kills("interval"); }
