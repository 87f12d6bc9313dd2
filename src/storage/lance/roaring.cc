#include "storage/lance/roaring.h"

#include "storage/lance/little_endian.h"

namespace persisting::lance {
namespace {

constexpr uint32_t kCookieNoRuns = 12346;  // followed by a u32 container count
constexpr uint16_t kCookieRuns = 12347;    // low 16 bits; the high 16 hold count - 1
constexpr uint32_t kNoOffsetThreshold = 4;  // with runs, fewer containers than this have no offset header
constexpr uint32_t kMaxArrayCardinality = 4096;
constexpr uint64_t kBitmapContainerBytes = 8192;

}  // namespace

Result<std::vector<uint32_t>> read_portable_roaring(std::string_view in, uint64_t max_values,
                                                    const std::string& path) {
  const std::string where = "Roaring bitmap '" + path + "'";
  uint64_t pos = 0;
  bool short_input = false;
  auto take = [&](uint64_t n) -> std::string_view {
    if (short_input || in.size() - pos < n) {
      short_input = true;
      return {};
    }
    std::string_view out = in.substr(pos, n);
    pos += n;
    return out;
  };
  auto u16 = [&]() -> uint16_t {
    std::string_view b = take(2);
    return b.empty() ? 0 : load_le<uint16_t>(b);
  };
  auto u32 = [&]() -> uint32_t {
    std::string_view b = take(4);
    return b.empty() ? 0 : load_le<uint32_t>(b);
  };
  auto truncated = [&] { return Corruption(where + ": truncated at byte " + std::to_string(in.size())); };

  const uint32_t cookie = u32();
  if (short_input) return truncated();
  uint32_t containers = 0;
  std::string_view run_flags;
  const bool has_runs = (cookie & 0xFFFF) == kCookieRuns;
  if (has_runs) {
    containers = (cookie >> 16) + 1;
    run_flags = take((containers + 7) / 8);
  } else if (cookie == kCookieNoRuns) {
    containers = u32();
  } else {
    return Corruption(where + ": unknown cookie " + std::to_string(cookie));
  }
  if (short_input) return truncated();
  if (containers > 65536) return Corruption(where + ": " + std::to_string(containers) + " containers (at most 65536)");
  // Descriptive header: per container, u16 key and u16 cardinality - 1.
  std::string_view header = take(4 * uint64_t{containers});
  if (!has_runs || containers >= kNoOffsetThreshold) take(4 * uint64_t{containers});  // offsets: read sequentially instead
  if (short_input) return truncated();
  uint64_t total = 0;
  for (uint32_t c = 0; c < containers; ++c) total += uint64_t{load_le<uint16_t>(header, 4 * c + 2)} + 1;
  if (total > max_values) {
    return Corruption(where + ": " + std::to_string(total) + " values, more than the " + std::to_string(max_values) +
                      " possible");
  }
  std::vector<uint32_t> out;
  out.reserve(total);
  int64_t prev_key = -1;
  for (uint32_t c = 0; c < containers; ++c) {
    const uint16_t key = load_le<uint16_t>(header, 4 * c);
    const uint32_t card = uint32_t{load_le<uint16_t>(header, 4 * c + 2)} + 1;
    if (key <= prev_key) return Corruption(where + ": container keys not ascending");
    prev_key = key;
    const uint32_t high = uint32_t{key} << 16;
    const size_t before = out.size();
    const bool run = has_runs && (static_cast<uint8_t>(run_flags[c / 8]) >> (c % 8)) & 1;
    if (run) {
      const uint16_t runs = u16();
      std::string_view b = take(4 * uint64_t{runs});
      if (short_input) return truncated();
      int64_t next = 0;  // runs must be ascending and disjoint
      for (uint16_t r = 0; r < runs; ++r) {
        const uint32_t start = load_le<uint16_t>(b, 4 * r), len = uint32_t{load_le<uint16_t>(b, 4 * r + 2)} + 1;
        if (start < next || start + len > 65536 || out.size() - before + len > card) {
          return Corruption(where + ": malformed run container");
        }
        for (uint32_t v = start; v < start + len; ++v) out.push_back(high | v);
        next = start + len;
      }
    } else if (card <= kMaxArrayCardinality) {
      std::string_view b = take(2 * uint64_t{card});
      if (short_input) return truncated();
      for (uint32_t k = 0; k < card; ++k) {
        const uint16_t v = load_le<uint16_t>(b, 2 * k);
        if (k > 0 && v <= static_cast<uint16_t>(out.back())) return Corruption(where + ": array container not ascending");
        out.push_back(high | v);
      }
    } else {
      std::string_view b = take(kBitmapContainerBytes);
      if (short_input) return truncated();
      for (uint32_t w = 0; w < kBitmapContainerBytes / 8; ++w) {
        uint64_t word = load_le<uint64_t>(b, 8 * w);
        while (word != 0 && out.size() - before < card) {
          out.push_back(high | (w * 64 + static_cast<uint32_t>(__builtin_ctzll(word))));
          word &= word - 1;
        }
        if (word != 0) return Corruption(where + ": bitmap container holds more values than its cardinality");
      }
    }
    if (out.size() - before != card) return Corruption(where + ": container cardinality does not match its contents");
  }
  if (pos != in.size()) return Corruption(where + ": " + std::to_string(in.size() - pos) + " bytes after the bitmap");
  return out;
}

}  // namespace persisting::lance
