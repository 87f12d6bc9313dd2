// The remote Client's data-lifecycle calls (include/persisting/client.h): compaction on the
// owners of a topic's buckets (CompactTopic) and the backup streams (BackupBucket), per
// docs/wire-protocol.md, "Backup" and "Compaction". The backup's files are written by
// src/backup, which the CLI links; this file only moves bytes.
#include <set>

#include "net/client_core.h"
#include "persisting/client.h"
#include "persisting/json.h"

namespace persisting {

namespace {

std::string owner_text(const detail::Owner& o) { return o.id + " (" + o.address + ")"; }

}  // namespace

Result<Object> Client::compact(const std::string& topic, const CompactOptions& options) {
  v1::CompactTopicRequest req;
  req.set_topic(topic);
  if (options.bucket) req.set_bucket(*options.bucket);
  if (options.version_retention_s) {
    if (*options.version_retention_s < 0)
      return InvalidArgument("version retention must be 0 or more seconds, got " +
                             std::to_string(*options.version_retention_s));
    req.set_version_retention_s(static_cast<uint64_t>(*options.version_retention_s));
  }
  v1::CompactTopicResponse resp;
  const std::string& address = core_->entries[0];
  grpc::ClientContext ctx;
  core_->channels->prepare(&ctx, options.timeout);
  RETURN_IF_ERROR(net::from_grpc(core_->channels->stub(address)->CompactTopic(&ctx, req, &resp), "node at " + address));
  List buckets;
  for (const auto& b : resp.buckets()) {
    Object o{{"bucket", static_cast<int64_t>(b.bucket())}, {"node", b.node()}};
    if (!b.error().empty()) {
      o.set("error", b.error());
    } else {
      o.set("fragments_compacted", static_cast<int64_t>(b.fragments_compacted()));
      o.set("fragments_written", static_cast<int64_t>(b.fragments_written()));
      o.set("rows_rewritten", static_cast<int64_t>(b.rows_rewritten()));
      o.set("versions_removed", static_cast<int64_t>(b.versions_removed()));
      o.set("files_removed", static_cast<int64_t>(b.files_removed()));
      o.set("bytes_removed", static_cast<int64_t>(b.bytes_removed()));
    }
    o.set("version", static_cast<int64_t>(b.version()));
    if (b.version() > 0 || b.fragments_before() > 0) {
      o.set("fragments_before", static_cast<int64_t>(b.fragments_before()));
      o.set("fragments", static_cast<int64_t>(b.fragments()));
      o.set("rows", static_cast<int64_t>(b.rows()));
    }
    buckets.emplace_back(std::move(o));
  }
  List on;
  for (const auto& n : resp.compacted_on()) on.emplace_back(n);
  return Object{{"topic", topic}, {"buckets", Value(std::move(buckets))}, {"compacted_on", Value(std::move(on))}};
}

Status Client::backup_bucket(const std::string& topic, uint32_t bucket, uint64_t incarnation,
                             const std::vector<BackupFileSize>& have, BucketBackupReceiver* receiver) {
  const std::string where = "topic '" + topic + "' bucket " + std::to_string(bucket);
  // The owner as the cluster says now (not a cached one: a rebalance may have moved it).
  core_->forget_owner(topic, bucket);
  ASSIGN_OR_RETURN(detail::Owner owner, core_->owner(topic, bucket));
  const std::string node = owner_text(owner);
  v1::BackupBucketRequest req;
  req.set_topic(topic);
  req.set_bucket(bucket);
  req.set_incarnation(incarnation);
  for (const auto& h : have) {
    auto* f = req.add_have();
    f->set_path(h.path);
    f->set_size(h.size);
  }
  grpc::ClientContext ctx;
  // No deadline for the whole stream (a big bucket takes long); the token still goes along.
  core_->channels->prepare(&ctx, std::chrono::hours(24 * 365));
  auto reader = core_->channels->stub(owner.address)->BackupBucket(&ctx, req);
  v1::BackupBucketResponse msg;
  bool first = true;
  Status failed;
  while (reader->Read(&msg)) {
    if (first) {
      first = false;
      BucketBackupHeader h;
      h.node = node;
      h.version = msg.version();
      h.first_offset = msg.first_offset();
      h.end_offset = msg.end_offset();
      for (const auto& f : msg.files()) h.files.push_back({f.path(), f.size()});
      failed = receiver->header(h);
    } else {
      failed = receiver->chunk(msg.path(), msg.offset(), msg.data());
    }
    if (!failed.ok()) {
      ctx.TryCancel();
      break;
    }
  }
  grpc::Status g = reader->Finish();
  if (!failed.ok()) return failed.with_context(where + " from node " + node);
  RETURN_IF_ERROR(net::from_grpc(g, where + ": node " + node));
  if (first) return Internal(where + ": node " + node + " answered nothing");
  return Status::OK();
}

Result<TopicBackupFiles> Client::backup_topic_files(const std::string& topic, bool groups) {
  TopicBackupFiles out;
  v1::BackupBucketRequest req;
  req.set_topic(topic);
  req.set_topic_files(true);
  auto ask = [&](const std::string& address, const std::string& name, v1::BackupBucketResponse* resp) -> Status {
    grpc::ClientContext ctx;
    core_->channels->prepare(&ctx, core_->options.rpc_timeout);
    auto reader = core_->channels->stub(address)->BackupBucket(&ctx, req);
    bool got = false;
    v1::BackupBucketResponse msg;
    while (reader->Read(&msg)) {
      if (!got) *resp = msg;
      got = true;
    }
    RETURN_IF_ERROR(net::from_grpc(reader->Finish(), "topic '" + topic + "': node " + name));
    if (!got) return Internal("topic '" + topic + "': node " + name + " answered nothing");
    return Status::OK();
  };
  if (!groups) {
    v1::BackupBucketResponse resp;
    RETURN_IF_ERROR(ask(core_->entries[0], "at " + core_->entries[0], &resp));
    out.topic_meta = resp.topic_meta();
    return out;
  }
  // Every owner of a bucket: a group's coordinator owns one of them.
  ASSIGN_OR_RETURN(TopicInfo info, core_->topic(topic));
  std::map<std::string, std::string> owners;  // address -> name
  for (uint32_t b = 0; b < info.num_buckets; ++b) {
    core_->forget_owner(topic, b);
    ASSIGN_OR_RETURN(detail::Owner o, core_->owner(topic, b));
    owners.emplace(o.address, owner_text(o));
  }
  std::set<std::string> seen;
  for (const auto& [address, name] : owners) {
    v1::BackupBucketResponse resp;
    RETURN_IF_ERROR(ask(address, name, &resp));
    if (out.topic_meta.empty()) out.topic_meta = resp.topic_meta();
    for (const auto& g : resp.groups()) {
      if (!seen.insert(g.group()).second)
        return Unavailable("topic '" + topic + "': two nodes coordinate group '" + g.group() +
                           "' (a rebalance is switching?); try again");
      out.groups.emplace_back(g.group(), g.data());
    }
  }
  return out;
}

}  // namespace persisting
