// Encodes the values of one column for one page into Lance 2.0 page buffers and the
// lance.encodings.ArrayEncoding that describes them (docs/lance-format.md §2.3):
//   fixed width / bool : nullable{no_nulls|some_nulls|all_nulls} over flat
//   string/binary/json : binary{indices flat64, bytes flat8, null_adjustment}
//   float32 vectors    : nullable{... fixed_size_list{d, items nullable{... flat32}}}
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "persisting/codec.h"
#include "persisting/status.h"
#include "persisting/value.h"
#include "storage/lance/buffer_compression.h"
#include "storage/lance/column_type.h"
#include "storage/lance/proto/encodings.pb.h"

namespace persisting::lance {

// One value of a column as the page encoder reads it: a view of a decoded Value or of a value
// inside an encoded record (scan_fields), so a flush of encoded records need not decode them.
// Views must outlive the encoding. A flush holds a cell per row and field, so members no type
// uses together share storage: read only those of the cell's type.
struct Cell {
  Cell() {}  // (GCC deletes the implicit one: a union below holds string_views)

  Value::Type type = Value::Type::kNull;
  union {
    bool b;         // kBool
    int64_t i = 0;  // kInt
    double d;       // kDouble
  };
  union {
    std::string_view bytes{};  // kString, kBytes: the contents; kVector: dim x float32 LE
    std::string_view encoded;  // kList, kObject of an encoded record: the value's encoding
  };
  union {
    uint64_t dim = 0;     // kVector
    const Value* nested;  // kList, kObject: the decoded value, or null for an encoded one
  };

  static Cell of(const Value* v);          // nullptr or a null Value: a null cell
  static Cell of(const FieldShape& f);
  bool present() const { return type != Value::Type::kNull; }
};
static_assert(sizeof(Cell) <= 40, "a flush holds one Cell per row and field");

struct EncodedPage {
  std::vector<std::string> buffers;   // in buffer_index order
  pb::ArrayEncoding encoding;
  uint64_t rows = 0;
};

// A null cell is a null row. Every non-null value must already be valid for `type` (the dataset
// checks this before writing anything); a value that is not is reported as InvalidArgument
// naming `field`.
// With `compression`, the value buffers (fixed-width values, vector items, string bytes) are
// compressed and their Flat says so; validity bitmaps and string offsets never are.
Result<EncodedPage> encode_page(std::span<const Cell> cells, const ColumnType& type, const std::string& field,
                                BufferCompression compression = BufferCompression::kNone);
// The same over Values (nullptr or a null Value: a null row).
Result<EncodedPage> encode_page(const std::vector<const Value*>& values, const ColumnType& type,
                                const std::string& field,
                                BufferCompression compression = BufferCompression::kNone);

// Bytes a value adds to a page (used to cut pages at a size budget).
uint64_t encoded_size_estimate(const Cell& c, const ColumnType& type);

}  // namespace persisting::lance
