// BackupBucket and CompactTopic (docs/wire-protocol.md, "Backup", "Compaction"): a bucket's owner
// flushes it, pins its latest Lance version and streams that version's files to a backup; a
// topic's datasets are compacted and cleaned up on the nodes that own its buckets.
//
// The stream is a ServerWriteReactor: the flush and the pin are made on the admin pool, then each
// chunk is read (at most chunk_bytes, 1 MiB by default) when the previous one has been written,
// so a stream holds one chunk in memory and no thread between chunks. The pin (a VersionPin, as
// a local backup's) lives as long as the stream: this node's version cleanup keeps the version's
// files until the last chunk is sent.
#include <algorithm>
#include <atomic>

#include "backend/maintenance.h"
#include "backup/version_files.h"
#include "core/status_macros.h"
#include "groups/group_store.h"
#include "net/group_wire.h"
#include "net/grpc_status.h"
#include "net/service_internal.h"
#include "queue/queue_core.h"
#include "queue/topic_meta.h"
#include "runtime/storage_manager.h"
#include "storage/lance/version_pins.h"

namespace persisting::net {

namespace {
constexpr uint32_t kDefaultChunk = 1u << 20;
constexpr uint32_t kMaxChunk = 4u << 20;
}  // namespace

class BackupStream final : public grpc::ServerWriteReactor<v1::BackupBucketResponse> {
 public:
  BackupStream(Env* env, std::function<void(const Status&)> record) : env_(env), record_(std::move(record)) {}

  // The first answer and, for a bucket, the files to send after it (prepare_backup fills these).
  v1::BackupBucketResponse first;
  std::string dataset, name;  // the bucket's dataset directory; "topic 'T' bucket B on node n1"
  uint64_t version = 0;
  lance::VersionPin pin;
  std::vector<backup::SourceFile> to_send;
  uint32_t chunk = kDefaultChunk;

  void start() { StartWrite(&first); }
  void fail(const Status& s) { finish(s); }

  void OnWriteDone(bool ok) override {
    if (!ok) return finish(Unavailable(name + ": the stream was cancelled (the client went away)"));
    Status s = next();
    if (!s.ok()) return finish(s);
    if (done_) return finish(Status::OK());
    StartWrite(&msg_);
  }
  void OnDone() override { delete this; }

 private:
  // The next chunk into msg_; done_ when there is none.
  Status next() {
    msg_.Clear();
    while (file_ < to_send.size()) {
      const backup::SourceFile& f = to_send[file_];
      const std::string path = join_path(dataset, f.path);
      if (!in_) {
        auto in = env_->new_random_access_file(path);
        if (!in.ok()) {
          if (in.status().code() == Code::kNotFound) return backup::file_disappeared(name, version, in.status());
          return in.status().with_context(name);
        }
        in_ = std::move(*in);
        offset_ = 0;
        if (f.size == 0) {  // an empty file: one chunk without data
          msg_.set_path(f.path);
          in_.reset();
          ++file_;
          return Status::OK();
        }
      }
      if (offset_ >= f.size) {
        in_.reset();
        ++file_;
        continue;
      }
      const size_t n = static_cast<size_t>(std::min<uint64_t>(chunk, f.size - offset_));
      std::string* data = msg_.mutable_data();
      RETURN_IF_ERROR(in_->read(offset_, n, data));
      if (data->size() != n)
        return IOError(name + ": '" + path + "' is shorter than its " + std::to_string(f.size) + " bytes");
      msg_.set_path(f.path);
      msg_.set_offset(offset_);
      offset_ += n;
      return Status::OK();
    }
    done_ = true;
    return Status::OK();
  }
  void finish(const Status& s) {
    if (finished_.exchange(true)) return;
    in_.reset();
    pin.release();
    record_(s);
    Finish(to_grpc(s));
  }

