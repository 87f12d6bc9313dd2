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

char* MemoryBackend::reserve(size_t n, uint32_t* chunk, uint32_t* pos) {
  if (chunks_.empty() || chunk_used_ + n > chunk_caps_.back()) {
    size_t cap = chunk_caps_.empty() ? kFirstChunk : std::min(chunk_caps_.back() * 2, kMaxChunk);
    cap = std::max(cap, n);
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
    chunks_.emplace_back(p, d);
    chunk_caps_.push_back(cap);
    chunk_used_ = 0;
  }
  *chunk = static_cast<uint32_t>(chunks_.size() - 1);
  *pos = static_cast<uint32_t>(chunk_used_);
  char* p = chunks_.back().get() + chunk_used_;
  chunk_used_ += n;
  return p;
}

Result<Offset> MemoryBackend::put_batch(const RecordBatch& batch) {
  Offset first;
  {
    std::unique_lock lock(mu_);
    first = Offset(index_.size());
    for (size_t i = 0; i < batch.size(); ++i) {
      std::string_view rec = batch.encoded(i);
      Loc loc;
      char* dst = reserve(rec.size(), &loc.chunk, &loc.pos);
      std::memcpy(dst, rec.data(), rec.size());
      loc.len = static_cast<uint32_t>(rec.size());
      index_.push_back(loc);
    }
    bytes_ += batch.byte_size();
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
  size_t bytes = 0;
  for (size_t i = 0; i < n; ++i) bytes += index_[offset.value() + i].len;
  out.reserve(n, bytes);
  for (size_t i = 0; i < n; ++i) {
    const Loc& loc = index_[offset.value() + i];
    out.add_encoded(std::string_view(chunks_[loc.chunk].get() + loc.pos, loc.len));
  }
  return out;
}

Object MemoryBackend::stats() const {
  std::shared_lock lock(mu_);
  Object o;
  o.set("backend", "memory");
  o.set("total_count", static_cast<int64_t>(index_.size()));
  o.set("bytes", static_cast<int64_t>(bytes_));
  o.set("durable", false);
  return o;
}

uint64_t MemoryBackend::total_count() const {
  std::shared_lock lock(mu_);
  return index_.size();
}

}  // namespace persisting
