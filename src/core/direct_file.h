// A WritableFile that bypasses the page cache (O_DIRECT), for files written once and not read
// back soon: Lance data files. Appends gather in an aligned buffer that is written a whole
// buffer at a time; sync() and close() write the partial tail block padded with zeros and then
// cut the file back to its true size. What reaches the disk is the same bytes a buffered write
// would leave; the difference is that the kernel copies nothing into its cache (no page
// allocation, no copy, no later writeback), which at hundreds of MB/s is a large share of a core.
//
// Alignment: what the file system reports for the file (statx STATX_DIOALIGN), 4 KiB when it
// reports nothing. A direct write the kernel still refuses (EINVAL: a device with stricter rules)
// switches the file to buffered writes for the rest of its life, so the write never fails for it.
#pragma once

#include <memory>
#include <string>

#include "persisting/env.h"

namespace persisting {

struct DirectFileOptions {
  size_t alignment = 0;  // 0: ask the file system (above); tests set it to provoke the fallback
};

// Creates (or empties) path for direct writes. kNotSupported when the file system refuses
// O_DIRECT (tmpfs before Linux 6.6, some FUSE and network file systems): the caller then writes
// it buffered.
Result<std::unique_ptr<WritableFile>> open_direct_file(const std::string& path, DirectFileOptions options = {});

// Whether f came from open_direct_file and still writes past the page cache.
bool writes_direct(const WritableFile& f);

}  // namespace persisting
