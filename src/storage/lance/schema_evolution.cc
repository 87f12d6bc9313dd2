#include "storage/lance/schema_evolution.h"

#include <unordered_map>

#include "core/status_macros.h"

namespace persisting::lance {
namespace {

using K = ColumnType::Kind;

std::string quoted(const std::string& s) { return "'" + s + "'"; }

}  // namespace

Status BatchFieldTypes::add(size_t r, std::string_view name, Result<ColumnType> value_type, size_t* index) {
  if (name.empty()) return InvalidArgument("record " + std::to_string(r) + ": empty field name");
  if (!value_type.ok())
    return InvalidArgument("record " + std::to_string(r) + " field " + quoted(std::string(name)) + ": " +
                           value_type.status().message());
  const ColumnType& t = *value_type;
  size_t i = find(name);
  if (index) *index = i == kNone ? fields_.size() : i;
  if (i == kNone) {
    fields_.push_back({std::string(name), t, r});
    if (fields_.size() > kLinearScan) {  // past the threshold: index every name (once), then each new one
      for (size_t k = index_.empty() ? 0 : fields_.size() - 1; k < fields_.size(); ++k)
        index_.emplace(fields_[k].name, k);
    }
    return Status::OK();
  }
  BatchField* f = &fields_[i];
  if (f->type == t) return Status::OK();
  if (f->type.kind == K::kInt && t.kind == K::kFloat) {
    f->type = t;  // int and double in one batch: double
    return Status::OK();
  }
  if (f->type.kind == K::kFloat && t.kind == K::kInt) return Status::OK();
  return InvalidArgument("field " + quoted(f->name) + ": record " + std::to_string(f->first_record) + " has " +
                         type_display_name(f->type) + ", record " + std::to_string(r) + " has " +
                         type_display_name(t));
}

bool BatchFieldTypes::same_shape_as_last(const std::vector<FieldShape>& shapes) const {
  if (shapes.size() != last_shape_.size()) return false;
  for (size_t k = 0; k < shapes.size(); ++k) {
    const FieldShape& a = shapes[k];
    const FieldShape& b = last_shape_[k];
    if (a.type != b.type || a.dim != b.dim || a.name != b.name) return false;
  }
  return true;
}

Status BatchFieldTypes::add_record(size_t r, const std::vector<FieldShape>& shapes) {
  if (records_++ > 0 && same_shape_as_last(shapes)) return Status::OK();  // slots_ still hold
  ++shapes_;
  // Forget the last shape first: a failed add leaves slots_ half written.
  last_shape_.clear();
  slots_.assign(shapes.size(), kNone);
  for (size_t k = 0; k < shapes.size(); ++k) {
    const FieldShape& f = shapes[k];
    if (f.type != Value::Type::kNull) RETURN_IF_ERROR(add(r, f.name, type_of_value(f.type, f.dim), &slots_[k]));
  }
  last_shape_ = shapes;
  return Status::OK();
}

size_t BatchFieldTypes::find(std::string_view name) const {
  if (fields_.size() <= kLinearScan) {
    for (size_t i = 0; i < fields_.size(); ++i)
      if (fields_[i].name == name) return i;
    return kNone;
  }
  auto it = index_.find(std::string(name));
  return it == index_.end() ? kNone : it->second;
}

Result<std::vector<BatchField>> infer_batch_fields(const std::vector<Record>& rows) {
  BatchFieldTypes types;
  for (size_t r = 0; r < rows.size(); ++r) {
    for (const auto& [name, value] : rows[r]) {
      if (!value.is_null()) RETURN_IF_ERROR(types.add(r, name, type_of_value(value)));
    }
  }
  return types.take();
}

Result<std::vector<BatchField>> infer_batch_fields(const RecordBatch& batch, const std::vector<uint64_t>* numbers,
                                                   bool* one_shape) {
  BatchFieldTypes types;
  std::vector<FieldShape> shapes;
  for (size_t r = 0; r < batch.size(); ++r) {
    RETURN_IF_ERROR(scan_fields(batch.encoded(r), &shapes));
    RETURN_IF_ERROR(types.add_record(numbers ? static_cast<size_t>((*numbers)[r]) : r, shapes));
  }
  if (one_shape) *one_shape = types.record_shapes() <= 1;
  return types.take();
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

namespace {

bool is_narrow_int(const SchemaField& f) {
  return f.type && f.type->kind == K::kInt && !(f.type->bits == 64 && f.type->is_signed);
}

}  // namespace

bool has_narrow_int_columns(const Snapshot& s) {
  for (const SchemaField& f : s.fields)
    if (is_narrow_int(f)) return true;
  return false;
}

Status check_int_ranges(const Snapshot& s, const std::vector<Record>& rows, const std::vector<uint64_t>* numbers) {
  for (const SchemaField& f : s.fields) {
    if (!is_narrow_int(f)) continue;
    for (size_t r = 0; r < rows.size(); ++r) {
      const Value* v = rows[r].find(f.name);
      if (v && v->is_int() && !int_fits(*f.type, v->as_int())) {
        return InvalidArgument("field " + quoted(f.name) + ": record " +
                               std::to_string(numbers ? (*numbers)[r] : r) + " has " +
                               std::to_string(v->as_int()) + ", which does not fit the " +
                               type_display_name(*f.type) + " column");
      }
    }
  }
  return Status::OK();
}

}  // namespace persisting::lance
