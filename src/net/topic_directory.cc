#include "net/topic_directory.h"

#include <algorithm>

#include "core/status_macros.h"
#include "net/elections.h"
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
                                                              uint64_t epoch, bool kafka, Zones zones,
                                                              bool learned) {
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
  const bool existed = core_->lookup(info.topic).ok();
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
    if (stored.replication_factor > 1 && core_->has_data_dir()) {
      auto leaders = load_leaders(core_->env, leaders_path(core_->options.data_dir, stored.topic));
      if (!leaders.ok()) {
        topics_.erase(stored.topic);
        return leaders.status();
      }
      entry->leaders = std::move(leaders).value();
      // The topic was on this disk before this entry (a restart), or was made elsewhere before
      // this node learned it: an election may have happened meanwhile; the replication scan
      // asks the other members first.
      entry->confirmed = !existed && !learned;
    }
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

const std::vector<NodeId>& TopicEntry::placed(uint32_t bucket) const {
  if (bucket >= placed_.size()) placed_.resize(bucket + 1);
  auto& r = placed_[bucket];
  if (r.empty()) r = placement_->replicas(info.topic, bucket, info.replication_factor);
  return r;
}

std::vector<NodeId> TopicEntry::placed_replicas(uint32_t bucket) const {
  std::lock_guard<std::mutex> lock(placement_mu);
  return placed(bucket);
}

NodeId TopicEntry::placed_owner(uint32_t bucket) const {
  std::lock_guard<std::mutex> lock(placement_mu);
  return placed(bucket).front();  // the ranking's first: Placement::owner
}

std::vector<NodeId> TopicDirectory::replicas(const TopicEntry& t, uint32_t bucket) const {
  return t.placed_replicas(bucket);
}

Leadership TopicDirectory::leader(const TopicEntry& t, uint32_t bucket) const {
  if (t.info.replication_factor > 1) {
    std::lock_guard<std::mutex> lock(t.leaders_mu);
    auto it = t.leaders.find(bucket);
    if (it != t.leaders.end() && !it->second.epochs.empty())
      return {NodeId(it->second.leader()), it->second.epoch()};
  }
  return {t.placed_owner(bucket), 0};
}

Status TopicDirectory::check_leads(const TopicEntry& t, uint32_t bucket) const {
  Elections* el = membership_->elections();
  if (!el || t.info.replication_factor <= 1) return Status::OK();
  return el->check_leads(t.info.topic, bucket, leader(t, bucket).epoch);
}

Status TopicDirectory::check_confirmed(const TopicEntry& t, uint32_t bucket) const {
  if (t.confirmed) return Status::OK();
  return Unavailable(bucket_name(t.info.topic, bucket) + ": node " + self_.id.str() +
                     " is comparing its leader epochs with the other members (it restarted, or has just "
                     "opened the topic): retry shortly");
}

Status TopicDirectory::adopt(TopicEntry& t, uint32_t bucket, std::vector<LeaderEpoch> epochs, bool* changed) {
  *changed = false;
  RETURN_IF_ERROR(check_bucket(t, bucket));
  if (epochs.empty()) return Status::OK();
  for (size_t i = 1; i < epochs.size(); ++i)
    if (epochs[i].epoch <= epochs[i - 1].epoch)
      return InvalidArgument(bucket_name(t.info.topic, bucket) + ": leader epochs are not ascending");
  std::vector<NodeId> replicas = this->replicas(t, bucket);
  if (std::find(replicas.begin(), replicas.end(), NodeId(epochs.back().leader)) == replicas.end())
    return InvalidArgument(bucket_name(t.info.topic, bucket) + ": node '" + epochs.back().leader +
                           "' is not one of its replicas");
  std::lock_guard<std::mutex> serial(t.adopt_mu);
  const std::string new_leader = epochs.back().leader;
  const bool becomes = NodeId(new_leader) == self_.id;
  const Leadership before = leader(t, bucket);
  {
    std::unique_lock<std::mutex> lock(t.leaders_mu);
    BucketLeaders& cur = t.leaders[bucket];
    if (epochs.back().epoch <= cur.epoch()) return Status::OK();
    if (becomes) {
      // No replication append in flight: the epoch starts at this node's final count (a chain
      // checks taking_over and the epoch before each append, so none starts from here on).
      if (!t.leaders_cv.wait_for(lock, peer_timeout_ / 2, [&] { return !t.appending[bucket]; }))
        return Unavailable(bucket_name(t.info.topic, bucket) + ": node " + self_.id.str() +
                           " is still appending replicated records; try again");
      t.taking_over[bucket] = true;  // the chain starts no append from here on
    }
  }
  struct Release {
    TopicEntry& t;
    uint32_t bucket;
    bool on;
    ~Release() {
      if (!on) return;
      std::lock_guard<std::mutex> lock(t.leaders_mu);
      t.taking_over.erase(bucket);
    }
  } release{t, bucket, becomes};
  BucketLeaders next;
  {
    std::lock_guard<std::mutex> lock(t.leaders_mu);
    next = t.leaders[bucket];
  }
  next.epochs = std::move(epochs);
  if (becomes) {
    ASSIGN_OR_RETURN(auto actors, core_->actors(t.info, {BucketId(bucket)}, {}));
    ASSIGN_OR_RETURN(uint64_t end, total_count(*actors[0]));
    next.epochs.back().start = end;
    next.local_epoch = next.epoch();  // the leader's log is the epoch's log
  }
  std::map<uint32_t, BucketLeaders> all;
  {
    std::lock_guard<std::mutex> lock(t.leaders_mu);
    all = t.leaders;
  }
  all[bucket] = next;
  if (core_->has_data_dir())
    RETURN_IF_ERROR(store_leaders(core_->env, leaders_path(core_->options.data_dir, t.info.topic), all));
  {
    std::lock_guard<std::mutex> lock(t.leaders_mu);
    t.leaders[bucket] = std::move(next);
    t.followed.erase(bucket);
  }
  *changed = true;
  if (before.leader == self_.id && !becomes && t.tracker)
    t.tracker->close(bucket, FailedPrecondition(bucket_name(t.info.topic, bucket) + " is owned by node " +
                                                new_leader + " now, not " + self_.id.str() +
                                                " (a newer leader epoch)"));
  return Status::OK();
}

Status TopicDirectory::set_local_epoch(TopicEntry& t, uint32_t bucket, uint64_t epoch) {
  std::lock_guard<std::mutex> serial(t.adopt_mu);
  std::map<uint32_t, BucketLeaders> all;
  {
    std::lock_guard<std::mutex> lock(t.leaders_mu);
    if (t.leaders[bucket].local_epoch == epoch) return Status::OK();
    all = t.leaders;
  }
  all[bucket].local_epoch = epoch;
  if (core_->has_data_dir())
    RETURN_IF_ERROR(store_leaders(core_->env, leaders_path(core_->options.data_dir, t.info.topic), all));
  std::lock_guard<std::mutex> lock(t.leaders_mu);
  t.leaders[bucket].local_epoch = epoch;
  return Status::OK();
}

Result<runtime::Member> TopicDirectory::owner(const TopicEntry& t, uint32_t bucket) const {
  const NodeId id = leader(t, bucket).leader;
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
                      std::move(zones), /*learned=*/true);
    }
  }
  return NotFound("topic '" + name + "' does not exist (asked nodes " + asked + ")");
}

Result<std::shared_ptr<runtime::BucketStorage>> TopicDirectory::local_bucket(TopicEntry& t, uint32_t bucket) {
  RETURN_IF_ERROR(check_bucket(t, bucket));
  const Leadership l = leader(t, bucket);
  if (l.leader != self_.id)
    return FailedPrecondition(bucket_name(t.info.topic, bucket) + " is owned by node " + l.leader.str() + ", not " +
                              self_.id.str() + (l.epoch > 0 ? " (its leader at epoch " + std::to_string(l.epoch) + ")" : "") +
                              ": ask GetBucket for the owner");
  std::lock_guard<std::mutex> lock(t.mu);
  auto& a = t.actors[bucket];
  if (!a) {
    ASSIGN_OR_RETURN(auto actors, core_->actors(t.info, {BucketId(bucket)}, {}));
    a = actors[0];
  }
  return a;
}

}  // namespace persisting::net
