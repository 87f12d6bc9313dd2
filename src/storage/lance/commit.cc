#include "storage/lance/commit.h"

#include <cstdio>
#include <random>

#include "core/cleanup.h"
#include "core/side_by_side.h"
#include "core/status_macros.h"
#include "storage/lance/format.h"

namespace persisting::lance {

std::string new_uuid() {
  thread_local std::mt19937_64 rng([] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd()};
    return std::mt19937_64(seq);
  }());
  uint64_t hi = rng(), lo = rng();
  hi = (hi & ~0xF000ull) | 0x4000ull;                    // version 4
  lo = (lo & ~(0xC000ull << 48)) | (0x8000ull << 48);    // variant 10
  char buf[37];
  std::snprintf(buf, sizeof(buf), "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xFFFF), static_cast<unsigned>(hi & 0xFFFF),
                static_cast<unsigned>(lo >> 48), static_cast<unsigned long long>(lo & 0xFFFFFFFFFFFFull));
  return buf;
}

namespace {

// Writes bytes to a new file at path (truncating), optionally syncing it.
Status write_whole_file(Env* env, const std::string& path, std::string_view bytes, bool sync) {
  ASSIGN_OR_RETURN(auto f, env->new_writable_file(path, /*truncate=*/true));
  Status st = f->append(bytes);
  if (st.ok() && sync) st = f->sync();
  Status closed = f->close();
  return st.ok() ? closed : st;
}

}  // namespace

Result<std::string> write_transaction_file(Env* env, const std::string& dataset, const std::string& file_name,
                                           const std::string& bytes) {
  const std::string dir = join_path(dataset, kTransactionsDir);
  RETURN_IF_ERROR(env->create_dirs(dir));
  const std::string path = join_path(dir, file_name);
  Status st = write_whole_file(env, path, bytes, /*sync=*/false);
  if (!st.ok()) return with_cleanup(st, "removing '" + path + "'", env->remove_file(path));
  return path;
}

Status sync_concurrently(Env* env, const std::vector<std::string>& files, const std::vector<std::string>& dirs) {
  // Side by side on the process pool (no thread per file).
  std::vector<std::function<Status()>> jobs;
  for (const std::string& file : files) {
    jobs.push_back([env, &file]() -> Status {
      // fdatasync through a new descriptor flushes the file's dirty pages all the same.
      ASSIGN_OR_RETURN(auto f, env->new_writable_file(file, /*truncate=*/false));
      Status synced = f->sync();
      Status closed = f->close();
      return synced.ok() ? closed : synced;
    });
  }
  for (const std::string& dir : dirs) jobs.push_back([env, &dir] { return env->sync_dir(dir); });
  for (Status& st : run_side_by_side(std::move(jobs))) RETURN_IF_ERROR(st);
  return Status::OK();
}

Result<std::string> write_manifest_temp(Env* env, const std::string& dataset, ManifestNaming naming,
                                        uint64_t version, const std::string& bytes) {
  const std::string dir = join_path(dataset, kVersionsDir);
  RETURN_IF_ERROR(env->create_dirs(dir));
  // Not ending in ".manifest", so neither we nor LanceDB take it for a version.
  const std::string tmp = join_path(dir, manifest_file_name(naming, version)) + "#" + new_uuid() + ".tmp";
  Status st = write_whole_file(env, tmp, bytes, /*sync=*/false);
  if (!st.ok()) return with_cleanup(st, "removing '" + tmp + "'", env->remove_file(tmp));
  return tmp;
}

Status link_manifest(Env* env, const std::string& dataset, ManifestNaming naming, uint64_t version,
                     const std::string& temp, bool sync) {
  const std::string dir = join_path(dataset, kVersionsDir);
  // Create-if-absent: a lost race is kAlreadyExists. A rename frees no inode (link + unlink
  // would), which keeps later file creation cheap on ext4 without a journal.
  Status st = env->rename_no_replace(temp, join_path(dir, manifest_file_name(naming, version)));
  if (!st.ok()) return with_cleanup(st, "removing '" + temp + "'", env->remove_file(temp));
  if (!sync) return st;
  return env->sync_dir(dir);
}

Status commit_manifest(Env* env, const std::string& dataset, ManifestNaming naming, uint64_t version,
                       const std::string& bytes, bool sync) {
  ASSIGN_OR_RETURN(std::string tmp, write_manifest_temp(env, dataset, naming, version, bytes));
  if (sync) {
    Status st = sync_concurrently(env, {tmp}, {});
    if (!st.ok()) return with_cleanup(st, "removing '" + tmp + "'", env->remove_file(tmp));
  }
  return link_manifest(env, dataset, naming, version, tmp, sync);
}

Status write_version_hint(Env* env, const std::string& dataset, uint64_t version) {
  // A temp name of our own: concurrent writers must not share one (Env::write_file_atomic's
  // "<path>.tmp" would let two of them write into the same file).
  const std::string dir = join_path(dataset, kVersionsDir);
  const std::string path = join_path(dir, kVersionHintFile);
  const std::string tmp = path + "#" + new_uuid() + ".tmp";
  Status st = write_whole_file(env, tmp, "{\"version\":" + std::to_string(version) + "}", /*sync=*/false);
  if (st.ok()) st = env->rename_file(tmp, path);
  if (!st.ok()) return with_cleanup(st, "removing '" + tmp + "'", env->remove_file(tmp));
  return st;
}

}  // namespace persisting::lance
