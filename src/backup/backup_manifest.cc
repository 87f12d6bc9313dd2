#include "backup/backup_manifest.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "groups/group_types.h"

namespace persisting::backup {

using nlohmann::json;

const BackupFile* BackupManifest::find(std::string_view p) const {
  auto it = std::lower_bound(files.begin(), files.end(), p,
                             [](const BackupFile& f, std::string_view x) { return f.path < x; });
  return it != files.end() && it->path == p ? &*it : nullptr;
}

std::string crc_text(uint32_t crc) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", crc);
  return buf;
}

namespace {

std::string hex16(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

bool parse_hex(const std::string& s, size_t digits, uint64_t* out) {
  if (s.size() != digits) return false;
  uint64_t v = 0;
  for (char c : s) {
    int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
    if (d < 0) return false;
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  *out = v;
  return true;
}

// A relative path inside the topic's directory: "<topic>/...", no empty, "." or ".." component.
bool safe_path(const std::string& p, const std::string& topic) {
  if (p.size() <= topic.size() + 1 || p.compare(0, topic.size(), topic) != 0 || p[topic.size()] != '/') return false;
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find('/', start);
    if (end == std::string::npos) end = p.size();
    std::string_view part(p.data() + start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return p.find('\0') == std::string::npos;
}

}  // namespace

std::string encode_backup_manifest(const BackupManifest& m) {
  json j;
  j["format"] = kBackupFormat;
  j["topic"] = m.topic;
  j["incarnation"] = hex16(m.incarnation);
  j["created_at"] = m.created_at;
  json buckets = json::array();
  for (const auto& b : m.buckets)
    buckets.push_back({{"bucket", b.bucket}, {"version", b.version}, {"first_offset", b.first_offset},
                       {"end_offset", b.end_offset}});
  j["buckets"] = std::move(buckets);
  j["groups"] = m.groups;
  json files = json::array();
  for (const auto& f : m.files) files.push_back({{"path", f.path}, {"size", f.size}, {"crc32c", crc_text(f.crc32c)}});
  j["files"] = std::move(files);
  return j.dump(1) + "\n";
}

Result<BackupManifest> decode_backup_manifest(std::string_view text, const std::string& path) {
  auto bad = [&](const std::string& why) { return Corruption("backup manifest '" + path + "': " + why); };
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return bad("not a JSON object");
  auto fmt = j.find("format");
  if (fmt == j.end() || !fmt->is_number_unsigned()) return bad("no \"format\"");
  if (fmt->get<uint64_t>() > static_cast<uint64_t>(kBackupFormat))
    return NotSupported("backup manifest '" + path + "' has format " + std::to_string(fmt->get<uint64_t>()) +
                        "; this build reads format " + std::to_string(kBackupFormat));
  if (fmt->get<uint64_t>() != static_cast<uint64_t>(kBackupFormat)) return bad("unknown format");
  BackupManifest m;
  auto str = [&](const char* key, std::string* out) -> bool {
    auto it = j.find(key);
    if (it == j.end() || !it->is_string()) return false;
    *out = it->get<std::string>();
    return true;
  };
  std::string inc;
  if (!str("topic", &m.topic)) return bad("no \"topic\"");
  if (Status s = groups::validate_name("topic", m.topic); !s.ok()) return bad(s.message());
  if (!str("incarnation", &inc) || !parse_hex(inc, 16, &m.incarnation)) return bad("\"incarnation\" is not 16 hex digits");
  if (!str("created_at", &m.created_at)) return bad("no \"created_at\"");

  auto buckets = j.find("buckets");
  if (buckets == j.end() || !buckets->is_array()) return bad("no \"buckets\" array");
  for (const auto& b : *buckets) {
    if (!b.is_object()) return bad("a bucket entry is not an object");
    BackupBucket e;
    for (auto [key, out] : {std::pair<const char*, uint64_t*>{"version", &e.version},
                            {"first_offset", &e.first_offset},
                            {"end_offset", &e.end_offset}}) {
      auto it = b.find(key);
      if (it == b.end() || !it->is_number_unsigned()) return bad(std::string("a bucket has no \"") + key + "\"");
      *out = it->get<uint64_t>();
    }
    auto id = b.find("bucket");
    if (id == b.end() || !id->is_number_unsigned() || id->get<uint64_t>() != m.buckets.size())
      return bad("bucket " + std::to_string(m.buckets.size()) + " missing or out of order");
    e.bucket = static_cast<uint32_t>(m.buckets.size());
    if (e.end_offset < e.first_offset) return bad("bucket " + std::to_string(e.bucket) + " ends before it starts");
    m.buckets.push_back(e);
  }
  if (m.buckets.empty()) return bad("no buckets");

  auto groups = j.find("groups");
  if (groups == j.end() || !groups->is_array()) return bad("no \"groups\" array");
  for (const auto& g : *groups) {
    if (!g.is_string()) return bad("a group name is not a string");
    if (Status s = groups::validate_name("group", g.get<std::string>()); !s.ok()) return bad(s.message());
    m.groups.push_back(g.get<std::string>());
  }

  auto files = j.find("files");
  if (files == j.end() || !files->is_array()) return bad("no \"files\" array");
  for (const auto& f : *files) {
    if (!f.is_object()) return bad("a file entry is not an object");
    BackupFile e;
    auto p = f.find("path");
    auto size = f.find("size");
    auto crc = f.find("crc32c");
    if (p == f.end() || !p->is_string()) return bad("a file entry has no \"path\"");
    e.path = p->get<std::string>();
    if (!safe_path(e.path, m.topic)) return bad("file path '" + e.path + "' is not inside '" + m.topic + "/'");
    if (size == f.end() || !size->is_number_unsigned()) return bad("file '" + e.path + "' has no \"size\"");
    e.size = size->get<uint64_t>();
    uint64_t c = 0;
    if (crc == f.end() || !crc->is_string() || !parse_hex(crc->get<std::string>(), 8, &c))
      return bad("file '" + e.path + "' has no 8-hex-digit \"crc32c\"");
    e.crc32c = static_cast<uint32_t>(c);
    if (!m.files.empty() && !(m.files.back().path < e.path)) return bad("files not sorted by path at '" + e.path + "'");
    m.files.push_back(std::move(e));
  }
  if (!m.find(m.topic + "/topic.json")) return bad("no '" + m.topic + "/topic.json' in \"files\"");
  return m;
}

}  // namespace persisting::backup
