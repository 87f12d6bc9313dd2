// FindCoordinator and the group APIs: decoded wire messages become the GroupCoordinator's
// requests (coord::, wire-independent) and its answers are encoded at the request's version.
// This node coordinates every group (a single node).
#include "kafka/broker/dispatcher.h"
#include "kafka/broker/group_coordinator.h"

namespace persisting::kafka {

void Dispatcher::handle(Session&, const RequestHeader& h, FindCoordinatorRequest req, const Reply& reply) {
  FindCoordinatorResponse r;
  if (req.key_type != 0) {  // 1 = a transaction coordinator: no transactions here
    r.error_code = error_value(ErrorCode::COORDINATOR_NOT_AVAILABLE);
    r.error_message = "transactions are not supported";
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
  groups_->join_group(std::move(c), [h, reply](coord::JoinGroupResponse g) {
    JoinGroupResponse r;
    r.error_code = error_value(g.error);
    r.generation_id = g.generation_id;
    r.protocol_name = std::move(g.protocol_name);
    r.leader = std::move(g.leader);
    r.member_id = std::move(g.member_id);
    for (auto& m : g.members) r.members.push_back({std::move(m.member_id), std::move(m.group_instance_id), std::move(m.metadata)});
    reply.send(response_frame(h, r));
  });
}

void Dispatcher::handle(Session&, const RequestHeader& h, SyncGroupRequest req, const Reply& reply) {
  coord::SyncGroupRequest c;
  c.group_id = std::move(req.group_id);
  c.generation_id = req.generation_id;
  c.member_id = std::move(req.member_id);
  c.group_instance_id = std::move(req.group_instance_id);
  for (auto& a : req.assignments) c.assignments.push_back({std::move(a.member_id), std::move(a.assignment)});
  groups_->sync_group(std::move(c), [h, reply](coord::SyncGroupResponse g) {
    SyncGroupResponse r;
    r.error_code = error_value(g.error);
    r.assignment = std::move(g.assignment);
    reply.send(response_frame(h, r));
  });
}

void Dispatcher::handle(Session&, const RequestHeader& h, HeartbeatRequest req, const Reply& reply) {
  coord::HeartbeatRequest c;
  c.group_id = std::move(req.group_id);
  c.generation_id = req.generation_id;
  c.member_id = std::move(req.member_id);
  c.group_instance_id = std::move(req.group_instance_id);
  groups_->heartbeat(std::move(c), [h, reply](coord::HeartbeatResponse g) {
    HeartbeatResponse r;
    r.error_code = error_value(g.error);
    reply.send(response_frame(h, r));
  });
}

void Dispatcher::handle(Session&, const RequestHeader& h, LeaveGroupRequest req, const Reply& reply) {
  coord::LeaveGroupRequest c;
  c.group_id = std::move(req.group_id);
  if (h.api_version < 3) {
    c.members.push_back({std::move(req.member_id), std::nullopt});
  } else {
    for (auto& m : req.members) c.members.push_back({std::move(m.member_id), std::move(m.group_instance_id)});
  }
  groups_->leave_group(std::move(c), [h, reply](coord::LeaveGroupResponse g) {
    LeaveGroupResponse r;
    r.error_code = error_value(g.error);
    for (auto& m : g.members) r.members.push_back({std::move(m.member_id), std::move(m.group_instance_id), error_value(m.error)});
    reply.send(response_frame(h, r));
  });
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
  groups_->offset_commit(std::move(c), [h, reply](coord::OffsetCommitResponse g) {
    OffsetCommitResponse r;
    for (auto& t : g.topics) {
      auto& rt = r.topics.emplace_back();
      rt.name = std::move(t.name);
      for (auto& p : t.partitions) rt.partitions.push_back({p.partition, error_value(p.error)});
    }
    reply.send(response_frame(h, r));
  });
}

void Dispatcher::handle(Session&, const RequestHeader& h, OffsetFetchRequest req, const Reply& reply) {
  coord::OffsetFetchRequest c;
  c.group_id = std::move(req.group_id);
  if (req.topics) {
    c.topics.emplace();
    for (auto& t : *req.topics) c.topics->push_back({std::move(t.name), std::move(t.partition_indexes)});
  }
  groups_->offset_fetch(std::move(c), [h, reply](coord::OffsetFetchResponse g) {
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
  });
}

}  // namespace persisting::kafka
