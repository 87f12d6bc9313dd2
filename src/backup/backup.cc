// Backup of one topic of a data dir into a directory (docs/backup.md).
//
// backup_topic pins each bucket's latest Lance version (it reads that version's manifest once)
// and copies exactly the files that version refers to (its manifest, data files, deletion
// files, transaction file, index files), then topic.json and the consumer groups' committed
// offsets, and writes DIR/backup.json last. Writers may go on appending meanwhile: Lance files
// are never modified, so the pinned version stays whole -- unless something deletes its files
// (a version cleanup), which makes the backup fail naming the file, never succeed with holes.
//
// It copies what Lance holds: records a writer has not flushed yet are not in it. The caller
// flushes first when it can (a writer in its process: TopicWriter::flush; no writer: opening the
// topic recovers a killed writer's log into Lance). See the CLI (apps/persisting/cmd_backup.cc).
//
// Incremental: a file the previous backup in DIR lists with the same size, and that is in DIR
// with that size, is not copied again (Lance files never change once written; a manifest is
// named by its version); topic.json and group files are written only when their bytes changed.
// Files of the previous backup the new one does not list are removed after the new backup.json
// is in place.
#include "persisting/backup.h"

#include <algorithm>
#include <map>
#include <set>

#include "backup/backup_manifest.h"
#include "backup/file_copy.h"
#include "backup/layout.h"
#include "backup/tree.h"
#include "core/crc32c.h"
#include "core/status_macros.h"
#include "groups/group_store.h"
#include "groups/group_types.h"
#include "queue/topic_meta.h"
#include "storage/lance/deletion_file.h"
#include "storage/lance/format.h"
#include "storage/lance/snapshot.h"
#include "storage/lance/version_pins.h"

namespace persisting::backup {

namespace {

// The files of one pinned version, relative to the dataset directory.
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

// What the first backup into a directory writes there before anything else, and removes once
// backup.json is in place: a directory holding it is an interrupted first backup of that topic.
std::string partial_marker(const std::string& topic, uint64_t incarnation) {
  return "persisting-backup-partial 1\ntopic " + topic + "\nincarnation " + queue::incarnation_text(incarnation) + "\n";
}

// The previous backup in dir, if any. FailedPrecondition when dir holds anything else.
Result<std::optional<BackupManifest>> previous_backup(Env* env, const std::string& dir, const std::string& topic,
                                                      uint64_t incarnation) {
  if (!env->file_exists(dir)) return std::optional<BackupManifest>{};
  const std::string path = join_path(dir, kBackupManifestName);
  if (!env->file_exists(path)) {
    ASSIGN_OR_RETURN(auto children, env->get_children(dir));
    // The marker's temp file alone: a first backup that stopped while it wrote the marker.
    std::erase(children, std::string(kPartialMarkerName) + ".tmp");
    if (children.empty()) return std::optional<BackupManifest>{};
    auto marker = env->read_file(join_path(dir, kPartialMarkerName));
    if (marker.ok() && *marker == partial_marker(topic, incarnation)) return std::optional<BackupManifest>{};
    return FailedPrecondition("backup directory '" + dir + "' is not empty and holds no " + kBackupManifestName +
                              ": give an empty or new directory, or one holding a backup of this topic");
  }
  ASSIGN_OR_RETURN(auto text, env->read_file(path));
  auto prev = decode_backup_manifest(text, path);
  if (!prev.ok())
    return FailedPrecondition("backup directory '" + dir + "' holds a backup manifest this backup cannot build on (" +
                              prev.status().to_string() + "): give another directory");
  if (prev->topic != topic || prev->incarnation != incarnation)
    return FailedPrecondition("backup directory '" + dir + "' holds a backup of topic '" + prev->topic +
                              "' (incarnation " + queue::incarnation_text(prev->incarnation) +
                              "), not of topic '" + topic + "' (incarnation " + queue::incarnation_text(incarnation) +
                              "): give another directory");
  return std::optional<BackupManifest>(std::move(*prev));
}

class Copier {
 public:
  Copier(Env* env, std::string dir, const std::optional<BackupManifest>& prev, bool sync, BackupResult* r)
      : env_(env), dir_(std::move(dir)), prev_(prev), sync_(sync), r_(r) {}

