// The node's gRPC service (persisting.v1.QueueService) on the callback API: no handler blocks a
// gRPC thread on a bucket. Put and Get go straight to the bucket actors and finish the RPC from
// the actor's completion; a Get that waits is parked in the buckets (BucketStorage waiters) and
// holds no thread. Calls that block (topic files, peers, flush, stats) run on a small admin pool;
// the operator rebalance (coordinating, and copying a bucket) runs on its own pool of two, and
// the consumer groups this node coordinates on another pool of two (a commit waits for its fsync).
//
// Every handler first checks the access token (when configured): a call without it, or with a
// wrong one, is UNAUTHENTICATED before anything is read or changed.
#pragma once

#include <asio/thread_pool.hpp>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>

#include "metrics/metrics.h"
#include "net/channels.h"
#include "net/membership.h"
#include "net/put_dedup.h"
#include "net/topic_directory.h"
#include "net/wire.h"
#include "persisting/v1/queue.grpc.pb.h"
#include "queue/queue_core.h"

namespace persisting::net {

struct ServiceConfig {
  std::string token;                        // empty: no access control
  size_t max_response_bytes = 8u << 20;     // a Get answer stops adding records past this
  uint32_t max_wait_ms = 60000;             // longer waits are cut to this
  uint32_t max_get_limit = kMaxGetLimit;
  std::chrono::milliseconds peer_timeout{2000};
  ReplicationConfig replication;  // in-sync sets of the replicated buckets this node leads
};

class Service final : public v1::QueueService::CallbackService {
 public:
  // core, membership, peers and registry must outlive the service.
  Service(std::shared_ptr<detail::QueueCore> core, Membership* membership, Channels* peers,
          metrics::Registry* registry, ServiceConfig config);
  ~Service() override;

  // Waits for admin work in progress, then refuses more.
  void stop();
  // Runs work on the admin pool (work that may block on files and peers); not after stop().
  void post_admin(std::function<void()> work);

  // DeleteTopic without local_only: this node's copy, then every other member's (blocks; the
  // Kafka listener's DeleteTopics in a cluster).
  Status delete_topic_everywhere(const std::string& topic);
  // Every member's topics, each name once (this node's copy first; topic_list.cc). The members
  // that could not be asked (down, or the call failed) go to *unreached; their topics may be
  // missing. Blocks for the calls (at most peer_timeout each): not for an actor's thread.
  std::vector<TopicInfo> list_everywhere(std::vector<std::string>* unreached);
  // The topics this node serves (the Kafka listener reaches buckets through it too).
  TopicDirectory* directory() { return directory_.get(); }
  // Our consumer groups as the Kafka listener's group coordinator commits to them: each call
  // goes to the coordinator of (topic, group), this node's GroupTable or a peer (group_router.cc).
  // Blocks for a peer (at most peer_timeout): not for an io or actor thread. Lives as long as
  // the service.
  groups::Coordinator* group_router() { return group_router_.get(); }
  // Producers' put deduplication (followers of replicated buckets install their leader's).
  PutDedup* dedup() { return &dedup_; }
  // Whether a topic was created over Kafka, for GetTopic's answers (TopicSpec.kafka). Set
  // before the service serves; unset: never.
  void set_kafka_topic_probe(std::function<bool(const std::string&)> probe) { kafka_topic_ = std::move(probe); }

