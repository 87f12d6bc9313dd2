#include "storage/lance/page_decoder.h"

#include <algorithm>
#include <cstring>

#include <memory>

#include "core/status_macros.h"
#include "persisting/json.h"
#include "storage/lance/buffer_compression.h"
#include "storage/lance/little_endian.h"

namespace persisting::lance {
namespace {

// A decoded array, before its values are interpreted with the column type.
struct Array {
  uint64_t length = 0;
  std::vector<uint8_t> valid;  // empty = all valid; else one 0/1 per row
  bool all_null = false;
  // Fixed width: `bits` per value in `data` (bits == 1: LSB-first bitmap).
  uint64_t bits = 0;
  std::string data;
  // Variable width: starts[i]..ends[i] in `bytes`.
  bool variable = false;
  std::vector<uint64_t> starts, ends;
  std::string bytes;
  // fixed_size_list: `dim` items per row in data; item_valid one per item (empty = all valid).
  uint32_t dim = 0;
  std::vector<uint8_t> item_valid;

  bool is_valid(uint64_t i) const { return !all_null && (valid.empty() || valid[i]); }
};

bool bit(const std::string& data, uint64_t i) { return (static_cast<uint8_t>(data[i >> 3]) >> (i & 7)) & 1; }

// Element i of an array of T.
template <typename T>
T load(const std::string& data, uint64_t i) {
  return load_le<T>(data, i * sizeof(T));
}

uint64_t load_unsigned(const Array& a, uint64_t i) {
  switch (a.bits) {
    case 8: return load<uint8_t>(a.data, i);
    case 16: return load<uint16_t>(a.data, i);
    case 32: return load<uint32_t>(a.data, i);
    default: return load<uint64_t>(a.data, i);
  }
}

std::string describe_unknown(const google::protobuf::Message& m) {
  const auto& unknown = m.GetReflection()->GetUnknownFields(m);
  if (unknown.field_count() == 0) return "an empty encoding";
  return "encoding field " + std::to_string(unknown.field(0).number());
}

class Decoder {
 public:
  Decoder(const std::vector<std::string>& buffers, const std::string& where)
      : buffers_(buffers), where_(where) {}

  Result<Array> decode(const pb::ArrayEncoding& e, uint64_t n) {
    switch (e.array_encoding_case()) {
      case pb::ArrayEncoding::kFlat: return flat(e.flat(), n);
      case pb::ArrayEncoding::kNullable: return nullable(e.nullable(), n);
      case pb::ArrayEncoding::kFixedSizeList: return fixed_size_list(e.fixed_size_list(), n);
      case pb::ArrayEncoding::kBinary: return binary(e.binary(), n);
      case pb::ArrayEncoding::kDictionary: return dictionary(e.dictionary(), n);
      default: break;
    }
    return NotSupported(where_ + ": page uses " + describe_unknown(e) +
                        " of lance.encodings.ArrayEncoding, which this reader does not implement");
  }

 private:
  Status corrupt(const std::string& what) { return Corruption(where_ + ": " + what); }

  Result<const std::string*> buffer(const pb::Flat& f) {
    if (!f.has_buffer()) return corrupt("flat encoding without a buffer");
    if (f.buffer().buffer_type() != 0) {
      return NotSupported(where_ + ": flat buffer of type " +
                          std::to_string(f.buffer().buffer_type()) + " (only page buffers are read)");
    }
    if (f.buffer().buffer_index() >= buffers_.size()) {
      return corrupt("buffer index " + std::to_string(f.buffer().buffer_index()) + " but the page has " +
                     std::to_string(buffers_.size()) + " buffers");
    }
    const std::string* buf = &buffers_[f.buffer().buffer_index()];
    if (f.has_compression()) {
      ASSIGN_OR_RETURN(std::string plain, decompress_buffer(f.compression().scheme(), *buf, where_));
      decompressed_.push_back(std::make_unique<std::string>(std::move(plain)));
      buf = decompressed_.back().get();
    }
    return buf;
  }

  Result<Array> flat(const pb::Flat& f, uint64_t n) {
    const uint64_t bits = f.bits_per_value();
    if (bits != 1 && bits != 8 && bits != 16 && bits != 32 && bits != 64) {
      return NotSupported(where_ + ": flat encoding with " + std::to_string(bits) + " bits per value");
    }
    ASSIGN_OR_RETURN(const std::string* buf, buffer(f));
    const uint64_t need = (n * bits + 7) / 8;
    if (buf->size() < need) {
      return corrupt("flat buffer of " + std::to_string(buf->size()) + " bytes for " +
                     std::to_string(n) + " values of " + std::to_string(bits) + " bits");
    }
    Array a;
    a.length = n;
    a.bits = bits;
    a.data = buf->substr(0, need);
    return a;
  }

