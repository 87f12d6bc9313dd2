// Background failures (issue 15, "A logger"): a flush or WAL sync no caller waits for is logged
// once through the bucket's Logger, counted, and shown in stats as bg_error until it works again.
#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/background_errors.h"
#include "persisting/backend.h"
#include "persisting/json.h"
#include "persisting/log.h"
#include "util/fault_env.h"
#include "util/temp_dir.h"

using namespace persisting;
using persisting::testing::FaultEnv;
using persisting::testing::TempDir;

namespace {

class CapturingLogger : public Logger {
 public:
  void log(LogLevel level, std::string_view message) override {
    std::lock_guard<std::mutex> l(mu_);
    lines_.emplace_back(level, std::string(message));
  }
  LogLevel level() const override { return LogLevel::kDebug; }
  // Lines at `level` that contain `part`.
  size_t count(LogLevel level, const std::string& part) const {
    std::lock_guard<std::mutex> l(mu_);
    size_t n = 0;
    for (const auto& [lv, m] : lines_) n += lv == level && m.find(part) != std::string::npos;
    return n;
  }
  std::string all() const {
    std::lock_guard<std::mutex> l(mu_);
    std::string out;
    for (const auto& [lv, m] : lines_) out += std::string(log_level_name(lv)) + ": " + m + "\n";
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::pair<LogLevel, std::string>> lines_;
};

Result<std::unique_ptr<StorageBackend>> open_backend(const std::string& backend, const std::string& dir,
                                                     Options opts, Env* env, Logger* logger) {
  BackendContext ctx;
  ctx.topic = "t";
  ctx.bucket = BucketId(3);
  ctx.bucket_dir = dir;
  ctx.batch_size = 10;
  ctx.env = env;
  ctx.logger = logger;
  return BackendRegistry::global().create(backend, ctx, opts);
}

RecordBatch batch_of(int from, int n) {
  RecordBatch b;
  for (int i = from; i < from + n; ++i) b.add(Record{{"id", "k" + std::to_string(i)}, {"i", i}});
  return b;
}

const Value* stat(StorageBackend& b, const char* key) {
  static thread_local Object o;
  o = b.stats().to_object();
  return o.find(key);
}

int64_t error_count(StorageBackend& b) { return stat(b, "bg_error_count")->as_int(); }

// Waits (at most 60 s) until the backend has counted at least n background failures.
bool wait_for_failures(StorageBackend& b, int64_t n) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (error_count(b) < n && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return error_count(b) >= n;
}

}  // namespace

TEST(BackgroundErrors, EachFailureIsLoggedOnceAndASuccessClearsIt) {
  CapturingLogger log;
  BackgroundErrors bg(&log, "topic 't' bucket 3");
  BucketStats st;
  bg.add_stats(&st);
  ASSERT_TRUE(st.background.has_value());
  EXPECT_TRUE(st.background->error.empty());
  EXPECT_EQ(st.background->error_count, 0u);
  EXPECT_TRUE(st.to_object().find("bg_error")->is_null());

  for (int i = 0; i < 3; ++i) bg.report("flush", IOError("disk full"));
  EXPECT_EQ(log.count(LogLevel::kError, "topic 't' bucket 3: background flush failed: IOError: disk full"), 1u)
      << log.all();
  EXPECT_EQ(bg.count(), 3u);
  bg.add_stats(&st);
  EXPECT_EQ(st.background->error, "flush: IOError: disk full");
  EXPECT_EQ(st.to_object().find("bg_error")->as_string(), "flush: IOError: disk full");

  bg.report("WAL writeback", Status::OK());  // another kind of task going well clears nothing
  EXPECT_FALSE(bg.current().ok());
  bg.report("flush", IOError("disk full writing 'b.lance'"));  // a retry: details differ, same failure
  EXPECT_EQ(log.count(LogLevel::kError, "disk full"), 1u) << log.all();
  bg.report("flush", Corruption("bad page"));  // a different failure is news
  EXPECT_EQ(log.count(LogLevel::kError, "Corruption: bad page"), 1u) << log.all();

  bg.report("flush", Status::OK());
  EXPECT_TRUE(bg.current().ok());
  EXPECT_EQ(log.count(LogLevel::kInfo, "flush works again"), 1u) << log.all();
  bg.add_stats(&st);
  EXPECT_TRUE(st.background->error.empty());
  EXPECT_EQ(st.background->error_count, 5u);

  bg.report("flush", IOError("disk full"));  // failing again after a recovery is logged again
  EXPECT_EQ(log.count(LogLevel::kError, "disk full"), 2u) << log.all();
}

// The flusher's flushes keep failing (no data file can be created): one error line however many
// retries, the failure in stats, the records kept; once the disk is back, a flush clears it.
TEST(BackgroundErrors, PersistingBackendLogsAFailingFlusherOnce) {
  TempDir dir;
  FaultEnv env(Env::Default());
  CapturingLogger log;
  auto b = open_backend("persisting", dir.path(), {{"flush_threshold", "10"}, {"flush_interval", "0.01"}}, &env, &log);
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  env.fail_creates(true);
  ASSERT_TRUE((*b)->put_batch(batch_of(0, 20)).ok());  // acknowledged: the WAL holds them
  ASSERT_TRUE(wait_for_failures(**b, 2)) << to_json(Value((*b)->stats().to_object()));
  EXPECT_EQ(log.count(LogLevel::kError, "topic 't' bucket 3: background flush failed"), 1u) << log.all();
  ASSERT_TRUE(stat(**b, "bg_error")->is_string());
  EXPECT_NE(stat(**b, "bg_error")->as_string().find("flush"), std::string::npos);
  EXPECT_EQ(stat(**b, "total_count")->as_int(), 20);

  env.clear();
  ASSERT_TRUE((*b)->flush().ok());
  EXPECT_TRUE(stat(**b, "bg_error")->is_null()) << to_json(Value((*b)->stats().to_object()));
  EXPECT_EQ(stat(**b, "persisted")->as_int(), 20);
  EXPECT_EQ(log.count(LogLevel::kInfo, "flush works again"), 1u) << log.all();
}

// wal_sync_mode=interval: the WAL's background sync is what fails; it reaches the bucket's stats
// and log the same way.
TEST(BackgroundErrors, PersistingBackendReportsAFailingIntervalSync) {
  TempDir dir;
  FaultEnv env(Env::Default());
  CapturingLogger log;
  // A put syncs itself when the interval has passed since the last sync, and then its own
  // result carries the failure: so one put, right after the open (well inside the interval),
  // then no more, and the failure can only come from the background sync.
  auto b = open_backend("persisting", dir.path(),
                        {{"wal_sync_mode", "interval"}, {"wal_sync_interval", "2"}, {"flush_interval", "0"}}, &env,
                        &log);
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  ASSERT_TRUE((*b)->put_batch(batch_of(0, 5)).ok());  // interval: acknowledged after write()
  env.fail_syncs();
  // The failure is counted, then logged (outside the errors' lock): wait for both.
  const char* logged = "/log': background WAL sync failed";
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while ((error_count(**b) == 0 || log.count(LogLevel::kError, logged) == 0) &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_GE(error_count(**b), 1) << to_json(Value((*b)->stats().to_object()));
  // The sync is the log's (shared by every bucket on it): logged once, by the log, and in the
  // stats of the bucket whose records it holds.
  EXPECT_EQ(log.count(LogLevel::kError, logged), 1u) << log.all();
  EXPECT_NE(stat(**b, "bg_error")->as_string().find("WAL sync"), std::string::npos);
  env.clear();
}

TEST(BackgroundErrors, LanceBackendLogsAFailingPeriodicFlushOnce) {
  TempDir dir;
  FaultEnv env(Env::Default());
  CapturingLogger log;
  auto b = open_backend("lance", dir.path(), {{"flush_interval", "0.01"}}, &env, &log);
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  env.fail_creates(true);
  ASSERT_TRUE((*b)->put_batch(batch_of(0, 5)).ok());  // below batch_size: the periodic flush takes it
  ASSERT_TRUE(wait_for_failures(**b, 2)) << to_json(Value((*b)->stats().to_object()));
  EXPECT_EQ(log.count(LogLevel::kError, "topic 't' bucket 3: background flush failed"), 1u) << log.all();
  env.clear();
  ASSERT_TRUE((*b)->flush().ok());
  EXPECT_TRUE(stat(**b, "bg_error")->is_null());
}

TEST(Logger, LevelsParseAndUnknownOnesAreRefused) {
  for (const char* name : {"debug", "info", "warning", "error", "off"}) {
    auto l = parse_log_level(name);
    ASSERT_TRUE(l.ok()) << name;
    EXPECT_STREQ(log_level_name(*l), name);
  }
  auto bad = parse_log_level("loud");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("'loud'"), std::string::npos);
  auto l = stderr_logger(LogLevel::kError);
  EXPECT_FALSE(l->enabled(LogLevel::kWarning));
  EXPECT_TRUE(l->enabled(LogLevel::kError));
}
