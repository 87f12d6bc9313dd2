// net::Service's consumer-group handlers (docs/wire-protocol.md, "Consumer groups"). The node's
// groups::GroupTable (in its QueueCore, the embedded one) holds the groups this node coordinates:
// the coordinator of (topic, group) is the owner of bucket stable_hash64(group) % num_buckets
// under the topic's placement. A node that gets a call for a group it does not coordinate
// forwards it to the coordinator over its peer channels (asynchronously: no thread waits) and
// relays the answer; the coordinator runs the call on the group pool (a commit waits for its
// fsync there, never on a gRPC thread).
#include <asio/post.hpp>
#include <algorithm>
#include <set>

#include "core/log.h"
#include "core/status_macros.h"
#include "groups/group_state.h"
#include "net/group_wire.h"
#include "net/grpc_status.h"
#include "net/rebalance.h"
#include "net/service_internal.h"
#include "persisting/json.h"

namespace persisting::net {
namespace {

// A forwarded call's deadline: the caller's, at most this.
constexpr auto kMaxForwardTimeout = std::chrono::seconds(30);

std::chrono::milliseconds forward_timeout(const grpc::CallbackServerContext* ctx, std::chrono::milliseconds floor) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(ctx->deadline() - std::chrono::system_clock::now());
  return std::clamp<std::chrono::milliseconds>(left, floor, kMaxForwardTimeout);
}

}  // namespace

Result<runtime::Member> Service::group_coordinator(const TopicEntry& t, const std::string& group) const {
  const uint32_t bucket = coordinator_bucket(group, t.info.num_buckets);
  auto o = directory_->owner(t, bucket);
  if (!o.ok())
    return Unavailable(group_name(t.info.topic, group) + ": its coordinator (the owner of bucket " +
                       std::to_string(bucket) + ") is unavailable: " + o.status().message());
  if (o->id != self_.id)
    if (std::string why = membership_->down_reason(o->id); !why.empty())
      return Unavailable(group_name(t.info.topic, group) + ": coordinator " + o->id.str() + " (" + o->address +
                         ") unavailable: " + why);
  return o;
}

grpc::ServerUnaryReactor* Service::group_rpc(int method, grpc::CallbackServerContext* ctx, const std::string& topic,
                                             const std::string& group, bool forwarded, GroupForward forward,
                                             GroupLocal local) {
  return unary(method, ctx, [this, ctx, topic, group, forwarded, forward, local](Done done) {
    if (Status s = groups::validate_group_name(group); !s.ok()) return done(s.with_context("topic '" + topic + "'"));
    with_topic(topic, [this, ctx, group, forwarded, forward, local, done](Result<std::shared_ptr<TopicEntry>> e) {
      if (!e.ok()) return done(e.status());
      auto c = group_coordinator(**e, group);
      if (!c.ok()) return done(c.status());
      const std::string& topic = (*e)->info.topic;
      if (c->id == self_.id) {
        asio::post(*group_pool_, [entry = *e, local, done] { done(local(*entry)); });
        return;
      }
      if (forwarded)
        return done(Unavailable(group_name(topic, group) + ": node " + self_.id.str() +
                                " got a forwarded call but its placement names " + c->id.str() +
                                " the coordinator: the nodes' placements disagree (a rebalance switch under way?); "
                                "retry"));
      auto fctx = std::make_shared<grpc::ClientContext>();
      peers_->prepare(fctx.get(), forward_timeout(ctx, config_.peer_timeout));
      std::string where = group_name(topic, group) + ": coordinator " + c->id.str() + " (" + c->address + ") unavailable";
      forward(peers_->stub(c->address)->async(), fctx.get(),
              [fctx, done, where](grpc::Status s) { done(from_grpc(s, where)); });
    });
  });
}

