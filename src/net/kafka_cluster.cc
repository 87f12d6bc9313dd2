#include "net/kafka_cluster.h"

#include <limits>

#include "core/status_macros.h"
#include "kafka/broker/listener.h"
#include "net/elector.h"
#include "queue/topic_meta.h"

namespace persisting::net {
namespace {

class DirectoryCluster final : public kafka::KafkaCluster {
 public:
  DirectoryCluster(TopicDirectory* directory, Membership* membership, NodeId self,
                   std::function<Status(const std::string&)> delete_everywhere,
                   std::function<std::vector<TopicInfo>()> list_everywhere,
                   std::function<void(std::function<void()>)> run_blocking, groups::Coordinator* group_offsets,
                   EnsureInSync ensure_in_sync, PutDedup* dedup)
      : directory_(directory), membership_(membership), self_(std::move(self)),
        self_id_(kafka::broker_id_for(self_.str())), delete_everywhere_(std::move(delete_everywhere)),
        list_everywhere_(std::move(list_everywhere)), run_blocking_(std::move(run_blocking)),
        group_offsets_(group_offsets), ensure_in_sync_(std::move(ensure_in_sync)), dedup_(dedup) {}

  int32_t self_id() const override { return self_id_; }

  std::vector<kafka::BrokerAddress> brokers() const override {
    std::vector<kafka::BrokerAddress> out;
    for (const auto& [id, address] : membership_->kafka_addresses()) {
      auto hp = kafka::parse_host_port(address);
      if (!hp.ok()) continue;  // checked where it was configured; an unreadable one names no broker
      out.push_back({kafka::broker_id_for(id), id, hp->first, hp->second});
    }
    return out;
  }

  Result<kafka::ClusterTopic> find_topic(const std::string& name) override {
    ASSIGN_OR_RETURN(auto e, directory_->find(name, /*forward=*/true));
    return kafka::ClusterTopic{e->info, false};  // the directory marked a peer's Kafka topic already
  }

  Status adopt_topic(const TopicInfo& info) override { return directory_->remember(info, {}, 0).status(); }

  std::vector<TopicInfo> topics() override {
    // The ones this node uses (as it serves them), then every member's, on disk (a topic is
    // created on one node; the others learn it when they look it up). A member that cannot be
    // asked leaves out the topics only it has: Metadata lists what it can.
    std::map<std::string, TopicInfo> out;
    for (const auto& e : directory_->all()) out[e->info.topic] = e->info;
    for (auto& info : list_everywhere_()) out.emplace(info.topic, std::move(info));
    std::vector<TopicInfo> v;
    for (auto& [name, info] : out) v.push_back(std::move(info));
    return v;
  }

  int32_t leader(const std::string& topic, uint32_t partition) override {
    auto e = directory_->find(topic, /*forward=*/false);
    if (!e.ok() || partition >= (*e)->info.num_buckets) return -1;
    const NodeId owner = directory_->leader(**e, partition).leader;  // after a failover, the elected one
    if (owner == self_) return self_id_;
    auto addresses = membership_->kafka_addresses();
    return addresses.count(owner.str()) ? kafka::broker_id_for(owner.str()) : -1;
  }

  // Metadata of a partition: for a replicated topic its replicas (with a Kafka listener) and the
  // in-sync set as this node knows it: its own set where it leads the bucket (and has made the
  // set), else the set the leader stored in etcd at the current epoch, else the leader and this
  // node when its last Replicate answer of that epoch said it is in the set.
  kafka::PartitionReplicas describe(const std::string& topic, uint32_t partition) override {
    kafka::PartitionReplicas out;
    auto e = directory_->find(topic, /*forward=*/false);
    if (!e.ok() || partition >= (*e)->info.num_buckets) return out;
    TopicEntry& t = **e;
    const auto addresses = membership_->kafka_addresses();
    auto broker = [&](const NodeId& id) {
      if (id == self_) return self_id_;
      return addresses.count(id.str()) ? kafka::broker_id_for(id.str()) : -1;
    };
    const Leadership l = directory_->leader(t, partition);
    out.leader = broker(l.leader);
    // Kafka's leader epoch is an int32; ours (an etcd revision) may not fit: then unknown.
    out.leader_epoch =
        l.epoch <= static_cast<uint64_t>(std::numeric_limits<int32_t>::max()) ? static_cast<int32_t>(l.epoch) : -1;
    if (t.info.replication_factor <= 1 || !t.tracker) {
      if (out.leader >= 0) out.replicas = out.in_sync = {out.leader};
      return out;
    }
    for (const NodeId& r : directory_->replicas(t, partition))
      if (int32_t b = broker(r); b >= 0) out.replicas.push_back(b);
    std::vector<NodeId> in_sync;
    auto snap = l.leader == self_ ? t.tracker->snapshot(partition) : std::nullopt;
    if (snap) {
      for (const auto& r : snap->replicas)
        if (r.in_sync) in_sync.push_back(r.id);
    } else if (Elections* el = membership_->elections()) {
      auto key = el->isr_key(topic, partition);
      auto members = key ? stored_in_sync(key->value, l.epoch) : std::nullopt;
      if (members)
        for (const auto& m : *members) in_sync.emplace_back(m);
    }
    if (in_sync.empty()) {
      in_sync.push_back(l.leader);
      std::lock_guard<std::mutex> lock(t.leaders_mu);
      auto f = t.followed.find(partition);
      if (l.leader != self_ && f != t.followed.end() && f->second.epoch == l.epoch && f->second.in_sync)
        in_sync.push_back(self_);
    }
    for (const NodeId& r : in_sync)
      if (int32_t b = broker(r); b >= 0) out.in_sync.push_back(b);
    return out;
  }

