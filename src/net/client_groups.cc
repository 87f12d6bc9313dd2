// The remote Client's consumer groups (docs/groups.md, docs/wire-protocol.md "Consumer groups"):
// RemoteCoordinator, the groups::Coordinator a ClientReader's groups::Member talks to, sends
// each call straight to the group's coordinator node (the owner of bucket stable_hash64(group)
// % num_buckets, from the client's owner cache; any node would forward it there); the group
// reader's get, commit and close; and the Store group calls.
#include <algorithm>
#include <thread>

#include "net/client_core.h"
#include "net/group_wire.h"
#include "persisting/json.h"

namespace persisting {
namespace detail {

using net::group_name;

namespace {

// A call gRPC could not even send: no connection to the node (refused, or the channel still
// backing off after earlier failures: up to a second after a node restarts).
bool never_sent(const Status& s) {
  return s.code() == Code::kUnavailable && s.message().find("failed to connect") != std::string::npos;
}

// Sends a call about (info.topic, group) to the group's coordinator. retry (idempotent calls
// only): once more after looking the coordinator up afresh, when it did not answer. The others
// (join, leave, delete) are sent again only when they were never sent, a few times 250 ms apart,
// so that a coordinator restarted a moment ago is reached once the connection is back.
template <typename Req, typename Resp>
Status group_call(ClientCore& core, const TopicInfo& info, const std::string& group,
                  grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Resp*), const Req& req, Resp* resp,
                  bool retry) {
  constexpr int kUnsentRetries = 6;
  const uint32_t bucket = net::coordinator_bucket(group, info.num_buckets);
  const std::string name = group_name(info.topic, group);
  Status s;
  for (int attempt = 0, unsent = 0; attempt < (retry ? 2 : 1); ++attempt) {
    if (attempt > 0 || unsent > 0) core.forget_owner(info.topic, bucket);
    auto o = core.owner(info.topic, bucket);
    if (!o.ok()) {
      s = Status(o.status().code(), name + ": its coordinator (the owner of bucket " + std::to_string(bucket) +
                                        ") cannot be reached: " + o.status().message());
    } else {
      resp->Clear();
      s = core.call(o->address, method, req, resp, name + ": coordinator " + o->id + " (" + o->address + ") unavailable");
    }
    if (!retryable(s)) return s;
    if (!retry && never_sent(s) && unsent < kUnsentRetries) {
      ++unsent;
      --attempt;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  }
  core.forget_owner(info.topic, bucket);
  return s;
}

// Each listed bucket's end offset (its record count), from its owner's stats.
Result<std::map<uint32_t, uint64_t>> end_offsets(ClientCore& core, const std::string& topic,
                                                 const std::vector<BucketId>& buckets) {
  std::map<uint32_t, uint64_t> out;
  if (buckets.empty()) return out;
  Groups g = group_by_owner(core, topic, buckets);
  if (!g.failed.empty()) return g.failed[0].second;
  for (const auto& [address, idx] : g.by_address) {
    v1::StatsRequest req;
    req.set_topic(topic);
    for (size_t i : idx) req.add_buckets(buckets[i].value());
    v1::StatsResponse resp;
    RETURN_IF_ERROR(core.call(address, &Stub::Stats, req, &resp,
                              "topic '" + topic + "': owner " + g.owner_name[address] + " unavailable"));
    for (const auto& j : resp.bucket_stats_json()) {
      auto v = parse_json(j);
      const Value* b = v.ok() && v->is_object() ? v->as_object().find("bucket") : nullptr;
      const Value* n = v.ok() && v->is_object() ? v->as_object().find("total_count") : nullptr;
      if (!b || !n || !b->is_int() || !n->is_int())
        return Internal("topic '" + topic + "': owner " + g.owner_name[address] + " sent stats without total_count");
      out[static_cast<uint32_t>(b->as_int())] = static_cast<uint64_t>(n->as_int());
    }
  }
  return out;
}

}  // namespace

// The coordinator of a remote group reader: every call goes to the group's coordinator node.
class RemoteCoordinator final : public groups::Coordinator {
 public:
  RemoteCoordinator(std::shared_ptr<ClientCore> core, TopicInfo info) : core_(std::move(core)), info_(std::move(info)) {}

