#include "runtime/placement.h"

#include <cassert>

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

}  // namespace persisting::runtime
