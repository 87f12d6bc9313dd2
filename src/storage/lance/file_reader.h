// Reads Lance 2.0 data files (the layout in file_writer.h and docs/lance-format.md §2), whether
// Persisting or LanceDB wrote them. Only the pages that overlap the requested rows are read.
// A 2.1+ file, a legacy (0.2) file or a file without a FileDescriptor is refused.
// A file whose schema metadata holds page checksums (docs/lance-format.md §2.4) has each page's
// buffers checked before they are decoded: a mismatch is Corruption naming the file. Files
// without them (LanceDB's, or Persisting's before them) are read unchecked.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "persisting/env.h"
#include "persisting/status.h"
#include "persisting/value.h"
#include "storage/lance/column_type.h"
#include "storage/lance/proto/file.pb.h"

namespace persisting::lance {

class DataFileReader {
 public:
  // size_hint: the size recorded in the manifest (0 = unknown, ask the file system).
  static Result<std::unique_ptr<DataFileReader>> open(Env* env, const std::string& path, uint64_t size_hint);

  DataFileReader(const DataFileReader&) = delete;
  DataFileReader& operator=(const DataFileReader&) = delete;

  uint64_t num_rows() const { return descriptor_.length(); }
  uint32_t num_columns() const { return static_cast<uint32_t>(columns_.size()); }
  const pb::FileDescriptor& descriptor() const { return descriptor_; }

  // Appends rows [begin, end) of column `column`, read as `type`, to *out.
  Status read_column(uint32_t column, const ColumnType& type, uint64_t begin, uint64_t end,
                     std::vector<Value>* out) const;

  // The names of the top-level ArrayEncodings of a column's pages ("nullable/flat",
  // "dictionary", ...): for tools and tests that check which encodings a writer used.
  std::vector<std::string> page_encoding_names(uint32_t column) const;

 private:
  DataFileReader() = default;

  std::string path_;
  std::unique_ptr<RandomAccessFile> file_;
  pb::FileDescriptor descriptor_;
  std::vector<pb::ColumnMetadata> columns_;
  // CRC32C of each page's buffers, per column; empty when the file has none.
  std::vector<std::vector<uint32_t>> page_crcs_;
};

}  // namespace persisting::lance
