#include "storage/lance/deletion_file.h"

#include <algorithm>

#include "core/status_macros.h"
#include "storage/lance/arrow_ipc.h"
#include "storage/lance/roaring.h"

namespace persisting::lance {

std::string deletion_file_path(const std::string& dataset, const pb::DataFragment& fragment) {
  const pb::DeletionFile& f = fragment.deletion_file();
  const char* suffix = f.file_type() == kDeletionBitmap ? ".bin" : ".arrow";
  return join_path(join_path(dataset, kDeletionsDir), std::to_string(fragment.id()) + "-" +
                                                          std::to_string(f.read_version()) + "-" +
                                                          std::to_string(f.id()) + suffix);
}

Result<DeletedRows> parse_deletion_file(int32_t file_type, std::string_view bytes, uint64_t physical_rows,
                                        uint64_t num_deleted_rows, const std::string& path) {
  DeletedRows rows;
  if (file_type == kDeletionArrowArray) {
    ASSIGN_OR_RETURN(rows, read_arrow_uint32_column(bytes, physical_rows, path));
    std::sort(rows.begin(), rows.end());  // LanceDB writes them in hash-set order
    if (std::adjacent_find(rows.begin(), rows.end()) != rows.end()) {
      return Corruption("Lance deletion file '" + path + "': a row is listed twice");
    }
  } else if (file_type == kDeletionBitmap) {
    ASSIGN_OR_RETURN(rows, read_portable_roaring(bytes, physical_rows, path));  // ascending already
  } else {
    return NotSupported("Lance deletion file '" + path + "': unknown file type " + std::to_string(file_type));
  }
  if (!rows.empty() && rows.back() >= physical_rows) {
    return Corruption("Lance deletion file '" + path + "': deletes row " + std::to_string(rows.back()) +
                      " of a fragment of " + std::to_string(physical_rows) + " rows");
  }
  if (num_deleted_rows != 0 && num_deleted_rows != rows.size()) {
    return Corruption("Lance deletion file '" + path + "': holds " + std::to_string(rows.size()) +
                      " rows; the manifest says " + std::to_string(num_deleted_rows));
  }
  return rows;
}

Result<std::shared_ptr<const DeletedRows>> read_deleted_rows(Env* env, const std::string& dataset,
                                                             const pb::DataFragment& fragment,
                                                             uint64_t physical_rows, DeletionCache* cache) {
  static const auto kNone = std::make_shared<const DeletedRows>();
  if (!fragment.has_deletion_file()) return kNone;
  const std::string path = deletion_file_path(dataset, fragment);
  auto& entry = (*cache)[path];
  if (!entry) {
    auto bytes = env->read_file(path);
    if (!bytes.ok()) {
      cache->erase(path);
      return bytes.status().with_context("Lance fragment " + std::to_string(fragment.id()) + " deletion file");
    }
    auto rows = parse_deletion_file(fragment.deletion_file().file_type(), *bytes, physical_rows,
                                    fragment.deletion_file().num_deleted_rows(), path);
    if (!rows.ok()) {
      cache->erase(path);
      return rows.status();
    }
    entry = std::make_shared<const DeletedRows>(std::move(rows).value());
  }
  return entry;
}

}  // namespace persisting::lance