  Status check_replication_factor(const std::string& topic, uint32_t factor) override {
    RETURN_IF_ERROR(queue::check_replication_factor(topic, factor));
    const auto members = membership_->configured();
    if (members.size() >= factor) return Status::OK();
    std::string list;
    for (const auto& m : members) list += (list.empty() ? "" : ", ") + m.id.str();
    return InvalidArgument("topic '" + topic + "': replication factor " + std::to_string(factor) + " needs at least " +
                           std::to_string(factor) + " nodes; the cluster has " + std::to_string(members.size()) +
                           " (" + list + ")");
  }

  // Kafka producers' state rides with the gRPC producers' deduplication entries (PutDedup), so
  // it reaches the followers with the records and moves with a rebalanced bucket.
  void producer_appended(const std::string& topic, uint32_t partition, int64_t producer_id, uint64_t first_offset,
                         uint32_t count, std::string snapshot) override {
    if (dedup_) dedup_->record_kafka(topic, partition, producer_id, first_offset, count, std::move(snapshot));
  }

  std::optional<std::string> producer_snapshot(const std::string& topic, uint32_t partition,
                                               int64_t producer_id) override {
    return dedup_ ? dedup_->kafka_state(topic, partition, producer_id) : std::nullopt;
  }

  Result<std::shared_ptr<runtime::BucketStorage>> local_partition(const std::string& topic,
                                                                  uint32_t partition) override {
    ASSIGN_OR_RETURN(auto e, directory_->find(topic, /*forward=*/false));
    ASSIGN_OR_RETURN(auto actor, directory_->local_bucket(*e, partition));
    RETURN_IF_ERROR(prepare_replicated(*e, partition, *actor));
    return actor;
  }

  Result<kafka::ProduceSlot> begin_produce(const std::string& topic, uint32_t partition) override {
    ASSIGN_OR_RETURN(auto e, directory_->find(topic, /*forward=*/false));
    TopicEntry* t = e.get();  // entries live as long as the directory
    // As a gRPC Put: the fence check and the in-flight count under the fence lock, so a fence
    // set after this waits for the produce (Fences in fences.h).
    std::shared_lock fence_lock(t->fences.mu);
    ASSIGN_OR_RETURN(auto actor, directory_->local_bucket(*t, partition));
    RETURN_IF_ERROR(prepare_replicated(*t, partition, *actor));
    RETURN_IF_ERROR(fence(*t, partition));
    if (auto m = t->fences.moving.find(partition); m != t->fences.moving.end())
      return Unavailable(bucket_name(topic, partition) + " is moving to " + m->second +
                         " (a rebalance is in progress): ask for metadata again");
    t->fences.put_started(partition);
    return kafka::ProduceSlot{std::move(actor), [t, partition] { t->fences.put_answered(partition); }};
  }

  Status delete_topic(const std::string& name) override { return delete_everywhere_(name); }

  void run_blocking(std::function<void()> work) override { run_blocking_(std::move(work)); }

  // Replicated partitions: the bucket's in-sync set on this node, its leader (made by
  // local_partition or begin_produce, on the listener's threads; these may run on an actor's).
  Result<std::optional<uint64_t>> high_watermark(const std::string& topic, uint32_t partition) override {
    ASSIGN_OR_RETURN(TopicEntry * t, led(topic, partition));
    if (!t) return std::optional<uint64_t>();
    return t->tracker->high_watermark(partition);
  }

  void wait_high_watermark(const std::string& topic, uint32_t partition, uint64_t end,
                           std::function<void(Status)> cb) override {
    auto t = led(topic, partition);
    if (!t.ok()) return cb(t.status());
    if (!*t) return cb(Status::OK());
    (*t)->tracker->wait_for(partition, end, std::move(cb), /*acks=*/false);
  }

