#include "kafka/broker/kafka_group.h"

#include <algorithm>
#include <set>

namespace persisting::kafka {
using namespace coord;  // group_requests.h
namespace {

JoinGroupResponse join_error(ErrorCode code, std::string message, std::string member_id = "") {
  JoinGroupResponse r;
  r.error = code;
  r.message = std::move(message);
  r.member_id = std::move(member_id);
  return r;
}

SyncGroupResponse sync_error(ErrorCode code, std::string message) {
  SyncGroupResponse r;
  r.error = code;
  r.message = std::move(message);
  return r;
}

template <typename Cb, typename Resp>
void complete(Cb& cb, Resp resp, KafkaGroup::Done& done) {
  if (!cb) return;
  done.push_back([cb = std::move(cb), resp = std::move(resp)]() mutable { cb(std::move(resp)); });
  cb = nullptr;
}

}  // namespace

const char* phase_name(GroupPhase phase) {
  switch (phase) {
    case GroupPhase::kEmpty:
      return "Empty";
    case GroupPhase::kPreparingRebalance:
      return "PreparingRebalance";
    case GroupPhase::kCompletingRebalance:
      return "CompletingRebalance";
    case GroupPhase::kStable:
      return "Stable";
  }
  return "?";
}

KafkaGroup::KafkaGroup(std::string group_id, const GroupCoordinatorOptions& options, MemberIdFn new_member_id)
    : group_id_(std::move(group_id)), options_(options), new_member_id_(std::move(new_member_id)) {}

std::string KafkaGroup::name() const { return "Kafka group '" + group_id_ + "'"; }

std::string KafkaGroup::mismatch(const JoinGroupRequest& r) const {
  return name() + ": protocol type '" + r.protocol_type + "' and its protocols do not match the group's members'";
}

KafkaGroup::Member* KafkaGroup::find(const std::string& member_id, const std::optional<std::string>& instance_id,
                                     ErrorCode* error, std::string* message) {
  std::string id = member_id;
  if (id.empty() && instance_id) {  // LeaveGroup v3+ may name a static member by its instance alone
    auto s = static_.find(*instance_id);
    if (s != static_.end()) id = s->second;
  }
  if (instance_id) {
    auto s = static_.find(*instance_id);
    if (s != static_.end() && s->second != id) {
      *error = ErrorCode::FENCED_INSTANCE_ID;
      *message = name() + ": member " + member_id + " of instance '" + *instance_id +
                 "' was replaced by member " + s->second;
      return nullptr;
    }
  }
  auto it = members_.find(id);
  if (it == members_.end()) {
    *error = ErrorCode::UNKNOWN_MEMBER_ID;
    *message = name() + ": member '" + member_id + "' is not in the group (session expired or left?); rejoin";
    return nullptr;
  }
  return &it->second;
}

bool KafkaGroup::compatible(const JoinGroupRequest& r, const std::string& self) const {
  if (r.protocol_type.empty() || r.protocols.empty()) return false;
  std::set<std::string> common;
  for (const auto& p : r.protocols) common.insert(p.name);
  for (const auto& [id, m] : members_) {
    if (id == self) continue;
    if (m.protocol_type != r.protocol_type) return false;
    std::set<std::string> theirs;
    for (const auto& p : m.protocols)
      if (common.count(p.name)) theirs.insert(p.name);
    common = std::move(theirs);
  }
  return !common.empty();
}

bool KafkaGroup::same_protocols(const Member& m, const JoinGroupRequest& r) {
  if (m.protocol_type != r.protocol_type || m.protocols.size() != r.protocols.size()) return false;
  for (size_t i = 0; i < m.protocols.size(); ++i)
    if (m.protocols[i].name != r.protocols[i].name || m.protocols[i].metadata != r.protocols[i].metadata) return false;
  return true;
}

void KafkaGroup::update_member(Member& m, const JoinGroupRequest& r, TimePoint now) {
  m.client_id = r.client_id;
  m.client_host = r.client_host;
  m.session_timeout = std::chrono::milliseconds(r.session_timeout_ms);
  m.rebalance_timeout = std::chrono::milliseconds(r.rebalance_timeout_ms >= 0 ? r.rebalance_timeout_ms
                                                                              : r.session_timeout_ms);
  m.protocol_type = r.protocol_type;
  m.protocols = r.protocols;
  m.last_seen = now;
}

KafkaGroup::Member& KafkaGroup::add_member(const std::string& id, const JoinGroupRequest& r, TimePoint now) {
  Member& m = members_[id];
  m.id = id;
  m.instance_id = r.group_instance_id;
  m.order = ++next_order_;
  update_member(m, r, now);
  if (r.group_instance_id) static_[*r.group_instance_id] = id;
  return m;
}

JoinGroupResponse KafkaGroup::current_join_response(const Member& m, bool with_members) const {
  JoinGroupResponse r;
  r.generation_id = generation_;
  r.protocol_type = protocol_type_;
  r.protocol_name = protocol_name_;
  r.leader = leader_;
  r.member_id = m.id;
  if (with_members) {
    for (const auto& [id, other] : members_) {
      JoinGroupResponse::Member out{id, other.instance_id, {}};
      for (const auto& p : other.protocols)
        if (p.name == protocol_name_) out.metadata = p.metadata;
      r.members.push_back(std::move(out));
    }
  }
  return r;
}

void KafkaGroup::join(JoinGroupRequest r, JoinGroupCallback cb, TimePoint now, Done& done) {
  auto fail = [&](ErrorCode code, std::string message, std::string member_id = "") {
    done.push_back([cb = std::move(cb), resp = join_error(code, std::move(message), std::move(member_id))]() mutable {
      cb(std::move(resp));
    });
  };
  auto session = std::chrono::milliseconds(r.session_timeout_ms);
  if (session < options_.min_session_timeout || session > options_.max_session_timeout)
    return fail(ErrorCode::INVALID_SESSION_TIMEOUT,
                name() + ": session timeout " + std::to_string(r.session_timeout_ms) + " ms is outside [" +
                    std::to_string(options_.min_session_timeout.count()) + ", " +
                    std::to_string(options_.max_session_timeout.count()) + "] ms");
  if (r.group_instance_id && r.group_instance_id->empty())
    return fail(ErrorCode::INVALID_REQUEST, name() + ": empty group.instance.id");

  // A new member (no id yet).
  if (r.member_id.empty()) {
    if (!compatible(r, r.group_instance_id && static_.count(*r.group_instance_id) ? static_[*r.group_instance_id] : ""))
      return fail(ErrorCode::INCONSISTENT_GROUP_PROTOCOL,
                  mismatch(r));
    std::string id = new_member_id_(r.client_id);
    if (r.group_instance_id) {
      if (auto s = static_.find(*r.group_instance_id); s != static_.end()) {
        // A static member restarted: it takes its old place under a new id; the old id is fenced.
        std::string old = s->second;
        bool unchanged = same_protocols(members_.at(old), r);
        return rejoin(replace_member(old, id, r, now, done), unchanged, /*restarted=*/true, std::move(cb), now, done);
      }
    } else if (r.require_known_member_id) {
      pending_[id] = now + session;
      return fail(ErrorCode::MEMBER_ID_REQUIRED, name() + ": join again with the member id handed out", id);
    }
    Member& m = add_member(id, r, now);
    m.awaiting_join = std::move(cb);
    return prepare_rebalance(now, done);
  }

  // The second join of a member that got MEMBER_ID_REQUIRED.
  if (auto p = pending_.find(r.member_id); p != pending_.end()) {
    if (!compatible(r, ""))
      return fail(ErrorCode::INCONSISTENT_GROUP_PROTOCOL,
                  mismatch(r));
    pending_.erase(p);
    Member& m = add_member(r.member_id, r, now);
    m.awaiting_join = std::move(cb);
    return prepare_rebalance(now, done);
  }

  ErrorCode error;
  std::string message;
  Member* m = find(r.member_id, r.group_instance_id, &error, &message);
  if (!m) return fail(error, message);
  if (!compatible(r, m->id))
    return fail(ErrorCode::INCONSISTENT_GROUP_PROTOCOL,
                mismatch(r));
  bool unchanged = same_protocols(*m, r);
  update_member(*m, r, now);
  rejoin(*m, unchanged, /*restarted=*/false, std::move(cb), now, done);
}

KafkaGroup::Member& KafkaGroup::replace_member(const std::string& old, const std::string& id,
                                               const JoinGroupRequest& r, TimePoint now, Done& done) {
  Member m = std::move(members_.at(old));
  members_.erase(old);
  std::string why = name() + ": member " + old + " was replaced by a newer member of the same instance";
  complete(m.awaiting_join, join_error(ErrorCode::FENCED_INSTANCE_ID, why), done);
  complete(m.awaiting_sync, sync_error(ErrorCode::FENCED_INSTANCE_ID, why), done);
  m.id = id;
  update_member(m, r, now);
  static_[*m.instance_id] = id;
  if (leader_ == old) leader_ = id;
  return members_[id] = std::move(m);
}

void KafkaGroup::rejoin(Member& m, bool unchanged, bool restarted, JoinGroupCallback cb, TimePoint now,
                        Done& done) {
  auto answer = [&](JoinGroupResponse resp) {
    done.push_back([cb = std::move(cb), resp = std::move(resp)]() mutable { cb(std::move(resp)); });
  };
  switch (phase_) {
    case GroupPhase::kPreparingRebalance:
      complete(m.awaiting_join, join_error(ErrorCode::REBALANCE_IN_PROGRESS, name() + ": joined again"), done);
      m.awaiting_join = std::move(cb);
      return try_complete_join(now, done);
    case GroupPhase::kCompletingRebalance:
      if (unchanged) return answer(current_join_response(m, leader_ == m.id));  // it lost the response
      break;
    case GroupPhase::kStable:
      // A follower joining again, or a static member restarted, changes nothing (the restarted
      // one gets its assignment again from SyncGroup); the leader joining again starts a
      // rebalance (it may have seen new topics or partitions).
      if (unchanged && (restarted || leader_ != m.id)) return answer(current_join_response(m, false));
      break;
    case GroupPhase::kEmpty:
      break;
  }
  m.awaiting_join = std::move(cb);
  prepare_rebalance(now, done);
}

void KafkaGroup::prepare_rebalance(TimePoint now, Done& done) {
  if (phase_ == GroupPhase::kCompletingRebalance) {
    for (auto& [id, m] : members_)
      complete(m.awaiting_sync, sync_error(ErrorCode::REBALANCE_IN_PROGRESS, name() + ": a new rebalance started"),
               done);
  }
  if (phase_ != GroupPhase::kPreparingRebalance) {
    std::chrono::milliseconds timeout{0};
    for (const auto& [id, m] : members_) timeout = std::max(timeout, m.rebalance_timeout);
    join_not_before_ = phase_ == GroupPhase::kEmpty ? now + options_.initial_rebalance_delay : now;
    join_deadline_ = std::max(join_not_before_, now + timeout);
    phase_ = GroupPhase::kPreparingRebalance;
  }
  try_complete_join(now, done);
}

bool KafkaGroup::all_rejoined() const {
  return std::all_of(members_.begin(), members_.end(), [](const auto& kv) { return bool(kv.second.awaiting_join); });
}

void KafkaGroup::try_complete_join(TimePoint now, Done& done) {
  if (phase_ != GroupPhase::kPreparingRebalance) return;
  if (now >= join_deadline_ || (all_rejoined() && now >= join_not_before_) || members_.empty())
    complete_join(now, done);
}

std::string KafkaGroup::select_protocol() const {
  // Candidates: the protocols every member supports; each member votes for its first candidate.
  std::vector<std::string> candidates;
  const Member* first = nullptr;
  for (const auto& [id, m] : members_)
    if (!first || m.order < first->order) first = &m;
  for (const auto& p : first->protocols) {
    bool everyone = std::all_of(members_.begin(), members_.end(), [&](const auto& kv) {
      return std::any_of(kv.second.protocols.begin(), kv.second.protocols.end(),
                         [&](const GroupProtocol& q) { return q.name == p.name; });
    });
    if (everyone) candidates.push_back(p.name);
  }
  std::map<std::string, int> votes;
  for (const auto& [id, m] : members_)
    for (const auto& p : m.protocols)
      if (std::find(candidates.begin(), candidates.end(), p.name) != candidates.end()) {
        ++votes[p.name];
        break;
      }
  std::string best;
  for (const auto& c : candidates)  // ties: the first member's preference
    if (best.empty() || votes[c] > votes[best]) best = c;
  return best;
}

void KafkaGroup::complete_join(TimePoint now, Done& done) {
  for (auto it = members_.begin(); it != members_.end();) {
    auto next = std::next(it);
    if (!it->second.awaiting_join) remove_member(it->first, ErrorCode::UNKNOWN_MEMBER_ID, done);
    it = next;
  }
  ++generation_;
  if (members_.empty()) {
    phase_ = GroupPhase::kEmpty;
    leader_.clear();
    protocol_name_.clear();
    protocol_type_.clear();
    return;
  }
  protocol_name_ = select_protocol();
  protocol_type_ = members_.begin()->second.protocol_type;
  if (!members_.count(leader_)) {
    const Member* first = nullptr;
    for (const auto& [id, m] : members_)
      if (!first || m.order < first->order) first = &m;
    leader_ = first->id;
  }
  phase_ = GroupPhase::kCompletingRebalance;
  for (auto& [id, m] : members_) {
    m.assignment.clear();
    m.last_seen = now;
    complete(m.awaiting_join, current_join_response(m, id == leader_), done);
  }
}

void KafkaGroup::sync(SyncGroupRequest r, SyncGroupCallback cb, TimePoint now, Done& done) {
  auto fail = [&](ErrorCode code, std::string message) {
    done.push_back(
        [cb = std::move(cb), resp = sync_error(code, std::move(message))]() mutable { cb(std::move(resp)); });
  };
  ErrorCode error;
  std::string message;
  Member* m = find(r.member_id, r.group_instance_id, &error, &message);
  if (!m) return fail(error, message);
  if (r.generation_id != generation_)
    return fail(ErrorCode::ILLEGAL_GENERATION, name() + ": SyncGroup of generation " + std::to_string(r.generation_id) +
                                                   ", the group is at " + std::to_string(generation_));
  if ((r.protocol_type && *r.protocol_type != protocol_type_) ||
      (r.protocol_name && *r.protocol_name != protocol_name_))
    return fail(ErrorCode::INCONSISTENT_GROUP_PROTOCOL, name() + ": SyncGroup names another protocol than '" +
                                                            protocol_type_ + "/" + protocol_name_ + "'");
  m->last_seen = now;
  if (phase_ == GroupPhase::kPreparingRebalance)
    return fail(ErrorCode::REBALANCE_IN_PROGRESS, name() + ": a rebalance is in progress; join again");
  auto ok_response = [this](const Member& x) {
    SyncGroupResponse resp;
    resp.protocol_type = protocol_type_;
    resp.protocol_name = protocol_name_;
    resp.assignment = x.assignment;
    return resp;
  };
  if (phase_ == GroupPhase::kStable) {
    done.push_back([cb = std::move(cb), resp = ok_response(*m)]() mutable { cb(std::move(resp)); });
    return;
  }
  // CompletingRebalance: wait for the leader's assignments (or hand them out, from the leader).
  complete(m->awaiting_sync, sync_error(ErrorCode::REBALANCE_IN_PROGRESS, name() + ": SyncGroup sent again"), done);
  m->awaiting_sync = std::move(cb);
  if (m->id != leader_) return;
  for (auto& [id, x] : members_) x.assignment.clear();
  for (const auto& a : r.assignments)
    if (auto it = members_.find(a.member_id); it != members_.end()) it->second.assignment = a.assignment;
  phase_ = GroupPhase::kStable;
  for (auto& [id, x] : members_) {
    x.last_seen = now;  // their sessions start again from the hand-out
    complete(x.awaiting_sync, ok_response(x), done);
  }
}

HeartbeatResponse KafkaGroup::heartbeat(const HeartbeatRequest& r, TimePoint now) {
  HeartbeatResponse out;
  Member* m = find(r.member_id, r.group_instance_id, &out.error, &out.message);
  if (!m) return out;
  if (r.generation_id != generation_) {
    out.error = ErrorCode::ILLEGAL_GENERATION;
    out.message = name() + ": heartbeat of generation " + std::to_string(r.generation_id) + ", the group is at " +
                  std::to_string(generation_);
    return out;
  }
  m->last_seen = now;
  if (phase_ == GroupPhase::kPreparingRebalance) {
    out.error = ErrorCode::REBALANCE_IN_PROGRESS;
    out.message = name() + ": a rebalance is in progress; join again";
  }
  return out;
}

LeaveGroupResponse KafkaGroup::leave(const LeaveGroupRequest& r, TimePoint now, Done& done) {
  LeaveGroupResponse out;
  bool removed = false;
  for (const auto& who : r.members) {
    LeaveGroupResponse::Member result{who.member_id, who.group_instance_id, ErrorCode::NONE};
    if (!who.member_id.empty() && pending_.erase(who.member_id)) {
      out.members.push_back(result);
      continue;
    }
    std::string message;
    Member* m = find(who.member_id, who.group_instance_id, &result.error, &message);
    if (m) {
      remove_member(m->id, ErrorCode::UNKNOWN_MEMBER_ID, done);
      removed = true;
    } else if (out.message.empty()) {
      out.message = message;
    }
    if (out.error == ErrorCode::NONE) out.error = result.error;
    out.members.push_back(result);
  }
  if (removed) members_changed(now, done);
  return out;
}

ErrorCode KafkaGroup::check_commit(int32_t generation, const std::string& member_id,
                                   const std::optional<std::string>& instance_id, TimePoint now, std::string* message) {
  if (generation < 0 && member_id.empty()) {
    if (members_.empty()) return ErrorCode::NONE;
    *message = name() + " has members: a commit without membership (generation -1) is refused";
    return ErrorCode::UNKNOWN_MEMBER_ID;
  }
  ErrorCode error;
  Member* m = find(member_id, instance_id, &error, message);
  if (!m) return error;
  if (generation != generation_) {
    *message = name() + ": commit of generation " + std::to_string(generation) + ", the group is at " +
               std::to_string(generation_) + "; nothing was committed";
    return ErrorCode::ILLEGAL_GENERATION;
  }
  if (phase_ == GroupPhase::kCompletingRebalance) {
    *message = name() + ": the new assignment is not handed out yet";
    return ErrorCode::REBALANCE_IN_PROGRESS;
  }
  m->last_seen = now;  // a commit counts as a sign of life, as in Kafka
  return ErrorCode::NONE;
}

void KafkaGroup::remove_member(const std::string& id, ErrorCode why, Done& done) {
  auto it = members_.find(id);
  if (it == members_.end()) return;
  Member& m = it->second;
  complete(m.awaiting_join, join_error(why, name() + ": member " + id + " was removed"), done);
  complete(m.awaiting_sync, sync_error(why, name() + ": member " + id + " was removed"), done);
  if (m.instance_id) {
    auto s = static_.find(*m.instance_id);
    if (s != static_.end() && s->second == id) static_.erase(s);
  }
  members_.erase(it);
}

void KafkaGroup::members_changed(TimePoint now, Done& done) {
  if (phase_ == GroupPhase::kPreparingRebalance)
    try_complete_join(now, done);
  else if (phase_ != GroupPhase::kEmpty)
    prepare_rebalance(now, done);
}

void KafkaGroup::tick(TimePoint now, Done& done) {
  for (auto it = pending_.begin(); it != pending_.end();) it = now >= it->second ? pending_.erase(it) : std::next(it);
  std::vector<std::string> expired;
  for (const auto& [id, m] : members_)
    if (!m.awaiting_join && !m.awaiting_sync && now - m.last_seen >= m.session_timeout) expired.push_back(id);
  for (const auto& id : expired) remove_member(id, ErrorCode::UNKNOWN_MEMBER_ID, done);
  if (!expired.empty())
    members_changed(now, done);
  else
    try_complete_join(now, done);
}

std::optional<KafkaGroup::TimePoint> KafkaGroup::next_deadline() const {
  std::optional<TimePoint> next;
  auto consider = [&](TimePoint t) {
    if (!next || t < *next) next = t;
  };
  for (const auto& [id, t] : pending_) consider(t);
  for (const auto& [id, m] : members_)
    if (!m.awaiting_join && !m.awaiting_sync) consider(m.last_seen + m.session_timeout);
  if (phase_ == GroupPhase::kPreparingRebalance) {
    consider(join_deadline_);
    // Everyone rejoined and only the initial delay holds the barrier (once it passed, the
    // barrier completes at the last rejoin: never a deadline in the past here).
    if (all_rejoined()) consider(join_not_before_);
  }
  return next;
}

void KafkaGroup::shutdown(Done& done) {
  for (auto& [id, m] : members_) {
    complete(m.awaiting_join, join_error(ErrorCode::COORDINATOR_NOT_AVAILABLE, name() + ": the broker is stopping"),
             done);
    complete(m.awaiting_sync, sync_error(ErrorCode::COORDINATOR_NOT_AVAILABLE, name() + ": the broker is stopping"),
             done);
  }
  members_.clear();
  static_.clear();
  pending_.clear();
  phase_ = GroupPhase::kEmpty;
}

KafkaGroupDescription KafkaGroup::describe() const {
  KafkaGroupDescription d;
  d.phase = phase_;
  d.generation = generation_;
  d.protocol_type = protocol_type_;
  d.protocol_name = protocol_name_;
  d.leader = leader_;
  for (const auto& [id, m] : members_) d.members.push_back(id);
  return d;
}

}  // namespace persisting::kafka
