#include "net/node_lock.h"

#include "core/status_macros.h"

namespace persisting::net {

Result<std::unique_ptr<FileLock>> lock_node_data_dir(Env* env, const std::string& data_dir) {
  RETURN_IF_ERROR(env->create_dirs(data_dir));
  std::string path = join_path(data_dir, kNodeLockFile);
  auto lock = env->lock_file(path);
  if (!lock.ok() && lock.status().code() == Code::kFailedPrecondition)
    return FailedPrecondition("data dir " + data_dir + " is in use by another process (" + path +
                              " is locked: another persistingd serves it)");
  return lock;
}

Status check_not_served_by_node(Env* env, const std::string& data_dir) {
  std::string path = join_path(data_dir, kNodeLockFile);
  if (!env->file_exists(path)) return Status::OK();  // never served by a node
  auto lock = env->lock_file(path);                  // released at once below
  if (lock.ok()) return Status::OK();
  if (lock.status().code() == Code::kFailedPrecondition)
    return FailedPrecondition("data dir " + data_dir + " is served by a persistingd node (" + path +
                              " is locked); go through the node with --server host:port, or stop it first");
  return lock.status();
}

}  // namespace persisting::net