  Result<Array> nullable(const pb::Nullable& e, uint64_t n) {
    switch (e.nullability_case()) {
      case pb::Nullable::kNoNulls: return decode(e.no_nulls().values(), n);
      case pb::Nullable::kAllNulls: {
        Array a;
        a.length = n;
        a.all_null = true;
        return a;
      }
      case pb::Nullable::kSomeNulls: {
        ASSIGN_OR_RETURN(Array validity, decode(e.some_nulls().validity(), n));
        if (validity.bits != 1 || validity.variable) return corrupt("validity is not a bitmap");
        ASSIGN_OR_RETURN(Array values, decode(e.some_nulls().values(), n));
        std::vector<uint8_t> valid(n);
        for (uint64_t i = 0; i < n; ++i) valid[i] = bit(validity.data, i) && values.is_valid(i);
        values.valid = std::move(valid);
        return values;
      }
      default: break;
    }
    return NotSupported(where_ + ": unknown nullability (" + describe_unknown(e) + ")");
  }

  Result<Array> fixed_size_list(const pb::FixedSizeList& e, uint64_t n) {
    if (e.dimension() == 0) return corrupt("fixed_size_list of dimension 0");
    if (e.has_validity()) {
      return NotSupported(where_ + ": fixed_size_list with has_validity (not written by Lance 2.0)");
    }
    ASSIGN_OR_RETURN(Array items, decode(e.items(), n * e.dimension()));
    if (items.variable || items.dim != 0) return NotSupported(where_ + ": fixed_size_list of non-primitive items");
    Array a;
    a.length = n;
    a.dim = e.dimension();
    a.bits = items.bits;
    a.data = std::move(items.data);
    if (items.all_null) {
      a.item_valid.assign(n * e.dimension(), 0);
    } else {
      a.item_valid = std::move(items.valid);
    }
    return a;
  }

  Result<Array> binary(const pb::Binary& e, uint64_t n) {
    ASSIGN_OR_RETURN(Array idx, decode(e.indices(), n));
    if (idx.variable || idx.bits < 8 || idx.dim != 0) return corrupt("binary indices are not integers");
    if (!e.bytes().has_flat() || e.bytes().flat().bits_per_value() != 8) {
      return NotSupported(where_ + ": binary bytes not stored as flat 8-bit values");
    }
    ASSIGN_OR_RETURN(const std::string* bytes, buffer(e.bytes().flat()));
    const uint64_t adjust = e.null_adjustment();
    Array a;
    a.length = n;
    a.variable = true;
    a.bytes = *bytes;
    a.starts.resize(n);
    a.ends.resize(n);
    a.valid.assign(n, 1);
    uint64_t prev = 0;
    for (uint64_t i = 0; i < n; ++i) {
      uint64_t x = idx.all_null ? 0 : load_unsigned(idx, i);
      bool valid = idx.is_valid(i);
      if (adjust != 0 && x >= adjust) {
        valid = false;
        x -= adjust;
      }
      if (x < prev || x > a.bytes.size()) {
        return corrupt("string offset " + std::to_string(x) + " at row " + std::to_string(i) +
                       " outside [" + std::to_string(prev) + ", " + std::to_string(a.bytes.size()) + "]");
      }
      a.starts[i] = prev;
      a.ends[i] = x;
      a.valid[i] = valid;
      prev = x;
    }
    return a;
  }

  Result<Array> dictionary(const pb::Dictionary& e, uint64_t n) {
    ASSIGN_OR_RETURN(Array idx, decode(e.indices(), n));
    if (idx.variable || idx.bits < 8 || idx.dim != 0) return corrupt("dictionary indices are not integers");
    const uint64_t k = e.num_dictionary_items();
    ASSIGN_OR_RETURN(Array items, decode(e.items(), k));
    if (!items.variable) return NotSupported(where_ + ": dictionary of non-binary items");
    Array a;
    a.length = n;
    a.variable = true;
    a.valid.assign(n, 0);
    a.starts.resize(n);
    a.ends.resize(n);
    for (uint64_t i = 0; i < n; ++i) {
      const uint64_t code = idx.is_valid(i) ? load_unsigned(idx, i) : 0;
      if (code > k) {
        return corrupt("dictionary index " + std::to_string(code) + " > " + std::to_string(k) + " items");
      }
      a.starts[i] = a.ends[i] = a.bytes.size();
      if (code == 0 || !items.is_valid(code - 1)) continue;  // 0 means null
      a.bytes.append(items.bytes, items.starts[code - 1], items.ends[code - 1] - items.starts[code - 1]);
      a.ends[i] = a.bytes.size();
      a.valid[i] = 1;
    }
    return a;
  }

