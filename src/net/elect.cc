// net::Service: leader epochs and the operator's manual failover (docs/cluster.md, "Manual
// failover"; docs/wire-protocol.md, "Leader epochs"). BucketLeader answers what this node knows
// of a replicated topic's buckets (and adopts a newer record first); ElectLeader coordinates an
// election: it asks every member, checks that the candidate is safe, then writes the new epoch
// on the candidate first and on every other member it reaches.
#include <algorithm>

#include "core/log.h"
#include "core/status_macros.h"
#include "net/grpc_status.h"
#include "net/elections.h"
#include "net/rebalance.h"
#include "net/service_internal.h"

namespace persisting::net {
namespace {

void to_wire(const std::vector<LeaderEpoch>& epochs, google::protobuf::RepeatedPtrField<v1::LeaderEpoch>* out) {
  for (const auto& e : epochs) {
    auto* w = out->Add();
    w->set_epoch(e.epoch);
    w->set_leader(e.leader);
    w->set_start(e.start);
  }
}

std::vector<LeaderEpoch> from_wire(const google::protobuf::RepeatedPtrField<v1::LeaderEpoch>& in) {
  std::vector<LeaderEpoch> out;
  for (const auto& e : in) out.push_back({e.epoch(), e.leader(), e.start()});
  return out;
}

uint64_t last_epoch(const google::protobuf::RepeatedPtrField<v1::LeaderEpoch>& in) {
  return in.empty() ? 0 : in.rbegin()->epoch();
}

}  // namespace

Status Service::leader_state(TopicEntry& t, uint32_t b, v1::BucketLeaderResponse::State* out) {
  out->set_bucket(b);
  {
    std::lock_guard<std::mutex> lock(t.leaders_mu);
    if (auto it = t.leaders.find(b); it != t.leaders.end()) to_wire(it->second.epochs, out->mutable_epochs());
    if (auto it = t.followed.find(b); it != t.followed.end()) {
      out->set_follower_epoch(it->second.epoch);
      out->set_follower_in_sync(it->second.in_sync);
      out->set_follower_high_watermark(it->second.high_watermark);
    }
  }
  std::vector<NodeId> replicas = directory_->replicas(t, b);
  if (std::find(replicas.begin(), replicas.end(), self_.id) == replicas.end()) return Status::OK();
  ASSIGN_OR_RETURN(auto actors, core_->actors(t.info, {BucketId(b)}, {}));
  ASSIGN_OR_RETURN(uint64_t end, total_count(*actors[0]));
  out->set_log_end(end);
  if (directory_->leader(t, b).leader == self_.id && t.confirmed && t.tracker) {
    out->set_leads(true);
    RETURN_IF_ERROR(ensure_in_sync_set(t, b, *actors[0]));
    t.tracker->leader_appended(b, end);
    if (auto snap = t.tracker->snapshot(b)) {
      for (const auto& r : snap->replicas)
        if (r.in_sync) out->add_in_sync(r.id.str());
      out->set_high_watermark(snap->high_watermark);
    }
  }
  return Status::OK();
}

grpc::ServerUnaryReactor* Service::BucketLeader(grpc::CallbackServerContext* ctx, const v1::BucketLeaderRequest* req,
                                                v1::BucketLeaderResponse* resp) {
  return unary(kBucketLeader, ctx, [this, req, resp](Done done) {
    post_admin([this, req, resp, done] {
      auto e = directory_->find(req->topic(), /*forward=*/false);
      if (!e.ok()) return done(e.status());
      TopicEntry& t = **e;
      if (req->incarnation() != 0 && req->incarnation() != t.info.incarnation)
        return done(NotFound(runtime::deleted_message(t.info.topic, req->incarnation())));
      if (t.info.replication_factor <= 1)
        return done(FailedPrecondition("topic '" + t.info.topic + "' is not replicated (replication_factor 1)"));
      if (req->adopt_size() > 0) {
        bool changed = false;
        if (Status s = directory_->adopt(t, req->adopt_bucket(), from_wire(req->adopt()), &changed); !s.ok())
          return done(s.with_context("node " + self_.id.str()));
        if (changed)
          log_line(core_->options.logger.get(), LogLevel::kInfo,
                   bucket_name(t.info.topic, req->adopt_bucket()) + ": leader " + req->adopt().rbegin()->leader() +
                       " at epoch " + std::to_string(last_epoch(req->adopt())));
      }
      std::vector<uint32_t> buckets(req->buckets().begin(), req->buckets().end());
      if (buckets.empty())
        for (uint32_t b = 0; b < t.info.num_buckets; ++b) buckets.push_back(b);
      for (uint32_t b : buckets) {
        if (Status s = check_bucket(t, b); !s.ok()) return done(s);
        if (Status s = leader_state(t, b, resp->add_buckets()); !s.ok()) return done(s);
      }
      done(Status::OK());
    });
  });
}

Status Service::elect(const v1::ElectLeaderRequest& req, v1::ElectLeaderResponse* resp) {
  ASSIGN_OR_RETURN(auto e, directory_->find(req.topic(), /*forward=*/true));
  TopicEntry& t = *e;
  const uint32_t b = req.bucket();
  const std::string what = bucket_name(t.info.topic, b);
  RETURN_IF_ERROR(check_bucket(t, b));
  if (t.info.replication_factor <= 1)
    return FailedPrecondition("topic '" + t.info.topic + "' is not replicated (replication_factor 1): its buckets "
                              "have one copy and no election");
  if (membership_->elections())
    return FailedPrecondition(what + ": with etcd membership leaders are elected through etcd (docs/cluster.md, "
                              "\"Failover\"); `cluster elect` is for static membership. To move the leadership, "
                              "stop the leader: an in-sync replica takes over within the lease TTL. Nothing changed");
  std::vector<NodeId> replicas = directory_->replicas(t, b);
  std::vector<std::string> ids;
  for (const auto& r : replicas) ids.push_back(r.str());
  const NodeId node(req.node());
  if (std::find(replicas.begin(), replicas.end(), node) == replicas.end())
    return InvalidArgument(what + ": node '" + req.node() + "' is not one of its replicas (" + join(ids) +
                           "); nothing changed");

  // What every member knows (the replicas' copies; the others' records, for routing).
  struct Seen {
    runtime::Member member;
    bool reached = false;
    Status why;
    v1::BucketLeaderResponse::State state;
  };
  std::vector<Seen> seen;
  for (const auto& m : membership_->configured()) {
    Seen s{m};
    if (m.id == self_.id) {
      s.why = leader_state(t, b, &s.state);
    } else {
      v1::BucketLeaderRequest q;
      q.set_topic(t.info.topic);
      q.set_incarnation(t.info.incarnation);
      q.add_buckets(b);
      v1::BucketLeaderResponse r;
      // (A node restarted a moment ago is reached although its channel still backs off: call_peer.)
      s.why = call_peer(*peers_, m, &Stub::BucketLeader, q, &r, config_.peer_timeout);
      if (s.why.ok() && r.buckets_size() == 1) s.state = r.buckets(0);
      else if (s.why.ok()) s.why = Internal("node " + m.id.str() + " answered for another bucket");
    }
    s.reached = s.why.ok();
    if (!s.reached && s.why.code() != Code::kUnavailable && s.why.code() != Code::kDeadlineExceeded &&
        s.why.code() != Code::kNotFound)
      return s.why.with_context(what + ": asking node " + m.id.str());
    seen.push_back(std::move(s));
  }
  // The newest record reached: the current epoch and leader.
  const Seen* newest = nullptr;
  for (const auto& s : seen)
    if (s.reached && (!newest || last_epoch(s.state.epochs()) > last_epoch(newest->state.epochs()))) newest = &s;
  std::vector<LeaderEpoch> history = newest ? from_wire(newest->state.epochs()) : std::vector<LeaderEpoch>{};
  const uint64_t epoch = history.empty() ? 0 : history.back().epoch;
  const std::string current = history.empty() ? replicas.front().str() : history.back().leader;
  const Seen* cand = nullptr;
  const Seen* old = nullptr;
  for (const auto& s : seen) {
    if (s.member.id == node) cand = &s;
    if (s.member.id.str() == current) old = &s;
  }
  if (!cand || !cand->reached)
    return Unavailable(what + ": node " + req.node() + " cannot be reached (" +
                       (cand ? cand->why.message() : std::string("not a member")) + "); nothing changed");
  if (current == req.node() && last_epoch(cand->state.epochs()) == epoch)
    return FailedPrecondition(what + ": node " + req.node() + " leads it already (epoch " + std::to_string(epoch) +
                              "); nothing changed");
  const uint64_t cand_end = cand->state.log_end();
  if (!req.allow_unclean()) {
    auto refuse = [&](const std::string& why) {
      return FailedPrecondition(what + ": node " + req.node() + " " + why +
                                "; nothing changed (elect an in-sync replica, or pass --allow-unclean to accept "
                                "losing the records it lacks)");
    };
    if (old && old->reached && old->state.leads()) {
      // The leader is up: the candidate must be in its in-sync set (Kafka's clean election).
      std::vector<std::string> isr(old->state.in_sync().begin(), old->state.in_sync().end());
      if (std::find(isr.begin(), isr.end(), req.node()) == isr.end())
        return refuse("is not in the in-sync set (" + join(isr) + ") of leader " + current + " (its log end " +
                      std::to_string(cand_end) + ", the high watermark " +
                      std::to_string(old->state.high_watermark()) + ")");
    } else {
      // The leader is down: what the candidate last heard from it, and every reachable copy.
      if (cand->state.follower_epoch() != epoch || !cand->state.follower_in_sync())
        return refuse("was not in the in-sync set at its last fetch from leader " + current + " (epoch " +
                      std::to_string(epoch) + "), or has not fetched since it started");
      if (cand_end < cand->state.follower_high_watermark())
        return refuse("has " + std::to_string(cand_end) + " records, below the high watermark " +
                      std::to_string(cand->state.follower_high_watermark()) + " it learned");
      for (const auto& s : seen)
        if (s.reached && s.state.log_end() > cand_end &&
            std::find(replicas.begin(), replicas.end(), s.member.id) != replicas.end())
          return refuse("has " + std::to_string(cand_end) + " records, fewer than replica " + s.member.id.str() +
                        " (" + std::to_string(s.state.log_end()) + ")");
    }
  }
  // The new epoch: on the candidate first (it takes its start from its own count), then on the
  // old leader (it stops serving the bucket), then everywhere else reached.
  history.push_back({epoch + 1, req.node(), cand_end});
  auto adopt_on = [&](const Seen& s, const std::vector<LeaderEpoch>& h, v1::BucketLeaderResponse::State* st) {
    if (s.member.id == self_.id) {
      bool changed = false;
      RETURN_IF_ERROR(directory_->adopt(t, b, h, &changed));
      return leader_state(t, b, st);
    }
    v1::BucketLeaderRequest q;
    q.set_topic(t.info.topic);
    q.set_incarnation(t.info.incarnation);
    q.add_buckets(b);
    q.set_adopt_bucket(b);
    to_wire(h, q.mutable_adopt());
    v1::BucketLeaderResponse r;
    RETURN_IF_ERROR(call_peer(*peers_, s.member, &Stub::BucketLeader, q, &r, config_.peer_timeout));
    if (r.buckets_size() != 1) return Internal("node " + s.member.id.str() + " answered for another bucket");
    *st = r.buckets(0);
    return Status::OK();
  };
  v1::BucketLeaderResponse::State after;
  RETURN_IF_ERROR(adopt_on(*cand, history, &after).with_context(what + ": electing node " + req.node() +
                                                               " (nothing changed)"));
  std::vector<LeaderEpoch> stored = from_wire(after.epochs());
  if (stored.empty() || stored.back().epoch != epoch + 1 || stored.back().leader != req.node())
    return Internal(what + ": node " + req.node() + " did not take epoch " + std::to_string(epoch + 1));
  resp->set_epoch(epoch + 1);
  resp->set_leader(req.node());
  resp->set_start(stored.back().start);
  resp->set_previous_leader(current);
  resp->add_updated(req.node());
  std::vector<const Seen*> rest;
  if (old && old != cand) rest.push_back(old);
  for (const auto& s : seen)
    if (&s != cand && &s != old) rest.push_back(&s);
  for (const Seen* s : rest) {
    if (!s->reached) {
      if (s->why.code() != Code::kNotFound) resp->add_unreached(s->member.id.str());
      continue;
    }
    v1::BucketLeaderResponse::State st;
    Status a = adopt_on(*s, stored, &st);
    if (a.ok()) resp->add_updated(s->member.id.str());
    else resp->add_unreached(s->member.id.str());
    log_if_error(core_->options.logger.get(), LogLevel::kWarning, what + ": telling node " + s->member.id.str() +
                 " of epoch " + std::to_string(epoch + 1), a);
  }
  return Status::OK();
}

grpc::ServerUnaryReactor* Service::ElectLeader(grpc::CallbackServerContext* ctx, const v1::ElectLeaderRequest* req,
                                               v1::ElectLeaderResponse* resp) {
  return unary(kElectLeader, ctx, [this, req, resp](Done done) {
    post_admin([this, req, resp, done] { done(elect(*req, resp)); });
  });
}

}  // namespace persisting::net
