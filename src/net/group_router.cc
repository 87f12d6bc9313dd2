// GroupRouter: our consumer groups as the Kafka listener's group coordinator reaches them in a
// cluster (Service::group_router, KafkaCluster::group_offsets; docs/kafka.md, "In a cluster").
// A Kafka group's coordinator is one broker per group id, but our group G of topic T lives on
// the owner of bucket stable_hash64(G) % num_buckets of T: each call about (T, G) goes there,
// to this node's GroupTable when it is that owner, else to the owner's QueueService as a
// forwarded group call (so the peer never forwards it again). Synchronous: the broker calls it
// on its group scheduler; a peer call waits at most peer_timeout. A coordinator that cannot be
// reached is Unavailable (logged once until it answers again).
#include <algorithm>
#include <set>

#include "core/log.h"
#include "core/status_macros.h"
#include "groups/group_state.h"
#include "net/group_wire.h"
#include "net/grpc_status.h"
#include "net/service.h"

namespace persisting::net {

class GroupRouter final : public groups::Coordinator {
 public:
  explicit GroupRouter(Service* service) : s_(service) {}

  Result<groups::Assignment> join(const groups::JoinRequest& r) override {
    ASSIGN_OR_RETURN(Route to, route(r.topic, r.group));
    if (to.local) {
      groups::JoinRequest j = r;
      j.num_buckets = to.entry->info.num_buckets;
      for (BucketId b : j.static_buckets)
        if (b.value() >= j.num_buckets)
          return InvalidArgument(group_name(r.topic, r.group) + ": bucket " + std::to_string(b.value()) +
                                 " out of range (the topic has " + std::to_string(j.num_buckets) + ")");
      return s_->core_->groups->join(j);
    }
    v1::JoinGroupRequest req;
    to_wire(r, &req);
    req.set_forwarded(true);
    v1::JoinGroupResponse resp;
    RETURN_IF_ERROR(call(to, r.topic, r.group, &v1::QueueService::Stub::JoinGroup, req, &resp));
    return from_wire(resp.assignment());
  }

  Result<groups::Assignment> heartbeat(const std::string& topic, const std::string& group,
                                       const std::string& member_id, uint64_t generation) override {
    ASSIGN_OR_RETURN(Route to, route(topic, group));
    if (to.local) return s_->core_->groups->heartbeat(topic, group, member_id, generation);
    v1::HeartbeatRequest req;
    req.set_topic(topic);
    req.set_group(group);
    req.set_member_id(member_id);
    req.set_generation(generation);
    req.set_forwarded(true);
    v1::HeartbeatResponse resp;
    RETURN_IF_ERROR(call(to, topic, group, &v1::QueueService::Stub::Heartbeat, req, &resp));
    return from_wire(resp.assignment());
  }

  Status leave(const std::string& topic, const std::string& group, const std::string& member_id) override {
    ASSIGN_OR_RETURN(Route to, route(topic, group));
    if (to.local) return s_->core_->groups->leave(topic, group, member_id);
    v1::LeaveGroupRequest req;
    req.set_topic(topic);
    req.set_group(group);
    req.set_member_id(member_id);
    req.set_forwarded(true);
    v1::LeaveGroupResponse resp;
    return call(to, topic, group, &v1::QueueService::Stub::LeaveGroup, req, &resp);
  }

  Status commit(const std::string& topic, const std::string& group, const std::string& member_id,
                uint64_t generation, const groups::Commits& offsets) override {
    ASSIGN_OR_RETURN(Route to, route(topic, group));
    if (to.local) {
      RETURN_IF_ERROR(s_->core_->groups->commit(topic, group, member_id, generation, offsets));
      s_->registry_
          ->counter("persisting_group_commits_total", "Commits a group coordinator accepted (durable)",
                    {{"topic", topic}, {"group", group}})
          .inc();
      return Status::OK();
    }
    v1::CommitOffsetsRequest req;
    req.set_topic(topic);
    req.set_group(group);
    req.set_member_id(member_id);
    req.set_generation(generation);
    to_wire(offsets, req.mutable_offsets());
    req.set_forwarded(true);
    v1::CommitOffsetsResponse resp;
    return call(to, topic, group, &v1::QueueService::Stub::CommitOffsets, req, &resp);
  }

  Result<groups::Committed> committed(const std::string& topic, const std::string& group) override {
    auto to = route(topic, group);
    // A topic no member knows: nothing committed (as the GroupTable answers for one).
    if (to.status().code() == Code::kNotFound) return groups::Committed{};
    if (!to.ok()) return to.status();
    if (to->local) return s_->core_->groups->committed(topic, group);
    v1::FetchOffsetsRequest req;
    req.set_topic(topic);
    req.set_group(group);
    req.set_forwarded(true);
    v1::FetchOffsetsResponse resp;
    RETURN_IF_ERROR(call(*to, topic, group, &v1::QueueService::Stub::FetchOffsets, req, &resp));
    return committed_from_wire(resp.offsets());
  }

 private:
  struct Route {
    std::shared_ptr<TopicEntry> entry;
    runtime::Member coordinator;
    bool local = false;
  };

  Result<Route> route(const std::string& topic, const std::string& group) {
    ASSIGN_OR_RETURN(auto e, s_->directory_->find(topic, /*forward=*/true));
    auto c = s_->group_coordinator(*e, group);
    if (!c.ok()) {
      note(topic, group, c.status());
      return c.status();
    }
    const bool local = c->id == s_->self_.id;
    if (local) note(topic, group, Status::OK());
    return Route{std::move(e), std::move(c).value(), local};
  }

  template <typename Req, typename Resp>
  Status call(const Route& to, const std::string& topic, const std::string& group,
              grpc::Status (v1::QueueService::Stub::*method)(grpc::ClientContext*, const Req&, Resp*), const Req& req,
              Resp* resp) {
    grpc::ClientContext ctx;
    s_->peers_->prepare(&ctx, s_->config_.peer_timeout);
    auto stub = s_->peers_->stub(to.coordinator.address);
    Status st = from_grpc(((*stub).*method)(&ctx, req, resp), group_name(topic, group) + ": coordinator " +
                                                                  to.coordinator.id.str() + " (" +
                                                                  to.coordinator.address + ") unavailable");
    note(topic, group, st);
    return st;
  }

  // Logs a coordinator that cannot be reached once, until a call about the group reaches it.
  void note(const std::string& topic, const std::string& group, const Status& st) {
    const bool down = st.code() == Code::kUnavailable || st.code() == Code::kDeadlineExceeded;
    std::string key = group_name(topic, group);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!down) {
        failing_.erase(key);
        return;
      }
      if (!failing_.insert(key).second) return;
    }
    log_warning(s_->core_->options.logger.get(), "Kafka group commits: " + st.to_string() +
                                                     " (the Kafka clients retry; logged once until it answers)");
  }

  Service* s_;
  std::mutex mu_;
  std::set<std::string> failing_;  // groups whose coordinator did not answer the last call
};

std::unique_ptr<groups::Coordinator> Service::make_group_router(Service* service) {
  return std::make_unique<GroupRouter>(service);
}

}  // namespace persisting::net
