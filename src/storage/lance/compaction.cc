#include "storage/lance/compaction.h"

#include "core/status_macros.h"
#include "storage/lance/roaring.h"

namespace persisting::lance {

Status check_compaction_options(const CompactionOptions& o) {
  if (o.target_rows < 2) {
    return InvalidArgument("compaction target rows must be at least 2, got " + std::to_string(o.target_rows));
  }
  if (o.max_bytes == 0) return InvalidArgument("compaction max bytes must be positive");
  if (o.min_fragments < 2) {
    return InvalidArgument("compaction min fragments must be at least 2, got " + std::to_string(o.min_fragments));
  }
  return Status::OK();
}

Result<std::set<uint64_t>> indexed_fragments(const Snapshot& s) {
  std::set<uint64_t> out;
  if (s.version == 0) return out;
  ASSIGN_OR_RETURN(std::string section, index_section_bytes(s.file, s.manifest_path()));
  if (section.size() <= 4) return out;  // no index section
  pb::IndexSection parsed;
  if (!parsed.ParseFromArray(section.data() + 4, static_cast<int>(section.size() - 4))) {
    return Corruption("'" + s.manifest_path() + "': index section does not parse");
  }
  for (const pb::IndexMetadata& index : parsed.indices()) {
    ASSIGN_OR_RETURN(std::vector<uint32_t> ids,
                     read_portable_roaring(index.fragment_bitmap(), uint64_t{1} << 32, s.manifest_path()));
    out.insert(ids.begin(), ids.end());
  }
  return out;
}

std::vector<CompactionGroup> plan_compaction(const Snapshot& s, const CompactionOptions& o,
                                             const std::set<uint64_t>& indexed) {
  std::vector<CompactionGroup> groups;
  if (s.version == 0) return groups;
  for (const SchemaField& f : s.fields) {
    if (!f.type) return groups;  // a column Persisting cannot copy: leave the dataset as it is
  }
  const auto& frags = s.file.manifest.fragments();
  if (static_cast<size_t>(frags.size()) + 1 != s.fragment_starts.size()) return groups;
  CompactionGroup cur;
  uint64_t bytes = 0;
  uint64_t total = 0;
  auto rows_of = [&](size_t i) { return s.fragment_starts[i + 1] - s.fragment_starts[i]; };
  auto close = [&](size_t at) {
    while (o.tiered && cur.end - cur.begin >= 2 && rows_of(cur.begin) > cur.rows - rows_of(cur.begin)) {
      cur.rows -= rows_of(cur.begin);
      ++cur.begin;
    }
    if (cur.end - cur.begin >= 2) {
      groups.push_back(cur);
      total += cur.end - cur.begin;
    }
    cur = CompactionGroup{at, at, 0};
    bytes = 0;
  };
  for (size_t i = 0; i < static_cast<size_t>(frags.size()); ++i) {
    const pb::DataFragment& f = frags[static_cast<int>(i)];
    const uint64_t rows = s.fragment_starts[i + 1] - s.fragment_starts[i];
    uint64_t fbytes = 0;
    for (const pb::DataFile& df : f.files()) fbytes += df.file_size_bytes();
    const bool small = rows < o.target_rows && fbytes <= o.max_bytes && !f.has_deletion_file() &&
                       !indexed.count(f.id()) && f.files_size() > 0;
    if (!small) {
      close(i + 1);
      continue;
    }
    if (cur.rows + rows > o.target_rows || bytes + fbytes > o.max_bytes) close(i);
    cur.end = i + 1;
    cur.rows += rows;
    bytes += fbytes;
  }
  close(frags.size());
  if (total < o.min_fragments) groups.clear();
  return groups;
}

}  // namespace persisting::lance
