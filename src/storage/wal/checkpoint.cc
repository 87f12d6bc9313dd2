#include "storage/wal/checkpoint.h"

#include "core/status_macros.h"
#include "storage/wal/wal_format.h"

namespace persisting::wal {

Result<Offset> read_checkpoint(Env* env, const std::string& dir) {
  const std::string path = join_path(dir, kCheckpointFileName);
  if (!env->file_exists(path)) return Offset(0);
  ASSIGN_OR_RETURN(std::string bytes, env->read_file(path));
  return decode_checkpoint(bytes, path);
}

Status write_checkpoint(Env* env, const std::string& dir, Offset flushed) {
  const std::string path = join_path(dir, kCheckpointFileName);
  return env->write_file_atomic(path, encode_checkpoint(flushed));
}

}  // namespace persisting::wal
