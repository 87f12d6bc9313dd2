#include "queue/interest.h"

#include <algorithm>
#include <mutex>

#include "core/status_macros.h"

namespace persisting::detail {

RetentionLimits::InterestFloor interest_floor(std::shared_ptr<InterestSource> source, std::string topic) {
  return [source = std::move(source), topic = std::move(topic)](BucketId bucket) -> Result<std::optional<uint64_t>> {
    std::shared_lock<std::shared_mutex> lock(source->mu);
    const std::string what = "retention_policy=interest of topic '" + topic + "'";
    if (!source->refusal.empty()) return NotSupported(what + ": " + source->refusal);
    if (!source->groups) return Unavailable(what + ": the queue's consumer groups are closed");
    auto groups = source->groups->list(topic);
    if (!groups.ok()) return groups.status().with_context(what + " (nothing removed)");
    if (groups->empty()) return std::optional<uint64_t>();
    uint64_t floor = UINT64_MAX;
    for (const auto& g : *groups) {
      auto it = g.committed.find(bucket);
      floor = std::min<uint64_t>(floor, it == g.committed.end() ? 0 : it->second.value());
    }
    return std::optional<uint64_t>(floor);
  };
}

}  // namespace persisting::detail
