// TailCache: recently flushed records kept readable in memory, under one memory budget for the
// whole process or node (not per bucket), as the memory backend serves them: a read hands out a
// view of the bytes (RecordBatch::view_of), no Lance decode. When the budget is exceeded the
// oldest blocks, of whichever bucket, are dropped first; reads of those records go to Lance again.
// So 10,000 quiet buckets share the budget instead of holding a tail each.
//
//   TailCache cache(64 << 20);
//   auto block = cache.keep(first_offset, records);   // null when the budget is 0 or too small
//   if (auto r = block->records()) ...                // null once evicted
//   cache.drop(*block);                               // the owner lets go (bucket closed)
//
// Thread-safe. A Block is owned by its bucket (shared_ptr) and linked into the cache's age
// order; the owner drops it before it goes away.
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <vector>

#include "persisting/codec.h"

namespace persisting {

class TailCache {
 public:
  // One run of a bucket's records: offsets [first(), first() + count()).
  class Block {
   public:
    // A block its owner lets go of without drop() leaves the cache here.
    ~Block();
    uint64_t first() const { return first_; }
    uint64_t count() const { return count_; }
    // The records, or null once the cache has evicted them (or the owner dropped them).
    std::shared_ptr<const RecordBatch> records() const {
      std::lock_guard<std::mutex> l(mu_);
      return records_;
    }

   private:
    friend class TailCache;
    uint64_t first_ = 0, count_ = 0;
    uint64_t charge_ = 0;  // bytes counted against the budget
    mutable std::mutex mu_;
    std::shared_ptr<const RecordBatch> records_;
    // The cache's mutex: where the block sits in age order, while it is linked.
    std::list<Block*>::iterator pos_;
    bool linked_ = false;
    // The cache while the block is linked in it; null once unlinked (evicted, dropped, or the
    // cache destroyed), so a block may outlive its cache.
    std::atomic<TailCache*> cache_{nullptr};
  };

  // budget_bytes: what every kept block together may cost (record bytes, their index and a
  // fixed overhead per block); 0 keeps nothing.
  explicit TailCache(uint64_t budget_bytes);
  ~TailCache();
  TailCache(const TailCache&) = delete;
  TailCache& operator=(const TailCache&) = delete;

  // The process-wide cache backends use when given none (BackendContext::tail_cache): a budget
  // of an eighth of physical memory, at most kDefaultBudget. Never destroyed.
  static TailCache* Default();
  static constexpr uint64_t kDefaultBudget = 1ull << 30;

  // Keeps records (the bucket's offsets from first on), newest of all, evicting the oldest blocks
  // until the budget holds. Null when the records alone exceed the budget.
  std::shared_ptr<Block> keep(uint64_t first, std::shared_ptr<const RecordBatch> records);
  // The owner lets go of a block: its memory leaves the budget now. Idempotent.
  void drop(Block& block);
  // Changes the budget (evicting at once if it shrinks).
  void set_budget(uint64_t bytes);

  uint64_t budget() const;
  uint64_t bytes() const;      // charged by the blocks kept now
  uint64_t blocks() const;     // kept now
  uint64_t evictions() const;  // blocks evicted for the budget, ever

  // What a block of these records costs against the budget.
  static uint64_t charge_of(const RecordBatch& records);

 private:
  // mu_ held. Unlinks the block and hands back its records, to be freed after mu_ is let go.
  std::shared_ptr<const RecordBatch> unlink(Block& block);
  // mu_ held. Evicts the oldest blocks until at most bytes are charged.
  void evict_to(uint64_t bytes, std::vector<std::shared_ptr<const RecordBatch>>* freed);

  mutable std::mutex mu_;
  uint64_t budget_;
  uint64_t bytes_ = 0;
  uint64_t evictions_ = 0;
  std::list<Block*> age_;  // oldest first
};

}  // namespace persisting
