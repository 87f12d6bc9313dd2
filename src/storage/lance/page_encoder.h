// Encodes the values of one column for one page into Lance 2.0 page buffers and the
// lance.encodings.ArrayEncoding that describes them (docs/lance-format.md §2.3):
//   fixed width / bool : nullable{no_nulls|some_nulls|all_nulls} over flat
//   string/binary/json : binary{indices flat64, bytes flat8, null_adjustment}
//   float32 vectors    : nullable{... fixed_size_list{d, items nullable{... flat32}}}
#pragma once

#include <string>
#include <vector>

#include "persisting/status.h"
#include "persisting/value.h"
#include "storage/lance/buffer_compression.h"
#include "storage/lance/column_type.h"
#include "storage/lance/proto/encodings.pb.h"

namespace persisting::lance {

struct EncodedPage {
  std::vector<std::string> buffers;   // in buffer_index order
  pb::ArrayEncoding encoding;
  uint64_t rows = 0;
};

// values[i] == nullptr or a null Value means a null row. Every non-null value must already be
// valid for `type` (the dataset checks this before writing anything); a value that is not is
// reported as InvalidArgument naming `field`.
// With `compression`, the value buffers (fixed-width values, vector items, string bytes) are
// compressed and their Flat says so; validity bitmaps and string offsets never are.
Result<EncodedPage> encode_page(const std::vector<const Value*>& values, const ColumnType& type,
                                const std::string& field,
                                BufferCompression compression = BufferCompression::kNone);

// Bytes a value adds to a page (used to cut pages at a size budget).
uint64_t encoded_size_estimate(const Value* v, const ColumnType& type);

}  // namespace persisting::lance
