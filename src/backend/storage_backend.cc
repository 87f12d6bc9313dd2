#include "persisting/backend.h"

#include <algorithm>

#include "core/status_macros.h"

namespace persisting {

Result<Offset> StorageBackend::put(const Record& record) {
  RecordBatch batch;
  batch.add(record);
  return put_batch(batch);
}

void StorageBackend::put_batch_async(RecordBatch batch, std::function<void(Result<Offset>)> done) {
  done(put_batch(batch));
}

Status StorageBackend::check_batch(const RecordBatch&, const std::vector<uint64_t>&) { return Status::OK(); }

Result<RecordBatch> StorageBackend::get_wait(Offset offset, size_t limit,
                                             std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock<std::mutex> lock(wait_mu_);
  // Counted before the end is read: a put that moves the end after this read sees the count
  // (notify_appended's fence pairs with this one) and wakes the wait.
  get_waiters_.fetch_add(1);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  struct Uncount {
    std::atomic<int>& n;
    ~Uncount() { n.fetch_sub(1); }
  } uncount{get_waiters_};
  for (;;) {
    // total_count() is read under wait_mu_ with this wait counted, and notify_appended() takes
    // wait_mu_ after the append when it sees a count: a put between this check and the wait
    // cannot be missed.
    if (total_count() > offset.value() || limit == 0) {
      lock.unlock();
      return get(offset, limit);
    }
    if (wait_cv_.wait_until(lock, deadline) == std::cv_status::timeout &&
        total_count() <= offset.value())
      return RecordBatch();
  }
}

Result<Offset> StorageBackend::offset_for_time(int64_t time_ms) {
  uint64_t off = first_offset();
  for (;;) {
    ASSIGN_OR_RETURN(RecordBatch b, get(Offset(off), 4096));
    if (b.empty()) return Offset(std::max(off, total_count()));
    for (size_t i = 0; i < b.size(); ++i) {
      if (b.encoded(i).empty()) continue;  // a gap
      if (b.time(i) == 0 || b.time(i) >= time_ms) return Offset(off + i);
    }
    off += b.size();
  }
}

void StorageBackend::notify_appended() {
  // Nobody in get_wait(): no lock. A put spread over many buckets calls this once per part, and
  // each bucket's wait_mu_ is a cache line of its own.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (get_waiters_.load(std::memory_order_relaxed) == 0) return;
  { std::lock_guard<std::mutex> lock(wait_mu_); }
  wait_cv_.notify_all();
}

}  // namespace persisting
