#include "apps/persisting/bench_disk.h"

#include <sys/stat.h>

#include <filesystem>

#include "backend/retention.h"
#include "core/status_macros.h"
#include "queue/topic_meta.h"
#include "storage/lance/dataset.h"

namespace persisting::cli {

uint64_t disk_bytes(const std::string& dir) {
  namespace fs = std::filesystem;
  uint64_t total = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    struct stat st;
    if (::lstat(it->path().c_str(), &st) == 0) total += static_cast<uint64_t>(st.st_blocks) * 512;
  }
  return total;
}

Result<RetainedData> retained_data(const std::string& data_dir, const std::string& topic, uint32_t buckets) {
  Env* env = Env::Default();
  RetainedData out;
  for (uint32_t b = 0; b < buckets; ++b) {
    const std::string path = join_path(queue::bucket_dir(data_dir, topic, BucketId(b)), "data.lance");
    if (!env->file_exists(path)) continue;
    ASSIGN_OR_RETURN(auto ds, lance::LanceDataset::open_or_create(env, path));
    out.records += ds->count_rows();
    for (size_t f = 0; f < ds->fragments().size(); ++f) out.bytes += fragment_bytes(ds->snapshot(), f);
  }
  return out;
}

}  // namespace persisting::cli
