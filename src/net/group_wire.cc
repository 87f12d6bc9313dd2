#include "net/group_wire.h"

#include <algorithm>
#include <cstdint>

#include "core/hash.h"

namespace persisting::net {

uint32_t coordinator_bucket(const std::string& group, uint32_t num_buckets) {
  return num_buckets == 0 ? 0 : static_cast<uint32_t>(stable_hash64(group) % num_buckets);
}

std::string group_name(const std::string& topic, const std::string& group) {
  return "topic '" + topic + "' group '" + group + "'";
}

void to_wire(const groups::JoinRequest& r, v1::JoinGroupRequest* out) {
  out->set_topic(r.topic);
  out->set_group(r.group);
  out->set_instance_id(r.instance_id);
  for (BucketId b : r.static_buckets) out->add_static_buckets(b.value());
  out->set_session_timeout_ms(static_cast<uint32_t>(std::clamp<int64_t>(r.session_timeout.count(), 1, UINT32_MAX)));
  out->set_exclusive(r.exclusive);
}

void to_wire(const groups::Assignment& a, v1::GroupAssignment* out) {
  out->set_member_id(a.member_id);
  out->set_generation(a.generation);
  for (BucketId b : a.buckets) out->add_buckets(b.value());
}

groups::Assignment from_wire(const v1::GroupAssignment& a) {
  groups::Assignment out;
  out.member_id = a.member_id();
  out.generation = a.generation();
  for (uint32_t b : a.buckets()) out.buckets.emplace_back(b);
  return out;
}

void to_wire(const groups::Commits& offsets, google::protobuf::RepeatedPtrField<v1::BucketCursor>* out) {
  for (const auto& [b, o] : offsets) {
    auto* c = out->Add();
    c->set_bucket(b.value());
    c->set_offset(o.value());
  }
}

void to_wire(const groups::Committed& offsets, google::protobuf::RepeatedPtrField<v1::BucketCursor>* out) {
  for (const auto& [b, o] : offsets) {
    auto* c = out->Add();
    c->set_bucket(b.value());
    c->set_offset(o.value());
  }
}

groups::Commits commits_from_wire(const google::protobuf::RepeatedPtrField<v1::BucketCursor>& in) {
  groups::Commits out;
  for (const auto& c : in) out.emplace_back(BucketId(c.bucket()), Offset(c.offset()));
  return out;
}

groups::Committed committed_from_wire(const google::protobuf::RepeatedPtrField<v1::BucketCursor>& in) {
  groups::Committed out;
  for (const auto& c : in) out[BucketId(c.bucket())] = Offset(c.offset());
  return out;
}

namespace {
void members_to_wire(const std::vector<GroupInfo::Member>& members, v1::GroupStatus* out) {
  for (const auto& m : members) {
    auto* w = out->add_members();
    w->set_member_id(m.id);
    w->set_is_static(m.is_static);
    for (BucketId b : m.buckets) w->add_buckets(b.value());
  }
}
std::vector<GroupInfo::Member> members_from_wire(const v1::GroupStatus& s) {
  std::vector<GroupInfo::Member> out;
  for (const auto& w : s.members()) {
    GroupInfo::Member m;
    m.id = w.member_id();
    m.is_static = w.is_static();
    for (uint32_t b : w.buckets()) m.buckets.emplace_back(b);
    out.push_back(std::move(m));
  }
  return out;
}
}  // namespace

void to_wire(const groups::GroupSummary& s, v1::GroupStatus* out) {
  out->set_group(s.group);
  out->set_generation(s.generation);
  members_to_wire(s.members, out);
  to_wire(s.committed, out->mutable_committed());
}

groups::GroupSummary summary_from_wire(const v1::GroupStatus& s) {
  groups::GroupSummary out;
  out.group = s.group();
  out.generation = s.generation();
  out.members = members_from_wire(s);
  out.committed = committed_from_wire(s.committed());
  return out;
}

void to_wire(const GroupInfo& g, v1::GroupStatus* out) {
  out->set_group(g.group);
  out->set_generation(g.generation);
  members_to_wire(g.members, out);
  for (const auto& b : g.buckets) {
    auto* w = out->add_buckets();
    w->set_bucket(b.bucket.value());
    w->set_has_committed(b.committed.has_value());
    if (b.committed) w->set_committed(b.committed->value());
    w->set_end(b.end.value());
    w->set_lag(b.lag);
  }
}

GroupInfo info_from_wire(const v1::GroupStatus& s) {
  GroupInfo out;
  out.group = s.group();
  out.generation = s.generation();
  out.members = members_from_wire(s);
  for (const auto& w : s.buckets()) {
    GroupInfo::BucketLag b;
    b.bucket = BucketId(w.bucket());
    if (w.has_committed()) b.committed = Offset(w.committed());
    b.end = Offset(w.end());
    b.lag = w.lag();
    out.buckets.push_back(b);
  }
  return out;
}

}  // namespace persisting::net
