#include "persisting/tail_cache.h"

#include <algorithm>
#include <vector>

#include <unistd.h>

namespace persisting {
namespace {

// A block's bookkeeping besides its bytes: the Block, its shared_ptr control blocks, the list
// node and the RecordBatch object, rounded up.
constexpr uint64_t kBlockOverhead = 256;

}  // namespace

TailCache::Block::~Block() {
  if (TailCache* cache = cache_.load()) cache->drop(*this);
}

TailCache::TailCache(uint64_t budget_bytes) : budget_(budget_bytes) {}

TailCache::~TailCache() {
  std::vector<std::shared_ptr<const RecordBatch>> freed;
  std::lock_guard<std::mutex> l(mu_);
  evict_to(0, &freed);
}

TailCache* TailCache::Default() {
  static TailCache* cache = [] {
    uint64_t budget = kDefaultBudget;
    long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0) budget = std::min<uint64_t>(budget, static_cast<uint64_t>(pages) * page / 8);
    return new TailCache(budget);
  }();
  return cache;
}

uint64_t TailCache::charge_of(const RecordBatch& records) {
  return records.byte_size() + records.size() * sizeof(uint32_t) + kBlockOverhead;
}

std::shared_ptr<TailCache::Block> TailCache::keep(uint64_t first, std::shared_ptr<const RecordBatch> records) {
  if (!records || records->empty()) return nullptr;
  const uint64_t charge = charge_of(*records);
  std::vector<std::shared_ptr<const RecordBatch>> freed;  // freed after the lock is let go
  std::lock_guard<std::mutex> l(mu_);
  if (charge > budget_) return nullptr;
  evict_to(budget_ - charge, &freed);
  auto block = std::make_shared<Block>();
  block->first_ = first;
  block->count_ = records->size();
  block->charge_ = charge;
  block->records_ = std::move(records);  // not shared yet: no lock needed
  block->pos_ = age_.insert(age_.end(), block.get());
  block->linked_ = true;
  block->cache_.store(this);
  bytes_ += charge;
  return block;
}

std::shared_ptr<const RecordBatch> TailCache::unlink(Block& block) {
  if (!block.linked_) return nullptr;
  age_.erase(block.pos_);
  block.linked_ = false;
  block.cache_.store(nullptr);
  bytes_ -= block.charge_;
  std::lock_guard<std::mutex> bl(block.mu_);
  return std::move(block.records_);  // readers holding views of it keep the bytes alive
}

void TailCache::evict_to(uint64_t bytes, std::vector<std::shared_ptr<const RecordBatch>>* freed) {
  while (bytes_ > bytes && !age_.empty()) {
    freed->push_back(unlink(*age_.front()));
    ++evictions_;
  }
}

void TailCache::drop(Block& block) {
  std::shared_ptr<const RecordBatch> freed;  // declared first: freed after the lock is let go
  std::lock_guard<std::mutex> l(mu_);
  freed = unlink(block);
}

void TailCache::set_budget(uint64_t bytes) {
  std::vector<std::shared_ptr<const RecordBatch>> freed;
  std::lock_guard<std::mutex> l(mu_);
  budget_ = bytes;
  evict_to(budget_, &freed);
}

uint64_t TailCache::budget() const {
  std::lock_guard<std::mutex> l(mu_);
  return budget_;
}

uint64_t TailCache::bytes() const {
  std::lock_guard<std::mutex> l(mu_);
  return bytes_;
}

uint64_t TailCache::blocks() const {
  std::lock_guard<std::mutex> l(mu_);
  return age_.size();
}

uint64_t TailCache::evictions() const {
  std::lock_guard<std::mutex> l(mu_);
  return evictions_;
}

}  // namespace persisting
