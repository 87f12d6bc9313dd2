#include "core/huge_pages.h"

#include <sys/mman.h>

#include <cstdint>

namespace persisting {

void advise_huge_pages(const void* p, size_t n) {
  constexpr uintptr_t kHuge = uintptr_t{2} << 20;
  if (p == nullptr || n < 2 * kHuge) return;
  const auto begin = (reinterpret_cast<uintptr_t>(p) + kHuge - 1) & ~(kHuge - 1);
  const auto end = (reinterpret_cast<uintptr_t>(p) + n) & ~(kHuge - 1);
  if (end <= begin) return;
  // Advice: EINVAL (no THP in this kernel) or ENOMEM leave the pages as they were.
  (void)madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
}

}  // namespace persisting
