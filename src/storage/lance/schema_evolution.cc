#include "storage/lance/schema_evolution.h"

#include <unordered_map>

namespace persisting::lance {
namespace {

using K = ColumnType::Kind;

std::string quoted(const std::string& s) { return "'" + s + "'"; }

}  // namespace

Result<std::vector<BatchField>> infer_batch_fields(const std::vector<Record>& rows) {
  std::vector<BatchField> fields;
  std::unordered_map<std::string, size_t> index;
  for (size_t r = 0; r < rows.size(); ++r) {
    for (const auto& [name, value] : rows[r]) {
      if (value.is_null()) continue;
      if (name.empty()) return InvalidArgument("record " + std::to_string(r) + ": empty field name");
      auto t = type_of_value(value);
      if (!t.ok()) return InvalidArgument("record " + std::to_string(r) + " field " + quoted(name) + ": " + t.status().message());
      auto [it, inserted] = index.emplace(name, fields.size());
      if (inserted) {
        fields.push_back({name, *t, r});
        continue;
      }
      BatchField& f = fields[it->second];
      if (f.type == *t) continue;
      if (f.type.kind == K::kInt && t->kind == K::kFloat) {
        f.type = *t;  // int and double in one batch: double
        continue;
      }
      if (f.type.kind == K::kFloat && t->kind == K::kInt) continue;
      return InvalidArgument("field " + quoted(name) + ": record " + std::to_string(f.first_record) + " has " +
                             type_display_name(f.type) + ", record " + std::to_string(r) + " has " +
                             type_display_name(*t));
    }
  }
  return fields;
}

Result<SchemaChange> plan_schema_change(const Snapshot& s, const std::vector<BatchField>& batch) {
  SchemaChange change;
  for (const BatchField& b : batch) {
    const SchemaField* f = s.find(b.name);
    if (!f) {
      change.added.push_back(b);
      continue;
    }
    if (!f->type) {
      return NotSupported("field " + quoted(b.name) + ": " + f->type_error.message() +
                          "; record " + std::to_string(b.first_record) + " has " + type_display_name(b.type));
    }
    const ColumnType& e = *f->type;
    const bool same_kind = e.kind == b.type.kind && (e.kind != K::kVector || e.dim == b.type.dim);
    if (same_kind) continue;
    if (e.kind == K::kFloat && b.type.kind == K::kInt) continue;
    if (e.kind == K::kInt && b.type.kind == K::kFloat) {
      change.widened.push_back(b.name);
      continue;
    }
    return InvalidArgument("field " + quoted(b.name) + ": the dataset column is " + type_display_name(e) +
                           " but record " + std::to_string(b.first_record) + " has " + type_display_name(b.type));
  }
  return change;
}

Status check_int_ranges(const Snapshot& s, const std::vector<Record>& rows) {
  for (const SchemaField& f : s.fields) {
    if (!f.type || f.type->kind != K::kInt || (f.type->bits == 64 && f.type->is_signed)) continue;
    for (size_t r = 0; r < rows.size(); ++r) {
      const Value* v = rows[r].find(f.name);
      if (v && v->is_int() && !int_fits(*f.type, v->as_int())) {
        return InvalidArgument("field " + quoted(f.name) + ": record " + std::to_string(r) + " has " +
                               std::to_string(v->as_int()) + ", which does not fit the " +
                               type_display_name(*f.type) + " column");
      }
    }
  }
  return Status::OK();
}

}  // namespace persisting::lance
