#include "persisting/backup.h"

#include "backup/backup_manifest.h"
#include "backup/file_copy.h"
#include "core/status_macros.h"

namespace persisting::backup {

Result<VerifyReport> verify_backup(Env* env, const std::string& dir) {
  const std::string path = join_path(dir, kBackupManifestName);
  auto text = env->read_file(path);
  if (!text.ok()) {
    if (text.status().code() == Code::kNotFound)
      return NotFound("'" + dir + "' holds no backup: " + kBackupManifestName + " is missing");
    return text.status();
  }
  VerifyReport r;
  ASSIGN_OR_RETURN(r.manifest, decode_backup_manifest(*text, path));
  for (const auto& f : r.manifest.files) {
    const std::string full = join_path(dir, f.path);
    if (!env->file_exists(full)) {
      r.problems.push_back({f.path, "missing"});
      continue;
    }
    auto sum = checksum_file(env, full);
    if (!sum.ok()) {
      r.problems.push_back({f.path, sum.status().to_string()});
      continue;
    }
    ++r.files_checked;
    r.bytes_checked += sum->size;
    if (sum->size != f.size)
      r.problems.push_back({f.path, "size " + std::to_string(sum->size) + ", expected " + std::to_string(f.size)});
    else if (sum->crc32c != f.crc32c)
      r.problems.push_back({f.path, "crc32c " + crc_text(sum->crc32c) + ", expected " + crc_text(f.crc32c)});
  }
  return r;
}

}  // namespace persisting::backup
