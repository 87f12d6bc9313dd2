// AlterTopic (docs/wire-protocol.md, "Altering a topic"): a topic's retention limits change on
// every member that has the topic, the way DeleteTopic reaches them (service.cc).
#include "core/status_macros.h"
#include "net/grpc_status.h"
#include "net/service_internal.h"
#include "net/wire.h"
#include "queue/topic_meta.h"

namespace persisting::net {

grpc::ServerUnaryReactor* Service::AlterTopic(grpc::CallbackServerContext* ctx, const v1::AlterTopicRequest* req,
                                              v1::AlterTopicResponse* resp) {
  return unary(kAlterTopic, ctx, [this, req, resp](Done done) {
    post_admin([this, req, resp, done] {
      if (!req->local_only()) return done(alter_everywhere(*req, resp));
      std::optional<uint64_t> incarnation;
      if (req->has_incarnation()) incarnation = req->incarnation();
      auto altered = alter_here(req->topic(), from_wire(req->retention()), incarnation);
      if (!altered.ok()) return done(altered.status().with_context("node " + self_.id.str()));
      to_wire(*altered, resp->mutable_topic());
      resp->add_altered_on(self_.id.str());
      done(Status::OK());
    });
  });
}

Result<TopicInfo> Service::alter_here(const std::string& topic, const Retention& retention,
                                      std::optional<uint64_t> incarnation) {
  RETURN_IF_ERROR(validate_topic_name(topic));
  if (retention.policy == RetentionPolicy::kInterest)
    return NotSupported("topic '" + topic + "': " + kInterestOnClusterRefusal);
  ASSIGN_OR_RETURN(TopicInfo info, core_->lookup(topic));
  if (incarnation && info.incarnation != *incarnation)
    return NotFound("topic '" + topic + "': this node has another life of the name (incarnation " +
                    std::to_string(info.incarnation) + ", not " + std::to_string(*incarnation) + ")");
  // Only the buckets this node owns apply the limits now; a bucket it holds a replica of shares
  // them too and applies them at its next flush.
  ASSIGN_OR_RETURN(auto entry, directory_->find(topic, /*forward=*/false));
  std::vector<BucketId> owned;  // the buckets it leads (after a failover, by its leader record)
  for (uint32_t b = 0; b < info.num_buckets; ++b)
    if (directory_->leader(*entry, b).leader == self_.id) owned.emplace_back(b);
  return core_->alter_retention(topic, retention, &owned);
}

Status Service::alter_everywhere(const v1::AlterTopicRequest& req, v1::AlterTopicResponse* resp) {
  const std::string& name = req.topic();
  RETURN_IF_ERROR(validate_topic_name(name));
  const Retention retention = from_wire(req.retention());
  std::optional<uint64_t> incarnation;
  if (req.has_incarnation()) incarnation = req.incarnation();
  // This node's copy first: a bad limit stops here, before any member changes, and its
  // incarnation is the one the others are to alter.
  auto here = alter_here(name, retention, incarnation);
  if (here.ok()) {
    incarnation = here->incarnation;
    to_wire(*here, resp->mutable_topic());
    resp->add_altered_on(self_.id.str());
  } else if (here.status().code() != Code::kNotFound) {
    return here.status().with_context("node " + self_.id.str());
  }
  auto send = [&](const runtime::Member& m) {
    grpc::ClientContext pctx;
    peers_->prepare(&pctx, config_.peer_timeout);
    v1::AlterTopicRequest fwd = req;
    fwd.set_local_only(true);
    if (incarnation) fwd.set_incarnation(*incarnation);
    v1::AlterTopicResponse presp;
    Status s = from_grpc(peers_->stub(m.address)->AlterTopic(&pctx, fwd, &presp),
                         "node " + m.id.str() + " at " + m.address);
    if (s.ok()) {
      resp->add_altered_on(m.id.str());
      if (!resp->has_topic()) *resp->mutable_topic() = presp.topic();
      if (!incarnation) incarnation = presp.topic().incarnation();  // the rest alter the same life
    }
    return s;
  };
  auto done_on = [&] { return std::vector<std::string>(resp->altered_on().begin(), resp->altered_on().end()); };
  return change_on_members(name, "topic '" + name + "': retention was changed", "alter", req.has_incarnation(),
                           here.ok() ? Status::OK() : here.status(), send, done_on);
}

}  // namespace persisting::net
