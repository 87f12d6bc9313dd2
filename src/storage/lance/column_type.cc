#include "storage/lance/column_type.h"

#include <charconv>

#include "storage/lance/format.h"

namespace persisting::lance {

std::string type_display_name(const ColumnType& t) {
  using K = ColumnType::Kind;
  switch (t.kind) {
    case K::kInt: return std::string(t.is_signed ? "int" : "uint") + std::to_string(t.bits);
    case K::kFloat: return t.bits == 64 ? "double" : "float";
    case K::kBool: return "bool";
    case K::kString: return t.large ? "large_string" : "string";
    case K::kBinary: return t.large ? "large_binary" : "binary";
    case K::kVector: return "vector[" + std::to_string(t.dim) + "]";
    case K::kJson: return "json";
  }
  return "unknown";
}

Result<ColumnType> type_of_value(const Value& v) {
  return type_of_value(v.type(), v.is_vector() ? v.as_vector().size() : 0);
}

Result<ColumnType> type_of_value(Value::Type type, uint64_t dim) {
  switch (type) {
    case Value::Type::kBool: return ColumnType::Bool();
    case Value::Type::kInt: return ColumnType::Int64();
    case Value::Type::kDouble: return ColumnType::Float64();
    case Value::Type::kString: return ColumnType::String();
    case Value::Type::kBytes: return ColumnType::Binary();
    case Value::Type::kVector:
      if (dim == 0) return InvalidArgument("a vector of dimension 0 cannot be stored");
      if (dim > UINT32_MAX) return InvalidArgument("a vector of dimension " + std::to_string(dim) + " is too large");
      return ColumnType::Vector(static_cast<uint32_t>(dim));
    case Value::Type::kList:
    case Value::Type::kObject: return ColumnType::Json();
    case Value::Type::kNull: break;
  }
  return Internal("type_of_value called on null");
}

std::string logical_type_string(const ColumnType& t) {
  switch (t.kind) {
    case ColumnType::Kind::kJson: return t.large ? "large_string" : "string";
    case ColumnType::Kind::kVector: return "fixed_size_list:float:" + std::to_string(t.dim);
    default: return type_display_name(t);  // the same words for the scalar kinds
  }
}

Result<ColumnType> column_type_of_field(const pb::Field& f) {
  const std::string& lt = f.logical_type();
  auto unsupported = [&] {
    return NotSupported("field '" + f.name() + "': Lance type '" + lt + "' is not supported");
  };
  ColumnType t;
  using K = ColumnType::Kind;
  if (lt == "int8" || lt == "int16" || lt == "int32" || lt == "int64" || lt == "uint8" ||
      lt == "uint16" || lt == "uint32") {
    t.kind = K::kInt;
    t.is_signed = lt[0] == 'i';
    std::string_view digits = std::string_view(lt).substr(t.is_signed ? 3 : 4);
    t.bits = static_cast<uint32_t>(std::stoul(std::string(digits)));
  } else if (lt == "double") {
    t = ColumnType::Float64();
  } else if (lt == "float") {
    t = {K::kFloat, 32};
  } else if (lt == "bool") {
    t = ColumnType::Bool();
  } else if (lt == "string" || lt == "large_string") {
    t = ColumnType::String();
    t.large = lt == "large_string";
    auto it = f.metadata().find(std::string(kEncodingMetaKey));
    if (it != f.metadata().end()) {
      if (it->second != kEncodingMetaJson) {
        return NotSupported("field '" + f.name() + "': unknown " + std::string(kEncodingMetaKey) +
                            " '" + it->second + "'");
      }
      t.kind = K::kJson;
    }
  } else if (lt == "binary" || lt == "large_binary") {
    t = ColumnType::Binary();
    t.large = lt == "large_binary";
  } else if (lt.rfind("fixed_size_list:float:", 0) == 0) {
    std::string_view d = std::string_view(lt).substr(22);
    uint32_t dim = 0;
    auto [p, ec] = std::from_chars(d.data(), d.data() + d.size(), dim);
    if (ec != std::errc() || p != d.data() + d.size() || dim == 0) return unsupported();
    t = ColumnType::Vector(dim);
  } else {
    return unsupported();
  }
  return t;
}

bool int_fits(const ColumnType& t, int64_t v) {
  if (t.bits >= 64) return t.is_signed || v >= 0;
  const int64_t lo = t.is_signed ? -(int64_t{1} << (t.bits - 1)) : 0;
  const int64_t hi = t.is_signed ? (int64_t{1} << (t.bits - 1)) - 1 : (int64_t{1} << t.bits) - 1;
  return v >= lo && v <= hi;
}

pb::Field make_field(const std::string& name, int32_t id, const ColumnType& t) {
  pb::Field f;
  f.set_name(name);
  f.set_id(id);
  f.set_parent_id(-1);
  f.set_logical_type(logical_type_string(t));
  f.set_nullable(true);
  f.set_encoding(t.is_variable_width() ? 2 : 1);
  if (t.kind == ColumnType::Kind::kJson) {
    (*f.mutable_metadata())[std::string(kEncodingMetaKey)] = std::string(kEncodingMetaJson);
  }
  return f;
}

}  // namespace persisting::lance
