// Disk use in `persisting bench` (issue 17's retention benchmark, bench/retention.sh): what the
// data dir takes on disk, against the data a topic's buckets still hold.
#pragma once

#include <cstdint>
#include <string>

#include "persisting/status.h"

namespace persisting::cli {

// Bytes the files under dir take on disk (allocated blocks, as `du` counts them). Files that
// vanish during the walk (a version cleanup running) are skipped.
uint64_t disk_bytes(const std::string& dir);

// What the latest version of each bucket's Lance dataset lists: rows, and the sizes of their
// data files as the manifests record them. Buckets never flushed count zero.
struct RetainedData {
  uint64_t records = 0;
  uint64_t bytes = 0;
};
Result<RetainedData> retained_data(const std::string& data_dir, const std::string& topic, uint32_t buckets);

}  // namespace persisting::cli
