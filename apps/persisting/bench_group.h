// Consumer groups in `persisting bench` (issue 16's benchmark, bench/groups.sh): consumers that
// read as members of a group, with auto-commit, or committing after every get to time commits.
#pragma once

#include <string>
#include <vector>

#include "persisting/store.h"

namespace persisting::cli {

struct GroupBenchArgs {
  std::string group;                  // empty: plain readers
  double auto_commit_interval_s = 5;  // the default of ReaderOptions
  bool commit_each_get = false;       // commit() after every get that returned records, timed
};

// Sets the group fields of o from a (nothing when a.group is empty).
void apply_group(const GroupBenchArgs& a, ReaderOptions* o);

// One consumer's commits: after_get commits when asked to and keeps each commit's latency.
class CommitTimer {
 public:
  explicit CommitTimer(const GroupBenchArgs& a) : each_get_(a.commit_each_get && !a.group.empty()) {}
  Status after_get(TopicReader& r, size_t got);
  const std::vector<double>& latencies_us() const { return us_; }

 private:
  bool each_get_;
  std::vector<double> us_;
};

// "commits", "commits_per_s", "commit_p50_us", "commit_p99_us" of every consumer's timers.
void add_commit_stats(const std::vector<const CommitTimer*>& timers, double seconds, Object* out);

}  // namespace persisting::cli
