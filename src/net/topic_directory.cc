#include "net/topic_directory.h"

#include "core/status_macros.h"
#include "net/grpc_status.h"
#include "net/wire.h"
#include "persisting/backend.h"
#include "queue/topic_meta.h"
#include "queue/topic_settings.h"

namespace persisting::net {

std::string bucket_name(const std::string& topic, uint32_t bucket) {
  return "topic '" + topic + "' bucket " + std::to_string(bucket);
}

Status check_bucket(const TopicEntry& t, uint32_t bucket) {
  if (bucket >= t.info.num_buckets)
    return InvalidArgument(bucket_name(t.info.topic, bucket) + " is out of range: the topic has buckets [0, " +
                           std::to_string(t.info.num_buckets) + ")");
  return Status::OK();
}

TopicDirectory::TopicDirectory(std::shared_ptr<detail::QueueCore> core, Membership* membership, Channels* peers,
                               std::chrono::milliseconds peer_timeout, runtime::Member self,
                               ReplicationConfig replication)
    : core_(std::move(core)), membership_(membership), peers_(peers), peer_timeout_(peer_timeout),
      self_(std::move(self)), replication_(replication) {
  observer_ = core_->on_topic_deleted([this](const std::string& name) { forget(name); });
}

TopicDirectory::~TopicDirectory() { core_->remove_observer(observer_); }

void TopicDirectory::forget(const std::string& name) {
  std::unique_lock lock(mu_);
  auto it = topics_.find(name);
  if (it == topics_.end()) return;
  deleted_.push_back(std::move(it->second));
  topics_.erase(it);
}

std::shared_ptr<TopicEntry> TopicDirectory::cached(const std::string& name) const {
  std::shared_lock lock(mu_);
  auto it = topics_.find(name);
  return it == topics_.end() ? nullptr : it->second;
}

Result<std::shared_ptr<TopicEntry>> TopicDirectory::remember(const TopicInfo& info, std::vector<std::string> ids,
                                                              uint64_t epoch, bool kafka, Zones zones) {
  if (!core_->has_data_dir()) {
    auto durable = BackendRegistry::global().is_durable(info.backend);
    if (durable.ok() && *durable)
      return InvalidArgument("topic '" + info.topic + "': backend '" + info.backend + "' stores files, but node " +
                             self_.id.str() + " has no --data-dir (it serves memory topics only; restart it with "
                             "--data-dir)");
  }
  if (info.retention.policy == RetentionPolicy::kInterest && core_->lookup(info.topic).status().code() == Code::kNotFound)
    return NotSupported("topic '" + info.topic + "': " + kInterestOnClusterRefusal);
  // Replicas need as many placement members (checked before anything is written; a topic that
  // exists already passed this when it was created).
  if (info.replication_factor > 1) {
    RETURN_IF_ERROR(queue::check_replication_factor(info.topic, info.replication_factor));
    if (core_->lookup(info.topic).status().code() == Code::kNotFound) {
      std::vector<std::string> members = ids;
      if (members.empty())
        for (const auto& m : membership_->configured()) members.push_back(m.id.str());
      if (members.size() < info.replication_factor) {
        std::string list;
        for (const auto& id : members) list += (list.empty() ? "" : ", ") + id;
        return InvalidArgument("topic '" + info.topic + "': replication_factor " +
                               std::to_string(info.replication_factor) + " needs at least " +
                               std::to_string(info.replication_factor) + " nodes; the cluster has " +
                               std::to_string(members.size()) + " (" + list + ")");
      }
    }
  }
  // The incarnation comes with the topic from the node that created it (0: draw one here).
  ASSIGN_OR_RETURN(TopicInfo stored, core_->open_for_write(queue::writer_options(info), info.incarnation));
  // The Kafka marker after topic.json (never a marker without a topic), before the entry is
  // published: the Kafka listener never sees the topic unmarked.
  if (kafka && kafka_marker_) RETURN_IF_ERROR(kafka_marker_(stored.topic));
  std::unique_lock lock(mu_);
  auto& e = topics_[stored.topic];
  if (!e) {
    // The placement stored with the topic wins: its buckets' data lives where it says.
    std::string path = core_->has_data_dir() ? placement_path(core_->options.data_dir, stored.topic) : "";
    bool on_disk = false;
    if (!path.empty()) {
      auto p = load_placement(core_->env, path);
      if (p.ok()) {
        ids = std::move(p->ids);
        zones = std::move(p->zones);
        epoch = p->epoch;
        on_disk = true;
      } else if (p.status().code() != Code::kNotFound) {
        topics_.erase(stored.topic);
        return p.status();
      }
    }
    if (ids.empty()) {
      zones.clear();
      for (const auto& m : membership_->configured()) {
        ids.push_back(m.id.str());
        if (!m.zone.empty()) zones[m.id.str()] = m.zone;
      }
      epoch = 1;
    }
    epoch = std::max<uint64_t>(epoch, 1);
    if (!path.empty() && !on_disk) {
      if (Status s = store_placement(core_->env, path, epoch, ids, zones); !s.ok()) {
        topics_.erase(stored.topic);
        return s;
      }
    }
    auto entry = std::make_shared<TopicEntry>();
    entry->info = stored;
    entry->actors.resize(stored.num_buckets);
    if (stored.replication_factor > 1)
      entry->tracker = std::make_unique<ReplicaTracker>(stored.topic, stored.replication_factor, replication_);
    if (core_->has_data_dir()) {
      auto fences = load_fences(core_->env, fences_path(core_->options.data_dir, stored.topic));
      if (!fences.ok()) {
        topics_.erase(stored.topic);
        return fences.status();
      }
      entry->fences.moving = std::move(fences).value();
    }
    auto placement = std::make_shared<Placement>();
    placement->epoch = epoch;
    for (const auto& id : ids) {
      auto z = zones.find(id);
      placement->members.push_back({NodeId(id), "", z == zones.end() ? "" : z->second});
    }
    entry->set_placement(std::move(placement));
    e = std::move(entry);
  }
  return e;
}

std::vector<std::shared_ptr<TopicEntry>> TopicDirectory::all() const {
  std::vector<std::shared_ptr<TopicEntry>> out;
  std::shared_lock lock(mu_);
  for (const auto& [name, e] : topics_) out.push_back(e);
  return out;
}

std::vector<NodeId> TopicDirectory::replicas(const TopicEntry& t, uint32_t bucket) const {
  return t.placement()->replicas(t.info.topic, bucket, t.info.replication_factor);
}

Result<runtime::Member> TopicDirectory::owner(const TopicEntry& t, uint32_t bucket) const {
  const NodeId id = t.placement()->owner(t.info.topic, bucket);
  if (id == self_.id) return self_;
  auto m = membership_->member(id);
  if (!m.ok())
    return Unavailable(bucket_name(t.info.topic, bucket) + ": owner " + id.str() + " unavailable: " +
                       m.status().message());
  return m;
}

Result<std::shared_ptr<TopicEntry>> TopicDirectory::find(const std::string& name, bool forward) {
  if (auto e = cached(name)) return e;
  auto info = core_->lookup(name);
  if (info.ok()) return remember(*info, {}, 0);
  if (info.status().code() != Code::kNotFound || !forward) return info.status();
  std::string asked = self_.id.str();
  for (const auto& m : membership_->configured()) {
    if (m.id == self_.id) continue;
    asked += ", " + m.id.str();
    grpc::ClientContext ctx;
    peers_->prepare(&ctx, peer_timeout_);
    v1::GetTopicRequest req;
    req.set_topic(name);
    req.set_local_only(true);
    v1::GetTopicResponse resp;
    auto s = peers_->stub(m.address)->GetTopic(&ctx, req, &resp);
    if (s.ok()) {
      std::vector<std::string> ids(resp.topic().placement().begin(), resp.topic().placement().end());
      Zones zones(resp.topic().placement_zones().begin(), resp.topic().placement_zones().end());
      return remember(from_wire(resp.topic()), std::move(ids), resp.topic().placement_epoch(), resp.topic().kafka(),
                      std::move(zones));
    }
  }
  return NotFound("topic '" + name + "' does not exist (asked nodes " + asked + ")");
}

Result<std::shared_ptr<runtime::BucketStorage>> TopicDirectory::local_bucket(TopicEntry& t, uint32_t bucket) {
  RETURN_IF_ERROR(check_bucket(t, bucket));
  const NodeId owner_id = t.placement()->owner(t.info.topic, bucket);
  if (owner_id != self_.id)
    return FailedPrecondition(bucket_name(t.info.topic, bucket) + " is owned by node " + owner_id.str() + ", not " +
                              self_.id.str() + ": ask GetBucket for the owner");
  std::lock_guard<std::mutex> lock(t.mu);
  auto& a = t.actors[bucket];
  if (!a) {
    ASSIGN_OR_RETURN(auto actors, core_->actors(t.info, {BucketId(bucket)}, {}));
    a = actors[0];
  }
  return a;
}

}  // namespace persisting::net
