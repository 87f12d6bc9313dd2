// Schema inference and evolution for appends (docs/lance-format.md §5).
//
// Each field's type is inferred from the batch's non-null values (int and double mixed in one
// batch give double; lists and objects give json). Against the dataset's schema:
//   - a field the schema lacks is added as a new nullable field (metadata-only in Lance);
//   - int into a double column is stored as double; double into an int64 column widens the
//     column to double (a new field id; each fragment gets a data file with the widened copy);
//   - anything else is InvalidArgument naming the field, both types and the record.
// A field whose values are all null in the batch and which the schema lacks is not added.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "persisting/codec.h"
#include "persisting/status.h"
#include "persisting/value.h"
#include "storage/lance/column_type.h"
#include "storage/lance/snapshot.h"

namespace persisting::lance {

struct BatchField {
  std::string name;
  ColumnType type;
  size_t first_record = 0;   // the record that fixed the type (for error messages)
};

// Collects a batch's field types record by record (the rules above), in order of first
// appearance. A handful of fields is the common case, so names are looked up by a linear scan
// (no allocation per field once a name is known).
class BatchFieldTypes {
 public:
  // value_type is the field's type, or the error type_of_value gave for its value. index (if
  // given) receives the field's position in fields().
  Status add(size_t r, std::string_view name, Result<ColumnType> value_type, size_t* index = nullptr);
  // Adds encoded record r's fields as scan_fields gave them (nulls are skipped); afterwards
  // slots()[k] is the position in fields() of shapes[k] (kNone for a null). A record with the
  // same field names, kinds and dimensions, in the same order, as the record added before it
  // cannot change anything, so it costs one comparison with that record and no lookups (records
  // of a stream mostly share one shape). The shapes' views must stay valid until the next call.
  Status add_record(size_t r, const std::vector<FieldShape>& shapes);
  const std::vector<size_t>& slots() const { return slots_; }
  // How many times add_record met a shape other than the previous record's (the first counts):
  // 1 when every record added so far has one shape.
  size_t record_shapes() const { return shapes_; }
  const std::vector<BatchField>& fields() const { return fields_; }
  std::vector<BatchField> take() { return std::move(fields_); }

  static constexpr size_t kNone = SIZE_MAX;

 private:
  static constexpr size_t kLinearScan = 16;
  size_t find(std::string_view name) const;
  bool same_shape_as_last(const std::vector<FieldShape>& shapes) const;

  std::vector<BatchField> fields_;
  std::unordered_map<std::string, size_t> index_;
  std::vector<FieldShape> last_shape_;  // the last record add_record took
  std::vector<size_t> slots_;           // its fields' positions in fields_
  size_t records_ = 0;                  // add_record calls
  size_t shapes_ = 0;                   // of them, those whose shape differed from the last
};

// Types of the batch's fields, in order of first appearance.
Result<std::vector<BatchField>> infer_batch_fields(const std::vector<Record>& rows);
// The same for encoded records, without decoding them (scan_fields); Corruption if one is malformed.
// numbers (when given: one per record) is how errors and first_record name the records; by
// default, their index in batch. one_shape (when given) is set to whether every record has the
// same field names, kinds and dimensions in the same order.
Result<std::vector<BatchField>> infer_batch_fields(const RecordBatch& batch,
                                                   const std::vector<uint64_t>* numbers = nullptr,
                                                   bool* one_shape = nullptr);

struct SchemaChange {
  std::vector<BatchField> added;     // new nullable fields, in batch order
  std::vector<std::string> widened;  // int columns to widen to double
  bool empty() const { return added.empty() && widened.empty(); }
};

// What the snapshot's schema must gain before the batch can be written. Errors change nothing.
Result<SchemaChange> plan_schema_change(const Snapshot& s, const std::vector<BatchField>& batch);

// Integers for the narrower integer columns a LanceDB schema may have (int32, uint8, ...) must
// fit them: InvalidArgument naming the field, the value and the record otherwise.
// numbers: as for infer_batch_fields.
Status check_int_ranges(const Snapshot& s, const std::vector<Record>& rows,
                        const std::vector<uint64_t>* numbers = nullptr);
// Whether the schema has such columns (int other than int64), i.e. check_int_ranges can fail.
bool has_narrow_int_columns(const Snapshot& s);

}  // namespace persisting::lance