  // Not retried: a join whose answer was lost would leave a second member behind (until its
  // session times out).
  Result<groups::Assignment> join(const groups::JoinRequest& r) override {
    v1::JoinGroupRequest req;
    net::to_wire(r, &req);
    v1::JoinGroupResponse resp;
    RETURN_IF_ERROR(group_call(*core_, info_, r.group, &Stub::JoinGroup, req, &resp, false));
    return net::from_wire(resp.assignment());
  }
  Result<groups::Assignment> heartbeat(const std::string& topic, const std::string& group,
                                       const std::string& member_id, uint64_t generation) override {
    v1::HeartbeatRequest req;
    req.set_topic(topic);
    req.set_group(group);
    req.set_member_id(member_id);
    req.set_generation(generation);
    v1::HeartbeatResponse resp;
    RETURN_IF_ERROR(group_call(*core_, info_, group, &Stub::Heartbeat, req, &resp, true));
    return net::from_wire(resp.assignment());
  }
  Status leave(const std::string& topic, const std::string& group, const std::string& member_id) override {
    v1::LeaveGroupRequest req;
    req.set_topic(topic);
    req.set_group(group);
    req.set_member_id(member_id);
    v1::LeaveGroupResponse resp;
    return group_call(*core_, info_, group, &Stub::LeaveGroup, req, &resp, false);
  }
  // Retried: the same offsets at the same generation commit the same state twice.
  Status commit(const std::string& topic, const std::string& group, const std::string& member_id,
                uint64_t generation, const groups::Commits& offsets) override {
    v1::CommitOffsetsRequest req;
    req.set_topic(topic);
    req.set_group(group);
    req.set_member_id(member_id);
    req.set_generation(generation);
    net::to_wire(offsets, req.mutable_offsets());
    v1::CommitOffsetsResponse resp;
    return group_call(*core_, info_, group, &Stub::CommitOffsets, req, &resp, true);
  }
  Result<groups::Committed> committed(const std::string& topic, const std::string& group) override {
    v1::FetchOffsetsRequest req;
    req.set_topic(topic);
    req.set_group(group);
    v1::FetchOffsetsResponse resp;
    RETURN_IF_ERROR(group_call(*core_, info_, group, &Stub::FetchOffsets, req, &resp, true));
    return net::committed_from_wire(resp.offsets());
  }

