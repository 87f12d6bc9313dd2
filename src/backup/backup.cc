// Backup of one topic into a directory (docs/backup.md). The files come from a BackupSource: a
// data dir on this host (data_dir_source.cc) or a cluster's nodes (net/remote_backup.cc); this
// file is the writer both feed.
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
#include "backup/version_files.h"
#include "core/crc32c.h"
#include "core/status_macros.h"
#include "groups/group_store.h"
#include "groups/group_types.h"
#include "queue/topic_meta.h"

namespace persisting::backup {

namespace {

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

  // Whether the previous backup lists <dir>/<rel> with this size, and it is there with that size.
  bool has(const std::string& rel, uint64_t size) const {
    if (!prev_) return false;
    const BackupFile* old = prev_->find(rel);
    if (!old || old->size != size) return false;
    auto have = env_->file_size(join_path(dir_, rel));
    return have.ok() && *have == size;
  }
  // Keeps a file has() found: listed with the previous backup's CRC, not copied.
  void keep(const std::string& rel) {
    const BackupFile* old = prev_->find(rel);
    add(rel, FileSum{old->size, old->crc32c});
    ++r_->files_skipped;
    r_->bytes_skipped += old->size;
  }

  // Copies `from` (a file of this host) to <dir>/<rel>.
  Status copy(const std::string& from, const std::string& rel) {
    const std::string to = join_path(dir_, rel);
    RETURN_IF_ERROR(make_parent(to));
    ASSIGN_OR_RETURN(FileSum sum, copy_file(env_, from, to, sync_ ? &batch_ : nullptr));
    add(rel, sum);
    ++r_->files_copied;
    r_->bytes_copied += sum.size;
    return Status::OK();
  }

  // <dir>/<rel> written from chunks: begin, append..., end.
  Status begin(const std::string& rel) {
    const std::string to = join_path(dir_, rel);
    RETURN_IF_ERROR(make_parent(to));
    ASSIGN_OR_RETURN(out_, env_->new_writable_file(to, /*truncate=*/true));
    out_rel_ = rel;
    out_sum_ = FileSum{};
    return Status::OK();
  }
  Status append(std::string_view data) {
    if (!out_) return Internal("backup: a chunk outside a file");
    out_sum_.crc32c = crc32c_extend(out_sum_.crc32c, data);
    out_sum_.size += data.size();
    RETURN_IF_ERROR(out_->append(data));
    if (sync_) RETURN_IF_ERROR(out_->start_writeback());
    return Status::OK();
  }
  Status end(uint64_t want_size) {
    if (!out_) return Internal("backup: end of no file");
    auto out = std::move(out_);
    if (out_sum_.size != want_size)
      return Corruption("'" + out_rel_ + "': got " + std::to_string(out_sum_.size) + " bytes, expected " +
                      std::to_string(want_size));
    if (sync_) RETURN_IF_ERROR(batch_.add(std::move(out)));
    else RETURN_IF_ERROR(out->close());
    add(out_rel_, out_sum_);
    ++r_->files_copied;
    r_->bytes_copied += out_sum_.size;
    return Status::OK();
  }
  bool in_file() const { return out_ != nullptr; }
  const std::string& file() const { return out_rel_; }

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

  const BackupManifest* previous() const { return prev_ ? &*prev_ : nullptr; }

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
  std::unique_ptr<WritableFile> out_;  // the file begin() opened
  std::string out_rel_;
  FileSum out_sum_;
};

// One bucket of the backup being written: the sink a source hands its pinned version to.
class Sink final : public BucketSink {
 public:
  Sink(Copier* copier, const std::string& topic, uint32_t bucket, BackupManifest* m)
      : copier_(copier), rel_(dataset_rel(topic, bucket) + "/"), bucket_(bucket), m_(m) {
    if (const auto* prev = copier->previous())
      for (const auto& f : prev->files)
        if (f.path.rfind(rel_, 0) == 0 && copier->has(f.path, f.size)) {
          held_.push_back({f.path.substr(rel_.size()), f.size});
          held_size_[held_.back().path] = f.size;
        }
  }
  const std::vector<SourceFile>& held() const override { return held_; }
  Status pinned(const BackupBucket& bucket, const std::vector<SourceFile>& files) override {
    if (pinned_) return Internal("backup: bucket " + std::to_string(bucket_) + " pinned twice");
    if (bucket.bucket != bucket_)
      return Internal("backup: bucket " + std::to_string(bucket.bucket) + " answered for bucket " + std::to_string(bucket_));
    pinned_ = true;
    m_->buckets.push_back(bucket);
    for (const auto& f : files) {
      if (!safe_path(f.path)) return Corruption("bucket " + std::to_string(bucket_) + ": bad file name '" + f.path + "'");
      if (!needs(f)) copier_->keep(rel_ + f.path);
      else sizes_[f.path] = f.size;
    }
    return Status::OK();
  }
  bool needs(const SourceFile& f) const override {
    auto it = held_size_.find(f.path);
    return it == held_size_.end() || it->second != f.size;
  }
  Status begin_file(const std::string& path) override {
    if (copier_->in_file()) return Internal("backup: '" + copier_->file() + "' not ended");
    auto it = sizes_.find(path);
    if (it == sizes_.end())
      return Corruption("bucket " + std::to_string(bucket_) + ": '" + path + "' is not a needed file of the version");
    want_ = it->second;
    sizes_.erase(it);
    return copier_->begin(rel_ + path);
  }
  Status append(std::string_view data) override { return copier_->append(data); }
  Status end_file() override { return copier_->end(want_); }
  Status copy_file(const std::string& from, const std::string& path) override {
    if (sizes_.erase(path) == 0)
      return Corruption("bucket " + std::to_string(bucket_) + ": '" + path + "' is not a needed file of the version");
    return copier_->copy(from, rel_ + path);
  }
  // After the source is done: every needed file was written.
  Status check_done() const {
    if (!pinned_) return Internal("backup: bucket " + std::to_string(bucket_) + " was never pinned");
    if (copier_->in_file()) return Corruption("'" + copier_->file() + "' ended early");
    if (!sizes_.empty())
      return Corruption("bucket " + std::to_string(bucket_) + ": '" + rel_ + sizes_.begin()->first + "' (and " +
                        std::to_string(sizes_.size() - 1) + " more) of version " +
                        std::to_string(m_->buckets.back().version) + " never arrived");
    return Status::OK();
  }

