// FindCoordinator and the group APIs: decoded wire messages become the GroupCoordinator's
// requests (coord::, wire-independent) and its answers are encoded at the request's version.
// A single node coordinates every group; in a cluster a group's coordinator is one member
// (KafkaCluster::coordinator, the same on every node), and the others answer the group APIs
// NOT_COORDINATOR so that clients ask FindCoordinator again.
#include "kafka/broker/dispatcher.h"
#include "kafka/broker/group_coordinator.h"

namespace persisting::kafka {

bool Dispatcher::coordinates(const std::string& group) const {
  KafkaCluster* c = broker_->catalog().cluster();
  return !c || c->coordinator(group).id == c->self_id();
}

void Dispatcher::handle(Session&, const RequestHeader& h, FindCoordinatorRequest req, const Reply& reply) {
  FindCoordinatorResponse r;
  if (req.key_type != 0) {  // 1 = a transaction coordinator: no transactions here
    r.error_code = error_value(ErrorCode::COORDINATOR_NOT_AVAILABLE);
    r.error_message = "transactions are not supported";
  } else if (KafkaCluster* c = broker_->catalog().cluster()) {
    BrokerAddress b = c->coordinator(req.key);
    r.node_id = b.id;
    r.host = b.host;
    r.port = b.port;
  } else {
    r.node_id = config_.node_id;
    r.host = config_.advertised_host;
    r.port = config_.advertised_port;
  }
  reply.send(response_frame(h, r));
}

void Dispatcher::handle(Session& s, const RequestHeader& h, JoinGroupRequest req, const Reply& reply) {
  coord::JoinGroupRequest c;
  c.group_id = std::move(req.group_id);
  c.session_timeout_ms = req.session_timeout_ms;
  c.rebalance_timeout_ms = req.rebalance_timeout_ms;
  c.member_id = std::move(req.member_id);
  c.group_instance_id = std::move(req.group_instance_id);
  c.protocol_type = std::move(req.protocol_type);
  for (auto& p : req.protocols) c.protocols.push_back({std::move(p.name), std::move(p.metadata)});
  c.require_known_member_id = h.api_version >= 4;
  c.client_id = s.client_id;
  c.client_host = s.peer;
  auto answer = [h, reply](coord::JoinGroupResponse g) {
    JoinGroupResponse r;
    r.error_code = error_value(g.error);
    r.generation_id = g.generation_id;
    r.protocol_name = std::move(g.protocol_name);
    r.leader = std::move(g.leader);
    r.member_id = std::move(g.member_id);
    for (auto& m : g.members) r.members.push_back({std::move(m.member_id), std::move(m.group_instance_id), std::move(m.metadata)});
    reply.send(response_frame(h, r));
  };
  if (!coordinates(c.group_id)) return answer({.error = ErrorCode::NOT_COORDINATOR});
  groups_->join_group(std::move(c), std::move(answer));
}

void Dispatcher::handle(Session&, const RequestHeader& h, SyncGroupRequest req, const Reply& reply) {
  coord::SyncGroupRequest c;
  c.group_id = std::move(req.group_id);
  c.generation_id = req.generation_id;
  c.member_id = std::move(req.member_id);
  c.group_instance_id = std::move(req.group_instance_id);
  for (auto& a : req.assignments) c.assignments.push_back({std::move(a.member_id), std::move(a.assignment)});
  auto answer = [h, reply](coord::SyncGroupResponse g) {
    SyncGroupResponse r;
    r.error_code = error_value(g.error);
    r.assignment = std::move(g.assignment);
    reply.send(response_frame(h, r));
  };
  if (!coordinates(c.group_id)) return answer({.error = ErrorCode::NOT_COORDINATOR});
  groups_->sync_group(std::move(c), std::move(answer));
}

void Dispatcher::handle(Session&, const RequestHeader& h, HeartbeatRequest req, const Reply& reply) {
  coord::HeartbeatRequest c;
  c.group_id = std::move(req.group_id);
  c.generation_id = req.generation_id;
  c.member_id = std::move(req.member_id);
  c.group_instance_id = std::move(req.group_instance_id);
  auto answer = [h, reply](coord::HeartbeatResponse g) {
    HeartbeatResponse r;
    r.error_code = error_value(g.error);
    reply.send(response_frame(h, r));
  };
  if (!coordinates(c.group_id)) return answer({.error = ErrorCode::NOT_COORDINATOR});
  groups_->heartbeat(std::move(c), std::move(answer));
}

void Dispatcher::handle(Session&, const RequestHeader& h, LeaveGroupRequest req, const Reply& reply) {
  coord::LeaveGroupRequest c;
  c.group_id = std::move(req.group_id);
  if (h.api_version < 3) {
    c.members.push_back({std::move(req.member_id), std::nullopt});
  } else {
    for (auto& m : req.members) c.members.push_back({std::move(m.member_id), std::move(m.group_instance_id)});
  }
  auto answer = [h, reply](coord::LeaveGroupResponse g) {
    LeaveGroupResponse r;
    r.error_code = error_value(g.error);
    for (auto& m : g.members) r.members.push_back({std::move(m.member_id), std::move(m.group_instance_id), error_value(m.error)});
    reply.send(response_frame(h, r));
  };
  if (!coordinates(c.group_id)) return answer({.error = ErrorCode::NOT_COORDINATOR});
  groups_->leave_group(std::move(c), std::move(answer));
}

void Dispatcher::handle(Session&, const RequestHeader& h, OffsetCommitRequest req, const Reply& reply) {
  coord::OffsetCommitRequest c;
  c.group_id = std::move(req.group_id);
  c.generation_id = req.generation_id;
  c.member_id = std::move(req.member_id);
  c.group_instance_id = std::move(req.group_instance_id);
  for (auto& t : req.topics) {
    auto& ct = c.topics.emplace_back();
    ct.name = std::move(t.name);
    for (auto& p : t.partitions) ct.partitions.push_back({p.partition_index, p.committed_offset, std::move(p.committed_metadata)});
  }
  auto answer = [h, reply](coord::OffsetCommitResponse g) {
    OffsetCommitResponse r;
    for (auto& t : g.topics) {
      auto& rt = r.topics.emplace_back();
      rt.name = std::move(t.name);
      for (auto& p : t.partitions) rt.partitions.push_back({p.partition, error_value(p.error)});
    }
    reply.send(response_frame(h, r));
  };
  if (!coordinates(c.group_id)) {
    coord::OffsetCommitResponse g;
    for (const auto& t : c.topics) {
      auto& gt = g.topics.emplace_back();
      gt.name = t.name;
      for (const auto& p : t.partitions) gt.partitions.push_back({p.partition, ErrorCode::NOT_COORDINATOR});
    }
    return answer(std::move(g));
  }
  groups_->offset_commit(std::move(c), std::move(answer));
}

void Dispatcher::handle(Session&, const RequestHeader& h, OffsetFetchRequest req, const Reply& reply) {
  coord::OffsetFetchRequest c;
  c.group_id = std::move(req.group_id);
  if (req.topics) {
    c.topics.emplace();
    for (auto& t : *req.topics) c.topics->push_back({std::move(t.name), std::move(t.partition_indexes)});
  }
  auto answer = [h, reply](coord::OffsetFetchResponse g) {
    OffsetFetchResponse r;
    r.error_code = error_value(g.error);
    for (auto& t : g.topics) {
      auto& rt = r.topics.emplace_back();
      rt.name = std::move(t.name);
      for (auto& p : t.partitions) {
        auto& rp = rt.partitions.emplace_back();
        rp.partition_index = p.partition;
        rp.committed_offset = p.committed_offset;
        rp.metadata = std::move(p.metadata);
        rp.error_code = error_value(p.error);
      }
    }
    reply.send(response_frame(h, r));
  };
  if (!coordinates(c.group_id)) {
    coord::OffsetFetchResponse g;
    g.error = ErrorCode::NOT_COORDINATOR;  // v2+; older versions read it per partition
    if (c.topics)
      for (const auto& t : *c.topics) {
        auto& gt = g.topics.emplace_back();
        gt.name = t.name;
        for (int32_t p : t.partitions) gt.partitions.push_back({p, -1, "", ErrorCode::NOT_COORDINATOR});
      }
    return answer(std::move(g));
  }
  groups_->offset_fetch(std::move(c), std::move(answer));
}

}  // namespace persisting::kafka
