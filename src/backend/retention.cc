#include "backend/retention.h"

namespace persisting {

uint64_t fragment_bytes(const lance::Snapshot& s, size_t fragment) {
  uint64_t bytes = 0;
  for (const auto& f : s.file.manifest.fragments(static_cast<int>(fragment)).files()) bytes += f.file_size_bytes();
  return bytes;
}

size_t retention_cut(const lance::Snapshot& s, uint64_t max_records, uint64_t max_bytes) {
  if (max_records == 0 && max_bytes == 0) return 0;
  const size_t n = s.fragment_starts.empty() ? 0 : s.fragment_starts.size() - 1;
  if (n == 0 || static_cast<size_t>(s.file.manifest.fragments_size()) != n) return 0;
  uint64_t rows = s.num_rows();
  uint64_t bytes = 0;
  if (max_bytes > 0) {
    for (size_t i = 0; i < n; ++i) bytes += fragment_bytes(s, i);
  }
  size_t cut = 0;
  for (; cut + 1 < n; ++cut) {
    const uint64_t r = s.fragment_starts[cut + 1] - s.fragment_starts[cut];
    const uint64_t b = max_bytes > 0 ? fragment_bytes(s, cut) : 0;
    const bool past_records = max_records > 0 && rows - r >= max_records;
    const bool past_bytes = max_bytes > 0 && bytes - b >= max_bytes;
    if (!past_records && !past_bytes) break;
    rows -= r;
    bytes -= b;
  }
  return cut;
}

}  // namespace persisting
