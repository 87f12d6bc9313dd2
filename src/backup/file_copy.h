// Whole-file copies and checksums through the Env, for backups (docs/backup.md).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "persisting/env.h"

namespace persisting::backup {

struct FileSum {
  uint64_t size = 0;
  uint32_t crc32c = 0;
};

// Files written but not synced yet. Syncing many files one after another costs a journal commit
// each; syncing them together at the end costs about one (the first sync commits the others'
// metadata too), so copies hand their files here and the caller syncs once. Holds at most
// kMaxOpen files: adding one more syncs those it holds first.
class SyncBatch {
 public:
  static constexpr size_t kMaxOpen = 64;
  SyncBatch() = default;
  SyncBatch(const SyncBatch&) = delete;
  SyncBatch& operator=(const SyncBatch&) = delete;
  Status add(std::unique_ptr<WritableFile> file);
  // fdatasyncs and closes every file held; they are durable once this returns OK.
  Status sync_all();

 private:
  std::vector<std::unique_ptr<WritableFile>> files_;
};

// Copies `from` to `to` (created or emptied), computing the CRC32C of the bytes on the way, in
// chunks of a few MiB, each handed to the device at once (start_writeback) while the next is
// read. With a SyncBatch the copy is added to it (the caller syncs); without, it is closed
// unsynced. NotFound naming `from` when it is gone (a version removed while it was copied).
Result<FileSum> copy_file(Env* env, const std::string& from, const std::string& to, SyncBatch* sync);
// Writes data to `to` (created or emptied); added to sync like copy_file's files.
Result<FileSum> write_whole_file(Env* env, const std::string& to, std::string_view data, SyncBatch* sync);
// Size and CRC32C of a file's bytes.
Result<FileSum> checksum_file(Env* env, const std::string& path);

}  // namespace persisting::backup
