// Whole-file copies and checksums through the Env, for backups (docs/backup.md).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "persisting/env.h"

namespace persisting::backup {

struct FileSum {
  uint64_t size = 0;
  uint32_t crc32c = 0;
};

// Copies `from` to `to` (created or emptied), computing the CRC32C of the bytes on the way, in
// chunks of a few MiB; with sync the copy is fdatasync'ed before this returns. The copy is
// written with Env::new_unbuffered_file: a backup is written once and not read back soon.
// NotFound naming `from` when it is gone (a version removed while it was copied).
Result<FileSum> copy_file(Env* env, const std::string& from, const std::string& to, bool sync);
// Writes data to `to` (created or emptied), synced when asked.
Result<FileSum> write_whole_file(Env* env, const std::string& to, std::string_view data, bool sync);
// Size and CRC32C of a file's bytes.
Result<FileSum> checksum_file(Env* env, const std::string& path);

}  // namespace persisting::backup