  grpc::ServerUnaryReactor* CreateTopic(grpc::CallbackServerContext* ctx, const v1::CreateTopicRequest* req,
                                        v1::CreateTopicResponse* resp) override;
  grpc::ServerUnaryReactor* GetTopic(grpc::CallbackServerContext* ctx, const v1::GetTopicRequest* req,
                                     v1::GetTopicResponse* resp) override;
  grpc::ServerUnaryReactor* DeleteTopic(grpc::CallbackServerContext* ctx, const v1::DeleteTopicRequest* req,
                                        v1::DeleteTopicResponse* resp) override;
  // AlterTopic: topic_alter.cc.
  grpc::ServerUnaryReactor* AlterTopic(grpc::CallbackServerContext* ctx, const v1::AlterTopicRequest* req,
                                       v1::AlterTopicResponse* resp) override;
  grpc::ServerUnaryReactor* ListTopics(grpc::CallbackServerContext* ctx, const v1::ListTopicsRequest* req,
                                       v1::ListTopicsResponse* resp) override;
  grpc::ServerUnaryReactor* GetBucket(grpc::CallbackServerContext* ctx, const v1::GetBucketRequest* req,
                                      v1::GetBucketResponse* resp) override;
  grpc::ServerUnaryReactor* Put(grpc::CallbackServerContext* ctx, const v1::PutRequest* req,
                                v1::PutResponse* resp) override;
  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* ctx, const v1::GetRequest* req,
                                v1::GetResponse* resp) override;
  grpc::ServerUnaryReactor* Flush(grpc::CallbackServerContext* ctx, const v1::FlushRequest* req,
                                  v1::FlushResponse* resp) override;
  grpc::ServerUnaryReactor* Replicate(grpc::CallbackServerContext* ctx, const v1::ReplicateRequest* req,
                                      v1::ReplicateResponse* resp) override;
  // The same rounds as Replicate, one after another on one call (replicate_stream.cc).
  grpc::ServerBidiReactor<v1::ReplicateRequest, v1::ReplicateResponse>* ReplicateStream(
      grpc::CallbackServerContext* ctx) override;
  // Leader epochs and manual failover (elect.cc; docs/wire-protocol.md, "Leader epochs").
  grpc::ServerUnaryReactor* BucketLeader(grpc::CallbackServerContext* ctx, const v1::BucketLeaderRequest* req,
                                         v1::BucketLeaderResponse* resp) override;
  grpc::ServerUnaryReactor* ElectLeader(grpc::CallbackServerContext* ctx, const v1::ElectLeaderRequest* req,
                                        v1::ElectLeaderResponse* resp) override;
  grpc::ServerUnaryReactor* Stats(grpc::CallbackServerContext* ctx, const v1::StatsRequest* req,
                                  v1::StatsResponse* resp) override;
  grpc::ServerUnaryReactor* ClusterStatus(grpc::CallbackServerContext* ctx, const v1::ClusterStatusRequest* req,
                                          v1::ClusterStatusResponse* resp) override;
  // Operator rebalance (docs/wire-protocol.md, "Rebalance").
  grpc::ServerUnaryReactor* Rebalance(grpc::CallbackServerContext* ctx, const v1::RebalanceRequest* req,
                                      v1::RebalanceResponse* resp) override;
  grpc::ServerUnaryReactor* FenceBucket(grpc::CallbackServerContext* ctx, const v1::FenceBucketRequest* req,
                                        v1::FenceBucketResponse* resp) override;
  grpc::ServerUnaryReactor* CopyBucket(grpc::CallbackServerContext* ctx, const v1::CopyBucketRequest* req,
                                       v1::CopyBucketResponse* resp) override;
  grpc::ServerUnaryReactor* SetPlacement(grpc::CallbackServerContext* ctx, const v1::SetPlacementRequest* req,
                                         v1::SetPlacementResponse* resp) override;
  grpc::ServerUnaryReactor* DropBuckets(grpc::CallbackServerContext* ctx, const v1::DropBucketsRequest* req,
                                        v1::DropBucketsResponse* resp) override;
  // Consumer groups (group_service.cc; docs/wire-protocol.md, "Consumer groups").
  grpc::ServerUnaryReactor* JoinGroup(grpc::CallbackServerContext* ctx, const v1::JoinGroupRequest* req,
                                      v1::JoinGroupResponse* resp) override;
  grpc::ServerUnaryReactor* Heartbeat(grpc::CallbackServerContext* ctx, const v1::HeartbeatRequest* req,
                                      v1::HeartbeatResponse* resp) override;
  grpc::ServerUnaryReactor* LeaveGroup(grpc::CallbackServerContext* ctx, const v1::LeaveGroupRequest* req,
                                       v1::LeaveGroupResponse* resp) override;
  grpc::ServerUnaryReactor* CommitOffsets(grpc::CallbackServerContext* ctx, const v1::CommitOffsetsRequest* req,
                                          v1::CommitOffsetsResponse* resp) override;
  grpc::ServerUnaryReactor* FetchOffsets(grpc::CallbackServerContext* ctx, const v1::FetchOffsetsRequest* req,
                                         v1::FetchOffsetsResponse* resp) override;
  grpc::ServerUnaryReactor* ListGroups(grpc::CallbackServerContext* ctx, const v1::ListGroupsRequest* req,
                                       v1::ListGroupsResponse* resp) override;
  grpc::ServerUnaryReactor* ResetGroup(grpc::CallbackServerContext* ctx, const v1::ResetGroupRequest* req,
                                       v1::ResetGroupResponse* resp) override;
  grpc::ServerUnaryReactor* DeleteGroup(grpc::CallbackServerContext* ctx, const v1::DeleteGroupRequest* req,
                                        v1::DeleteGroupResponse* resp) override;
  grpc::ServerUnaryReactor* CopyGroupCommits(grpc::CallbackServerContext* ctx, const v1::CopyGroupCommitsRequest* req,
                                             v1::CopyGroupCommitsResponse* resp) override;