  Status check_acks_all(const std::string& topic, uint32_t partition) override {
    ASSIGN_OR_RETURN(TopicEntry * t, led(topic, partition));
    return t ? t->tracker->check_acks_all(partition) : Status::OK();
  }

  void produced(const std::string& topic, uint32_t partition, uint64_t end, bool acks_all,
                std::function<void(Status)> done) override {
    auto t = led(topic, partition);
    if (!t.ok()) return done(acks_all ? t.status() : Status::OK());  // acks=1: the leader has them
    if (!*t) return done(Status::OK());
    TopicEntry* e = *t;
    e->tracker->leader_appended(partition, end);
    if (!acks_all) return done(fence(*e, partition));
    e->tracker->wait_for(partition, end, [this, e, partition, done = std::move(done)](Status s) {
      done(s.ok() ? fence(*e, partition) : s);
    }, /*acks=*/true);
  }

  kafka::BrokerAddress coordinator(const std::string& group) const override {
    auto all = brokers();
    if (all.empty()) return {self_id_, self_.str(), "", 0};
    std::vector<runtime::Member> members;
    for (const auto& b : all) members.push_back({NodeId(b.node), ""});
    // Rendezvous over the brokers, with a name no topic can have: the same member on every node
    // that sees the same Kafka members.
    const NodeId& id = runtime::rendezvous_owner(members, "kafka-group/" + group, BucketId(0)).id;
    for (const auto& b : all)
      if (b.node == id.str()) return b;
    return all.front();
  }

  groups::Coordinator* group_offsets() override { return group_offsets_; }

 private:
  TopicDirectory* directory_;
  Membership* membership_;
  NodeId self_;
  int32_t self_id_;
  std::function<Status(const std::string&)> delete_everywhere_;
  std::function<std::vector<TopicInfo>()> list_everywhere_;
  std::function<void(std::function<void()>)> run_blocking_;
  groups::Coordinator* group_offsets_;
  EnsureInSync ensure_in_sync_;
  PutDedup* dedup_;

  // As a gRPC Put, a produce is appended and answered only while this node may lead the
  // partition (etcd lease; TopicDirectory::check_leads). FailedPrecondition: the client is told
  // NOT_LEADER_OR_FOLLOWER, asks for metadata again and retries (the idempotent producer's
  // sequence makes a record that did land a duplicate).
  Status fence(const TopicEntry& t, uint32_t partition) const {
    Status s = directory_->check_leads(t, partition);
    return s.ok() ? s : FailedPrecondition(s.message());
  }

  // A replicated bucket this node leads: its leader records confirmed and its in-sync set made
  // (may block the first time: the set asks the actor for its count). Nothing for factor 1.
  Status prepare_replicated(TopicEntry& t, uint32_t partition, runtime::BucketStorage& actor) {
    if (!t.tracker) return Status::OK();
    RETURN_IF_ERROR(directory_->check_confirmed(t, partition));
    return ensure_in_sync_(t, partition, actor);
  }

  // A replicated topic's entry when this node leads the partition and has its in-sync set;
  // nullptr for a topic that is not replicated; FailedPrecondition otherwise. Never blocks.
  Result<TopicEntry*> led(const std::string& topic, uint32_t partition) {
    auto e = directory_->cached(topic);
    if (!e) return NotFound("topic '" + topic + "' is not open on node " + self_.str());
    TopicEntry* t = e.get();  // entries live as long as the directory
    if (!t->tracker) return static_cast<TopicEntry*>(nullptr);
    const Leadership l = directory_->leader(*t, partition);
    if (l.leader != self_ || !t->tracker->has(partition))
      return FailedPrecondition(bucket_name(topic, partition) + " is led by node " + l.leader.str() + " at epoch " +
                                std::to_string(l.epoch) + ", not " + self_.str());
    return t;
  }
};

}  // namespace

std::unique_ptr<kafka::KafkaCluster> make_kafka_cluster(
    TopicDirectory* directory, Membership* membership, const NodeId& self,
    std::function<Status(const std::string&)> delete_everywhere,
    std::function<std::vector<TopicInfo>()> list_everywhere,
    std::function<void(std::function<void()>)> run_blocking, groups::Coordinator* group_offsets,
    EnsureInSync ensure_in_sync, PutDedup* dedup) {
  return std::make_unique<DirectoryCluster>(directory, membership, self, std::move(delete_everywhere),
                                            std::move(list_everywhere), std::move(run_blocking), group_offsets,
                                            std::move(ensure_in_sync), dedup);
}

}  // namespace persisting::net
