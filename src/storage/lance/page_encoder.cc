#include "storage/lance/page_encoder.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "core/huge_pages.h"
#include "core/status_macros.h"
#include "persisting/json.h"
#include "storage/lance/little_endian.h"

namespace persisting::lance {
namespace {

struct NullScan {
  std::vector<bool> valid;
  size_t nulls = 0;
};

NullScan scan_nulls(std::span<const Cell> values) {
  NullScan s;
  s.valid.resize(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    s.valid[i] = values[i].present();
    if (!s.valid[i]) ++s.nulls;
  }
  return s;
}

pb::ArrayEncoding flat(uint64_t bits, uint32_t buffer_index) {
  pb::ArrayEncoding e;
  auto* f = e.mutable_flat();
  f->set_bits_per_value(bits);
  f->mutable_buffer()->set_buffer_index(buffer_index);  // always present, even for index 0
  return e;
}

// Compresses a value buffer in place and records the scheme on its Flat.
void compress_values(pb::ArrayEncoding* flat_encoding, std::string* buffer, BufferCompression c) {
  if (c == BufferCompression::kNone) return;
  *buffer = compress_buffer(c, *buffer);
  flat_encoding->mutable_flat()->mutable_compression()->set_scheme(std::string(buffer_compression_name(c)));
}

std::string bitmap(const std::vector<bool>& bits) {
  std::string out((bits.size() + 7) / 8, '\0');
  for (size_t i = 0; i < bits.size(); ++i) {
    if (bits[i]) out[i >> 3] = static_cast<char>(out[i >> 3] | (1 << (i & 7)));
  }
  return out;
}

Status type_error(const std::string& field, const Cell& v, const ColumnType& t) {
  return InvalidArgument("field '" + field + "': cannot store a " +
                         std::string(type_name(v.type)) + " in a " + type_display_name(t) +
                         " column");
}

// Appends the JSON text of a list or object cell.
Status append_json(const Cell& v, std::string* out) {
  if (v.nested) {
    to_json(*v.nested, out);
    return Status::OK();
  }
  ASSIGN_OR_RETURN(Value decoded, decode_value(v.encoded));
  to_json(decoded, out);
  return Status::OK();
}

// Appends the fixed-width (or bit) representation of v to *out.
Status put_fixed(const Cell& v, const ColumnType& t, const std::string& field, std::string* out,
                 std::vector<bool>* bools) {
  using K = ColumnType::Kind;
  using T = Value::Type;
  switch (t.kind) {
    case K::kBool:
      if (v.type != T::kBool) return type_error(field, v, t);
      bools->push_back(v.b);
      return Status::OK();
    case K::kFloat: {
      double d;
      if (v.type == T::kDouble) d = v.d;
      else if (v.type == T::kInt) d = static_cast<double>(v.i);
      else return type_error(field, v, t);
      if (t.bits == 64) put_le<double>(out, d);
      else put_le<float>(out, static_cast<float>(d));
      return Status::OK();
    }
    case K::kInt: {
      if (v.type != T::kInt) return type_error(field, v, t);
      int64_t x = v.i;
      if (!int_fits(t, x)) {
        return InvalidArgument("field '" + field + "': " + std::to_string(x) + " does not fit the " +
                               type_display_name(t) + " column");
      }
      switch (t.bits) {
        case 8: put_le<uint8_t>(out, static_cast<uint8_t>(x)); break;
        case 16: put_le<uint16_t>(out, static_cast<uint16_t>(x)); break;
        case 32: put_le<uint32_t>(out, static_cast<uint32_t>(x)); break;
        default: put_le<int64_t>(out, x); break;
      }
      return Status::OK();
    }
    default: break;
  }
  return Internal("put_fixed on a variable-width column");
}

Result<EncodedPage> encode_fixed(std::span<const Cell> values, const ColumnType& t,
                                 const std::string& field, BufferCompression c) {
  EncodedPage page;
  page.rows = values.size();
  const auto [valid, nulls] = scan_nulls(values);
  std::string data;
  std::vector<bool> bools;
  const uint64_t width = t.bits / 8;
  if (t.kind != ColumnType::Kind::kBool) data.reserve(values.size() * width);
  for (size_t i = 0; i < values.size(); ++i) {
    if (valid[i]) {
      RETURN_IF_ERROR(put_fixed(values[i], t, field, &data, &bools));
    } else {
      if (t.kind == ColumnType::Kind::kBool) bools.push_back(false);
      else data.append(width, '\0');
    }
  }
  if (t.kind == ColumnType::Kind::kBool) {
    data = bitmap(bools);
    c = BufferCompression::kNone;  // bitmaps stay uncompressed
  }
  auto* nullable = page.encoding.mutable_nullable();
  if (nulls == values.size()) {
    nullable->mutable_all_nulls();
  } else if (nulls == 0) {
    *nullable->mutable_no_nulls()->mutable_values() = flat(t.bits, 0);
    compress_values(nullable->mutable_no_nulls()->mutable_values(), &data, c);
    page.buffers.push_back(std::move(data));
  } else {
    auto* some = nullable->mutable_some_nulls();
    *some->mutable_validity() = flat(1, 0);
    *some->mutable_values() = flat(t.bits, 1);
    compress_values(some->mutable_values(), &data, c);
    page.buffers.push_back(bitmap(valid));
    page.buffers.push_back(std::move(data));
  }
  return page;
}

// Offsets are cumulative end positions; a null row stores prev_end + A with A = total + 1.
Result<EncodedPage> encode_binary(std::span<const Cell> values, const ColumnType& t,
                                  const std::string& field, BufferCompression c) {
  using K = ColumnType::Kind;
  using T = Value::Type;
  EncodedPage page;
  page.rows = values.size();
  std::string bytes;
  // Reserved up front: grown by doubling, a page of 8 MiB would be copied and page-faulted in
  // about twice over (a third of a flush's CPU on 256 B records).
  // (encoded_size_estimate counts each row's 8-byte offset too: exact for strings and bytes, a
  // guess for JSON text.)
  size_t estimate = 0;
  for (const Cell& v : values) estimate += encoded_size_estimate(v, t) - 8;
  bytes.reserve(estimate);
  advise_huge_pages(bytes.data(), bytes.capacity());
  std::vector<uint64_t> ends(values.size());
  const std::vector<bool> valid = scan_nulls(values).valid;
  for (size_t i = 0; i < values.size(); ++i) {
    if (valid[i]) {
      const Cell& v = values[i];
      if (t.kind == K::kString && v.type == T::kString) bytes += v.bytes;
      else if (t.kind == K::kBinary && v.type == T::kBytes) bytes += v.bytes;
      else if (t.kind == K::kJson && (v.type == T::kList || v.type == T::kObject)) RETURN_IF_ERROR(append_json(v, &bytes));
      else return type_error(field, v, t);
    }
    ends[i] = bytes.size();
  }
  const uint64_t adjust = bytes.size() + 1;
  std::string offsets;
  offsets.reserve(values.size() * 8);
  for (size_t i = 0; i < values.size(); ++i) put_le<uint64_t>(&offsets, valid[i] ? ends[i] : ends[i] + adjust);
  auto* bin = page.encoding.mutable_binary();
  *bin->mutable_indices()->mutable_nullable()->mutable_no_nulls()->mutable_values() = flat(64, 0);
  *bin->mutable_bytes() = flat(8, 1);
  bin->set_null_adjustment(adjust);
  compress_values(bin->mutable_bytes(), &bytes, c);
  page.buffers.push_back(std::move(offsets));
  page.buffers.push_back(std::move(bytes));
  return page;
}

Result<EncodedPage> encode_vector(std::span<const Cell> values, const ColumnType& t,
                                  const std::string& field, BufferCompression c) {
  EncodedPage page;
  page.rows = values.size();
  const auto [valid, nulls] = scan_nulls(values);
  std::string data;
  data.reserve(values.size() * t.dim * 4);
  for (size_t i = 0; i < values.size(); ++i) {
    if (!valid[i]) {
      data.append(static_cast<size_t>(t.dim) * 4, '\0');
      continue;
    }
    const Cell& v = values[i];
    if (v.type != Value::Type::kVector) return type_error(field, v, t);
    if (v.dim != t.dim) {
      return InvalidArgument("field '" + field + "': vector of dimension " + std::to_string(v.dim) + " in a " +
                             type_display_name(t) + " column");
    }
    data.append(v.bytes);
  }
  auto* nullable = page.encoding.mutable_nullable();
  if (nulls == 0) {
    auto* fsl = nullable->mutable_no_nulls()->mutable_values()->mutable_fixed_size_list();
    fsl->set_dimension(t.dim);
    auto* items = fsl->mutable_items()->mutable_nullable()->mutable_no_nulls()->mutable_values();
    *items = flat(32, 0);
    compress_values(items, &data, c);
    page.buffers.push_back(std::move(data));
    return page;
  }
  // Null rows: a row bitmap, then an item bitmap (n*d bits) and the items (0 for null rows).
  auto* some = nullable->mutable_some_nulls();
  *some->mutable_validity() = flat(1, 0);
  auto* fsl = some->mutable_values()->mutable_fixed_size_list();
  fsl->set_dimension(t.dim);
  auto* items = fsl->mutable_items()->mutable_nullable()->mutable_some_nulls();
  *items->mutable_validity() = flat(1, 1);
  *items->mutable_values() = flat(32, 2);
  compress_values(items->mutable_values(), &data, c);
  std::vector<bool> item_valid;
  item_valid.reserve(values.size() * t.dim);
  for (bool b : valid) item_valid.insert(item_valid.end(), t.dim, b);
  page.buffers.push_back(bitmap(valid));
  page.buffers.push_back(bitmap(item_valid));
  page.buffers.push_back(std::move(data));
  return page;
}

}  // namespace

Cell Cell::of(const Value* v) {
  Cell c;
  if (v == nullptr) return c;
  c.type = v->type();
  switch (c.type) {
    case Value::Type::kBool: c.b = v->as_bool(); break;
    case Value::Type::kInt: c.i = v->as_int(); break;
    case Value::Type::kDouble: c.d = v->as_double(); break;
    case Value::Type::kString: c.bytes = v->as_string(); break;
    case Value::Type::kBytes: c.bytes = v->as_bytes().data; break;
    case Value::Type::kVector:
      c.dim = v->as_vector().size();
      c.bytes = std::string_view(reinterpret_cast<const char*>(v->as_vector().data()), c.dim * sizeof(float));
      break;
    case Value::Type::kList:
    case Value::Type::kObject: c.nested = v; break;
    case Value::Type::kNull: break;
  }
  return c;
}

Cell Cell::of(const FieldShape& f) {
  Cell c;
  c.type = f.type;
  switch (f.type) {
    case Value::Type::kBool: c.b = f.b; break;
    case Value::Type::kInt: c.i = f.i; break;
    case Value::Type::kDouble: c.d = f.d; break;
    case Value::Type::kString:
    case Value::Type::kBytes: c.bytes = f.bytes; break;
    case Value::Type::kVector:
      c.bytes = f.bytes;
      c.dim = f.dim;
      break;
    case Value::Type::kList:
    case Value::Type::kObject:
      c.encoded = f.value;
      c.nested = nullptr;
      break;
    case Value::Type::kNull: break;
  }
  return c;
}

Result<EncodedPage> encode_page(std::span<const Cell> cells, const ColumnType& type, const std::string& field,
                                BufferCompression compression) {
  if (type.is_variable_width()) return encode_binary(cells, type, field, compression);
  if (type.kind == ColumnType::Kind::kVector) return encode_vector(cells, type, field, compression);
  return encode_fixed(cells, type, field, compression);
}

Result<EncodedPage> encode_page(const std::vector<const Value*>& values, const ColumnType& type,
                                const std::string& field, BufferCompression compression) {
  std::vector<Cell> cells;
  cells.reserve(values.size());
  for (const Value* v : values) cells.push_back(Cell::of(v));
  return encode_page(std::span<const Cell>(cells), type, field, compression);
}

uint64_t encoded_size_estimate(const Cell& v, const ColumnType& type) {
  using K = ColumnType::Kind;
  switch (type.kind) {
    case K::kVector: return uint64_t{type.dim} * 4;
    case K::kBool: return 1;
    case K::kInt:
    case K::kFloat: return type.bits / 8;
    default: break;
  }
  if (!v.present()) return 8;
  if (v.type == Value::Type::kString || v.type == Value::Type::kBytes) return 8 + v.bytes.size();
  return 8 + 64;  // json text: a rough guess is enough for page cutting
}

}  // namespace persisting::lance