  // Backup and compaction (backup_service.cc; docs/wire-protocol.md, "Backup", "Compaction").
  grpc::ServerWriteReactor<v1::BackupBucketResponse>* BackupBucket(grpc::CallbackServerContext* ctx,
                                                                   const v1::BackupBucketRequest* req) override;
  grpc::ServerUnaryReactor* CompactTopic(grpc::CallbackServerContext* ctx, const v1::CompactTopicRequest* req,
                                         v1::CompactTopicResponse* resp) override;

  // Sets persisting_group_lag for the groups this node coordinates (the node's scrape hook).
  // Blocks: asks the owners of their buckets' end offsets.
  void collect_group_metrics();

  // The bucket's in-sync set on its leader (this node; actor: its local bucket), made on first
  // use. Nothing for factor 1. May block (the first time: the bucket's record count). The Kafka
  // listener's produces and fetches use it too.
  Status ensure_in_sync_set(TopicEntry& t, uint32_t bucket, runtime::BucketStorage& actor);

 private:
  // What this node knows of a replicated bucket (its records, its copy's count, its in-sync set
  // when it leads, its leader's last answer when it follows). Blocks (the count).
  Status leader_state(TopicEntry& t, uint32_t bucket, v1::BucketLeaderResponse::State* out);
  // The manual failover, coordinated by this node (elect.cc). Blocks (peers).
  Status elect(const v1::ElectLeaderRequest& req, v1::ElectLeaderResponse* resp);
  struct RpcMetrics;
  using Done = std::function<void(Status)>;
  // One Replicate round (the unary call's, or one request of a ReplicateStream): answers req in
  // resp, then done; a parked round answers at once when the call is cancelled (on_cancel).
  void replicate(const v1::ReplicateRequest* req, v1::ReplicateResponse* resp, class CancelHook* on_cancel,
                 Done done);

  // Starts an RPC: authorizes, then runs body with a done() that records metrics and finishes.
  grpc::ServerUnaryReactor* unary(int method, grpc::CallbackServerContext* ctx, std::function<void(Done)> body);
  Done finisher(int method, grpc::ServerUnaryReactor* reactor);
  // Records an RPC's latency and status code in the metrics (finisher does, for unary calls).
  std::function<void(const Status&)> recorder(int method);
  Status authorize(grpc::CallbackServerContext* ctx) const;

  // Runs cb with the topic: inline when cached, else on the admin pool.
  void with_topic(const std::string& name, std::function<void(Result<std::shared_ptr<TopicEntry>>)> cb);
  void describe(const TopicEntry& t, v1::TopicSpec* spec) const;
  // The cluster-wide delete (DeleteTopic without local_only): this node's copy, then every
  // other member's. Blocks (admin pool).
  Status delete_everywhere(const v1::DeleteTopicRequest& req, v1::DeleteTopicResponse* resp);
  // AlterTopic (topic_alter.cc): this node's copy -- topic.json, the limits its buckets share, a
  // flush of the buckets it owns so they apply them now -- and, for the cluster-wide alter, then
  // every other member's the same way. Block (admin pool).
  Result<TopicInfo> alter_here(const std::string& topic, const Retention& retention,
                               std::optional<uint64_t> incarnation);
  Status alter_everywhere(const v1::AlterTopicRequest& req, v1::AlterTopicResponse* resp);
  // A cluster-wide change of a topic (delete, alter) after this node's own: send(member) asks
  // each other configured member and returns OK once the change is made there (recording it),
  // NotFound when the member has no copy. What to answer: Unavailable naming the members not
  // reached ("<what> on <done_on()> but not on ...: <again> it again once they are back"),
  // NotFound when no member had the topic (here, this node's NotFound, when the request named
  // an incarnation), else OK.
  Status change_on_members(const std::string& topic, const std::string& what, const std::string& again,
                           bool named_incarnation, const Status& here,
                           const std::function<Status(const runtime::Member&)>& send,
                           const std::function<std::vector<std::string>()>& done_on);

