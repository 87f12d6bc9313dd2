// ColumnType: the column types Persisting maps Values to, and their Lance logical-type strings.
//
// Written: int64, double, bool, string (utf8), binary, fixed_size_list<float32, d> vectors, and
// "json" (a utf8 column whose field metadata says persisting:encoding=json) for nested
// lists/objects. Also read (and appended to, with range checks) when LanceDB created them:
// int8..int32, uint8..uint32, float, large_string, large_binary.
#pragma once

#include <cstdint>
#include <string>

#include "persisting/status.h"
#include "persisting/value.h"
#include "storage/lance/proto/file.pb.h"

namespace persisting::lance {

struct ColumnType {
  enum class Kind : uint8_t { kInt, kFloat, kBool, kString, kBinary, kVector, kJson };
  Kind kind = Kind::kInt;
  uint32_t bits = 64;        // kInt: 8/16/32/64, kFloat: 32/64, kVector: 32 (item width)
  bool is_signed = true;     // kInt only
  bool large = false;        // large_string / large_binary
  uint32_t dim = 0;          // kVector only

  static ColumnType Int64() { return {}; }
  static ColumnType Float64() { return {Kind::kFloat, 64}; }
  static ColumnType Bool() { return {Kind::kBool, 1}; }
  static ColumnType String() { return {Kind::kString, 8}; }
  static ColumnType Binary() { return {Kind::kBinary, 8}; }
  static ColumnType Json() { return {Kind::kJson, 8}; }
  static ColumnType Vector(uint32_t dim) { return {Kind::kVector, 32, true, false, dim}; }

  bool is_variable_width() const {
    return kind == Kind::kString || kind == Kind::kBinary || kind == Kind::kJson;
  }
  bool operator==(const ColumnType&) const = default;
};

// Human-readable name used in error messages: "int64", "double", "vector[768]", "json", ...
std::string type_display_name(const ColumnType& t);

// The type a non-null Value is stored as (a new column's type). Lists and objects are "json".
// A vector of dimension 0 is refused.
Result<ColumnType> type_of_value(const Value& v);
// The same from a value's type and, for vectors, its dimension (an encoded value's FieldShape).
Result<ColumnType> type_of_value(Value::Type type, uint64_t dim);

// The Lance logical_type string ("int64", "fixed_size_list:float:768", "string", ...).
std::string logical_type_string(const ColumnType& t);

// Parses a schema field's logical type (and json marker). Types outside the subset are
// NotSupported, naming the field.
Result<ColumnType> column_type_of_field(const pb::Field& f);

// Whether v fits an integer column of type t (int8..int64, uint8..uint32).
bool int_fits(const ColumnType& t, int64_t v);

// Fills name, id, parent_id (-1), logical_type, nullable, encoding and metadata for a new field.
pb::Field make_field(const std::string& name, int32_t id, const ColumnType& t);

}  // namespace persisting::lance
