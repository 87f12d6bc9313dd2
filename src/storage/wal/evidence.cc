#include "storage/wal/evidence.h"

#include "core/status_macros.h"

#include <chrono>
#include <ctime>

namespace persisting::wal {
namespace {

std::string utc_stamp() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

}  // namespace

Result<std::string> keep_evidence(Env* env, const std::string& wal_dir, const std::string& segment_path) {
  const std::string dir = join_path(wal_dir, kDamagedDir);
  const std::string name = segment_path.substr(segment_path.rfind('/') + 1);
  ASSIGN_OR_RETURN(std::string bytes, env->read_file(segment_path));
  RETURN_IF_ERROR(env->create_dirs(dir));
  ASSIGN_OR_RETURN(auto children, env->get_children(dir));
  for (const auto& child : children) {
    if (!child.starts_with(name + ".")) continue;
    const std::string path = join_path(dir, child);
    auto size = env->file_size(path);
    if (!size.ok() || *size != bytes.size()) continue;
    auto kept = env->read_file(path);
    if (kept.ok() && *kept == bytes) return path;
  }
  std::string path = join_path(dir, name + "." + utc_stamp());
  for (int n = 1; env->file_exists(path); ++n) path = join_path(dir, name + "." + utc_stamp() + "-" + std::to_string(n));
  RETURN_IF_ERROR(env->write_file_atomic(path, bytes));
  return path;
}

}  // namespace persisting::wal
