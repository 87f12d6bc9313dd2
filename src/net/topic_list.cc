// ListTopics (docs/wire-protocol.md, "Listing topics"): a topic is created on the node that was
// asked and learned by the others when they look it up, so the list of a cluster's topics is the
// union of every member's own list.
#include <map>

#include "net/grpc_status.h"
#include "net/service_internal.h"
#include "net/wire.h"

namespace persisting::net {

grpc::ServerUnaryReactor* Service::ListTopics(grpc::CallbackServerContext* ctx, const v1::ListTopicsRequest* req,
                                              v1::ListTopicsResponse* resp) {
  return unary(kListTopics, ctx, [this, req, resp](Done done) {
    post_admin([this, req, resp, done] {
      if (req->local_only()) {
        auto topics = core_->list_topics();
        if (!topics.ok()) return done(topics.status().with_context("node " + self_.id.str()));
        for (const auto& t : *topics) to_wire(t, resp->add_topics());
        return done(Status::OK());
      }
      std::vector<std::string> unreached;
      for (const auto& t : list_everywhere(&unreached)) to_wire(t, resp->add_topics());
      for (auto& id : unreached) resp->add_unreached(std::move(id));
      done(Status::OK());
    });
  });
}

std::vector<TopicInfo> Service::list_everywhere(std::vector<std::string>* unreached) {
  std::map<std::string, TopicInfo> out;
  auto here = core_->list_topics();
  if (here.ok()) {
    for (auto& t : *here) out.emplace(t.topic, std::move(t));
  } else {
    unreached->push_back(self_.id.str());
  }
  for (const auto& m : membership_->configured()) {
    if (m.id == self_.id) continue;
    if (!membership_->down_reason(m.id).empty()) {
      unreached->push_back(m.id.str());
      continue;
    }
    grpc::ClientContext pctx;
    peers_->prepare(&pctx, config_.peer_timeout);
    v1::ListTopicsRequest fwd;
    fwd.set_local_only(true);
    v1::ListTopicsResponse presp;
    if (!peers_->stub(m.address)->ListTopics(&pctx, fwd, &presp).ok()) {
      unreached->push_back(m.id.str());
      continue;
    }
    for (const auto& spec : presp.topics()) {
      TopicInfo t = from_wire(spec);
      out.emplace(t.topic, std::move(t));
    }
  }
  std::vector<TopicInfo> v;
  v.reserve(out.size());
  for (auto& [name, info] : out) v.push_back(std::move(info));
  return v;
}

}  // namespace persisting::net
