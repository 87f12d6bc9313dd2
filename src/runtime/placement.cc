#include "runtime/placement.h"

#include <algorithm>
#include <cassert>
#include <set>

#include "core/hash.h"

namespace persisting::runtime {

const Member& rendezvous_owner(const std::vector<Member>& members, const std::string& topic,
                               BucketId bucket) {
  assert(!members.empty());
  std::string key = topic + ":" + std::to_string(bucket.value());
  const Member* best = nullptr;
  uint64_t best_score = 0;
  for (const auto& m : members) {
    uint64_t score = stable_hash64(m.id.str() + "\n" + key);
    if (best == nullptr || score > best_score || (score == best_score && m.id < best->id)) {
      best = &m;
      best_score = score;
    }
  }
  return *best;
}

namespace {

uint64_t score(const Member& m, const std::string& key) { return stable_hash64(m.id.str() + "\n" + key); }

}  // namespace

std::vector<const Member*> rendezvous_ranking(const std::vector<Member>& members, const std::string& topic,
                                              BucketId bucket) {
  std::string key = topic + ":" + std::to_string(bucket.value());
  std::vector<std::pair<uint64_t, const Member*>> scored;
  scored.reserve(members.size());
  for (const auto& m : members) scored.emplace_back(score(m, key), &m);
  std::sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) {
    if (a.first != b.first) return a.first > b.first;
    return a.second->id < b.second->id;
  });
  std::vector<const Member*> out;
  out.reserve(scored.size());
  for (const auto& [s, m] : scored) out.push_back(m);
  return out;
}

std::vector<const Member*> rendezvous_replicas(const std::vector<Member>& members, const std::string& topic,
                                               BucketId bucket, size_t factor) {
  assert(factor >= 1 && factor <= members.size());
  std::vector<const Member*> ranking = rendezvous_ranking(members, topic, bucket);
  std::vector<const Member*> out;
  std::vector<bool> taken(ranking.size(), false);
  std::set<std::string> zones;
  // First the best member of each zone, in ranking order; then the best of the rest.
  for (size_t i = 0; i < ranking.size() && out.size() < factor; ++i) {
    if (!zones.insert(ranking[i]->zone).second) continue;
    out.push_back(ranking[i]);
    taken[i] = true;
  }
  for (size_t i = 0; i < ranking.size() && out.size() < factor; ++i)
    if (!taken[i]) out.push_back(ranking[i]);
  return out;
}

}  // namespace persisting::runtime
