#include "apps/persisting/cluster_backup_source.h"

#include "core/status_macros.h"

namespace persisting::cli {

namespace {

// Feeds a bucket's stream into the backup's sink, one file after another.
class Receiver final : public BucketBackupReceiver {
 public:
  Receiver(uint32_t bucket, backup::BucketSink* sink) : bucket_(bucket), sink_(sink) {}

  Status header(const BucketBackupHeader& h) override {
    std::vector<backup::SourceFile> files;
    files.reserve(h.files.size());
    for (const auto& f : h.files) files.push_back({f.path, f.size});
    return sink_->pinned({bucket_, h.version, h.first_offset, h.end_offset}, files);
  }
  Status chunk(const std::string& path, uint64_t offset, std::string_view data) override {
    if (!open_ || path != path_) {
      RETURN_IF_ERROR(close());
      RETURN_IF_ERROR(sink_->begin_file(path));
      open_ = true;
      path_ = path;
      written_ = 0;
    }
    if (offset != written_)
      return Corruption("file '" + path + "': a chunk at offset " + std::to_string(offset) + ", expected " +
                        std::to_string(written_));
    RETURN_IF_ERROR(sink_->append(data).with_context("file '" + path + "'"));
    written_ += data.size();
    return Status::OK();
  }
  Status close() {
    if (!open_) return Status::OK();
    open_ = false;
    return sink_->end_file();
  }

 private:
  uint32_t bucket_;
  backup::BucketSink* sink_;
  bool open_ = false;
  std::string path_;
  uint64_t written_ = 0;
};

}  // namespace

Result<std::string> ClusterBackupSource::topic_meta(const std::string& topic) {
  ASSIGN_OR_RETURN(auto files, client_->backup_topic_files(topic, /*groups=*/false));
  return std::move(files.topic_meta);
}

Status ClusterBackupSource::copy_bucket(const TopicInfo& info, uint32_t bucket, backup::BucketSink* sink) {
  std::vector<BackupFileSize> have;
  for (const auto& f : sink->held()) have.push_back({f.path, f.size});
  Receiver receiver(bucket, sink);
  RETURN_IF_ERROR(client_->backup_bucket(info.topic, bucket, info.incarnation, have, &receiver));
  return receiver.close().with_context("topic '" + info.topic + "' bucket " + std::to_string(bucket));
}

Result<std::vector<std::pair<std::string, std::string>>> ClusterBackupSource::group_files(const TopicInfo& info) {
  ASSIGN_OR_RETURN(auto files, client_->backup_topic_files(info.topic, /*groups=*/true));
  return std::move(files.groups);
}

}  // namespace persisting::cli
