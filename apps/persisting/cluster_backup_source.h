// The source of `persisting backup --server` (docs/backup.md, "Backup of a cluster"): each
// bucket's owner flushes it, pins its latest Lance version and streams the files the backup
// does not hold yet (Client::backup_bucket); topic.json and the groups' commits come from the
// nodes too. src/backup writes them exactly as a local backup.
#pragma once

#include <string>

#include "persisting/backup.h"
#include "persisting/client.h"

namespace persisting::cli {

class ClusterBackupSource final : public backup::BackupSource {
 public:
  explicit ClusterBackupSource(Client* client) : client_(client) {}
  Result<std::string> topic_meta(const std::string& topic) override;
  Status copy_bucket(const TopicInfo& info, uint32_t bucket, backup::BucketSink* sink) override;
  Result<std::vector<std::pair<std::string, std::string>>> group_files(const TopicInfo& info) override;

 private:
  Client* client_;
};

}  // namespace persisting::cli
