// Kill tests: a child process (wal_kill_child) appends from three threads and reports each
// acknowledged append over a pipe; the parent SIGKILLs it at a random moment, recovers the WAL
// and checks that every acknowledged record is there exactly once, at its offset, in order; that
// everything seen after the previous kill is still there; and that no record appears twice.
//
// Acknowledged means append() returned. Under kAlways that is after fdatasync; under kInterval it
// is after write(), which a process kill cannot undo (the page cache survives SIGKILL), so the
// check is the same and stricter than "synced". Power loss is covered by fault_test.cc
// (FaultEnv::drop_unsynced).
//
// PERSISTING_KILL_ITERATIONS sets the kills per mode (default 50; 1000 for the long run).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "storage/wal/wal.h"
#include "tests/wal/kill_harness.h"
#include "tests/wal/kill_record.h"
#include "tests/wal/wal_test_util.h"

namespace persisting::wal {
namespace {

using testing::capture;
using testing::Replayed;
using testing::ScratchDir;
using testing::Child;
using testing::kill_at_random;
using testing::kill_iterations;
using testing::spawn_child;

Child spawn(const std::string& dir, const std::string& mode, int run, unsigned seed) {
  return spawn_child(WAL_KILL_CHILD, {dir, mode, std::to_string(run), std::to_string(seed)});
}

void run_kills(const std::string& mode) {
  ScratchDir d;
  const std::string dir = d.sub("wal");
  const int kills = kill_iterations();
  std::mt19937 rng(12345);
  std::map<uint64_t, std::string> expected;  // offset -> content that must be there
  uint64_t acknowledged_total = 0;
  int torn_tails = 0, checkpoints = 0, recycled_ends = 0;
  for (int run = 0; run < kills; ++run) {
    SCOPED_TRACE("mode " + mode + ", kill " + std::to_string(run));
    Child c = spawn(dir, mode, run, static_cast<unsigned>(rng()));
    ASSERT_GT(c.pid, 0);
    std::string out;
    const int status = kill_at_random(c, rng, &out);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "the child stopped by itself (status " << status << "); see its stderr above";

    // What the child reported.
    std::map<uint64_t, std::string> acked;
    uint64_t acked_checkpoint = 0;
    std::istringstream lines(out);
    std::string kind;
    while (lines >> kind) {
      if (kind == "A") {
        uint64_t first = 0, n = 0;
        std::string tag;
        lines >> first >> n >> tag;
        for (uint64_t k = 0; k < n; ++k) {
          acked[first + k] = testing::kill_record(tag, k) + (n == 64 ? std::string(8192, '.') : "");
        }
        acknowledged_total += n;
      } else if (kind == "C") {
        lines >> acked_checkpoint;
      } else {
        FAIL() << "bad line from the child: " << kind;
      }
    }

    // Recover the way a restarted process would.
    Replayed got;
    RecoveryReport rep;
    {
      auto w = Wal::open(dir, {}, capture(&got), &rep);
      ASSERT_TRUE(w.ok()) << w.status().to_string();
      ASSERT_TRUE(rep.corruption.ok()) << rep.corruption.to_string();
      ASSERT_TRUE((*w)->close().ok());
    }
    const uint64_t ckpt = rep.checkpoint.value();
    torn_tails += rep.outcome == RecoveryOutcome::kTornTailTruncated;
    recycled_ends += rep.bytes_recycled > 0;  // the log ended inside a recycled or zero-filled segment
    checkpoints += acked_checkpoint > 0;
    ASSERT_GE(ckpt, acked_checkpoint);
    std::set<std::string> seen;
    for (size_t j = 0; j < got.size(); ++j) {
      ASSERT_EQ(got[j].first, ckpt + j) << "offsets are not dense";
      const std::string& rec = got[j].second;
      // Well-formed (acknowledged or not): exactly what the child would have written.
      const size_t dash = rec.rfind('-', rec.find('|'));
      ASSERT_NE(dash, std::string::npos) << rec;
      const std::string tag = rec.substr(0, dash);
      const size_t k = std::stoul(rec.substr(dash + 1));
      const std::string want = testing::kill_record(tag, k);
      ASSERT_TRUE(rec == want || rec == want + std::string(8192, '.')) << rec.substr(0, 80);
      ASSERT_TRUE(seen.insert(rec).second) << "record appears twice: " << rec.substr(0, rec.find('|'));
    }
    for (const auto* m : {&expected, &acked}) {
      for (auto it = m->lower_bound(ckpt); it != m->end(); ++it) {
        ASSERT_LT(it->first, ckpt + got.size()) << "acknowledged offset " << it->first << " lost";
        ASSERT_EQ(got[it->first - ckpt].second, it->second) << "offset " << it->first;
      }
    }
    // Whatever recovery returned is now part of the log for good.
    expected.clear();
    for (const auto& [o, rec] : got) expected[o] = rec;
  }
  // The test exercised something: the children acknowledged appends before being killed.
  EXPECT_GT(acknowledged_total, static_cast<uint64_t>(kills));
  std::printf("[ kill test ] mode %s: %d kills, %llu acknowledged records, %d torn tails cut, "
              "%d runs that checkpointed, %d ended in a recycled or zero-filled segment\n",
              mode.c_str(), kills, static_cast<unsigned long long>(acknowledged_total), torn_tails,
              checkpoints, recycled_ends);
}

TEST(WalKillTest, AlwaysModeLosesNoAcknowledgedRecord) { run_kills("always"); }
TEST(WalKillTest, IntervalModeLosesNoAcknowledgedRecord) { run_kills("interval"); }

}  // namespace
}  // namespace persisting::wal
