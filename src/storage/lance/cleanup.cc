#include "storage/lance/cleanup.h"

#include <set>
#include <unordered_map>
#include <vector>

#include "core/status_macros.h"
#include "persisting/json.h"
#include "storage/lance/deletion_file.h"
#include "storage/lance/format.h"
#include "storage/lance/manifest.h"
#include "storage/lance/version_pins.h"

namespace persisting::lance {
namespace {

// The files a manifest refers to (full paths), with the sizes its data files record.
void add_files(const std::string& dataset, const pb::Manifest& m, std::unordered_map<std::string, uint64_t>* out) {
  const std::string data = join_path(dataset, kDataDir);
  for (const pb::DataFragment& frag : m.fragments()) {
    for (const pb::DataFile& f : frag.files()) (*out)[join_path(data, f.path())] = f.file_size_bytes();
    if (frag.has_deletion_file()) (*out)[deletion_file_path(dataset, frag)] = 0;
  }
  if (!m.transaction_file().empty()) (*out)[join_path(join_path(dataset, kTransactionsDir), m.transaction_file())] = 0;
}

// The versions LanceDB tags name (_refs/tags/<name>.json, {"version": N, ...}): kept, as
// LanceDB's own cleanup keeps them. A tag file that cannot be read stops the cleanup.
Result<std::set<uint64_t>> tagged_versions(Env* env, const std::string& dataset) {
  std::set<uint64_t> out;
  const std::string dir = join_path(join_path(dataset, "_refs"), "tags");
  if (!env->file_exists(dir)) return out;
  ASSIGN_OR_RETURN(std::vector<std::string> names, env->get_children(dir));
  for (const std::string& name : names) {
    if (name.size() < 5 || name.compare(name.size() - 5, 5, ".json") != 0) continue;
    const std::string path = join_path(dir, name);
    ASSIGN_OR_RETURN(std::string text, env->read_file(path));
    auto v = parse_json(text);
    const Value* version = v.ok() && v->is_object() ? v->as_object().find("version") : nullptr;
    if (!version || !version->is_int() || version->as_int() < 0) {
      return Corruption("tag file '" + path + "' has no version number");
    }
    out.insert(static_cast<uint64_t>(version->as_int()));
  }
  return out;
}

}  // namespace

Result<CleanupReport> cleanup_old_versions(Env* env, const std::string& dataset, const CleanupOptions& options) {
  if (options.older_than.count() < 0) {
    return InvalidArgument("cleanup of '" + dataset + "': version retention must not be negative, got " +
                           std::to_string(options.older_than.count()) + " s");
  }
  CleanupReport report;
  ASSIGN_OR_RETURN(VersionListing listing, list_versions(env, dataset));
  if (listing.versions.size() < 2) return report;
  const int64_t now = options.now_seconds != 0
                          ? options.now_seconds
                          : std::chrono::duration_cast<std::chrono::seconds>(
                                std::chrono::system_clock::now().time_since_epoch()).count();
  std::set<uint64_t> pinned = options.keep_pinned ? pinned_versions(dataset) : std::set<uint64_t>{};
  ASSIGN_OR_RETURN(std::set<uint64_t> tagged, tagged_versions(env, dataset));
  pinned.insert(tagged.begin(), tagged.end());
  const std::string versions_dir = join_path(dataset, kVersionsDir);
  auto manifest_path = [&](uint64_t v) { return join_path(versions_dir, manifest_file_name(listing.naming, v)); };

  // Every manifest is read before anything is removed: one that cannot be read stops the cleanup.
  std::vector<pb::Manifest> manifests;
  manifests.reserve(listing.versions.size());
  for (uint64_t v : listing.versions) {
    ASSIGN_OR_RETURN(ManifestFile mf, read_manifest_file(env, manifest_path(v)));
    manifests.push_back(std::move(mf.manifest));
  }
  std::vector<size_t> removed;
  std::unordered_map<std::string, uint64_t> kept_files, removed_files;
  for (size_t i = 0; i < listing.versions.size(); ++i) {
    const bool latest = i + 1 == listing.versions.size();
    const bool old_enough = !latest && now - manifests[i + 1].timestamp().seconds() >= options.older_than.count();
    if (old_enough && !pinned.count(listing.versions[i])) {
      removed.push_back(i);
      add_files(dataset, manifests[i], &removed_files);
    } else {
      add_files(dataset, manifests[i], &kept_files);
    }
  }
  if (removed.empty()) return report;
  // The files first (see cleanup.h), then the manifests.
  for (const auto& [path, size] : removed_files) {
    if (kept_files.count(path)) continue;
    if (!env->file_exists(path)) continue;  // a cleanup that crashed removed it already
    if (Status s = env->remove_file(path); !s.ok()) {
      if (!env->file_exists(path)) continue;  // a cleanup in another process was faster
      return s.with_context("cleanup of '" + dataset + "'");
    }
    ++report.files_removed;
    report.bytes_removed += size;
  }
  for (size_t i : removed) {
    const std::string path = manifest_path(listing.versions[i]);
    if (!env->file_exists(path)) continue;  // another cleanup was faster
    if (Status s = env->remove_file(path); !s.ok()) {
      if (!env->file_exists(path)) continue;
      return s.with_context("cleanup of '" + dataset + "'");
    }
    ++report.versions_removed;
  }
  return report;
}

}  // namespace persisting::lance