  const std::vector<std::string>& buffers_;
  const std::string& where_;
  std::vector<std::unique_ptr<std::string>> decompressed_;  // owned copies of compressed buffers
};

Status mismatch(const std::string& where, const ColumnType& t) {
  return Corruption(where + ": page encoding does not match the column type " + type_display_name(t));
}

}  // namespace

Status decode_page(const pb::ArrayEncoding& encoding, const std::vector<std::string>& buffers,
                   uint64_t rows, const ColumnType& type, uint64_t begin, uint64_t end,
                   const std::string& where, std::vector<Value>* out) {
  // Bounds what a damaged length can make the decoder allocate (Lance pages are ~8 MiB).
  constexpr uint64_t kMaxPageRows = uint64_t{1} << 32;
  if (rows > kMaxPageRows) return Corruption(where + ": implausible page length " + std::to_string(rows));
  Decoder decoder(buffers, where);
  ASSIGN_OR_RETURN(Array a, decoder.decode(encoding, rows));
  if (a.length != rows || end > rows || begin > end) return Corruption(where + ": page row count mismatch");
  using K = ColumnType::Kind;
  if (!a.all_null) {
    const bool want_variable = type.is_variable_width();
    if (a.variable != want_variable) return mismatch(where, type);
    if (type.kind == K::kVector && (a.dim != type.dim || a.bits != 32)) return mismatch(where, type);
    if (type.kind != K::kVector && (a.dim != 0 || (!want_variable && a.bits != type.bits))) {
      return mismatch(where, type);
    }
  }
  // Geometric growth: a column read page by page must not copy itself on every page.
  if (size_t need = out->size() + (end - begin); need > out->capacity()) out->reserve(std::max(need, 2 * out->capacity()));
  for (uint64_t i = begin; i < end; ++i) {
    if (!a.is_valid(i)) {
      out->emplace_back();
      continue;
    }
    switch (type.kind) {
      case K::kBool: out->emplace_back(bit(a.data, i)); break;
      case K::kFloat:
        out->emplace_back(type.bits == 64 ? load<double>(a.data, i) : static_cast<double>(load<float>(a.data, i)));
        break;
      case K::kInt: {
        int64_t v;
        switch (type.bits) {
          case 8: v = type.is_signed ? load<int8_t>(a.data, i) : load<uint8_t>(a.data, i); break;
          case 16: v = type.is_signed ? load<int16_t>(a.data, i) : load<uint16_t>(a.data, i); break;
          case 32:
            v = type.is_signed ? int64_t{load<int32_t>(a.data, i)} : int64_t{load<uint32_t>(a.data, i)};
            break;
          default: v = load<int64_t>(a.data, i); break;
        }
        out->emplace_back(v);
        break;
      }
      case K::kVector: {
        F32Vector vec(type.dim);
        if (!a.item_valid.empty()) {
          for (uint64_t j = 0; j < type.dim; ++j) {
            if (!a.item_valid[i * type.dim + j]) {
              return NotSupported(where + ": row " + std::to_string(i) + " is a vector with a null item");
            }
          }
        }
        std::memcpy(vec.data(), a.data.data() + i * type.dim * 4, type.dim * 4);
        out->emplace_back(std::move(vec));
        break;
      }
      case K::kString: out->emplace_back(a.bytes.substr(a.starts[i], a.ends[i] - a.starts[i])); break;
      case K::kBinary: out->emplace_back(Bytes{a.bytes.substr(a.starts[i], a.ends[i] - a.starts[i])}); break;
      case K::kJson: {
        auto v = parse_json(std::string_view(a.bytes).substr(a.starts[i], a.ends[i] - a.starts[i]));
        if (!v.ok()) return Corruption(where + ": row " + std::to_string(i) + ": bad JSON text: " + v.status().message());
        out->push_back(std::move(v).value());
        break;
      }
    }
  }
  return Status::OK();
}

}  // namespace persisting::lance
