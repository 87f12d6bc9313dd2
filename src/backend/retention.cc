#include "backend/retention.h"

namespace persisting {

uint64_t fragment_bytes(const lance::Snapshot& s, size_t fragment) {
  uint64_t bytes = 0;
  for (const auto& f : s.file.manifest.fragments(static_cast<int>(fragment)).files()) bytes += f.file_size_bytes();
  return bytes;
}

namespace {

bool expired(const lance::Snapshot& s, size_t fragment, uint64_t max_age_ms, int64_t now_ms) {
  if (max_age_ms == 0 || fragment >= s.fragment_times.size()) return false;
  const lance::FragmentTimes& t = s.fragment_times[fragment];
  return t.known() && static_cast<__int128>(t.max) < static_cast<__int128>(now_ms) - max_age_ms;
}

}  // namespace

std::optional<int64_t> next_age_expiry(const lance::Snapshot& s, uint64_t max_age_ms) {
  if (max_age_ms == 0 || s.fragment_times.size() < 2 || !s.fragment_times[0].known()) return std::nullopt;
  const __int128 at = static_cast<__int128>(s.fragment_times[0].max) + max_age_ms + 1;
  return at > INT64_MAX ? INT64_MAX : static_cast<int64_t>(at);
}

size_t interest_cut(const lance::Snapshot& s, uint64_t floor) {
  const size_t n = s.fragment_starts.empty() ? 0 : s.fragment_starts.size() - 1;
  size_t cut = 0;
  // Fragment i holds offsets [first + starts[i], first + starts[i + 1]).
  while (cut + 1 < n && s.first_offset + s.fragment_starts[cut + 1] <= floor) ++cut;
  return cut;
}

size_t retention_cut(const lance::Snapshot& s, uint64_t max_records, uint64_t max_bytes, uint64_t max_age_ms,
                     int64_t now_ms) {
  if (max_records == 0 && max_bytes == 0 && max_age_ms == 0) return 0;
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
    if (!past_records && !past_bytes && !expired(s, cut, max_age_ms, now_ms)) break;
    rows -= r;
    bytes -= b;
  }
  return cut;
}

}  // namespace persisting
