// A WritableFile that bypasses the page cache (O_DIRECT), for files written once and not read
// back soon: Lance data files. Appends gather in an aligned buffer that is written a whole
// buffer at a time; sync() and close() write the partial tail block padded with zeros and then
// cut the file back to its true size. What reaches the disk is the same bytes a buffered write
// would leave; the difference is that the kernel copies nothing into its cache (no page
// allocation, no copy, no later writeback), which at hundreds of MB/s is a large share of a core.
#pragma once

#include <memory>
#include <string>

#include "persisting/env.h"

namespace persisting {

// Creates (or empties) path for direct writes. kNotSupported when the file system refuses
// O_DIRECT (tmpfs, some FUSE and network file systems): the caller then writes it buffered.
Result<std::unique_ptr<WritableFile>> open_direct_file(const std::string& path);

}  // namespace persisting