  // Copies `from` to <dir>/<rel> unless the previous backup has it already.
  Status copy(const std::string& from, const std::string& rel) {
    const std::string to = join_path(dir_, rel);
    ASSIGN_OR_RETURN(uint64_t size, env_->file_size(from));
    if (prev_) {
      if (const BackupFile* old = prev_->find(rel); old && old->size == size) {
        auto have = env_->file_size(to);
        if (have.ok() && *have == size) {
          add(rel, FileSum{size, old->crc32c});
          ++r_->files_skipped;
          r_->bytes_skipped += size;
          return Status::OK();
        }
      }
    }
    RETURN_IF_ERROR(make_parent(to));
    ASSIGN_OR_RETURN(FileSum sum, copy_file(env_, from, to, sync_ ? &batch_ : nullptr));
    add(rel, sum);
    ++r_->files_copied;
    r_->bytes_copied += sum.size;
    return Status::OK();
  }

  // Writes bytes read earlier (files that change: topic.json, group commits) to <dir>/<rel>.
  // Skipped, like a copy, when the previous backup has the same bytes (size and CRC32C) there.
  Status write(std::string_view data, const std::string& rel) {
    const std::string to = join_path(dir_, rel);
    if (prev_) {
      if (const BackupFile* old = prev_->find(rel);
          old && old->size == data.size() && old->crc32c == crc32c(data)) {
        auto have = env_->file_size(to);
        if (have.ok() && *have == data.size()) {
          add(rel, FileSum{old->size, old->crc32c});
          ++r_->files_skipped;
          r_->bytes_skipped += old->size;
          return Status::OK();
        }
      }
    }
    RETURN_IF_ERROR(make_parent(to));
    ASSIGN_OR_RETURN(FileSum sum, write_whole_file(env_, to, data, sync_ ? &batch_ : nullptr));
    add(rel, sum);
    ++r_->files_copied;
    r_->bytes_copied += sum.size;
    return Status::OK();
  }

  // Syncs every file written, then the directories they are in.
  Status sync_all() {
    if (!sync_) return Status::OK();
    RETURN_IF_ERROR(batch_.sync_all());
    for (const auto& d : dirs_) RETURN_IF_ERROR(env_->sync_dir(d));
    return Status::OK();
  }

  std::vector<BackupFile> take_files() {
    std::vector<BackupFile> out;
    for (auto& [path, sum] : files_) out.push_back({path, sum.size, sum.crc32c});
    return out;
  }

 private:
  void add(const std::string& rel, FileSum sum) { files_[rel] = sum; }
  Status make_parent(const std::string& path) {
    std::string parent = dir_name(path);
    if (!dirs_.insert(parent).second) return Status::OK();
    RETURN_IF_ERROR(env_->create_dirs(parent));
    // A new directory's entry in its parent must be durable too: sync every directory up to dir.
    std::string d = parent;
    while (d.size() > dir_.size()) {
      d = dir_name(d);
      dirs_.insert(d);
    }
    return Status::OK();
  }

