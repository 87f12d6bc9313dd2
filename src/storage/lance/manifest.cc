#include "storage/lance/manifest.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <limits>

#include "core/status_macros.h"
#include "storage/lance/format.h"
#include "storage/lance/little_endian.h"

namespace persisting::lance {
namespace {

constexpr std::string_view kSuffix = ".manifest";
constexpr size_t kV2DigitCount = 20;

}  // namespace

std::string manifest_file_name(ManifestNaming naming, uint64_t version) {
  if (naming == ManifestNaming::kV1) return std::to_string(version) + std::string(kSuffix);
  std::string digits = std::to_string(std::numeric_limits<uint64_t>::max() - version);
  return std::string(kV2DigitCount - digits.size(), '0') + digits + std::string(kSuffix);
}

std::optional<std::pair<uint64_t, ManifestNaming>> parse_manifest_file_name(std::string_view name) {
  if (name.size() <= kSuffix.size() || !name.ends_with(kSuffix)) return std::nullopt;
  std::string_view digits = name.substr(0, name.size() - kSuffix.size());
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc() || p != digits.data() + digits.size()) return std::nullopt;  // "d..." etc.
  if (digits.size() == kV2DigitCount) {
    return std::make_pair(std::numeric_limits<uint64_t>::max() - n, ManifestNaming::kV2);
  }
  return std::make_pair(n, ManifestNaming::kV1);
}

Result<VersionListing> list_versions(Env* env, const std::string& dataset) {
  VersionListing out;
  const std::string dir = join_path(dataset, kVersionsDir);
  if (!env->file_exists(dir)) return out;
  ASSIGN_OR_RETURN(auto names, env->get_children(dir));
  bool v1 = false, v2 = false;
  for (const std::string& name : names) {
    auto parsed = parse_manifest_file_name(name);
    if (!parsed) continue;
    out.versions.push_back(parsed->first);
    (parsed->second == ManifestNaming::kV1 ? v1 : v2) = true;
  }
  if (v1 && v2) return NotSupported("Lance dataset '" + dataset + "': both V1 and V2 manifest names in _versions");
  out.naming = v1 ? ManifestNaming::kV1 : ManifestNaming::kV2;
  std::sort(out.versions.begin(), out.versions.end());
  return out;
}

Result<ManifestFile> read_manifest_file(Env* env, const std::string& path) {
  ASSIGN_OR_RETURN(std::string raw, env->read_file(path));
  return parse_manifest_file(std::move(raw), path);
}

Result<ManifestFile> parse_manifest_file(std::string bytes, const std::string& path) {
  ManifestFile out;
  out.raw = std::move(bytes);
  const std::string_view raw = out.raw;
  auto bad = [&](const std::string& what) { return Corruption("Lance manifest '" + path + "': " + what); };
  if (raw.size() < kManifestFooterSize + 4) return bad("too small");
  if (raw.substr(raw.size() - 4) != kMagic) return bad("no LANC magic at the end");
  const uint64_t footer = raw.size() - kManifestFooterSize;
  const uint64_t p = load_le<uint64_t>(raw, footer);
  const uint16_t major = load_le<uint16_t>(raw, footer + 8), minor = load_le<uint16_t>(raw, footer + 10);
  if (major != kManifestMajor || minor != kManifestMinor) {
    return NotSupported("Lance manifest '" + path + "': manifest format " + std::to_string(major) + "." +
                        std::to_string(minor) + " (expected 0.2)");
  }
  if (p + 4 > footer) return bad("manifest position out of range");
  const uint32_t len = load_le<uint32_t>(raw, p);
  if (p + 4 + len != footer) return bad("manifest length does not reach the footer");
  if (!out.manifest.ParseFromArray(raw.data() + p + 4, static_cast<int>(len))) return bad("bad Manifest protobuf");
  return out;
}

Result<std::string> index_section_bytes(const ManifestFile& m, const std::string& path) {
  if (!m.manifest.has_index_section()) return std::string();
  const uint64_t off = m.manifest.index_section();
  if (off + 4 > m.raw.size()) return Corruption("Lance manifest '" + path + "': index section out of range");
  const uint32_t len = load_le<uint32_t>(m.raw, off);
  if (off + 4 + len > m.raw.size()) return Corruption("Lance manifest '" + path + "': index section out of range");
  return m.raw.substr(off, 4 + len);
}

std::string encode_manifest_file(pb::Manifest* m, std::string_view index_section,
                                 const std::string& transaction) {
  std::string out;
  if (!index_section.empty()) {
    m->set_index_section(0);
    out += index_section;
  } else {
    m->clear_index_section();
  }
  m->set_transaction_section(out.size());
  put_le<uint32_t>(&out, static_cast<uint32_t>(transaction.size()));
  out += transaction;
  const uint64_t p = out.size();
  const std::string body = m->SerializeAsString();
  put_le<uint32_t>(&out, static_cast<uint32_t>(body.size()));
  out += body;
  put_le<int64_t>(&out, static_cast<int64_t>(p));
  put_le<int16_t>(&out, kManifestMajor);
  put_le<int16_t>(&out, kManifestMinor);
  out += kMagic;
  return out;
}

}  // namespace persisting::lance