  // Backup (backup_service.cc): what a BackupBucket stream sends, pinned. Blocks (flush).
  Status prepare_backup(const v1::BackupBucketRequest& req, class BackupStream* stream);
  // CompactTopic (backup_service.cc): this node's buckets of the topic, then (everywhere) every
  // other member's. Block (admin pool).
  Status compact_here(const v1::CompactTopicRequest& req, v1::CompactTopicResponse* resp);
  Status compact_everywhere(const v1::CompactTopicRequest& req, v1::CompactTopicResponse* resp);

  // Rebalance (rebalance_steps.cc). The coordinator (any node, rebalance.h) drives these steps
  // through RPCs; each runs on the node the step's RPC reaches.
  // Old owner: fences the bucket (puts refused, reads served), waits for puts in flight and
  // answers the final count. Fails (fence lifted) when the bucket is not this node's.
  Result<uint64_t> fence(TopicEntry& t, uint32_t bucket, const std::string& target);
  // Fences are stored in <topic>/fences.json (a restart keeps them) before they are reported.
  Status lift_fence(TopicEntry& t, uint32_t bucket);
  Status save_fences(TopicEntry& t);
  // New owner: copies records from the request's source into a local copy of a bucket this
  // node does not own yet; answers the copy's count, flushed.
  Result<uint64_t> copy_bucket(TopicEntry& t, const v1::CopyBucketRequest& req);
  // Adopts placement (epoch, ids): stored, then used. Stale epochs are refused. expect: bucket ->
  // record count this node must hold (fenced) for the switch to go ahead.
  Status set_placement(TopicEntry& t, uint64_t epoch, std::vector<std::string> ids,
                       const std::map<uint32_t, uint64_t>& expect = {});
  // Deletes local copies of buckets this node does not own; answers those that had one.
  Result<std::vector<uint32_t>> drop_buckets(TopicEntry& t, std::vector<uint32_t> buckets, bool not_owned);
  // Closes and forgets the bucket's actor and deletes its files; *had: there was something.
  Status drop_local(TopicEntry& t, uint32_t bucket, bool* had);

  // Consumer groups (group_service.cc). A group RPC runs local(topic entry) on the group pool
  // when this node coordinates (topic, group); otherwise forward(stub, ctx, done) sends it to the
  // coordinator (a request that was forwarded already is refused instead: placements disagree).
  using GroupForward = std::function<void(v1::QueueService::StubInterface::async_interface*, grpc::ClientContext*,
                                          std::function<void(grpc::Status)>)>;
  using GroupLocal = std::function<Status(TopicEntry&)>;
  grpc::ServerUnaryReactor* group_rpc(int method, grpc::CallbackServerContext* ctx, const std::string& topic,
                                      const std::string& group, bool forwarded, GroupForward forward,
                                      GroupLocal local);
  // A group's commits on a replicated topic (group_copy.cc): the coordinator copies them to its
  // bucket's in-sync followers (GroupTable's copier; offsets nullptr: deleted), and a follower
  // installs such a copy.
  Status copy_group_commits(const std::string& topic, const std::string& group, const groups::Committed* offsets);
  Status install_group_commits(const v1::CopyGroupCommitsRequest& req);
  // The coordinator of (t, group): the owner of bucket stable_hash64(group) % num_buckets.
  Result<runtime::Member> group_coordinator(const TopicEntry& t, const std::string& group) const;
  // Every bucket's end offset (its record count; index = bucket), from the owners (blocks).
  Result<std::vector<Offset>> end_offsets(TopicEntry& t);

  std::shared_ptr<detail::QueueCore> core_;
  Membership* membership_;
  Channels* peers_;
  metrics::Registry* registry_;
  ServiceConfig config_;
  runtime::Member self_;

  std::unique_ptr<TopicDirectory> directory_;  // the topics this node serves
  std::function<bool(const std::string&)> kafka_topic_;

  PutDedup dedup_;

  std::vector<std::unique_ptr<RpcMetrics>> rpc_metrics_;
  std::unique_ptr<asio::thread_pool> admin_;
  std::unique_ptr<asio::thread_pool> movers_;  // Rebalance (coordinating) and CopyBucket
  std::unique_ptr<asio::thread_pool> group_pool_;  // the coordinator's group work (commits fsync)
  std::unique_ptr<groups::Coordinator> group_router_;
  static std::unique_ptr<groups::Coordinator> make_group_router(Service* service);  // group_router.cc
  friend class GroupRouter;
  std::atomic<bool> rebalancing_{false};      // one rebalance coordinated by this node at a time
};

}  // namespace persisting::net
