// Kill tests of the node log: a child (node_log_kill_child) appends from three threads to three
// streams of one node log, so group commits span streams, and reports each acknowledged append
// and each checkpoint; the parent SIGKILLs it at a random moment, recovers the log as a restarted
// node would (each stream attached past what its owner holds elsewhere), and checks that every
// stream has every acknowledged record exactly once, at its offset, in order, plus everything a
// previous recovery returned.
//
// Acknowledged means append() returned (under interval: after write(), which SIGKILL cannot
// undo). PERSISTING_KILL_ITERATIONS sets the kills per mode (default 50; 1000 for the long run).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "storage/wal/node_log.h"
#include "tests/wal/kill_harness.h"
#include "tests/wal/kill_record.h"
#include "tests/wal/wal_test_util.h"

namespace persisting::wal {
namespace {

using testing::ScratchDir;
using testing::Child;
using testing::kill_at_random;
using testing::kill_iterations;
using testing::spawn_child;

constexpr int kStreams = 3;

Child spawn(const std::vector<std::string>& args) { return spawn_child(NODE_LOG_KILL_CHILD, args); }

int stream_index(const std::string& s) { return s.size() == 2 && s[0] == 's' ? s[1] - '0' : -1; }

void run_kills(const std::string& mode) {
  ScratchDir d;
  const std::string dir = d.sub("log");
  const int kills = kill_iterations();
  std::mt19937 rng(4242);
  std::array<uint64_t, kStreams> held{};                      // below it: "held elsewhere"
  std::array<std::map<uint64_t, std::string>, kStreams> expected;  // offset -> must be there
  uint64_t acknowledged_total = 0;
  int torn_tails = 0;
  for (int run = 0; run < kills; ++run) {
    SCOPED_TRACE("mode " + mode + ", kill " + std::to_string(run));
    Child c = spawn({dir, mode, std::to_string(run), std::to_string(rng()), std::to_string(held[0]),
                     std::to_string(held[1]), std::to_string(held[2])});
    ASSERT_GT(c.pid, 0);
    std::string out;
    const int status = kill_at_random(c, rng, &out);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "the child stopped by itself (status " << status << "); see its stderr above";

    std::array<std::map<uint64_t, std::string>, kStreams> acked;
    std::istringstream lines(out);
    std::string kind, stream;
    while (lines >> kind >> stream) {
      const int s = stream_index(stream);
      ASSERT_GE(s, 0) << stream;
      if (kind == "A") {
        uint64_t first = 0, n = 0;
        std::string tag;
        lines >> first >> n >> tag;
        for (uint64_t k = 0; k < n; ++k)
          acked[s][first + k] = testing::kill_record(tag, k) + (n == 64 ? std::string(8192, '.') : "");
        acknowledged_total += n;
      } else if (kind == "F") {
        uint64_t at = 0;
        lines >> at;
        held[s] = std::max(held[s], at);
      } else {
        FAIL() << "bad line from the child: " << kind;
      }
    }

    // Recover as a restarted node: each stream attached past what is held elsewhere.
    NodeLogReport rep;
    auto log = NodeLog::open(dir, {}, &rep);
    ASSERT_TRUE(log.ok()) << log.status().to_string();
    ASSERT_TRUE(rep.wal.corruption.ok()) << rep.wal.corruption.to_string();
    torn_tails += rep.wal.outcome == RecoveryOutcome::kTornTailTruncated;
    for (int s = 0; s < kStreams; ++s) {
      std::vector<std::pair<uint64_t, std::string>> got;
      auto end = (*log)->attach("s" + std::to_string(s), Offset(held[s]), [&](Offset o, std::string_view r) {
        got.emplace_back(o.value(), std::string(r));
        return Status::OK();
      }, {});
      ASSERT_TRUE(end.ok()) << "stream s" << s << ": " << end.status().to_string();
      std::set<std::string> seen;
      for (size_t j = 0; j < got.size(); ++j) {
        ASSERT_EQ(got[j].first, held[s] + j) << "s" << s << ": offsets are not dense";
        const std::string& rec = got[j].second;
        const size_t dash = rec.rfind('-', rec.find('|'));
        ASSERT_NE(dash, std::string::npos) << rec.substr(0, 80);
        const std::string want = testing::kill_record(rec.substr(0, dash), std::stoul(rec.substr(dash + 1)));
        ASSERT_TRUE(rec == want || rec == want + std::string(8192, '.')) << rec.substr(0, 80);
        ASSERT_TRUE(seen.insert(rec).second) << "record appears twice: " << rec.substr(0, rec.find('|'));
      }
      for (const auto* m : {&expected[s], &acked[s]}) {
        for (auto it = m->lower_bound(held[s]); it != m->end(); ++it) {
          ASSERT_LT(it->first, held[s] + got.size()) << "s" << s << ": acknowledged offset " << it->first << " lost";
          ASSERT_EQ(got[it->first - held[s]].second, it->second) << "s" << s << ": offset " << it->first;
        }
      }
      expected[s].clear();
      for (const auto& [o, rec] : got) expected[s][o] = rec;
    }
    ASSERT_TRUE((*log)->close().ok());
  }
  EXPECT_GT(acknowledged_total, static_cast<uint64_t>(kills));
  std::printf("[ kill test ] node log, mode %s: %d kills, %llu acknowledged records, %d torn tails cut\n",
              mode.c_str(), kills, static_cast<unsigned long long>(acknowledged_total), torn_tails);
}

TEST(NodeLogKillTest, AlwaysModeLosesNoAcknowledgedRecordOfAnyStream) { run_kills("always"); }
TEST(NodeLogKillTest, IntervalModeLosesNoAcknowledgedRecordOfAnyStream) { run_kills("interval"); }
// The same with the appends' own threads writing and syncing the groups they start.
TEST(NodeLogKillTest, AlwaysModeWithCallersCommittingLosesNoAcknowledgedRecord) { run_kills("always-caller"); }

}  // namespace
}  // namespace persisting::wal