  Env* env_;
  std::function<void(const Status&)> record_;
  v1::BackupBucketResponse msg_;
  size_t file_ = 0;
  uint64_t offset_ = 0;
  std::unique_ptr<RandomAccessFile> in_;
  bool done_ = false;
  std::atomic<bool> finished_{false};
};

grpc::ServerWriteReactor<v1::BackupBucketResponse>* Service::BackupBucket(grpc::CallbackServerContext* ctx,
                                                                          const v1::BackupBucketRequest* req) {
  auto* stream = new BackupStream(core_->env, recorder(kBackupBucket));
  if (Status a = authorize(ctx); !a.ok()) {
    stream->fail(a);
    return stream;
  }
  post_admin([this, req, stream] {
    Status s = prepare_backup(*req, stream);
    if (!s.ok()) return stream->fail(s);
    stream->start();
  });
  return stream;
}

Status Service::prepare_backup(const v1::BackupBucketRequest& req, BackupStream* stream) {
  const std::string& topic = req.topic();
  const std::string node = "node " + self_.id.str();
  RETURN_IF_ERROR(validate_topic_name(topic));
  if (!core_->has_data_dir())
    return FailedPrecondition(node + " keeps no files (it has no data dir): there is nothing to back up");
  Env* env = core_->env;
  const std::string& data_dir = core_->options.data_dir;
  ASSIGN_OR_RETURN(auto e, directory_->find(topic, /*forward=*/true));
  TopicEntry& t = *e;
  if (req.has_incarnation() && req.incarnation() != t.info.incarnation)
    return NotFound(runtime::deleted_message(topic, req.incarnation()));
  v1::BackupBucketResponse& first = stream->first;
  first.set_node(self_.id.str());

  if (req.topic_files()) {
    stream->name = "topic '" + topic + "' files on " + node;
    // topic.json as this node stores it (a topic of a backend without files may have none).
    auto meta = env->read_file(queue::topic_meta_path(data_dir, topic));
    if (meta.ok()) first.set_topic_meta(std::move(*meta));
    else if (meta.status().code() == Code::kNotFound) first.set_topic_meta(queue::encode_topic_meta(t.info));
    else return meta.status().with_context(node);
    // The commits of the groups this node coordinates (the owner of their coordinator bucket).
    groups::GroupStore store(env, data_dir);
    ASSIGN_OR_RETURN(auto names, store.list(topic));
    const auto placement = t.placement();
    for (const auto& g : names) {
      if (placement->owner(topic, coordinator_bucket(g, t.info.num_buckets)) != self_.id) continue;
      auto raw = env->read_file(store.path(topic, g));
      if (!raw.ok() && raw.status().code() == Code::kNotFound) continue;  // deleted meanwhile
      if (!raw.ok()) return raw.status().with_context(node);
      auto* f = first.add_groups();
      f->set_group(g);
      f->set_data(std::move(*raw));
    }
    return Status::OK();
  }

  const uint32_t b = req.bucket();
  stream->name = bucket_name(topic, b) + " on " + node;
  if (t.info.backend != "lance" && t.info.backend != "persisting")
    return FailedPrecondition("topic '" + topic + "' uses the backend '" + t.info.backend +
                              "': a backup copies Lance datasets, which only the backends 'lance' and 'persisting' keep");
  if (req.chunk_bytes() > kMaxChunk)
    return InvalidArgument("chunk_bytes " + std::to_string(req.chunk_bytes()) + " is more than " +
                           std::to_string(kMaxChunk));
  if (req.chunk_bytes() > 0) stream->chunk = req.chunk_bytes();
  ASSIGN_OR_RETURN(auto actor, directory_->local_bucket(t, b));
  // Every record acknowledged before this call goes into Lance now: it is in the version pinned.
  RETURN_IF_ERROR(detail::flush_actors({actor}).with_context(stream->name));
  stream->dataset = join_path(queue::bucket_dir(data_dir, topic, BucketId(b)), "data.lance");
  ASSIGN_OR_RETURN(lance::Snapshot s, lance::load_snapshot(env, stream->dataset, std::nullopt));
  stream->pin.set(stream->dataset, s.version);
  stream->version = s.version;
  ASSIGN_OR_RETURN(auto files, backup::version_file_sizes(env, s, stream->name));
  first.set_version(s.version);
  first.set_first_offset(s.first_offset);
  first.set_end_offset(s.first_offset + s.num_rows());
  std::map<std::string, uint64_t> have;
  for (const auto& h : req.have()) have[h.path()] = h.size();
  for (auto& f : files) {
    auto* w = first.add_files();
    w->set_path(f.path);
    w->set_size(f.size);
    if (auto it = have.find(f.path); it != have.end() && it->second == f.size) continue;
    stream->to_send.push_back(std::move(f));
  }
  return Status::OK();
}

// ---- compaction ---------------------------------------------------------------------------

grpc::ServerUnaryReactor* Service::CompactTopic(grpc::CallbackServerContext* ctx, const v1::CompactTopicRequest* req,
                                                v1::CompactTopicResponse* resp) {
  return unary(kCompactTopic, ctx, [this, req, resp](Done done) {
    post_admin([this, req, resp, done] {
      if (!req->local_only()) return done(compact_everywhere(*req, resp));
      Status s = compact_here(*req, resp);
      done(s.ok() ? s : s.with_context("node " + self_.id.str()));
    });
  });
}

Status Service::compact_here(const v1::CompactTopicRequest& req, v1::CompactTopicResponse* resp) {
  const std::string& topic = req.topic();
  RETURN_IF_ERROR(validate_topic_name(topic));
  ASSIGN_OR_RETURN(TopicInfo info, core_->lookup(topic));
  if (req.has_incarnation() && info.incarnation != req.incarnation())
    return NotFound("topic '" + topic + "': this node has another life of the name (incarnation " +
                    std::to_string(info.incarnation) + ", not " + std::to_string(req.incarnation()) + ")");
  if (info.backend != "lance" && info.backend != "persisting")
    return FailedPrecondition("topic '" + topic + "' uses backend '" + info.backend +
                              "', which keeps no Lance datasets to compact");
  if (!core_->has_data_dir())
    return FailedPrecondition("node " + self_.id.str() + " keeps no files (it has no data dir): nothing to compact");
  if (req.has_bucket() && req.bucket() >= info.num_buckets)
    return InvalidArgument("bucket " + std::to_string(req.bucket()) + ": topic '" + topic + "' has buckets 0 to " +
                           std::to_string(info.num_buckets - 1));
  std::optional<int64_t> retention;
  if (req.has_version_retention_s()) retention = static_cast<int64_t>(req.version_retention_s());
  ASSIGN_OR_RETURN(MaintenanceOptions mo,
                   topic_maintenance_options(info.backend_options, retention, "topic '" + topic + "'"));
  const auto limits = core_->retention_limits(info);
  ASSIGN_OR_RETURN(auto entry, directory_->find(topic, /*forward=*/false));
  const auto placement = entry->placement();
  resp->add_compacted_on(self_.id.str());
  for (uint32_t b = 0; b < info.num_buckets; ++b) {
    if (req.has_bucket() && req.bucket() != b) continue;
    if (placement->owner(topic, b) != self_.id) continue;
    auto* o = resp->add_buckets();
    o->set_bucket(b);
    o->set_node(self_.id.str());
    const std::string path = join_path(queue::bucket_dir(core_->options.data_dir, topic, BucketId(b)), "data.lance");
    auto c = compact_dataset_now(core_->env, path, mo, limits.get());
    if (!c.ok()) {
      o->set_error(c.status().with_context(bucket_name(topic, b)).to_string());
      continue;
    }
    if (!c->status.ok()) o->set_error(c->status.with_context(bucket_name(topic, b)).to_string());
    o->set_version(c->version);
    o->set_fragments_before(c->fragments_before);
    o->set_fragments(c->fragments);
    o->set_rows(c->rows);
    const auto& r = c->report;
    o->set_fragments_compacted(r.compaction.fragments_removed);
    o->set_fragments_written(r.compaction.fragments_written);
    o->set_rows_rewritten(r.compaction.rows_rewritten);
    o->set_versions_removed(r.cleanup.versions_removed);
    o->set_files_removed(r.cleanup.files_removed);
    o->set_bytes_removed(r.cleanup.bytes_removed);
  }
  return Status::OK();
}

Status Service::compact_everywhere(const v1::CompactTopicRequest& req, v1::CompactTopicResponse* resp) {
  const std::string& name = req.topic();
  RETURN_IF_ERROR(validate_topic_name(name));
  std::optional<uint64_t> incarnation;
  if (req.has_incarnation()) incarnation = req.incarnation();
  // This node's buckets first: bad input stops here, before any member compacts.
  Status here = compact_here(req, resp);
  if (!here.ok() && here.code() != Code::kNotFound) return here.with_context("node " + self_.id.str());
  if (here.ok() && !incarnation) {
    auto info = core_->lookup(name);
    if (info.ok()) incarnation = info->incarnation;
  }
  auto send = [&](const runtime::Member& m) {
    grpc::ClientContext pctx;
    // Compaction takes as long as the data takes: a generous deadline of its own.
    peers_->prepare(&pctx, std::chrono::minutes(10));
    v1::CompactTopicRequest fwd = req;
    fwd.set_local_only(true);
    if (incarnation) fwd.set_incarnation(*incarnation);
    v1::CompactTopicResponse presp;
    Status s = from_grpc(peers_->stub(m.address)->CompactTopic(&pctx, fwd, &presp),
                         "node " + m.id.str() + " at " + m.address);
    if (s.ok()) {
      for (const auto& b : presp.buckets()) *resp->add_buckets() = b;
      for (const auto& n : presp.compacted_on()) resp->add_compacted_on(n);
    }
    return s;
  };
  auto done_on = [&] { return std::vector<std::string>(resp->compacted_on().begin(), resp->compacted_on().end()); };
  RETURN_IF_ERROR(change_on_members(name, "topic '" + name + "' was compacted", "compact", req.has_incarnation(),
                                    here.ok() ? Status::OK() : here, send, done_on));
  std::sort(resp->mutable_buckets()->begin(), resp->mutable_buckets()->end(),
            [](const v1::CompactedBucket& a, const v1::CompactedBucket& b) { return a.bucket() < b.bucket(); });
  return Status::OK();
}

}  // namespace persisting::net
