#include "storage/wal/segment_writer.h"

#include "core/status_macros.h"
#include "storage/wal/wal_format.h"

namespace persisting::wal {
namespace {

// Appends bytes, syncs and closes f; the first error wins.
Status write_synced(WritableFile* f, std::string_view bytes) {
  Status s = f->append(bytes);
  if (s.ok()) s = f->sync();
  Status c = f->close();
  return s.ok() ? c : s;
}

}  // namespace

Result<std::unique_ptr<SegmentWriter>> SegmentWriter::create(Env* env, const std::string& dir, Offset first,
                                                             std::string_view initial) {
  const std::string path = join_path(dir, segment_file_name(first));
  const std::string tmp = path + std::string(kTempSuffix);
  {
    ASSIGN_OR_RETURN(auto f, env->new_writable_file(tmp, /*truncate=*/true));
    std::string bytes = encode_segment_header(first);
    bytes.append(initial);
    if (Status s = write_synced(f.get(), bytes); !s.ok()) {
      (void)env->remove_file(tmp);  // best effort; recovery removes leftovers too
      return s;
    }
  }
  RETURN_IF_ERROR(env->rename_file(tmp, path));
  RETURN_IF_ERROR(env->sync_dir(dir));
  return reopen(env, path, first, kSegmentHeaderSize + initial.size());
}

Result<std::unique_ptr<SegmentWriter>> SegmentWriter::recycle(Env* env, const std::string& dir,
                                                              const std::string& spare, Offset first) {
  const std::string path = join_path(dir, segment_file_name(first));
  {
    ASSIGN_OR_RETURN(auto f, env->reuse_writable_file(spare, 0));
    RETURN_IF_ERROR(write_synced(f.get(), encode_segment_header(first, kSegmentFlagRecycled)));
  }
  RETURN_IF_ERROR(env->rename_file(spare, path));
  RETURN_IF_ERROR(env->sync_dir(dir));
  ASSIGN_OR_RETURN(auto f, env->reuse_writable_file(path, kSegmentHeaderSize));
  std::unique_ptr<SegmentWriter> seg(new SegmentWriter(std::move(f), path, first));
  seg->old_bytes_ = true;
  return seg;
}

Status SegmentWriter::create_fence(Env* env, const std::string& dir, Offset first) {
  // No bytes: writing may be what fails. The name alone caps the segment before it.
  const std::string path = join_path(dir, segment_file_name(first));
  ASSIGN_OR_RETURN(auto f, env->new_writable_file(path, /*truncate=*/true));
  return f->close();
}

Result<std::unique_ptr<SegmentWriter>> SegmentWriter::reopen(Env* env, const std::string& path, Offset first,
                                                             uint64_t end) {
  ASSIGN_OR_RETURN(auto f, env->new_writable_file(path, /*truncate=*/false));
  bool old_bytes = false;
  if (f->size() > end) {
    // Old frames of a recycled file follow: write over them, or cut them off if we cannot.
    auto reused = env->reuse_writable_file(path, end);
    if (reused.ok()) {
      RETURN_IF_ERROR(f->close());
      f = std::move(reused).value();
      old_bytes = true;
    } else if (reused.status().code() == Code::kNotSupported) {
      RETURN_IF_ERROR(f->truncate(end));
      RETURN_IF_ERROR(f->sync());
    } else {
      return reused.status();
    }
  }
  std::unique_ptr<SegmentWriter> seg(new SegmentWriter(std::move(f), path, first));
  seg->old_bytes_ = old_bytes;
  return seg;
}

}  // namespace persisting::wal