 private:
  std::shared_ptr<ClientCore> core_;
  TopicInfo info_;
};

ClientReaderState::ClientReaderState() = default;
ClientReaderState::~ClientReaderState() = default;

groups::Commits ClientReaderState::positions() const {
  groups::Commits out;
  for (size_t i = 0; i < cursor.buckets.size(); ++i) out.emplace_back(cursor.buckets[i], Offset(cursor.offsets[i]));
  return out;
}

Status ClientReaderState::join_group() {
  // Static members name their buckets (explicitly or by rank); the others share the rest.
  const bool named = !options.buckets.empty() || options.rank.has_value();
  ASSIGN_OR_RETURN(groups::MemberOptions mo,
                   groups::member_options(options, info.num_buckets,
                                          named ? cursor.buckets : std::vector<BucketId>()));
  cursor.init({});  // the member's assignment says which buckets, and from where
  coordinator = std::make_unique<RemoteCoordinator>(core, info);
  member = std::make_unique<groups::Member>(*coordinator, std::move(mo));
  RETURN_IF_ERROR(member->join());
  last_poll_ok = std::chrono::steady_clock::now();
  if (auto change = member->take_change()) {
    if (Status s = apply(*change); !s.ok()) {
      // Leave at once rather than hold buckets until the session times out; s says what failed.
      Status left = member->close({});
      closed = true;
      return left.ok() ? s : Status(s.code(), s.message() + " (and leaving the group failed: " + left.message() + ")");
    }
  }
  return Status::OK();
}

Status ClientReaderState::apply(const groups::AssignmentChange& change) {
  groups::Committed current;
  for (size_t i = 0; i < cursor.buckets.size(); ++i) current[cursor.buckets[i]] = Offset(cursor.offsets[i]);
  auto ends = [&](const std::vector<BucketId>& buckets) -> Result<std::vector<Offset>> {
    ASSIGN_OR_RETURN(auto by_bucket, end_offsets(*core, info.topic, buckets));
    std::vector<Offset> out;
    for (BucketId b : buckets) {
      auto it = by_bucket.find(b.value());
      if (it == by_bucket.end())
        return Internal("topic '" + info.topic + "' bucket " + std::to_string(b.value()) +
                        ": its owner sent no stats for it");
      out.emplace_back(it->second);
    }
    return out;
  };
  ASSIGN_OR_RETURN(std::vector<Offset> offsets, groups::start_offsets(change, current, options.start, ends));
  cursor.init(change.buckets);  // records read ahead of the old set are dropped (read again if still ours)
  for (size_t i = 0; i < offsets.size(); ++i) cursor.offsets[i] = offsets[i].value();
  member->note_positions(positions());
  return Status::OK();
}

Result<std::vector<Message>> ClientReaderState::group_get(size_t limit, bool wait, std::chrono::milliseconds timeout) {
  if (closed || member->closed())
    return FailedPrecondition(group_name(info.topic, options.group) + ": the reader is closed");
  const auto deadline = std::chrono::steady_clock::now() + (wait ? timeout : std::chrono::milliseconds(0));
  // A waiting get waits in slices of the heartbeat interval and polls between them, so a member
  // that waits long does not miss its session timeout, and a new assignment is taken at once.
  for (;;) {
    auto change = member->poll(positions());
    if (change.ok()) {
      last_poll_ok = std::chrono::steady_clock::now();
      if (*change) RETURN_IF_ERROR(apply(**change));
    } else if (!retryable(change.status()) || std::chrono::steady_clock::now() - last_poll_ok >=
                                                     options.session_timeout - member->heartbeat_interval()) {
      return change.status();
    }
    // Otherwise the coordinator did not answer: the reader goes on with the share it has and
    // polls again on the next get or slice, but not past the point where the coordinator may
    // have expired it (its last heartbeat is at most one interval before the last good poll) and
    // given its buckets to another member.
    const auto now = std::chrono::steady_clock::now();
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    const auto slice = std::clamp(left, std::chrono::milliseconds(0), member->heartbeat_interval());
    if (limit == 0) return std::vector<Message>();
    if (cursor.buckets.empty()) {  // no share for now (more members than buckets)
      if (slice.count() <= 0) return std::vector<Message>();
      std::this_thread::sleep_for(slice);
      continue;
    }
    ASSIGN_OR_RETURN(auto msgs, get(limit, static_cast<uint32_t>(slice.count())));
    if (!msgs.empty() || std::chrono::steady_clock::now() >= deadline) return msgs;
  }
}

}  // namespace detail

Status ClientReader::commit() {
  if (!s_->member) return FailedPrecondition("reader of topic '" + s_->info.topic + "' has no group");
  if (s_->closed) return FailedPrecondition(net::group_name(s_->info.topic, s_->options.group) + ": the reader is closed");
  return s_->member->commit(s_->positions());
}

Status ClientReader::close() {
  if (!s_->member || s_->closed) return Status::OK();
  s_->closed = true;
  return s_->member->close(s_->positions());
}

Result<std::vector<GroupInfo>> Client::groups(const std::string& topic) {
  v1::ListGroupsRequest req;
  req.set_topic(topic);
  v1::ListGroupsResponse resp;
  RETURN_IF_ERROR(core_->call_entry(&detail::Stub::ListGroups, req, &resp));
  std::vector<GroupInfo> out;
  for (const auto& g : resp.groups()) out.push_back(net::info_from_wire(g));
  return out;
}

Status Client::reset_group(const std::string& topic, const std::string& group, GroupReset to) {
  RETURN_IF_ERROR(groups::validate_group_name(group).with_context("topic '" + topic + "'"));
  ASSIGN_OR_RETURN(TopicInfo info, core_->topic(topic));
  v1::ResetGroupRequest req;
  req.set_topic(topic);
  req.set_group(group);
  req.set_to(to.kind == GroupReset::kLatest   ? v1::ResetGroupRequest::LATEST
             : to.kind == GroupReset::kOffset ? v1::ResetGroupRequest::OFFSET
                                              : v1::ResetGroupRequest::EARLIEST);
  req.set_offset(to.offset);
  v1::ResetGroupResponse resp;
  return detail::group_call(*core_, info, group, &detail::Stub::ResetGroup, req, &resp, true);
}

Status Client::delete_group(const std::string& topic, const std::string& group) {
  RETURN_IF_ERROR(groups::validate_group_name(group).with_context("topic '" + topic + "'"));
  ASSIGN_OR_RETURN(TopicInfo info, core_->topic(topic));
  v1::DeleteGroupRequest req;
  req.set_topic(topic);
  req.set_group(group);
  v1::DeleteGroupResponse resp;
  return detail::group_call(*core_, info, group, &detail::Stub::DeleteGroup, req, &resp, false);
}

}  // namespace persisting
