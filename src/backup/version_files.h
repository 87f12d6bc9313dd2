// The files of one pinned Lance version of a bucket (docs/backup.md, "What a backup holds"):
// what a backup copies, from a data dir (data_dir_source.cc) or from a node (net/backup_service.cc).
#pragma once

#include <string>
#include <vector>

#include "persisting/backup.h"
#include "storage/lance/snapshot.h"

namespace persisting::backup {

// The files `s` refers to, relative to the dataset directory, sorted: its manifest, data and
// deletion files, its transaction file when it is still there, everything under _indices/ when
// the manifest has an index section. None for version 0.
Result<std::vector<std::string>> version_files(Env* env, const lance::Snapshot& s);

// The same with each file's size. NotFound naming the bucket and the version when a file is
// gone (a version cleanup removed it meanwhile).
Result<std::vector<SourceFile>> version_file_sizes(Env* env, const lance::Snapshot& s, const std::string& bucket_name);

// NotFound saying that a file of the pinned version disappeared while it was copied.
Status file_disappeared(const std::string& bucket_name, uint64_t version, const Status& st);

// The source of a local backup: a data dir on this host.
class DataDirSource final : public BackupSource {
 public:
  DataDirSource(Env* env, std::string data_dir) : env_(env), data_dir_(std::move(data_dir)) {}
  Result<std::string> topic_meta(const std::string& topic) override;
  Status copy_bucket(const TopicInfo& info, uint32_t bucket, BucketSink* sink) override;
  Result<std::vector<std::pair<std::string, std::string>>> group_files(const TopicInfo& info) override;

 private:
  Env* env_;
  std::string data_dir_;
};

}  // namespace persisting::backup
