// Value and Record: the data model of Persisting.
//
// A Value is one of: null | bool | int64 | double | string | bytes | float32 vector | list | object.
// A Record is an Object: an ordered list of (field name, Value) with unique names.
// JSON mapping and the binary codec are in persisting/json.h and persisting/codec.h;
// the policies (big integers, NaN, duplicate keys, nesting depth) are in docs/records.md.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace persisting {

class Value;

// Raw bytes (distinct from a UTF-8 string).
struct Bytes {
  std::string data;
  bool operator==(const Bytes&) const = default;
};

// Ordered map of field name to Value. Field names are unique.
class Object {
 public:
  using Field = std::pair<std::string, Value>;
  using const_iterator = std::vector<Field>::const_iterator;
  using iterator = std::vector<Field>::iterator;

  Object() = default;
  Object(std::initializer_list<Field> fields);

  // Pointer to the field's value, or nullptr.
  const Value* find(std::string_view key) const;
  Value* find(std::string_view key);
  bool contains(std::string_view key) const { return find(key) != nullptr; }
  // Sets key to v, replacing an existing field in place or appending a new one.
  void set(std::string key, Value v);
  // Appends without checking uniqueness: only for callers that already checked.
  void append_unchecked(std::string key, Value v);
  // The bodies of these follow Value's definition: they need Value complete.
  void reserve(size_t n);
  size_t size() const;
  bool empty() const;
  const_iterator begin() const;
  const_iterator end() const;
  iterator begin();
  iterator end();

  bool operator==(const Object& o) const;

 private:
  std::vector<Field> fields_;
};

using List = std::vector<Value>;
using F32Vector = std::vector<float>;
using Record = Object;

class Value {
 public:
  enum class Type : uint8_t { kNull, kBool, kInt, kDouble, kString, kBytes, kVector, kList, kObject };

  Value() = default;  // null
  Value(std::nullptr_t) {}
  Value(bool b) : v_(b) {}
  Value(int v) : v_(static_cast<int64_t>(v)) {}
  Value(int64_t v) : v_(v) {}
  Value(double v) : v_(v) {}
  Value(const char* s) : v_(std::string(s)) {}
  Value(std::string s) : v_(std::move(s)) {}
  Value(std::string_view s) : v_(std::string(s)) {}
  Value(Bytes b) : v_(std::move(b)) {}
  Value(F32Vector v) : v_(std::move(v)) {}
  Value(List l) : v_(std::move(l)) {}
  Value(Object o) : v_(std::move(o)) {}

  Type type() const { return static_cast<Type>(v_.index()); }
  bool is_null() const { return type() == Type::kNull; }
  bool is_bool() const { return type() == Type::kBool; }
  bool is_int() const { return type() == Type::kInt; }
  bool is_double() const { return type() == Type::kDouble; }
  bool is_string() const { return type() == Type::kString; }
  bool is_bytes() const { return type() == Type::kBytes; }
  bool is_vector() const { return type() == Type::kVector; }
  bool is_list() const { return type() == Type::kList; }
  bool is_object() const { return type() == Type::kObject; }

  // Accessors: the caller checks the type first (std::get throws otherwise; internal use only).
  bool as_bool() const { return std::get<bool>(v_); }
  int64_t as_int() const { return std::get<int64_t>(v_); }
  double as_double() const { return std::get<double>(v_); }
  const std::string& as_string() const { return std::get<std::string>(v_); }
  const Bytes& as_bytes() const { return std::get<Bytes>(v_); }
  const F32Vector& as_vector() const { return std::get<F32Vector>(v_); }
  const List& as_list() const { return std::get<List>(v_); }
  const Object& as_object() const { return std::get<Object>(v_); }
  List& as_list() { return std::get<List>(v_); }
  Object& as_object() { return std::get<Object>(v_); }

  bool operator==(const Value& o) const { return v_ == o.v_; }

 private:
  std::variant<std::monostate, bool, int64_t, double, std::string, Bytes, F32Vector, List, Object>
      v_;
};

inline void Object::reserve(size_t n) { fields_.reserve(n); }
inline size_t Object::size() const { return fields_.size(); }
inline bool Object::empty() const { return fields_.empty(); }
inline Object::const_iterator Object::begin() const { return fields_.begin(); }
inline Object::const_iterator Object::end() const { return fields_.end(); }
inline Object::iterator Object::begin() { return fields_.begin(); }
inline Object::iterator Object::end() { return fields_.end(); }

// "null", "bool", "int64", "double", "string", "bytes", "vector", "list", "object".
std::string_view type_name(Value::Type t);

}  // namespace persisting
