#include "groups/group_types.h"

#include <algorithm>

namespace persisting::groups {

Clock system_clock() {
  return [] { return std::chrono::steady_clock::now(); };
}

Status validate_group_name(const std::string& group) { return validate_name("group", group); }

Status validate_name(const std::string& what, const std::string& name) {
  auto bad = [&](const std::string& why) {
    return InvalidArgument(what + " name '" + name + "' " + why +
                           " (allowed: 1-128 characters from [A-Za-z0-9._-], not starting with "
                           "'.' or '-', no \"..\")");
  };
  if (name.empty()) return bad("is empty");
  if (name.size() > 128) return bad("is longer than 128 characters");
  if (name[0] == '.' || name[0] == '-') return bad("starts with '" + std::string(1, name[0]) + "'");
  if (name.find("..") != std::string::npos) return bad("contains \"..\"");
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) {
      if (c == '/' || c == '\\') return bad("contains a path separator");
      return bad("contains a character outside the allowed set");
    }
  }
  return Status::OK();
}

std::string static_instance_id(const std::vector<BucketId>& buckets) {
  std::vector<BucketId> sorted = buckets;
  std::sort(sorted.begin(), sorted.end());
  std::string id = "static:";
  for (size_t i = 0; i < sorted.size(); ++i) {
    if (i) id += ',';
    id += std::to_string(sorted[i].value());
  }
  return id;
}

bool is_fenced(const Status& s) {
  return s.code() == Code::kFailedPrecondition && s.message().find("fenced") != std::string::npos;
}

GroupInfo group_info(const GroupSummary& summary, const std::vector<Offset>& ends) {
  GroupInfo info;
  info.group = summary.group;
  info.generation = summary.generation;
  info.members = summary.members;
  for (size_t b = 0; b < ends.size(); ++b) {
    GroupInfo::BucketLag lag;
    lag.bucket = BucketId(static_cast<uint32_t>(b));
    lag.end = ends[b];
    if (auto it = summary.committed.find(lag.bucket); it != summary.committed.end()) lag.committed = it->second;
    uint64_t from = lag.committed ? lag.committed->value() : 0;
    lag.lag = lag.end.value() > from ? lag.end.value() - from : 0;
    info.buckets.push_back(lag);
  }
  return info;
}

Committed reset_offsets(const GroupReset& to, const std::vector<Offset>& ends) {
  Committed out;
  for (size_t b = 0; b < ends.size(); ++b) {
    Offset o(0);
    if (to.kind == GroupReset::kLatest) o = ends[b];
    if (to.kind == GroupReset::kOffset) o = std::min(Offset(to.offset), ends[b]);
    out[BucketId(static_cast<uint32_t>(b))] = o;
  }
  return out;
}

}  // namespace persisting::groups