 private:
  // A path inside the dataset: no empty, "." or ".." part, not absolute.
  static bool safe_path(const std::string& p) {
    if (p.empty() || p.front() == '/') return false;
    size_t pos = 0;
    while (pos <= p.size()) {
      size_t slash = std::min(p.find('/', pos), p.size());
      std::string_view part(p.data() + pos, slash - pos);
      if (part.empty() || part == "." || part == "..") return false;
      pos = slash + 1;
    }
    return true;
  }

  Copier* copier_;
  std::string rel_;  // "<topic>/bucket_<b>/data.lance/"
  uint32_t bucket_;
  BackupManifest* m_;
  std::vector<SourceFile> held_;
  std::map<std::string, uint64_t> held_size_;  // held_ by path
  std::map<std::string, uint64_t> sizes_;  // needed files not written yet
  uint64_t want_ = 0;
  bool pinned_ = false;
};

}  // namespace

Result<TopicInfo> check_backup_topic_meta(const std::string& topic, std::string_view meta_text,
                                          const std::string& what) {
  ASSIGN_OR_RETURN(TopicInfo info, queue::decode_topic_meta(meta_text, what));
  if (info.topic != topic)
    return Corruption("'" + what + "' is the topic.json of topic '" + info.topic + "', not of '" + topic + "'");
  if (info.backend == "memory")
    return FailedPrecondition("topic '" + topic + "' uses the backend 'memory': its records live only in the "
                              "process that wrote them, there are no files to back up");
  if (info.backend != "lance" && info.backend != "persisting")
    return NotSupported("topic '" + topic + "' uses the backend '" + info.backend +
                        "': a backup copies Lance datasets, which only the backends 'lance' and 'persisting' keep");
  return info;
}

Status check_backup_source(Env* env, const std::string& data_dir, const std::string& topic) {
  RETURN_IF_ERROR(groups::validate_name("topic", topic));
  DataDirSource source(env, data_dir);
  ASSIGN_OR_RETURN(std::string text, source.topic_meta(topic));
  return check_backup_topic_meta(topic, text, queue::topic_meta_path(data_dir, topic)).status();
}

Result<BackupResult> backup_topic(Env* env, const std::string& data_dir, const std::string& topic,
                                  const std::string& dir, const BackupOptions& options) {
  RETURN_IF_ERROR(groups::validate_name("topic", topic));
  DataDirSource source(env, data_dir);
  return backup_topic(env, &source, topic, dir, options);
}

Result<BackupResult> backup_topic(Env* env, BackupSource* source, const std::string& topic, const std::string& dir,
                                  const BackupOptions& options) {
  RETURN_IF_ERROR(groups::validate_name("topic", topic));
  ASSIGN_OR_RETURN(std::string meta_text, source->topic_meta(topic));
  ASSIGN_OR_RETURN(TopicInfo info, check_backup_topic_meta(topic, meta_text, "topic.json of topic '" + topic + "'"));
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
    Sink sink(&copier, topic, b, &m);
    RETURN_IF_ERROR(source->copy_bucket(info, b, &sink));
    RETURN_IF_ERROR(sink.check_done());
  }

  // 2. The consumer groups' commits, read after the versions were pinned: a commit may point
  //    past a bucket's pinned end (restore moves it back to the end).
  ASSIGN_OR_RETURN(auto group_files, source->group_files(info));
  std::sort(group_files.begin(), group_files.end());
  for (const auto& [g, raw] : group_files) {
    RETURN_IF_ERROR(groups::validate_name("group", g));
    if (!m.groups.empty() && m.groups.back() == g) return Corruption("group '" + g + "' came twice");
    RETURN_IF_ERROR(groups::GroupStore::decode(raw, topic, g, "commits of group '" + g + "'").status());
    RETURN_IF_ERROR(copier.write(raw, group_rel(topic, g)));
    m.groups.push_back(g);
  }

  // 3. topic.json as read at the start.
  RETURN_IF_ERROR(copier.write(meta_text, topic_meta_rel(topic)));

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
