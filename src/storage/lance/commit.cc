#include "storage/lance/commit.h"

#include <cstdio>
#include <random>

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

Status write_transaction_file(Env* env, const std::string& dataset, const std::string& file_name,
                              const std::string& bytes, bool sync) {
  const std::string dir = join_path(dataset, kTransactionsDir);
  RETURN_IF_ERROR(env->create_dirs(dir));
  const std::string path = join_path(dir, file_name);
  Status st = write_whole_file(env, path, bytes, sync);
  if (st.ok() && sync) st = env->sync_dir(dir);
  if (!st.ok()) (void)env->remove_file(path);
  return st;
}

Status commit_manifest(Env* env, const std::string& dataset, ManifestNaming naming, uint64_t version,
                       const std::string& bytes, bool sync) {
  const std::string dir = join_path(dataset, kVersionsDir);
  RETURN_IF_ERROR(env->create_dirs(dir));
  const std::string final_path = join_path(dir, manifest_file_name(naming, version));
  // Not ending in ".manifest", so neither we nor LanceDB take it for a version.
  const std::string tmp = final_path + "#" + new_uuid() + ".tmp";
  Status st = write_whole_file(env, tmp, bytes, sync);
  if (st.ok()) st = env->link_file(tmp, final_path);
  (void)env->remove_file(tmp);
  if (!st.ok() || !sync) return st;
  return env->sync_dir(dir);
}

Status write_version_hint(Env* env, const std::string& dataset, uint64_t version) {
  // A temp name of our own: concurrent writers must not share one (Env::write_file_atomic's
  // "<path>.tmp" would let two of them write into the same file).
  const std::string dir = join_path(dataset, kVersionsDir);
  const std::string path = join_path(dir, kVersionHintFile);
  const std::string tmp = path + "#" + new_uuid() + ".tmp";
  Status st = write_whole_file(env, tmp, "{\"version\":" + std::to_string(version) + "}", /*sync=*/false);
  if (st.ok()) st = env->rename_file(tmp, path);
  if (!st.ok()) (void)env->remove_file(tmp);
  return st;
}

}  // namespace persisting::lance
