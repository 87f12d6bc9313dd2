// Deletion files: the rows of a fragment that LanceDB deleted (docs/lance-format.md §10).
// A fragment's DeletionFile names _deletions/{fragment_id}-{read_version}-{id}.{arrow|bin}:
//   ARROW_ARRAY (0, ".arrow"): an Arrow IPC file with one UInt32 column of row positions
//                              (arrow_ipc.h; LanceDB writes it for fewer than 5000 rows),
//   BITMAP      (1, ".bin"):   a portable 32-bit Roaring bitmap of them (roaring.h).
// Positions are within the fragment (0 .. physical_rows - 1). Persisting never writes one; it
// reads them so a deleted row is a gap in the offsets, and carries them over when it appends.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "persisting/env.h"
#include "persisting/status.h"
#include "storage/lance/proto/table.pb.h"

namespace persisting::lance {

inline constexpr std::string_view kDeletionsDir = "_deletions";
inline constexpr int32_t kDeletionArrowArray = 0;
inline constexpr int32_t kDeletionBitmap = 1;

// Sorted, distinct row positions within one fragment.
using DeletedRows = std::vector<uint32_t>;

// <dataset>/_deletions/{fragment_id}-{read_version}-{id}.{arrow|bin}
std::string deletion_file_path(const std::string& dataset, const pb::DataFragment& fragment);

// Parses a deletion file's bytes: positions checked below physical_rows, sorted and distinct, and
// as many as the manifest's num_deleted_rows says (when it says). Corruption naming `path`.
Result<DeletedRows> parse_deletion_file(int32_t file_type, std::string_view bytes, uint64_t physical_rows,
                                        uint64_t num_deleted_rows, const std::string& path);

// Deletion files read, by path. They are immutable and uniquely named, so an entry never goes
// stale; the owner bounds the size.
using DeletionCache = std::unordered_map<std::string, std::shared_ptr<const DeletedRows>>;

// The deleted rows of `fragment` (physical_rows rows), from cache or read through env; an empty
// set when the fragment has no deletion file.
Result<std::shared_ptr<const DeletedRows>> read_deleted_rows(Env* env, const std::string& dataset,
                                                             const pb::DataFragment& fragment,
                                                             uint64_t physical_rows, DeletionCache* cache);

}  // namespace persisting::lance