Result<std::vector<Offset>> Service::end_offsets(TopicEntry& t) {
  const std::string& topic = t.info.topic;
  std::vector<Offset> ends(t.info.num_buckets);
  std::map<std::string, std::vector<uint32_t>> remote;  // address -> buckets
  std::map<std::string, std::string> names;             // address -> "n2 (addr)"
  for (uint32_t b = 0; b < t.info.num_buckets; ++b) {
    ASSIGN_OR_RETURN(runtime::Member o, directory_->owner(t, b));
    if (o.id == self_.id) {
      ASSIGN_OR_RETURN(auto actor, directory_->local_bucket(t, b));
      ASSIGN_OR_RETURN(uint64_t n, total_count(*actor));
      ends[b] = Offset(n);
    } else {
      remote[o.address].push_back(b);
      names[o.address] = o.id.str() + " (" + o.address + ")";
    }
  }
  for (const auto& [address, buckets] : remote) {
    grpc::ClientContext ctx;
    peers_->prepare(&ctx, config_.peer_timeout);
    v1::StatsRequest req;
    req.set_topic(topic);
    for (uint32_t b : buckets) req.add_buckets(b);
    v1::StatsResponse resp;
    RETURN_IF_ERROR(from_grpc(peers_->stub(address)->Stats(&ctx, req, &resp),
                              "topic '" + topic + "': owner " + names[address] + " unavailable")
                        .with_context("end offsets"));
    for (const auto& j : resp.bucket_stats_json()) {
      auto v = parse_json(j);
      const Value* b = v.ok() && v->is_object() ? v->as_object().find("bucket") : nullptr;
      const Value* n = v.ok() && v->is_object() ? v->as_object().find("total_count") : nullptr;
      if (!b || !n || !b->is_int() || !n->is_int() || b->as_int() < 0 || b->as_int() >= t.info.num_buckets)
        return Internal("topic '" + topic + "': owner " + names[address] + " sent stats without bucket/total_count");
      ends[b->as_int()] = Offset(static_cast<uint64_t>(n->as_int()));
    }
  }
  return ends;
}

// ---- handlers -------------------------------------------------------------------------------

grpc::ServerUnaryReactor* Service::JoinGroup(grpc::CallbackServerContext* ctx, const v1::JoinGroupRequest* req,
                                             v1::JoinGroupResponse* resp) {
  auto fwd = std::make_shared<v1::JoinGroupRequest>(*req);
  fwd->set_forwarded(true);
  return group_rpc(
      kJoinGroup, ctx, req->topic(), req->group(), req->forwarded(),
      [fwd, resp](auto* stub, grpc::ClientContext* c, auto cb) { stub->JoinGroup(c, fwd.get(), resp, std::move(cb)); },
      [this, req, resp](TopicEntry& t) -> Status {
        groups::JoinRequest j;
        j.topic = t.info.topic;
        j.group = req->group();
        j.num_buckets = t.info.num_buckets;
        j.instance_id = req->instance_id();
        for (uint32_t b : req->static_buckets()) {
          RETURN_IF_ERROR(check_bucket(t, b).with_context(group_name(t.info.topic, req->group())));
          j.static_buckets.emplace_back(b);
        }
        if (req->session_timeout_ms() > 0) j.session_timeout = std::chrono::milliseconds(req->session_timeout_ms());
        j.exclusive = req->exclusive();
        ASSIGN_OR_RETURN(groups::Assignment a, core_->groups->join(j));
        to_wire(a, resp->mutable_assignment());
        return Status::OK();
      });
}

grpc::ServerUnaryReactor* Service::Heartbeat(grpc::CallbackServerContext* ctx, const v1::HeartbeatRequest* req,
                                             v1::HeartbeatResponse* resp) {
  auto fwd = std::make_shared<v1::HeartbeatRequest>(*req);
  fwd->set_forwarded(true);
  return group_rpc(
      kHeartbeat, ctx, req->topic(), req->group(), req->forwarded(),
      [fwd, resp](auto* stub, grpc::ClientContext* c, auto cb) { stub->Heartbeat(c, fwd.get(), resp, std::move(cb)); },
      [this, req, resp](TopicEntry& t) -> Status {
        ASSIGN_OR_RETURN(groups::Assignment a,
                         core_->groups->heartbeat(t.info.topic, req->group(), req->member_id(), req->generation()));
        to_wire(a, resp->mutable_assignment());
        return Status::OK();
      });
}

grpc::ServerUnaryReactor* Service::LeaveGroup(grpc::CallbackServerContext* ctx, const v1::LeaveGroupRequest* req,
                                              v1::LeaveGroupResponse* resp) {
  auto fwd = std::make_shared<v1::LeaveGroupRequest>(*req);
  fwd->set_forwarded(true);
  return group_rpc(
      kLeaveGroup, ctx, req->topic(), req->group(), req->forwarded(),
      [fwd, resp](auto* stub, grpc::ClientContext* c, auto cb) { stub->LeaveGroup(c, fwd.get(), resp, std::move(cb)); },
      [this, req](TopicEntry& t) -> Status { return core_->groups->leave(t.info.topic, req->group(), req->member_id()); });
}