  Env* env_;
  std::string dir_;
  const std::optional<BackupManifest>& prev_;
  bool sync_;
  BackupResult* r_;
  std::map<std::string, FileSum> files_;
  std::set<std::string> dirs_;
  SyncBatch batch_;
};

struct Source {
  TopicInfo info;
  std::string meta_text;  // topic.json as read
};

Result<Source> load_source(Env* env, const std::string& data_dir, const std::string& topic) {
  RETURN_IF_ERROR(groups::validate_name("topic", topic));
  const std::string meta_path = queue::topic_meta_path(data_dir, topic);
  auto meta_text = env->read_file(meta_path);
  if (!meta_text.ok()) {
    if (meta_text.status().code() == Code::kNotFound)
      return NotFound("topic '" + topic + "' does not exist in data dir '" + data_dir + "'");
    return meta_text.status();
  }
  ASSIGN_OR_RETURN(TopicInfo info, queue::decode_topic_meta(*meta_text, meta_path));
  if (info.backend == "memory")
    return FailedPrecondition("topic '" + topic + "' uses the backend 'memory': its records live only in the "
                              "process that wrote them, there are no files to back up");
  if (info.backend != "lance" && info.backend != "persisting")
    return NotSupported("topic '" + topic + "' uses the backend '" + info.backend +
                        "': a backup copies Lance datasets, which only the backends 'lance' and 'persisting' keep");
  return Source{std::move(info), std::move(*meta_text)};
}

}  // namespace

Status check_backup_source(Env* env, const std::string& data_dir, const std::string& topic) {
  return load_source(env, data_dir, topic).status();
}

Result<BackupResult> backup_topic(Env* env, const std::string& data_dir, const std::string& topic,
                                  const std::string& dir, const BackupOptions& options) {
  ASSIGN_OR_RETURN(Source source, load_source(env, data_dir, topic));
  const TopicInfo& info = source.info;
  ASSIGN_OR_RETURN(auto prev, previous_backup(env, dir, topic, info.incarnation));

  BackupResult r;
  BackupManifest& m = r.manifest;
  m.topic = topic;
  m.incarnation = info.incarnation;
  m.created_at = utc_now_text();
  Copier copier(env, dir, prev, options.sync, &r);
  const std::string marker_path = join_path(dir, kPartialMarkerName);
  if (!prev) {
    RETURN_IF_ERROR(env->create_dirs(dir));
    RETURN_IF_ERROR(env->write_file_atomic(marker_path, partial_marker(topic, info.incarnation)));
  }

  // 1. Pin every bucket's latest version and copy the files it refers to.
  for (uint32_t b = 0; b < info.num_buckets; ++b) {
    const std::string dataset = join_path(queue::bucket_dir(data_dir, topic, BucketId(b)), "data.lance");
    ASSIGN_OR_RETURN(lance::Snapshot s, lance::load_snapshot(env, dataset, std::nullopt));
    // A version cleanup in this process keeps the pinned version while its files are copied.
    lance::VersionPin pin(dataset, s.version);
    m.buckets.push_back({b, s.version, s.first_offset, s.first_offset + s.num_rows()});
    ASSIGN_OR_RETURN(auto files, version_files(env, s));
    const std::string rel_dataset = dataset_rel(topic, b);
    for (const auto& f : files) {
      Status st = copier.copy(join_path(dataset, f), rel_dataset + "/" + f);
      if (!st.ok() && st.code() == Code::kNotFound)
        return NotFound("topic '" + topic + "' bucket " + std::to_string(b) + ": a file of Lance version " +
                        std::to_string(s.version) + " disappeared while it was copied (" + st.message() +
                        "); was the version cleaned up? Run the backup again");
      RETURN_IF_ERROR(st);
    }
  }

  // 2. The consumer groups' commits, read after the versions were pinned: a commit may point
  //    past a bucket's pinned end (restore moves it back to the end).
  groups::GroupStore store(env, data_dir);
  ASSIGN_OR_RETURN(auto names, store.list(topic));
  for (const auto& g : names) {
    const std::string path = store.path(topic, g);
    auto raw = env->read_file(path);
    if (!raw.ok() && raw.status().code() == Code::kNotFound) continue;  // deleted meanwhile
    RETURN_IF_ERROR(raw.status());
    RETURN_IF_ERROR(groups::GroupStore::decode(*raw, topic, g, path).status());
    RETURN_IF_ERROR(copier.write(*raw, group_rel(topic, g)));
    m.groups.push_back(g);
  }

  // 3. topic.json as read at the start.
  RETURN_IF_ERROR(copier.write(source.meta_text, topic_meta_rel(topic)));

  // 4. Make the copies durable, then the manifest that says they are a backup.
  RETURN_IF_ERROR(copier.sync_all());
  m.files = copier.take_files();
  RETURN_IF_ERROR(env->write_file_atomic(join_path(dir, kBackupManifestName), encode_backup_manifest(m)));

  if (env->file_exists(marker_path)) RETURN_IF_ERROR(env->remove_file(marker_path));

  // 5. Files of the previous backup that this one does not list (and leftovers) go.
  std::vector<std::string> present;
  RETURN_IF_ERROR(list_files(env, join_path(dir, topic), topic, &present));
  for (const auto& p : present) {
    if (m.find(p)) continue;
    RETURN_IF_ERROR(env->remove_file(join_path(dir, p)));
    ++r.files_removed;
  }
  return r;
}

}  // namespace persisting::backup
