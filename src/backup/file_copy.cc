#include "backup/file_copy.h"

#include "core/crc32c.h"
#include "core/status_macros.h"

namespace persisting::backup {

namespace {
constexpr size_t kChunk = 8u << 20;

Status finish(std::unique_ptr<WritableFile> out, SyncBatch* sync) {
  if (sync) return sync->add(std::move(out));
  return out->close();
}
}  // namespace

Status SyncBatch::add(std::unique_ptr<WritableFile> file) {
  if (files_.size() >= kMaxOpen) RETURN_IF_ERROR(sync_all());
  files_.push_back(std::move(file));
  return Status::OK();
}

Status SyncBatch::sync_all() {
  Status first;
  for (auto& f : files_) {
    Status s = f->sync();
    if (s.ok()) s = f->close();
    if (!s.ok() && first.ok()) first = s;
  }
  files_.clear();
  return first;
}

Result<FileSum> copy_file(Env* env, const std::string& from, const std::string& to, SyncBatch* sync) {
  ASSIGN_OR_RETURN(auto in, env->new_random_access_file(from));
  ASSIGN_OR_RETURN(auto out, env->new_writable_file(to, /*truncate=*/true));
  FileSum sum;
  const uint64_t size = in->size();
  std::string buf;
  while (sum.size < size) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(kChunk, size - sum.size));
    RETURN_IF_ERROR(in->read(sum.size, n, &buf));
    if (buf.size() != n)
      return IOError("'" + from + "' is shorter than its " + std::to_string(size) + " bytes (read " +
                     std::to_string(sum.size + buf.size()) + ")");
    sum.crc32c = crc32c_extend(sum.crc32c, buf);
    RETURN_IF_ERROR(out->append(buf));
    // Start writing this chunk to the device now, while the next one is read: the closing
    // sync then has little left to wait for.
    if (sync) RETURN_IF_ERROR(out->start_writeback());
    sum.size += n;
  }
  RETURN_IF_ERROR(finish(std::move(out), sync));
  return sum;
}

Result<FileSum> write_whole_file(Env* env, const std::string& to, std::string_view data, SyncBatch* sync) {
  ASSIGN_OR_RETURN(auto out, env->new_writable_file(to, /*truncate=*/true));
  RETURN_IF_ERROR(out->append(data));
  RETURN_IF_ERROR(finish(std::move(out), sync));
  return FileSum{data.size(), crc32c(data)};
}

Result<FileSum> checksum_file(Env* env, const std::string& path) {
  ASSIGN_OR_RETURN(auto in, env->new_random_access_file(path));
  FileSum sum;
  const uint64_t size = in->size();
  std::string buf;
  while (sum.size < size) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(kChunk, size - sum.size));
    RETURN_IF_ERROR(in->read(sum.size, n, &buf));
    if (buf.empty()) break;
    sum.crc32c = crc32c_extend(sum.crc32c, buf);
    sum.size += buf.size();
  }
  return sum;
}

}  // namespace persisting::backup