grpc::ServerUnaryReactor* Service::CommitOffsets(grpc::CallbackServerContext* ctx, const v1::CommitOffsetsRequest* req,
                                                 v1::CommitOffsetsResponse* resp) {
  auto fwd = std::make_shared<v1::CommitOffsetsRequest>(*req);
  fwd->set_forwarded(true);
  return group_rpc(
      kCommitOffsets, ctx, req->topic(), req->group(), req->forwarded(),
      [fwd, resp](auto* stub, grpc::ClientContext* c, auto cb) {
        stub->CommitOffsets(c, fwd.get(), resp, std::move(cb));
      },
      [this, req](TopicEntry& t) -> Status {
        for (const auto& c : req->offsets())
          RETURN_IF_ERROR(check_bucket(t, c.bucket()).with_context(group_name(t.info.topic, req->group())));
        RETURN_IF_ERROR(core_->groups->commit(t.info.topic, req->group(), req->member_id(), req->generation(),
                                              commits_from_wire(req->offsets())));
        registry_
            ->counter("persisting_group_commits_total", "Commits a group coordinator accepted (durable)",
                      {{"topic", t.info.topic}, {"group", req->group()}})
            .inc();
        return Status::OK();
      });
}

grpc::ServerUnaryReactor* Service::FetchOffsets(grpc::CallbackServerContext* ctx, const v1::FetchOffsetsRequest* req,
                                                v1::FetchOffsetsResponse* resp) {
  auto fwd = std::make_shared<v1::FetchOffsetsRequest>(*req);
  fwd->set_forwarded(true);
  return group_rpc(
      kFetchOffsets, ctx, req->topic(), req->group(), req->forwarded(),
      [fwd, resp](auto* stub, grpc::ClientContext* c, auto cb) { stub->FetchOffsets(c, fwd.get(), resp, std::move(cb)); },
      [this, req, resp](TopicEntry& t) -> Status {
        ASSIGN_OR_RETURN(groups::Committed c, core_->groups->committed(t.info.topic, req->group()));
        to_wire(c, resp->mutable_offsets());
        return Status::OK();
      });
}

grpc::ServerUnaryReactor* Service::ResetGroup(grpc::CallbackServerContext* ctx, const v1::ResetGroupRequest* req,
                                              v1::ResetGroupResponse* resp) {
  auto fwd = std::make_shared<v1::ResetGroupRequest>(*req);
  fwd->set_forwarded(true);
  return group_rpc(
      kResetGroup, ctx, req->topic(), req->group(), req->forwarded(),
      [fwd, resp](auto* stub, grpc::ClientContext* c, auto cb) { stub->ResetGroup(c, fwd.get(), resp, std::move(cb)); },
      [this, req](TopicEntry& t) -> Status {
        GroupReset to;
        switch (req->to()) {
          case v1::ResetGroupRequest::EARLIEST: to.kind = GroupReset::kEarliest; break;
          case v1::ResetGroupRequest::LATEST: to.kind = GroupReset::kLatest; break;
          case v1::ResetGroupRequest::OFFSET: to.kind = GroupReset::kOffset; break;
          default:
            return InvalidArgument(group_name(t.info.topic, req->group()) + ": unknown reset target " +
                                   std::to_string(req->to()));
        }
        to.offset = req->offset();
        // An unknown group is NotFound before any work (a reset to the end asks every owner).
        RETURN_IF_ERROR(core_->groups->describe(t.info.topic, req->group()).status());
        // A reset to the end, or to an offset (clamped to each bucket's end), needs the owners'
        // counts.
        std::vector<Offset> ends(t.info.num_buckets);
        if (to.kind != GroupReset::kEarliest) {
          ASSIGN_OR_RETURN(ends, end_offsets(t));
        }
        return core_->groups->reset(t.info.topic, req->group(), groups::reset_offsets(to, ends));
      });
}

grpc::ServerUnaryReactor* Service::DeleteGroup(grpc::CallbackServerContext* ctx, const v1::DeleteGroupRequest* req,
                                               v1::DeleteGroupResponse* resp) {
  auto fwd = std::make_shared<v1::DeleteGroupRequest>(*req);
  fwd->set_forwarded(true);
  return group_rpc(
      kDeleteGroup, ctx, req->topic(), req->group(), req->forwarded(),
      [fwd, resp](auto* stub, grpc::ClientContext* c, auto cb) { stub->DeleteGroup(c, fwd.get(), resp, std::move(cb)); },
      [this, req](TopicEntry& t) -> Status {
        RETURN_IF_ERROR(core_->groups->remove(t.info.topic, req->group()));
        registry_->remove_series("group", req->group());
        return Status::OK();
      });
}

