#include "groups/membership.h"

#include <algorithm>
#include <set>

#include "core/status_macros.h"

namespace persisting::groups {

Result<MemberOptions> member_options(const ReaderOptions& o, uint32_t num_buckets,
                                     const std::vector<BucketId>& static_buckets) {
  if (Status s = validate_group_name(o.group); !s.ok()) return s.with_context("topic '" + o.topic + "'");
  auto where = "topic '" + o.topic + "' group '" + o.group + "': ";
  if (o.session_timeout.count() <= 0)
    return InvalidArgument(where + "session_timeout must be positive, got " + std::to_string(o.session_timeout.count()) + " ms");
  if (o.auto_commit && o.auto_commit_interval.count() <= 0)
    return InvalidArgument(where + "auto_commit_interval must be positive, got " +
                           std::to_string(o.auto_commit_interval.count()) + " ms");
  MemberOptions m;
  m.topic = o.topic;
  m.group = o.group;
  m.num_buckets = num_buckets;
  m.static_buckets = static_buckets;
  m.auto_commit = o.auto_commit;
  m.auto_commit_interval = o.auto_commit_interval;
  m.session_timeout = o.session_timeout;
  return m;
}

Member::Member(Coordinator& coordinator, MemberOptions options)
    : coordinator_(coordinator), options_(std::move(options)) {}
Member::~Member() = default;

std::chrono::milliseconds Member::heartbeat_interval() const {
  return std::max(std::chrono::milliseconds(1), options_.session_timeout / 3);
}

std::string Member::name() const {
  return "group '" + options_.group + "' of topic '" + options_.topic + "'";
}

Status Member::join() {
  JoinRequest r;
  r.topic = options_.topic;
  r.group = options_.group;
  r.num_buckets = options_.num_buckets;
  r.static_buckets = options_.static_buckets;
  if (!r.static_buckets.empty()) r.instance_id = static_instance_id(r.static_buckets);
  r.session_timeout = options_.session_timeout;
  ASSIGN_OR_RETURN(Assignment a, coordinator_.join(r));
  joined_ = true;
  auto now = options_.clock();
  last_heartbeat_ = now;
  if (last_commit_ == std::chrono::steady_clock::time_point{}) last_commit_ = now;
  return set_assignment(std::move(a));
}

Status Member::set_assignment(Assignment a) {
  bool same_buckets = a.buckets == assignment_.buckets && pending_ready_;
  assignment_ = std::move(a);
  pending_ready_ = true;
  if (same_buckets) return Status::OK();
  ASSIGN_OR_RETURN(Committed committed, coordinator_.committed(options_.topic, options_.group));
  AssignmentChange change;
  change.buckets = assignment_.buckets;
  for (BucketId b : assignment_.buckets) {
    auto it = committed.find(b);
    std::optional<Offset> c;
    if (it != committed.end()) c = it->second;
    // The group's commit is what this member knows of every bucket it owns now.
    if (c) group_commit_[b] = *c; else group_commit_.erase(b);
    if (!std::binary_search(reader_buckets_.begin(), reader_buckets_.end(), b)) {
      change.starts[b] = c;
      base_.erase(b);
    }
  }
  if (change.buckets == reader_buckets_) {
    pending_.reset();
  } else {
    pending_ = std::move(change);
  }
  return Status::OK();
}

std::optional<AssignmentChange> Member::take_change() {
  if (!pending_) return std::nullopt;
  reader_buckets_ = pending_->buckets;
  std::optional<AssignmentChange> out = std::move(pending_);
  pending_.reset();
  return out;
}

void Member::note_positions(const Commits& positions) {
  for (const auto& [b, o] : positions) base_.emplace(b, o);
}

Status Member::heartbeat_now() {
  auto r = coordinator_.heartbeat(options_.topic, options_.group, assignment_.member_id, assignment_.generation);
  if (!r.ok() && r.status().code() == Code::kNotFound) return join();  // forgotten (expired, coordinator restarted)
  if (!r.ok()) return r.status();
  last_heartbeat_ = options_.clock();
  if (r->generation == assignment_.generation && r->buckets == assignment_.buckets) {
    assignment_.generation = r->generation;
    return Status::OK();
  }
  return set_assignment(std::move(*r));
}

Result<std::optional<AssignmentChange>> Member::poll(const Commits& positions) {
  if (closed_) return FailedPrecondition("the reader of " + name() + " is closed");
  if (!joined_) RETURN_IF_ERROR(join());
  auto now = options_.clock();
  if (now - last_heartbeat_ >= heartbeat_interval()) RETURN_IF_ERROR(heartbeat_now());
  if (options_.auto_commit && now - last_commit_ >= options_.auto_commit_interval) {
    Status s = commit(positions);
    // Progress on buckets the member lost is redelivered by their new owner: at-least-once,
    // the normal outcome of a rebalance, not a failure of this get.
    if (!s.ok() && !is_fenced(s)) return s;
  }
  return take_change();
}

Status Member::commit(const Commits& positions) {
  if (closed_) return FailedPrecondition("the reader of " + name() + " is closed");
  auto owned = [&](BucketId b) {
    return std::binary_search(assignment_.buckets.begin(), assignment_.buckets.end(), b);
  };
  auto to_commit = [&] {
    Commits out;
    for (const auto& [b, o] : positions) {
      if (!owned(b)) continue;
      auto it = group_commit_.find(b);
      if (it == group_commit_.end() || it->second != o) out.emplace_back(b, o);
    }
    return out;
  };
  Commits offsets = to_commit();
  Status s;
  if (!offsets.empty()) {
    s = coordinator_.commit(options_.topic, options_.group, assignment_.member_id, assignment_.generation, offsets);
    if (is_fenced(s) || s.code() == Code::kNotFound) {
      // The group moved on (or forgot this member): learn the new assignment and commit again
      // what this member still owns.
      RETURN_IF_ERROR(heartbeat_now());
      offsets = to_commit();
      s = offsets.empty() ? Status::OK()
                          : coordinator_.commit(options_.topic, options_.group, assignment_.member_id,
                                                assignment_.generation, offsets);
    }
    if (!s.ok()) return s;
    for (const auto& [b, o] : offsets) group_commit_[b] = base_[b] = o;
    last_heartbeat_ = options_.clock();  // a commit keeps the member alive too
  }
  last_commit_ = options_.clock();
  // Progress on buckets no longer owned could not be committed.
  std::string lost;
  for (const auto& [b, o] : positions) {
    if (owned(b)) continue;
    auto it = base_.find(b);
    if (it == base_.end() || it->second != o) lost += (lost.empty() ? "" : ",") + std::to_string(b.value());
  }
  if (!lost.empty())
    return FailedPrecondition("commit to " + name() + " is fenced for bucket(s) " + lost +
                              ": they were reassigned (generation " + std::to_string(assignment_.generation) +
                              ") before their offsets were committed; their new owner reads them again from "
                              "the last commit");
  return Status::OK();
}

Status Member::close(const Commits& positions) {
  if (closed_) return Status::OK();
  Status first;
  if (joined_ && options_.auto_commit) first = commit(positions);
  if (joined_) {
    Status s = coordinator_.leave(options_.topic, options_.group, assignment_.member_id);
    if (!s.ok() && s.code() != Code::kNotFound && !is_fenced(s) && first.ok()) first = s;
  }
  closed_ = true;
  return first;
}

}  // namespace persisting::groups
