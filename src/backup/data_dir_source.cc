// The files of a pinned Lance version, and the local source of a backup: a data dir on this host
// (docs/backup.md). The bucket is pinned with a VersionPin, so a version cleanup in this process
// keeps its files while they are copied.
#include <set>

#include "backup/version_files.h"
#include "backup/tree.h"
#include "core/status_macros.h"
#include "groups/group_store.h"
#include "queue/topic_meta.h"
#include "storage/lance/deletion_file.h"
#include "storage/lance/format.h"
#include "storage/lance/version_pins.h"

namespace persisting::backup {

Result<std::vector<std::string>> version_files(Env* env, const lance::Snapshot& s) {
  std::set<std::string> files;
  if (s.version == 0) return std::vector<std::string>{};
  const auto& m = s.file.manifest;
  files.insert(std::string(lance::kVersionsDir) + "/" + lance::manifest_file_name(s.naming, s.version));
  for (const auto& frag : m.fragments()) {
    for (const auto& f : frag.files()) files.insert(std::string(lance::kDataDir) + "/" + f.path());
    if (frag.has_deletion_file()) {
      std::string full = lance::deletion_file_path(s.dataset, frag);
      files.insert(full.substr(s.dataset.size() + 1));
    }
  }
  // The transaction file is a record of the commit; readers use the manifest's inline copy.
  // Copied when it is there (LanceDB's cleanup may have removed old ones).
  if (!m.transaction_file().empty()) {
    std::string rel = std::string(lance::kTransactionsDir) + "/" + m.transaction_file();
    if (env->file_exists(join_path(s.dataset, rel))) files.insert(rel);
  }
  // An index LanceDB built: its files are immutable as well; every one is copied.
  if (m.has_index_section()) {
    std::vector<std::string> idx;
    RETURN_IF_ERROR(list_files(env, join_path(s.dataset, "_indices"), "_indices", &idx));
    files.insert(idx.begin(), idx.end());
  }
  return std::vector<std::string>(files.begin(), files.end());
}

Status file_disappeared(const std::string& bucket_name, uint64_t version, const Status& st) {
  return NotFound(bucket_name + ": a file of Lance version " + std::to_string(version) +
                  " disappeared while it was copied (" + st.message() +
                  "); was the version cleaned up? Run the backup again");
}

Result<std::vector<SourceFile>> version_file_sizes(Env* env, const lance::Snapshot& s, const std::string& bucket_name) {
  ASSIGN_OR_RETURN(auto names, version_files(env, s));
  std::vector<SourceFile> out;
  out.reserve(names.size());
  for (auto& f : names) {
    auto size = env->file_size(join_path(s.dataset, f));
    if (!size.ok()) {
      if (size.status().code() == Code::kNotFound) return file_disappeared(bucket_name, s.version, size.status());
      return size.status();
    }
    out.push_back({std::move(f), *size});
  }
  return out;
}

Result<std::string> DataDirSource::topic_meta(const std::string& topic) {
  auto text = env_->read_file(queue::topic_meta_path(data_dir_, topic));
  if (!text.ok() && text.status().code() == Code::kNotFound)
    return NotFound("topic '" + topic + "' does not exist in data dir '" + data_dir_ + "'");
  return text;
}

Status DataDirSource::copy_bucket(const TopicInfo& info, uint32_t b, BucketSink* sink) {
  const std::string dataset = join_path(queue::bucket_dir(data_dir_, info.topic, BucketId(b)), "data.lance");
  const std::string name = "topic '" + info.topic + "' bucket " + std::to_string(b);
  ASSIGN_OR_RETURN(lance::Snapshot s, lance::load_snapshot(env_, dataset, std::nullopt));
  // A version cleanup in this process keeps the pinned version while its files are copied.
  lance::VersionPin pin(dataset, s.version);
  ASSIGN_OR_RETURN(auto files, version_file_sizes(env_, s, name));
  RETURN_IF_ERROR(sink->pinned({b, s.version, s.first_offset, s.first_offset + s.num_rows()}, files));
  for (const auto& f : files) {
    if (!sink->needs(f)) continue;
    Status st = sink->copy_file(join_path(dataset, f.path), f.path);
    if (!st.ok() && st.code() == Code::kNotFound) return file_disappeared(name, s.version, st);
    RETURN_IF_ERROR(st);
  }
  return Status::OK();
}

Result<std::vector<std::pair<std::string, std::string>>> DataDirSource::group_files(const TopicInfo& info) {
  groups::GroupStore store(env_, data_dir_);
  ASSIGN_OR_RETURN(auto names, store.list(info.topic));
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& g : names) {
    auto raw = env_->read_file(store.path(info.topic, g));
    if (!raw.ok() && raw.status().code() == Code::kNotFound) continue;  // deleted meanwhile
    RETURN_IF_ERROR(raw.status());
    out.emplace_back(g, std::move(*raw));
  }
  return out;
}

}  // namespace persisting::backup
