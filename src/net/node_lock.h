// The node's claim on its data dir: <data_dir>/.node.lock, held (an exclusive advisory lock
// through the Env seam) for as long as the node runs, so that a second persistingd, or the
// embedded CLI, cannot write into a data dir a node serves. Only the node takes it; the embedded
// CLI only checks it (embedded readers and writers share a data dir through per-bucket locks).
#pragma once

#include <memory>
#include <string>

#include "persisting/env.h"
#include "persisting/status.h"

namespace persisting::net {

inline constexpr char kNodeLockFile[] = ".node.lock";  // a topic name cannot start with '.': no clash

// Creates data_dir if absent and locks its .node.lock. FailedPrecondition ("data dir D is in use
// by another process") when another process holds it.
Result<std::unique_ptr<FileLock>> lock_node_data_dir(Env* env, const std::string& data_dir);

// FailedPrecondition ("data dir D is served by a persistingd node ...: use --server") when a node
// holds data_dir's .node.lock; OK otherwise. Holds nothing afterwards.
Status check_not_served_by_node(Env* env, const std::string& data_dir);

}  // namespace persisting::net