// The groups of a topic live on their coordinators: a merged answer asks every node that owns
// (leads) one of the topic's buckets for those it coordinates, then adds each bucket's end offset and lag.
grpc::ServerUnaryReactor* Service::ListGroups(grpc::CallbackServerContext* ctx, const v1::ListGroupsRequest* req,
                                              v1::ListGroupsResponse* resp) {
  return unary(kListGroups, ctx, [this, req, resp](Done done) {
    // A merged answer waits for the other members (admin pool); their local_only parts run on
    // the group pool, which never waits for a peer, so two nodes listing at once cannot hold
    // each other's threads.
    auto work = [this, req, resp, done] {
      auto e = directory_->find(req->topic(), !req->local_only());
      // A member that does not know the topic coordinates none of its groups.
      if (req->local_only() && e.status().code() == Code::kNotFound) return done(Status::OK());
      if (!e.ok()) return done(e.status());
      TopicEntry& t = **e;
      auto mine = core_->groups->list(t.info.topic);
      if (!mine.ok()) return done(mine.status().with_context("node " + self_.id.str()));
      std::vector<groups::GroupSummary> all;
      for (auto& s : *mine) {
        auto c = group_coordinator(t, s.group);
        if (c.ok() && c->id == self_.id) all.push_back(std::move(s));  // stale state of a moved coordinator: not shown
      }
      if (req->local_only()) {
        for (const auto& s : all) to_wire(s, resp->add_groups());
        return done(Status::OK());
      }
      // The coordinators: the nodes that own (lead) a bucket. A replica that leads none, a dead
      // former leader among them, coordinates nothing.
      std::set<NodeId> coordinators;
      for (uint32_t b = 0; b < t.info.num_buckets; ++b) coordinators.insert(directory_->leader(t, b).leader);
      for (const auto& m : t.placement()->members) {
        if (m.id == self_.id || !coordinators.count(m.id)) continue;
        auto member = membership_->member(m.id);
        if (!member.ok())
          return done(Unavailable("topic '" + t.info.topic + "': node " + m.id.str() + " (a coordinator of its groups) " +
                                  "unavailable: " + member.status().message()));
        v1::ListGroupsRequest preq;
        preq.set_topic(t.info.topic);
        preq.set_local_only(true);
        v1::ListGroupsResponse presp;
        Status s = call_peer(*peers_, *member, &Stub::ListGroups, preq, &presp, config_.peer_timeout)
                       .with_context("topic '" + t.info.topic + "': a coordinator of its groups unavailable");
        if (!s.ok()) return done(s);
        for (const auto& g : presp.groups()) all.push_back(summary_from_wire(g));
      }
      auto ends = end_offsets(t);
      if (!ends.ok()) return done(ends.status());
      std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.group < b.group; });
      for (const auto& s : all) to_wire(groups::group_info(s, *ends), resp->add_groups());
      done(Status::OK());
    };
    if (req->local_only()) {
      asio::post(*group_pool_, std::move(work));
    } else {
      post_admin(std::move(work));
    }
  });
}

// Only topics this node has used since it started: a group's calls (its members' heartbeats)
// bring its topic in.
void Service::collect_group_metrics() {
  for (const auto& e : directory_->all()) {
    const TopicInfo& info = e->info;
    auto summaries = core_->groups->list(info.topic);
    if (!summaries.ok() || summaries->empty()) continue;
    std::vector<groups::GroupSummary> mine;
    for (auto& s : *summaries) {
      auto c = group_coordinator(*e, s.group);
      if (c.ok() && c->id == self_.id) mine.push_back(std::move(s));
    }
    if (mine.empty()) continue;
    auto ends = end_offsets(*e);
    if (!ends.ok()) {
      log_warning(core_->options.logger.get(),
                  "metrics: persisting_group_lag of topic '" + info.topic + "' not refreshed: " + ends.status().to_string());
      continue;
    }
    for (const auto& s : mine) {
      GroupInfo g = groups::group_info(s, *ends);
      for (const auto& b : g.buckets)
        registry_
            ->gauge("persisting_group_lag", "Records of the bucket after the group's committed offset (coordinator)",
                    {{"topic", info.topic}, {"group", g.group}, {"bucket", std::to_string(b.bucket.value())}})
            .set(static_cast<double>(b.lag));
    }
  }
}

}  // namespace persisting::net
