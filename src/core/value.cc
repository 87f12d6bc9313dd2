#include "persisting/value.h"

namespace persisting {

Object::Object(std::initializer_list<Field> fields) {
  fields_.reserve(fields.size());
  for (const auto& f : fields) set(f.first, f.second);
}

const Value* Object::find(std::string_view key) const {
  for (const auto& f : fields_)
    if (f.first == key) return &f.second;
  return nullptr;
}

Value* Object::find(std::string_view key) {
  for (auto& f : fields_)
    if (f.first == key) return &f.second;
  return nullptr;
}

void Object::set(std::string key, Value v) {
  if (Value* existing = find(key)) {
    *existing = std::move(v);
    return;
  }
  fields_.emplace_back(std::move(key), std::move(v));
}

void Object::append_unchecked(std::string key, Value v) {
  fields_.emplace_back(std::move(key), std::move(v));
}

bool Object::operator==(const Object& o) const { return fields_ == o.fields_; }

std::string_view type_name(Value::Type t) {
  switch (t) {
    case Value::Type::kNull: return "null";
    case Value::Type::kBool: return "bool";
    case Value::Type::kInt: return "int64";
    case Value::Type::kDouble: return "double";
    case Value::Type::kString: return "string";
    case Value::Type::kBytes: return "bytes";
    case Value::Type::kVector: return "vector";
    case Value::Type::kList: return "list";
    case Value::Type::kObject: return "object";
  }
  return "unknown";
}

}  // namespace persisting
