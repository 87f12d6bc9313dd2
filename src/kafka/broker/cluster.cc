#include "kafka/broker/cluster.h"

#include "core/hash.h"

namespace persisting::kafka {

int32_t broker_id_for(const std::string& node_id) {
  return static_cast<int32_t>(stable_hash64(node_id) >> 33);  // 31 bits: never negative
}

}  // namespace persisting::kafka
