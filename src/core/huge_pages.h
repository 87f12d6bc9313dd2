// Large, freshly touched buffers (a bucket's records waiting for Lance, a Lance page being
// encoded) take one page fault per 4 KiB otherwise; in a virtual machine that trap, not the
// zeroing, is most of what filling such a buffer costs.
#pragma once

#include <cstddef>

namespace persisting {

// Asks the kernel to back the 2 MiB-aligned part of [p, p + n) with transparent huge pages
// (madvise MADV_HUGEPAGE; Linux's default "madvise" mode gives them only when asked). Below
// 4 MiB it does nothing. Advice only: a kernel that refuses it changes nothing but the speed,
// so there is no error to report.
void advise_huge_pages(const void* p, size_t n);

}  // namespace persisting
