#include "backend/memory_backend.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>

#include <sys/mman.h>

namespace persisting {

void MemoryBackend::FreeDeleter::operator()(char* p) const {
  if (mapped) {
    ::munmap(p, mapped);
  } else {
    std::free(p);
  }
}

void MemoryBackend::new_chunk(size_t at_least) {
  size_t cap = chunk_caps_.empty() ? kFirstChunk : std::min(chunk_caps_.back() * 2, kMaxChunk);
  cap = std::max(cap, at_least);
  // (Advising huge pages was tried and made puts 2-3x slower here: with THP defrag=madvise
  // each fault compacts memory.)
  FreeDeleter d;
  char* p;
  if (cap >= kPopulateChunk) {
    void* m = ::mmap(nullptr, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (m == MAP_FAILED) throw std::bad_alloc();  // as any container would on exhaustion
    p = static_cast<char*>(m);
    d.mapped = cap;
  } else {
    p = static_cast<char*>(std::malloc(cap));  // not zero-filled: every byte is written before it is read
    if (p == nullptr) throw std::bad_alloc();
  }
  chunks_.emplace_back(p, d);  // shared_ptr with the deleter
  chunk_caps_.push_back(cap);
  chunk_used_ = 0;
}

Result<Offset> MemoryBackend::put_batch(const RecordBatch& batch) {
  const std::string_view data = batch.data();
  const std::vector<uint32_t>& ends = batch.ends();
  Offset first;
  {
    std::unique_lock lock(mu_);
    first = Offset(index_.size());
    // Copies runs of consecutive records that fit in the current chunk with one memcpy each.
    for (size_t i = 0; i < ends.size();) {
      uint32_t begin = i == 0 ? 0 : ends[i - 1];
      size_t room = chunks_.empty() ? 0 : chunk_caps_.back() - chunk_used_;
      size_t j = static_cast<size_t>(std::upper_bound(ends.begin() + i, ends.end(), begin + room) - ends.begin());
      if (j == i) {  // not even the next record fits
        new_chunk(ends[i] - begin);
        continue;
      }
      auto chunk = static_cast<uint32_t>(chunks_.size() - 1);
      std::memcpy(chunks_.back().get() + chunk_used_, data.data() + begin, ends[j - 1] - begin);
      for (size_t k = i; k < j; ++k) {
        uint32_t from = k == 0 ? 0 : ends[k - 1];
        index_.push_back(Loc{chunk, static_cast<uint32_t>(chunk_used_ + (from - begin)), ends[k] - from});
      }
      chunk_used_ += ends[j - 1] - begin;
      i = j;
    }
    bytes_ += batch.byte_size();
    // Append times: the batch's own, or the clock's now (never behind this bucket's latest).
    if (batch.has_times()) {
      times_.insert(times_.end(), batch.times().begin(), batch.times().end());
      last_time_ = std::max(last_time_, batch.max_time());
    } else {
      last_time_ = std::max(last_time_, clock_->wall_ms());
      times_.resize(index_.size(), last_time_);
    }
  }
  notify_appended();
  return first;
}

Result<RecordBatch> MemoryBackend::get(Offset offset, size_t limit) {
  RecordBatch out;
  std::shared_lock lock(mu_);
  uint64_t total = index_.size();
  if (offset.value() >= total) return out;
  size_t n = static_cast<size_t>(std::min<uint64_t>(limit, total - offset.value()));
  const Loc* loc = index_.data() + offset.value();
  size_t bytes = 0;
  for (size_t i = 0; i < n; ++i) bytes += loc[i].len;
  // Records put together sit back to back in one chunk: each such run is copied once, and a
  // read that is a single run is handed out as a view of the chunk (no copy).
  std::vector<uint32_t> sizes;
  for (size_t i = 0, j; i < n; i = j) {
    uint32_t end = loc[i].pos + loc[i].len;
    for (j = i + 1; j < n && loc[j].chunk == loc[i].chunk && loc[j].pos == end;) end += loc[j++].len;
    sizes.clear();
    for (size_t k = i; k < j; ++k) sizes.push_back(loc[k].len);
    std::string_view run(chunks_[loc[i].chunk].get() + loc[i].pos, end - loc[i].pos);
    if (i == 0 && j == n) {
      out = RecordBatch::view_of(chunks_[loc[i].chunk], run, sizes);
      break;
    }
    if (i == 0) out.reserve(n, bytes);
    out.add_encoded_run(run, sizes);
  }
  const auto t = times_.begin() + static_cast<std::ptrdiff_t>(offset.value());
  out.set_times(std::vector<int64_t>(t, t + static_cast<std::ptrdiff_t>(n)));
  return out;
}

Result<Offset> MemoryBackend::offset_for_time(int64_t time_ms) {
  std::shared_lock lock(mu_);
  // Times never go down within a bucket: the first one at or after time_ms, exactly.
  return Offset(static_cast<uint64_t>(std::lower_bound(times_.begin(), times_.end(), time_ms) - times_.begin()));
}

BucketStats MemoryBackend::stats() const {
  std::shared_lock lock(mu_);
  BucketStats s;
  s.backend = "memory";
  s.total_count = index_.size();
  s.extra.set("bytes", static_cast<int64_t>(bytes_));
  return s;
}

uint64_t MemoryBackend::total_count() const {
  std::shared_lock lock(mu_);
  return index_.size();
}

}  // namespace persisting
