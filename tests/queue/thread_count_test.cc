// A fixed set of threads (issue 15): background work runs on the Scheduler's pool, so a process
// that opens many more durable buckets runs no more threads.
#include <gtest/gtest.h>

#include <dirent.h>

#include <string>

#include "persisting/queue.h"
#include "util/temp_dir.h"

using namespace persisting;

namespace {

// Threads of this process now (/proc/self/task).
int thread_count() {
  DIR* d = opendir("/proc/self/task");
  if (d == nullptr) return -1;
  int n = 0;
  while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

// Creates a topic of n durable buckets and puts a record into each (none is flushed yet: the
// batch size is far above one record).
void fill(Queue& q, const std::string& topic, uint32_t n, const std::string& sync_mode) {
  Options o{{"wal_sync_mode", sync_mode}, {"flush_interval", "0"}};
  auto w = q.writer({.topic = topic, .bucket_column = "id", .num_buckets = n, .batch_size = 100000,
                     .backend = "persisting", .backend_options = o});
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  std::vector<Record> records;
  for (uint32_t i = 0; i < 8 * n; ++i) records.push_back(Record{{"id", "k" + std::to_string(i)}});
  ASSERT_TRUE((*w)->put(records).ok());
}

}  // namespace

TEST(ThreadCount, DoesNotGrowWithDurableBuckets) {
  for (const char* mode : {"always", "interval"}) {
    SCOPED_TRACE(mode);
    persisting::testing::TempDir dir;
    auto q = Queue::open({.data_dir = dir.path(), .threads = 2});
    ASSERT_TRUE(q.ok()) << q.status().to_string();
    fill(**q, "few", 4, mode);
    const int with_few = thread_count();
    fill(**q, "many", 200, mode);
    const int with_many = thread_count();
    ASSERT_GT(with_few, 0);
    // 50 times the buckets, the same threads (a thread per bucket would add hundreds).
    EXPECT_LE(with_many, with_few) << "4 buckets: " << with_few << " threads; 404: " << with_many;
    auto stats = (*q)->stats("many");
    ASSERT_TRUE(stats.ok());
    EXPECT_EQ(stats->find("total_count")->as_int(), 1600);
  }
}
