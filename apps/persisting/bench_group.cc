#include "apps/persisting/bench_group.h"

#include <algorithm>
#include <chrono>

namespace persisting::cli {

void apply_group(const GroupBenchArgs& a, ReaderOptions* o) {
  if (a.group.empty()) return;
  o->group = a.group;
  o->auto_commit_interval =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::duration<double>(a.auto_commit_interval_s));
}

Status CommitTimer::after_get(TopicReader& r, size_t got) {
  if (!each_get_ || got == 0) return Status::OK();
  auto t0 = std::chrono::steady_clock::now();
  Status s = r.commit();
  us_.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  return s;
}

void add_commit_stats(const std::vector<const CommitTimer*>& timers, double seconds, Object* out) {
  std::vector<double> all;
  for (const CommitTimer* t : timers) all.insert(all.end(), t->latencies_us().begin(), t->latencies_us().end());
  if (all.empty()) return;
  std::sort(all.begin(), all.end());
  auto at = [&all](double p) { return all[std::min(all.size() - 1, static_cast<size_t>(p * all.size()))]; };
  out->set("commits", static_cast<int64_t>(all.size()));
  out->set("commits_per_s", static_cast<double>(all.size()) / seconds);
  out->set("commit_p50_us", at(0.50));
  out->set("commit_p99_us", at(0.99));
}

}  // namespace persisting::cli
