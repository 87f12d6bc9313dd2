// Decodes one Lance 2.0 page (its buffers + lance.encodings.ArrayEncoding) into Values.
// Understood: flat (1/8/16/32/64 bits), nullable (no/some/all nulls), binary (with
// null_adjustment), fixed_size_list and dictionary (1-based indices, 0 = null, as LanceDB
// writes for low-cardinality utf8 pages), and flat buffers compressed with zstd or lz4
// (buffer_compression.h). Anything else is refused with NotSupported; inconsistent sizes are
// Corruption. `where` prefixes every message.
#pragma once

#include <string>
#include <vector>

#include "persisting/status.h"
#include "persisting/value.h"
#include "storage/lance/column_type.h"
#include "storage/lance/proto/encodings.pb.h"

namespace persisting::lance {

// Appends rows [begin, end) of the page (rows rows, buffers as stored) to *out as Values of `type`.
Status decode_page(const pb::ArrayEncoding& encoding, const std::vector<std::string>& buffers,
                   uint64_t rows, const ColumnType& type, uint64_t begin, uint64_t end,
                   const std::string& where, std::vector<Value>* out);

}  // namespace persisting::lance
