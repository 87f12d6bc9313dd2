// The group offsets file; its format is specified in docs/groups-format.md (keep them in step).
#include "groups/group_store.h"

#include <algorithm>
#include <cstdio>
#include <string_view>

#include "core/crc32c.h"
#include "core/status_macros.h"

namespace persisting::groups {
namespace {

constexpr std::string_view kMagic = "persisting-group-offsets 1";
constexpr std::string_view kSuffix = ".offsets";

// A decimal uint64 with nothing else around it.
bool parse_u64(std::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

std::string hex32(uint32_t v) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", v);
  return buf;
}

}  // namespace

GroupStore::GroupStore(Env* env, std::string data_dir) : env_(env), data_dir_(std::move(data_dir)) {}

std::string GroupStore::dir(const std::string& topic) const {
  return join_path(join_path(data_dir_, topic), "groups");
}

std::string GroupStore::path(const std::string& topic, const std::string& group) const {
  return join_path(dir(topic), group + std::string(kSuffix));
}

std::string GroupStore::encode(const std::string& topic, const std::string& group, const Committed& offsets) {
  std::string out(kMagic);
  out += "\ntopic " + topic + "\ngroup " + group + "\n";
  for (const auto& [b, o] : offsets) out += std::to_string(b.value()) + " " + std::to_string(o.value()) + "\n";
  out += "crc32c " + hex32(crc32c(out)) + "\n";
  return out;
}

Result<Committed> GroupStore::decode(const std::string& data, const std::string& topic, const std::string& group,
                                     const std::string& what) {
  auto bad = [&](size_t line, const std::string& why) {
    return Corruption("group offsets file '" + what + "'" + (line ? " line " + std::to_string(line) : "") + ": " +
                      why + " (docs/groups-format.md)");
  };
  // The trailer first: it covers every byte before it, so nothing else is trusted without it.
  if (data.empty()) return bad(0, "is empty");
  if (data.back() != '\n') return bad(0, "does not end with a newline (cut short?)");
  size_t last = data.rfind('\n', data.size() - 2);
  size_t body_end = last == std::string::npos ? 0 : last + 1;
  std::string_view trailer(data.data() + body_end, data.size() - body_end - 1);
  if (trailer.substr(0, 7) != "crc32c " || trailer.size() != 15) return bad(0, "has no crc32c trailer line");
  std::string_view body(data.data(), body_end);
  if (hex32(crc32c(body)) != trailer.substr(7))
    return bad(0, "checksum mismatch (stored " + std::string(trailer.substr(7)) + ", computed " +
                      hex32(crc32c(body)) + ")");
  Committed out;
  size_t line_no = 0, pos = 0;
  while (pos < body.size()) {
    size_t nl = body.find('\n', pos);
    std::string_view line = body.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (line_no == 1) {
      if (line != kMagic) return bad(1, "expected '" + std::string(kMagic) + "'");
    } else if (line_no == 2) {
      if (line != "topic " + topic) return bad(2, "expected 'topic " + topic + "', found '" + std::string(line) + "'");
    } else if (line_no == 3) {
      if (line != "group " + group) return bad(3, "expected 'group " + group + "', found '" + std::string(line) + "'");
    } else {
      size_t sp = line.find(' ');
      uint64_t b = 0, o = 0;
      if (sp == std::string_view::npos || !parse_u64(line.substr(0, sp), &b) || !parse_u64(line.substr(sp + 1), &o) ||
          b > UINT32_MAX)
        return bad(line_no, "expected '<bucket> <offset>', found '" + std::string(line) + "'");
      BucketId bucket(static_cast<uint32_t>(b));
      if (!out.empty() && out.rbegin()->first >= bucket)
        return bad(line_no, "bucket " + std::to_string(b) + " is out of order or repeated");
      out[bucket] = Offset(o);
    }
  }
  if (line_no < 3) return bad(0, "is missing its header lines");
  return out;
}

Result<Committed> GroupStore::load(const std::string& topic, const std::string& group) {
  std::string p = path(topic, group);
  if (!env_->file_exists(p)) return NotFound("group '" + group + "' of topic '" + topic + "' has no offsets file");
  ASSIGN_OR_RETURN(std::string data, env_->read_file(p));
  return decode(data, topic, group, p);
}

Status GroupStore::save(const std::string& topic, const std::string& group, const Committed& offsets) {
  std::string d = dir(topic);
  if (!env_->file_exists(d)) {  // the first group of the topic: make the directory's entry durable too
    RETURN_IF_ERROR(env_->create_dirs(d));
    RETURN_IF_ERROR(env_->sync_dir(join_path(data_dir_, topic)));
  }
  Status s = env_->write_file_atomic(path(topic, group), encode(topic, group, offsets));
  if (!s.ok()) return s.with_context("committing offsets of group '" + group + "' of topic '" + topic + "'");
  return s;
}

Status GroupStore::remove(const std::string& topic, const std::string& group) {
  std::string p = path(topic, group);
  if (!env_->file_exists(p)) return NotFound("group '" + group + "' of topic '" + topic + "' has no offsets file");
  RETURN_IF_ERROR(env_->remove_file(p));
  return env_->sync_dir(dir(topic));
}

Result<std::unique_ptr<FileLock>> GroupStore::lock(const std::string& topic, const std::string& group, bool create) {
  std::string d = dir(topic);
  if (!create && !env_->file_exists(join_path(d, group + ".lock")))
    return NotFound("group '" + group + "' of topic '" + topic + "' has no lock file");
  if (!env_->file_exists(d)) {
    RETURN_IF_ERROR(env_->create_dirs(d));
    RETURN_IF_ERROR(env_->sync_dir(join_path(data_dir_, topic)));
  }
  std::string p = join_path(d, group + ".lock");
  auto l = env_->lock_file(p);
  if (!l.ok() && l.status().code() == Code::kFailedPrecondition)
    return FailedPrecondition("group '" + group + "' of topic '" + topic + "' has live members in another process (" +
                              p + " is locked): an embedded group's members run in one process at a time "
                              "(use a cluster for members in several processes)");
  return l;
}

Result<std::vector<std::string>> GroupStore::list(const std::string& topic) {
  std::string d = dir(topic);
  std::vector<std::string> out;
  if (!env_->file_exists(d)) return out;
  ASSIGN_OR_RETURN(auto children, env_->get_children(d));
  for (const auto& c : children) {
    if (c.size() <= kSuffix.size() || c.compare(c.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0) continue;
    std::string name = c.substr(0, c.size() - kSuffix.size());
    if (validate_group_name(name).ok()) out.push_back(std::move(name));
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace persisting::groups
