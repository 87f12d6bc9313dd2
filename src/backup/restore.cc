// Restoring a topic from a backup into a data dir (docs/backup.md, "Restore").
//
// The backup is verified first (every file's size and CRC32C); then its datasets, a topic.json
// with a new incarnation and the groups' commits are written into <data_dir>/.restore.<topic>.<id>
// and that directory is renamed to <data_dir>/<topic> (create-if-absent) as the last step. So a
// failure at any point leaves no topic and no half-made one (a crash can leave the hidden staging
// directory, which nothing reads; remove it by hand). Offsets are those of the backup: bucket b
// holds [first_offset, end_offset) of the manifest, and new puts continue at end_offset.
#include "persisting/backup.h"

#include <set>

#include "backup/backup_manifest.h"
#include "backup/file_copy.h"
#include "backup/layout.h"
#include "core/status_macros.h"
#include "groups/group_store.h"
#include "groups/group_types.h"
#include "queue/topic_meta.h"

namespace persisting::backup {

namespace {

// Writes the restored topic into `stage` (a fresh directory laid out as <data_dir>/<topic>).
Status fill_stage(Env* env, const std::string& backup_dir, const std::string& stage, const BackupManifest& m,
                  const std::string& name, bool sync, RestoreResult* r) {
  std::set<std::string> dirs{stage};
  SyncBatch batch;
  SyncBatch* to_sync = sync ? &batch : nullptr;
  auto make_parent = [&](const std::string& path) -> Status {
    std::string parent = dir_name(path);
    if (!dirs.insert(parent).second) return Status::OK();
    RETURN_IF_ERROR(env->create_dirs(parent));
    for (std::string d = parent; d.size() > stage.size();) {
      d = dir_name(d);
      dirs.insert(d);
    }
    return Status::OK();
  };
  const std::string prefix = m.topic + "/";
  const std::string meta_rel = topic_meta_rel(m.topic);
  std::set<std::string> group_files;
  for (const auto& g : m.groups) group_files.insert(group_rel(m.topic, g));

  for (const auto& f : m.files) {
    if (f.path == meta_rel || group_files.count(f.path)) continue;  // rewritten below
    const std::string to = join_path(stage, f.path.substr(prefix.size()));
    RETURN_IF_ERROR(make_parent(to));
    ASSIGN_OR_RETURN(FileSum sum, copy_file(env, join_path(backup_dir, f.path), to, to_sync));
    if (sum.size != f.size || sum.crc32c != f.crc32c)
      return Corruption("backup file '" + join_path(backup_dir, f.path) + "' changed while it was restored");
    ++r->files;
    r->bytes += sum.size;
  }

  // topic.json: the backed-up settings under the new name, as a new incarnation.
  const std::string meta_src = join_path(backup_dir, meta_rel);
  ASSIGN_OR_RETURN(auto meta_text, env->read_file(meta_src));
  ASSIGN_OR_RETURN(TopicInfo info, queue::decode_topic_meta(meta_text, meta_src));
  if (info.topic != m.topic)
    return Corruption("backup file '" + meta_src + "' is topic '" + info.topic + "', the manifest says '" + m.topic + "'");
  if (info.num_buckets != m.buckets.size())
    return Corruption("backup file '" + meta_src + "' has " + std::to_string(info.num_buckets) +
                      " buckets, the manifest " + std::to_string(m.buckets.size()));
  info.topic = name;
  info.incarnation = queue::new_incarnation();
  RETURN_IF_ERROR(write_whole_file(env, join_path(stage, "topic.json"), queue::encode_topic_meta(info), to_sync).status());
  r->info = info;

  // Group commits, renamed to the new topic; a commit past its bucket's end moves back to it.
  for (const auto& g : m.groups) {
    const std::string src = join_path(backup_dir, group_rel(m.topic, g));
    ASSIGN_OR_RETURN(auto raw, env->read_file(src));
    ASSIGN_OR_RETURN(groups::Committed committed, groups::GroupStore::decode(raw, m.topic, g, src));
    for (auto& [bucket, offset] : committed) {
      if (bucket.value() >= m.buckets.size())
        return Corruption("backup file '" + src + "' commits bucket " + std::to_string(bucket.value()) +
                          " of a topic with " + std::to_string(m.buckets.size()));
      const uint64_t end = m.buckets[bucket.value()].end_offset;
      if (offset.value() > end) {
        r->clamped.push_back("group " + g + " bucket " + std::to_string(bucket.value()) + ": " +
                             std::to_string(offset.value()) + " -> " + std::to_string(end));
        offset = Offset(end);
      }
    }
    const std::string to = join_path(stage, "groups/" + g + ".offsets");
    RETURN_IF_ERROR(make_parent(to));
    RETURN_IF_ERROR(write_whole_file(env, to, groups::GroupStore::encode(name, g, committed), to_sync).status());
  }
  if (sync) {
    RETURN_IF_ERROR(batch.sync_all());
    for (const auto& d : dirs) RETURN_IF_ERROR(env->sync_dir(d));
  }
  return Status::OK();
}

}  // namespace

Result<RestoreResult> restore_topic(Env* env, const std::string& backup_dir, const std::string& data_dir,
                                    const RestoreOptions& options) {
  ASSIGN_OR_RETURN(VerifyReport report, verify_backup(env, backup_dir));
  if (!report.ok()) {
    std::string what;
    for (size_t i = 0; i < report.problems.size() && i < 3; ++i)
      what += (i ? "; " : "") + report.problems[i].path + ": " + report.problems[i].what;
    if (report.problems.size() > 3) what += "; and " + std::to_string(report.problems.size() - 3) + " more";
    return Corruption("backup '" + backup_dir + "' fails verification (" + what + "); nothing was restored");
  }
  const BackupManifest& m = report.manifest;
  const std::string name = options.topic.empty() ? m.topic : options.topic;
  RETURN_IF_ERROR(groups::validate_name("topic", name));
  const std::string final_dir = queue::topic_dir(data_dir, name);
  if (env->file_exists(final_dir))
    return AlreadyExists("topic '" + name + "' already exists in data dir '" + data_dir +
                         "': restore never overwrites a topic (delete it first, or restore under another name "
                         "with --topic)");
  RETURN_IF_ERROR(env->create_dirs(data_dir));

  const std::string stage =
      join_path(data_dir, ".restore." + name + "." + queue::incarnation_text(queue::new_incarnation()));
  RETURN_IF_ERROR(env->create_dirs(stage));
  RestoreResult r;
  Status s = fill_stage(env, backup_dir, stage, m, name, options.sync, &r);
  if (s.ok()) {
    s = env->rename_no_replace(stage, final_dir);
    // A file system without renameat2(RENAME_NOREPLACE) falls back to link(), which directories
    // do not have: a plain rename then, the check above having just found no topic there.
    if (!s.ok() && s.code() != Code::kAlreadyExists && !env->file_exists(final_dir))
      s = env->rename_file(stage, final_dir);
    if (s.code() == Code::kAlreadyExists)
      s = AlreadyExists("topic '" + name + "' was created in data dir '" + data_dir +
                        "' while it was restored; nothing was restored");
  }
  if (!s.ok()) {
    Status cleanup = env->remove_all(stage);
    if (!cleanup.ok()) return Status(s.code(), s.message() + " (and removing '" + stage + "' failed: " +
                                                   cleanup.message() + ")");
    return s;
  }
  // The topic is in place from here on; a failed sync only leaves its name's durability open.
  if (options.sync) {
    if (Status synced = env->sync_dir(data_dir); !synced.ok())
      return Status(synced.code(), "topic '" + name + "' was restored into '" + data_dir +
                                       "' but syncing the data dir failed (" + synced.message() +
                                       "): it may be missing after a power loss");
  }
  r.manifest = m;
  return r;
}

}  // namespace persisting::backup
