// Writes one Lance 2.0 data file (docs/lance-format.md §2). Layout, in write order:
//
//   page buffers (each starts on a 64-byte boundary, zero padded)
//   global buffer 0 = FileDescriptor{schema of the file's fields (its metadata holds a CRC32C
//                     per page, docs/lance-format.md §2.4), row count}
//   ColumnMetadata of column 0 .. C-1 (back to back)
//   column metadata offset table: C x {u64 position, u64 size}
//   global buffer offset table:   1 x {u64 position, u64 size}
//   footer (40 bytes): u64 column_meta_start, u64 cmo_table_start, u64 gbo_table_start,
//                      u32 num_global_buffers (1), u32 num_columns, u16 0, u16 3, "LANC"
//
// One field = one column (Persisting writes no struct/list columns). A column is cut into
// pages of at most about `max_page_bytes`; rows are never split across pages.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "persisting/env.h"
#include "persisting/status.h"
#include "persisting/value.h"
#include "storage/lance/buffer_compression.h"
#include "storage/lance/column_type.h"
#include "storage/lance/page_encoder.h"
#include "storage/lance/proto/file.pb.h"

namespace persisting::lance {

struct FileColumn {
  pb::Field field;                       // name, id, logical type (goes into the FileDescriptor)
  ColumnType type;
  std::vector<Cell> values;              // one per row (a null cell is a null row)
};

struct FileWriteOptions {
  uint64_t max_page_bytes = 8 << 20;     // LanceDB cuts pages at about 8 MiB per column
  BufferCompression compression = BufferCompression::kNone;  // value buffers only (page_encoder.h)
  bool sync = true;                      // fdatasync the file before returning
  bool unbuffered = true;                // past the page cache where possible (Env::new_unbuffered_file)
  bool page_checksums = true;            // a CRC32C per page in the schema metadata (false: as before them)
};

// Writes the file at `path` (which must not exist yet), syncs it (options.sync) and closes it.
// Returns the file's size in bytes. On error the partial file is removed.
Result<uint64_t> write_data_file(Env* env, const std::string& path, const std::vector<FileColumn>& columns,
                                 uint64_t num_rows, const FileWriteOptions& options);

}  // namespace persisting::lance
