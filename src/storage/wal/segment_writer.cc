#include "storage/wal/segment_writer.h"

#include <algorithm>

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

// Writes zeros over bytes [from, to) of f, without moving its append position.
Status write_zeros(WritableFile* f, uint64_t from, uint64_t to) {
  static const std::string zeros(256 << 10, '\0');
  while (from < to) {
    const uint64_t n = std::min<uint64_t>(to - from, zeros.size());
    RETURN_IF_ERROR(f->write_at(from, std::string_view(zeros.data(), n)));
    from += n;
  }
  return Status::OK();
}

// Where the next chunk of zeros after byte `from` ends (<= from: none, the limit is reached).
uint64_t zeros_end(const Prefill& p, uint64_t from) { return std::min(from + p.chunk, p.limit); }

}  // namespace

Result<std::unique_ptr<SegmentWriter>> SegmentWriter::create(Env* env, const std::string& dir, Offset first,
                                                             std::string_view initial, const Prefill& prefill) {
  const std::string path = join_path(dir, segment_file_name(first));
  const std::string tmp = path + std::string(kTempSuffix);
  bool zero = false;        // the file is zero-filled (its header says so)
  bool extending = false;   // and the first chunk of zeros is in place
  uint64_t written = 0;     // header and initial frames
  uint64_t end = 0;         // where the file ends
  {
    ASSIGN_OR_RETURN(auto f, env->new_writable_file(tmp, /*truncate=*/true));
    if (prefill.chunk > 0) {
      // Zeros are written ahead of the append position, which only a file reused in place allows.
      auto reused = env->reuse_writable_file(tmp, 0);
      if (reused.ok()) {
        (void)f->close();  // nothing written through it
        f = std::move(reused).value();
        zero = true;
      } else if (reused.status().code() != Code::kNotSupported) {
        (void)env->remove_file(tmp);
        return reused.status();
      }
    }
    std::string bytes = encode_segment_header(first, zero ? kSegmentFlagRecycled : 0);
    bytes.append(initial);
    written = end = bytes.size();
    Status s = f->append(bytes);
    if (s.ok() && zero) {
      // The first chunk goes in with the header, so the sync below allocates it and sets the size.
      const uint64_t to = zeros_end(prefill, written);
      Status z = to > written ? write_zeros(f.get(), written, to) : Status::OK();
      if (prefill.on_extend && to > written) prefill.on_extend(z);
      extending = z.ok();
      if (z.ok()) end = std::max(end, to);
    }
    if (s.ok()) s = f->sync();
    Status c = f->close();
    if (s.ok()) s = c;
    if (!s.ok()) {
      (void)env->remove_file(tmp);  // best effort; recovery removes leftovers too
      return s;
    }
  }
  RETURN_IF_ERROR(env->rename_file(tmp, path));
  RETURN_IF_ERROR(env->sync_dir(dir));
  if (!zero) return reopen(env, path, first, written);
  ASSIGN_OR_RETURN(auto f, env->reuse_writable_file(path, written));
  std::unique_ptr<SegmentWriter> seg(new SegmentWriter(std::move(f), path, first));
  seg->old_bytes_ = true;  // zeros (some, maybe, after a failed extension)
  seg->end_ = end;
  if (extending) seg->start_prefill(prefill, end);
  return seg;
}

Result<std::unique_ptr<SegmentWriter>> SegmentWriter::recycle(Env* env, const std::string& dir,
                                                              const std::string& spare, Offset first,
                                                              const Prefill& prefill) {
  const std::string path = join_path(dir, segment_file_name(first));
  uint64_t end = 0;
  {
    ASSIGN_OR_RETURN(auto f, env->reuse_writable_file(spare, 0));
    ASSIGN_OR_RETURN(end, env->file_size(spare));
    RETURN_IF_ERROR(write_synced(f.get(), encode_segment_header(first, kSegmentFlagRecycled)));
  }
  RETURN_IF_ERROR(env->rename_file(spare, path));
  RETURN_IF_ERROR(env->sync_dir(dir));
  ASSIGN_OR_RETURN(auto f, env->reuse_writable_file(path, kSegmentHeaderSize));
  std::unique_ptr<SegmentWriter> seg(new SegmentWriter(std::move(f), path, first));
  seg->old_bytes_ = true;
  seg->end_ = std::max<uint64_t>(end, kSegmentHeaderSize);
  seg->start_prefill(prefill, seg->end_);
  return seg;
}

Status SegmentWriter::create_fence(Env* env, const std::string& dir, Offset first) {
  // No bytes: writing may be what fails. The name alone caps the segment before it.
  const std::string path = join_path(dir, segment_file_name(first));
  ASSIGN_OR_RETURN(auto f, env->new_writable_file(path, /*truncate=*/true));
  return f->close();
}

Result<std::unique_ptr<SegmentWriter>> SegmentWriter::reopen(Env* env, const std::string& path, Offset first,
                                                             uint64_t end, bool flagged, const Prefill& prefill) {
  ASSIGN_OR_RETURN(auto f, env->new_writable_file(path, /*truncate=*/false));
  if (f->size() > end) {
    // Recovery judged the bytes after the records (old frames of a recycled file, zeros, a frame
    // whose first bytes never landed) not to continue the log, from where the records end and the
    // offset that comes next. An append moves both: what it left of those bytes after its frame
    // would be judged afresh, and could then read as a torn frame of the log. Cut them off, so
    // that only zeros written from here on follow the records.
    RETURN_IF_ERROR(f->truncate(end));
    RETURN_IF_ERROR(f->sync());
  }
  if (!flagged || prefill.chunk == 0) {
    return std::unique_ptr<SegmentWriter>(new SegmentWriter(std::move(f), path, first));
  }
  // Zeros are written ahead of the append position, which only a file reused in place allows.
  auto reused = env->reuse_writable_file(path, end);
  if (!reused.ok()) {
    if (reused.status().code() != Code::kNotSupported) return reused.status();
    return std::unique_ptr<SegmentWriter>(new SegmentWriter(std::move(f), path, first));
  }
  RETURN_IF_ERROR(f->close());
  std::unique_ptr<SegmentWriter> seg(new SegmentWriter(std::move(reused).value(), path, first));
  seg->start_prefill(prefill, end);
  return seg;
}

void SegmentWriter::start_prefill(const Prefill& prefill, uint64_t end) {
  if (prefill.chunk == 0) return;
  prefill_ = prefill;
  end_ = end;
  old_bytes_ = true;
  extend();
}

void SegmentWriter::extend() {
  if (prefill_.chunk == 0) return;
  const uint64_t pos = size();
  if (end_ > pos && end_ - pos >= prefill_.chunk / 2) return;
  const uint64_t from = std::max(end_, pos);
  const uint64_t to = zeros_end(prefill_, from);
  if (to <= from) return;  // the segment's limit is reached
  Status s = write_zeros(file_.get(), from, to);
  if (s.ok()) {
    end_ = to;
  } else {
    prefill_.chunk = 0;  // not again in this segment: the appends grow the file themselves
  }
  if (prefill_.on_extend) prefill_.on_extend(s);
}

Status SegmentWriter::append(std::string_view bytes) {
  RETURN_IF_ERROR(file_->append(bytes));
  end_ = std::max(end_, size());
  extend();
  return Status::OK();
}

Status SegmentWriter::truncate(uint64_t size) {
  RETURN_IF_ERROR(file_->truncate(size));
  end_ = size;
  return Status::OK();
}

}  // namespace persisting::wal
