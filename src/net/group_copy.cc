// A consumer group's commits on a replicated topic (docs/cluster.md, "Consumer groups"): the
// group's coordinator, the leader of its coordinator bucket, copies the group's whole commits to
// that bucket's in-sync followers whenever a commit, reset or delete changed them (GroupTable's
// copier), before the call answers; a follower elected leader later coordinates the group with
// them. Wire: CopyGroupCommitsRequest (queue.proto, docs/wire-protocol.md).
#include <grpcpp/grpcpp.h>

#include <algorithm>

#include "core/status_macros.h"
#include "net/group_wire.h"
#include "net/grpc_status.h"
#include "net/rebalance.h"
#include "net/service.h"
#include "net/service_internal.h"

namespace persisting::net {

Status Service::copy_group_commits(const std::string& topic, const std::string& group,
                                   const groups::Committed* offsets) {
  std::shared_ptr<TopicEntry> t = directory_->cached(topic);
  if (!t || t->info.replication_factor <= 1) return Status::OK();
  const uint32_t bucket = coordinator_bucket(group, t->info.num_buckets);
  const Leadership lead = directory_->leader(*t, bucket);
  if (lead.leader != self_.id) return Status::OK();  // not coordinating it (a copy being installed)
  // The in-sync followers (every replica before the bucket's first put made the set): one that
  // left the set gets the group's commits again with its next commit after it rejoined.
  std::vector<NodeId> to;
  if (auto snap = t->tracker ? t->tracker->snapshot(bucket) : std::nullopt) {
    for (const auto& r : snap->replicas)
      if (r.in_sync && r.id != self_.id) to.push_back(r.id);
  } else {
    for (const NodeId& r : directory_->replicas(*t, bucket))
      if (r != self_.id) to.push_back(r);
  }
  v1::CopyGroupCommitsRequest req;
  req.set_topic(topic);
  req.set_incarnation(t->info.incarnation);
  req.set_group(group);
  req.set_bucket(bucket);
  req.set_leader_epoch(lead.epoch);
  req.set_from(self_.id.str());
  req.set_deleted(offsets == nullptr);
  if (offsets) to_wire(*offsets, req.mutable_offsets());
  std::string failed;
  for (const NodeId& id : to) {
    auto m = membership_->member(id);
    Status s = m.status();
    if (s.ok()) {
      v1::CopyGroupCommitsResponse resp;
      s = call_peer(*peers_, *m, &Stub::CopyGroupCommits, req, &resp, config_.peer_timeout);
    }
    if (!s.ok()) failed += (failed.empty() ? "" : "; ") + s.message();
  }
  if (!failed.empty())
    return Unavailable(group_name(topic, group) + ": the change is stored on coordinator " + self_.id.str() +
                       " but not on every in-sync replica (" + failed + "); repeat it");
  return Status::OK();
}

Status Service::install_group_commits(const v1::CopyGroupCommitsRequest& req) {
  RETURN_IF_ERROR(groups::validate_group_name(req.group()).with_context("topic '" + req.topic() + "'"));
  ASSIGN_OR_RETURN(auto t, directory_->find(req.topic(), /*forward=*/false));
  const std::string what = group_name(req.topic(), req.group()) + ": copy from " + req.from();
  if (req.incarnation() != t->info.incarnation)
    return NotFound(what + ": the topic was deleted and made again (incarnation " +
                    std::to_string(req.incarnation()) + ", here " + std::to_string(t->info.incarnation) + ")");
  if (req.bucket() != coordinator_bucket(req.group(), t->info.num_buckets))
    return InvalidArgument(what + ": bucket " + std::to_string(req.bucket()) + " does not coordinate the group");
  const auto replicas = directory_->replicas(*t, req.bucket());
  if (std::find(replicas.begin(), replicas.end(), self_.id) == replicas.end())
    return FailedPrecondition(what + ": node " + self_.id.str() + " holds no replica of " +
                              bucket_name(req.topic(), req.bucket()));
  const Leadership lead = directory_->leader(*t, req.bucket());
  if (req.leader_epoch() < lead.epoch)
    return FailedPrecondition(what + " at leader epoch " + std::to_string(req.leader_epoch()) + ": " +
                              bucket_name(req.topic(), req.bucket()) + " is led by " + lead.leader.str() +
                              " at epoch " + std::to_string(lead.epoch) + " here; nothing changed");
  if (req.deleted()) return core_->groups->install(t->info.topic, req.group(), nullptr);
  const groups::Committed offsets = committed_from_wire(req.offsets());
  return core_->groups->install(t->info.topic, req.group(), &offsets);
}

grpc::ServerUnaryReactor* Service::CopyGroupCommits(grpc::CallbackServerContext* ctx,
                                                    const v1::CopyGroupCommitsRequest* req,
                                                    v1::CopyGroupCommitsResponse*) {
  return unary(kCopyGroupCommits, ctx, [this, req](Done done) {
    // On the admin pool, not the group pool: the group pool's threads may all be waiting for
    // copies of their own to other nodes.
    post_admin([this, req, done] { done(install_group_commits(*req)); });
  });
}

}  // namespace persisting::net
