// Reads rows [offset, offset+limit) of one snapshot as Records, without scanning from the start:
// the fragment holding `offset` is found from the per-fragment row counts, and inside each data
// file only the overlapping pages are read. A field a fragment does not store reads as null.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "persisting/env.h"
#include "persisting/status.h"
#include "persisting/value.h"
#include "storage/lance/deletion_file.h"
#include "storage/lance/file_reader.h"
#include "storage/lance/snapshot.h"

namespace persisting::lance {

// Open data files by path. Data files are immutable and uniquely named, so an entry never goes
// stale. read_rows() keeps it to a bounded number of open files.
using FileReaderCache = std::unordered_map<std::string, std::unique_ptr<DataFileReader>>;

// `columns`: the projected field names in output order (all schema fields when empty).
// An unknown name is InvalidArgument; a projected field of an unsupported type is NotSupported.
// Every projected field is present in every record (null where the data has none).
// Rows LanceDB deleted are left out, unless with_deleted: then every row of the range is
// returned (a deleted row's data stays in its file) and deleted_offsets() says which are deleted.
Result<std::vector<Record>> read_rows(Env* env, const Snapshot& s, uint64_t offset, uint64_t limit,
                                      const std::vector<std::string>& columns, FileReaderCache* cache,
                                      DeletionCache* deletions, bool with_deleted = false);

// The offsets in [offset, offset + limit) of rows LanceDB deleted, ascending.
Result<std::vector<uint64_t>> deleted_offsets(Env* env, const Snapshot& s, uint64_t offset, uint64_t limit,
                                              DeletionCache* deletions);

// Reads rows [begin, end) of one fragment's field as Values (nulls if the fragment lacks it).
Status read_fragment_field(Env* env, const Snapshot& s, const pb::DataFragment& frag, const SchemaField& field,
                           uint64_t begin, uint64_t end, FileReaderCache* cache, std::vector<Value>* out);

}  // namespace persisting::lance
