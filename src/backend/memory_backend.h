// The `memory` backend: records live in this process's RAM only and are gone when it exits.
// It is the library default (as in the seed) and the backend tests reach for first.
// Options: none (any key is an error).
#pragma once

#include <memory>
#include <shared_mutex>
#include <vector>

#include "persisting/backend.h"

namespace persisting {

class MemoryBackend final : public StorageBackend {
 public:
  // clock stamps the records' append times (null: Scheduler::Default()).
  explicit MemoryBackend(const Scheduler* clock = nullptr) : clock_(clock ? clock : Scheduler::Default()) {}

  std::string name() const override { return "memory"; }
  Result<Offset> put_batch(const RecordBatch& batch) override;
  Result<RecordBatch> get(Offset offset, size_t limit) override;
  Result<Offset> offset_for_time(int64_t time_ms) override;
  Status flush() override { return Status::OK(); }
  BucketStats stats() const override;
  uint64_t total_count() const override;
  bool durable() const override { return false; }
  bool end_moves_only_by_puts() const override { return true; }  // nothing outside this process

 private:
  // Encoded records are packed into large chunks; index_ locates each record.
  struct Loc {
    uint32_t chunk;
    uint32_t pos;
    uint32_t len;
  };
  // Chunks grow from 64 KiB (cheap for quiet buckets) to 8 MiB.
  static constexpr size_t kFirstChunk = 64 << 10;
  static constexpr size_t kMaxChunk = 8 << 20;
  // Chunks of at least kPopulateChunk bytes are mapped with their pages populated up front:
  // one kernel call instead of a page fault every 4 KiB inside put_batch's copy (faults were
  // ~13% of a 256 B memory bench, taken with the bucket's lock held).
  static constexpr size_t kPopulateChunk = 1 << 20;
  struct FreeDeleter {
    size_t mapped = 0;  // 0: malloc'd; otherwise the mapping's length
    void operator()(char* p) const;
  };

  // Starts a chunk of at least at_least bytes (the next size in the growth sequence if larger).
  void new_chunk(size_t at_least);

  mutable std::shared_mutex mu_;
  // Shared: a read hands out views of a chunk (RecordBatch::view_of) that keep it alive. Bytes
  // below chunk_used_ are never written again, so a view needs no lock.
  std::vector<std::shared_ptr<char>> chunks_;
  std::vector<size_t> chunk_caps_;
  size_t chunk_used_ = 0;
  std::vector<Loc> index_;
  std::vector<int64_t> times_;  // append time of each record (ms since the epoch)
  const Scheduler* clock_;
  int64_t last_time_ = 0;
  uint64_t bytes_ = 0;
};

}  // namespace persisting
