#include <gtest/gtest.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "core/status_macros.h"
#include "persisting/backend.h"
#include "util/fault_env.h"
#include "util/manual_scheduler.h"
#include "util/temp_dir.h"

using namespace persisting;
using persisting::testing::FaultEnv;
using persisting::testing::ManualScheduler;
using persisting::testing::TempDir;

namespace {

Result<std::unique_ptr<StorageBackend>> open_backend(const std::string& dir, Options opts = {}, Env* env = nullptr,
                                                     uint32_t batch_size = 1000, Scheduler* scheduler = nullptr) {
  BackendContext ctx;
  ctx.scheduler = scheduler;
  ctx.topic = "t";
  ctx.bucket_dir = dir;
  ctx.batch_size = batch_size;
  ctx.env = env;
  return BackendRegistry::global().create("persisting", ctx, opts);
}

Record rec(int i) { return Record{{"id", "k" + std::to_string(i)}, {"i", i}}; }

RecordBatch batch_of(int from, int n) {
  RecordBatch b;
  for (int i = from; i < from + n; ++i) b.add(rec(i));
  return b;
}

// Every record of the bucket, checked to be rec(0), rec(1), ... in order.
void expect_exactly(StorageBackend& b, int n) {
  auto got = b.get(Offset(0), 1 << 20);
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  ASSERT_EQ(got->size(), static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) ASSERT_EQ(*got->decode(i), rec(i)) << "offset " << i;
}

int64_t stat(StorageBackend& b, const char* key) { return b.stats().to_object().find(key)->as_int(); }

// A put into a small log: refused (ResourceExhausted) while the log is full, it is tried again
// (bounded: 10 s) until the flush the log asked for frees a segment, as a producer retries.
Result<Offset> put_retrying(StorageBackend& b, const RecordBatch& batch) {
  Result<Offset> r = Offset(0);
  for (int attempt = 0; attempt < 2000; ++attempt) {
    r = b.put_batch(batch);
    if (r.ok() || r.status().code() != Code::kResourceExhausted) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return r;
}

}  // namespace

TEST(PersistingBackendTest, AcknowledgedRecordsSurviveWithoutAFlush) {
  TempDir dir;
  {
    auto b = open_backend(dir.path());
    ASSERT_TRUE(b.ok()) << b.status().to_string();
    EXPECT_EQ((*b)->put_batch(batch_of(0, 3))->value(), 0u);
    EXPECT_EQ((*b)->put_batch(batch_of(3, 4))->value(), 3u);
    EXPECT_EQ(stat(**b, "buffered"), 7);
    EXPECT_GT(stat(**b, "wal_size"), 0);
    // Dropped without a flush, as a crashed process would be.
  }
  auto b = open_backend(dir.path());
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  expect_exactly(**b, 7);
  EXPECT_EQ(stat(**b, "wal_records_replayed"), 7);
  EXPECT_EQ((*b)->put_batch(batch_of(7, 1))->value(), 7u);
}

// The log's limit in force is in the stats: a max_wal_size given is the limit; without one, the
// default (100 MiB, growing by 1 MiB per bucket writing to the log past 100 buckets).
TEST(PersistingBackendTest, StatsShowTheNodeLogsLimitInForce) {
  TempDir given, by_default;
  auto fixed = open_backend(given.path(), {{"max_wal_size", "32K"}});
  ASSERT_TRUE(fixed.ok()) << fixed.status().to_string();
  ASSERT_TRUE((*fixed)->put_batch(batch_of(0, 1)).ok());
  EXPECT_EQ(stat(**fixed, "node_log_limit"), 32 << 10);
  auto grown = open_backend(by_default.path());
  ASSERT_TRUE(grown.ok()) << grown.status().to_string();
  ASSERT_TRUE((*grown)->put_batch(batch_of(0, 1)).ok());
  EXPECT_EQ(stat(**grown, "node_log_limit"), int64_t{100} << 20);
}

// Past 100 buckets writing to one data dir's log, its default limit is 1 MiB per bucket, so the
// flushes the half-full log asks for stay large however many buckets share it.
TEST(PersistingBackendTest, TheDefaultLogLimitGrowsByAMebibytePerBucketPastAHundred) {
  TempDir data;
  std::vector<std::unique_ptr<StorageBackend>> buckets;
  for (int b = 0; b < 120; ++b) {
    BackendContext ctx;
    ctx.topic = "t";
    ctx.bucket = BucketId(b);
    ctx.data_dir = data.path();
    ctx.bucket_dir = data.path() + "/t/bucket_" + std::to_string(b);
    ctx.batch_size = 1000;
    auto opened = BackendRegistry::global().create("persisting", ctx, {{"wal_sync_mode", "interval"}});
    ASSERT_TRUE(opened.ok()) << opened.status().to_string();
    auto put = (*opened)->put_batch(batch_of(0, 1));
    ASSERT_TRUE(put.ok()) << put.status().to_string();
    buckets.push_back(std::move(*opened));
  }
  EXPECT_EQ(stat(*buckets.front(), "node_log_limit"), int64_t{120} << 20);
  buckets.resize(90);  // 90 left: the 100 MiB floor
  EXPECT_EQ(stat(*buckets.front(), "node_log_limit"), int64_t{100} << 20);
}

TEST(PersistingBackendTest, FlushMovesRecordsToLanceAndCheckpointsTheWal) {
  TempDir dir;
  auto b = open_backend(dir.path(), {{"max_wal_size", "32K"}});
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  for (int i = 0; i < 200; i += 10) ASSERT_TRUE((*b)->put_batch(batch_of(i, 10)).ok());
  EXPECT_GT(stat(**b, "wal_size"), 0);
  ASSERT_TRUE((*b)->flush().ok());
  EXPECT_EQ(stat(**b, "persisted"), 200);
  EXPECT_EQ(stat(**b, "buffered"), 0);
  EXPECT_EQ(stat(**b, "flush_count"), 1);
  EXPECT_EQ(stat(**b, "wal_size"), 0);
  // Every stream is checkpointed: the log keeps no copy of the records, one empty segment.
  EXPECT_EQ(stat(**b, "wal_segments"), 1);
  EXPECT_LE(stat(**b, "node_log_size"), 64);  // a segment header
  EXPECT_TRUE((*b)->stats().to_object().find("last_flush_duration_s")->is_double());
  expect_exactly(**b, 200);
  b->reset();
  auto again = open_backend(dir.path());
  expect_exactly(**again, 200);
  EXPECT_EQ(stat(**again, "wal_records_replayed"), 0);
}

TEST(PersistingBackendTest, FlushThresholdFlushesAutomatically) {
  TempDir dir;
  auto b = open_backend(dir.path(), {{"flush_threshold", "25"}});
  for (int i = 0; i < 30; i += 10) ASSERT_TRUE((*b)->put_batch(batch_of(i, 10)).ok());
  // The flusher thread moves the records to Lance on its own (no flush() call); wait for it.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (stat(**b, "persisted") < 30 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(stat(**b, "persisted"), 30);
  EXPECT_GE(stat(**b, "flush_count"), 1);
  expect_exactly(**b, 30);
  // Reopened, the WAL replays from 0 and the 30 records Lance holds are skipped, not doubled.
  b->reset();
  auto again = open_backend(dir.path());
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  EXPECT_EQ(stat(**again, "persisted"), 30);
  EXPECT_EQ(stat(**again, "buffered"), 0);
  expect_exactly(**again, 30);
}

// The buffer is flushed at flush_bytes of encoded records even below flush_threshold records.
TEST(PersistingBackendTest, FlushBytesFlushesBeforeTheRecordThreshold) {
  TempDir dir;
  auto b = open_backend(dir.path(), {{"flush_threshold", "1000000"}, {"flush_bytes", "1K"}});
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  for (int i = 0; i < 100; i += 10) ASSERT_TRUE((*b)->put_batch(batch_of(i, 10)).ok());  // > 1 KiB
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (stat(**b, "flush_count") == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_GE(stat(**b, "flush_count"), 1);
  EXPECT_GT(stat(**b, "persisted"), 0);
  expect_exactly(**b, 100);
}

// A bucket's first buffer grows by doubling while it is small; once it outgrows 1 MiB it
// reserves the flush size at once (flush_bytes plus a quarter) instead of doubling five more
// times. A bucket holding a few records reserves little.
TEST(PersistingBackendTest, ABusyFirstBufferReservesTheFlushSizeAtOnce) {
  TempDir small_dir, busy_dir;
  const Options opts{{"flush_threshold", "1000000"}, {"flush_bytes", "16M"}, {"flush_interval", "0"}};
  auto small = open_backend(small_dir.path(), opts);
  auto busy = open_backend(busy_dir.path(), opts);
  ASSERT_TRUE(small.ok() && busy.ok());
  ASSERT_TRUE((*small)->put_batch(batch_of(0, 100)).ok());
  EXPECT_LT(stat(**small, "buffer_reserved_bytes"), 64 << 10);

  const std::string pad(1000, 'p');
  int n = 0;
  auto put_kib = [&](int kib) {
    RecordBatch b;
    for (int i = 0; i < kib; ++i, ++n) b.add(Record{{"id", "k" + std::to_string(n)}, {"pad", pad}});
    return (*busy)->put_batch(b).ok();
  };
  ASSERT_TRUE(put_kib(512));
  EXPECT_LT(stat(**busy, "buffer_reserved_bytes"), 2 << 20) << "below 1 MiB it doubles";
  ASSERT_TRUE(put_kib(768));  // past 1 MiB
  const int64_t reserved = stat(**busy, "buffer_reserved_bytes");
  EXPECT_GE(reserved, 20 << 20);
  EXPECT_LT(reserved, 21 << 20);
  ASSERT_TRUE(put_kib(4096));  // within the reservation: no growth
  EXPECT_EQ(stat(**busy, "buffer_reserved_bytes"), reserved);
  EXPECT_EQ(stat(**busy, "buffered"), n);
}

// A quiet topic's records reach Lance flush_interval after they were put, far below the
// thresholds; with flush_interval=0 they wait for a threshold or flush(). The bucket's Scheduler is
// a ManualScheduler: the test moves its clock instead of sleeping.
TEST(PersistingBackendTest, FlushIntervalFlushesAQuietBucket) {
  TempDir dir;
  ManualScheduler sched;
  auto b = open_backend(dir.path(), {{"flush_threshold", "1000000"}, {"flush_interval", "10"}}, nullptr, 1000, &sched);
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  ASSERT_TRUE((*b)->put_batch(batch_of(0, 5)).ok());
  sched.advance(std::chrono::seconds(9));
  EXPECT_EQ(stat(**b, "persisted"), 0);  // not yet
  sched.advance(std::chrono::seconds(1));
  EXPECT_EQ(stat(**b, "persisted"), 5);
  EXPECT_EQ(sched.pending(), 0u);  // nothing waits, so no timer is armed
  ASSERT_TRUE((*b)->put_batch(batch_of(5, 2)).ok());  // and again later
  sched.advance(std::chrono::seconds(10));
  EXPECT_EQ(stat(**b, "persisted"), 7);
  expect_exactly(**b, 7);

  TempDir off_dir;
  auto off = open_backend(off_dir.path(), {{"flush_threshold", "1000000"}, {"flush_interval", "0"}}, nullptr, 1000,
                          &sched);
  ASSERT_TRUE(off.ok()) << off.status().to_string();
  ASSERT_TRUE((*off)->put_batch(batch_of(0, 5)).ok());
  sched.advance(std::chrono::hours(1));
  EXPECT_EQ(stat(**off, "persisted"), 0);  // nothing asked for a flush
  ASSERT_TRUE((*off)->flush().ok());
  EXPECT_EQ(stat(**off, "persisted"), 5);
}

// With wal_sync_mode=interval a put is acknowledged after write(); the WAL syncs it
// wal_sync_interval later, as a task on the bucket's Scheduler.
TEST(PersistingBackendTest, IntervalModeSyncsTheWalAnIntervalAfterAPut) {
  TempDir dir;
  FaultEnv env(Env::Default());
  ManualScheduler sched;
  auto b = open_backend(dir.path(), {{"wal_sync_mode", "interval"}, {"wal_sync_interval", "5"}, {"flush_interval", "0"}},
                        &env, 1000, &sched);
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  ASSERT_TRUE((*b)->put_batch(batch_of(0, 3)).ok());
  env.fail_syncs();  // a sync attempted from now on fails and shows in stats
  sched.advance(std::chrono::seconds(4));
  EXPECT_EQ(stat(**b, "bg_error_count"), 0);  // no sync yet
  sched.advance(std::chrono::seconds(1));
  EXPECT_EQ(stat(**b, "bg_error_count"), 1);  // the interval sync ran, and failed
  env.clear();
  sched.advance(std::chrono::seconds(5));     // a failed sync is tried again an interval later
  EXPECT_TRUE((*b)->stats().to_object().find("bg_error")->is_null());
  expect_exactly(**b, 3);
}

// Records waiting for Lance are capped: past max_buffered_bytes a put is refused and changes
// nothing (here no flush is asked for; flush() makes room again).
TEST(PersistingBackendTest, PutsAreRefusedPastMaxBufferedBytes) {
  TempDir dir;
  auto b = open_backend(dir.path(), {{"flush_threshold", "1000000"}, {"flush_interval", "0"},
                                     {"max_buffered_bytes", "1K"}});
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  int accepted = 0;
  Status refused;
  for (int i = 0; i < 1000 && refused.ok(); i += 10) {
    Status s = (*b)->put_batch(batch_of(i, 10)).status();
    if (s.ok()) ++accepted;
    else refused = s;
  }
  ASSERT_EQ(refused.code(), Code::kResourceExhausted) << refused.to_string();
  EXPECT_NE(refused.message().find("not keeping up"), std::string::npos) << refused.message();
  EXPECT_EQ((*b)->total_count(), static_cast<uint64_t>(accepted * 10));
  ASSERT_TRUE((*b)->flush().ok());
  EXPECT_TRUE((*b)->put_batch(batch_of(5000, 10)).ok());
  b->reset();
  auto again = open_backend(dir.path());  // the refused batch is not in the WAL either
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  EXPECT_EQ((*again)->total_count(), static_cast<uint64_t>(accepted * 10 + 10));
}

// The flusher's own flushes checkpoint the stream, and the log deletes the segments no stream
// needs: far more records than the log's limit go through it.
TEST(PersistingBackendTest, AutomaticFlushesCheckpointWhenASegmentCanGo) {
  TempDir dir;
  auto b = open_backend(dir.path(), {{"flush_threshold", "25"}, {"max_wal_size", "16K"}, {"wal_sync_mode", "os"}});
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  for (int i = 0; i < 2000; i += 10) {
    auto r = put_retrying(**b, batch_of(i, 10));
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    ASSERT_EQ(r->value(), static_cast<uint64_t>(i));
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (stat(**b, "persisted") < 1975 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_GE(stat(**b, "persisted"), 1975);
  EXPECT_LE(stat(**b, "node_log_size"), 16 << 10);
  expect_exactly(**b, 2000);
}

// A checkpoint may keep one freed log segment as log/spare.free for the next rotation to write
// over, never with wal_recycle off; either way nothing is lost or doubled. (When a segment is
// kept: tests/wal.)
TEST(PersistingBackendTest, FreedWalSegmentsAreRecycledUnlessTurnedOff) {
  for (bool recycle : {true, false}) {
    SCOPED_TRACE(recycle ? "wal_recycle=true" : "wal_recycle=false");
    TempDir dir;
    const std::string spare = dir.path() + "/log/spare.free";
    bool saw_spare = false;
    {
      auto b = open_backend(dir.path(), {{"max_wal_size", "16K"}, {"wal_recycle", recycle ? "true" : "false"},
                                         {"wal_sync_mode", "os"}});
      ASSERT_TRUE(b.ok()) << b.status().to_string();
      // Many segments' worth: the log asks the bucket to flush whenever it holds the oldest one.
      for (int i = 0; i < 3000; i += 10) {
        auto r = put_retrying(**b, batch_of(i, 10));
        ASSERT_TRUE(r.ok()) << r.status().to_string();
        saw_spare = saw_spare || std::filesystem::exists(spare);
      }
      EXPECT_GT(stat(**b, "persisted"), 0);
      expect_exactly(**b, 3000);
    }
    EXPECT_TRUE(recycle || !saw_spare) << "a spare file with wal_recycle off";
    auto again = open_backend(dir.path(), {{"max_wal_size", "16K"}});
    ASSERT_TRUE(again.ok()) << again.status().to_string();
    expect_exactly(**again, 3000);
  }
  TempDir dir;
  auto bad = open_backend(dir.path(), {{"wal_recycle", "sometimes"}});
  EXPECT_NE(bad.status().message().find("wal_recycle"), std::string::npos) << bad.status().to_string();
}

// wal_prefill sets how far ahead of the appends the log's segments are zero-filled (0: not at
// all); either way every record comes back after a reopen.
TEST(PersistingBackendTest, WalPrefillSetsTheZerosAheadOfTheAppends) {
  for (const char* prefill : {"64K", "0"}) {
    SCOPED_TRACE(std::string("wal_prefill=") + prefill);
    TempDir dir;
    {
      auto b = open_backend(dir.path(), {{"wal_prefill", prefill}});
      ASSERT_TRUE(b.ok()) << b.status().to_string();
      ASSERT_TRUE(put_retrying(**b, batch_of(0, 10)).ok());
      uint64_t largest = 0;
      for (const auto& e : std::filesystem::directory_iterator(dir.path() + "/log"))
        if (e.path().extension() == ".wal") largest = std::max<uint64_t>(largest, e.file_size());
      if (std::string(prefill) == "0") {
        EXPECT_LT(largest, 4096u);
      } else {
        EXPECT_GE(largest, 64u << 10);
      }
    }
    auto again = open_backend(dir.path(), {});
    ASSERT_TRUE(again.ok()) << again.status().to_string();
    expect_exactly(**again, 10);
  }
  TempDir dir;
  auto bad = open_backend(dir.path(), {{"wal_prefill", "lots"}});
  EXPECT_NE(bad.status().message().find("wal_prefill"), std::string::npos) << bad.status().to_string();
}

// Records put while a flush is writing stay visible and keep their offsets.
TEST(PersistingBackendTest, PutsAndReadsGoOnDuringAFlush) {
  TempDir dir;
  auto b = open_backend(dir.path());
  ASSERT_TRUE((*b)->put_batch(batch_of(0, 500)).ok());
  auto flushing = std::async(std::launch::async, [&] { return (*b)->flush(); });
  for (int i = 500; i < 600; i += 10) ASSERT_EQ((*b)->put_batch(batch_of(i, 10))->value(), static_cast<uint64_t>(i));
  expect_exactly(**b, 600);
  ASSERT_TRUE(flushing.get().ok());
  expect_exactly(**b, 600);
  EXPECT_GE(stat(**b, "persisted"), 500);
  ASSERT_TRUE((*b)->flush().ok());
  EXPECT_EQ(stat(**b, "persisted"), 600);
  b->reset();
  auto again = open_backend(dir.path());
  expect_exactly(**again, 600);
}

// A crash at every file-system step of flush + checkpoint: nothing lost, nothing duplicated.
TEST(PersistingBackendTest, CrashAtEveryStepOfFlushAndCheckpoint) {
  int steps_seen = 0;
  for (int step = 0; step < 200; ++step) {
    TempDir dir;
    FaultEnv env(Env::Default());
    bool flush_ok;
    {
      auto b = open_backend(dir.path(), {}, &env);
      ASSERT_TRUE(b.ok()) << b.status().to_string();
      ASSERT_TRUE((*b)->put_batch(batch_of(0, 5)).ok());
      ASSERT_TRUE((*b)->flush().ok());  // an earlier flush, so the crash meets an existing dataset
      ASSERT_TRUE((*b)->put_batch(batch_of(5, 5)).ok());
      env.stop_after(step);
      flush_ok = (*b)->flush().ok() && !env.stopped();
    }
    env.clear();
    auto b = open_backend(dir.path());
    ASSERT_TRUE(b.ok()) << "step " << step << ": " << b.status().to_string();
    expect_exactly(**b, 10);
    ASSERT_TRUE((*b)->put_batch(batch_of(10, 1)).ok()) << "step " << step;
    expect_exactly(**b, 11);
    ++steps_seen;
    if (flush_ok) break;  // the budget outlasted the whole flush: every step has been crashed
  }
  EXPECT_GT(steps_seen, 3);
}

TEST(PersistingBackendTest, WriteFaultsFailThePutAndLoseNothingAcknowledged) {
  for (auto fault : {FaultEnv::WriteFault::kNoSpace, FaultEnv::WriteFault::kIOError, FaultEnv::WriteFault::kShortWrite}) {
    TempDir dir;
    FaultEnv env(Env::Default());
    {
      auto b = open_backend(dir.path(), {}, &env);
      ASSERT_TRUE((*b)->put_batch(batch_of(0, 4)).ok());
      env.fail_writes(fault);
      auto r = (*b)->put_batch(batch_of(4, 4));
      ASSERT_FALSE(r.ok());
      EXPECT_EQ(r.status().code(), Code::kIOError);
      expect_exactly(**b, 4);  // the failed put is not visible
      env.clear();
      ASSERT_EQ((*b)->put_batch(batch_of(4, 4))->value(), 4u);  // works again
    }
    auto b = open_backend(dir.path());
    expect_exactly(**b, 8);
  }
}

TEST(PersistingBackendTest, FailedSyncFailsThePutUntilTheFaultClears) {
  TempDir dir;
  FaultEnv env(Env::Default());
  {
    auto b = open_backend(dir.path(), {}, &env);
    ASSERT_TRUE((*b)->put_batch(batch_of(0, 2)).ok());
    env.fail_syncs(1);
    EXPECT_FALSE((*b)->put_batch(batch_of(2, 2)).ok());
    expect_exactly(**b, 2);
    ASSERT_EQ((*b)->put_batch(batch_of(2, 2))->value(), 2u);
  }
  auto b = open_backend(dir.path());
  expect_exactly(**b, 4);
}

namespace {
// Holds every WAL sync while `hold` is set, so puts can be queued behind one in flight.
class HeldSyncEnv : public EnvWrapper {
 public:
  using EnvWrapper::EnvWrapper;
  Result<std::unique_ptr<WritableFile>> new_writable_file(const std::string& p, bool t) override {
    ASSIGN_OR_RETURN(auto f, target()->new_writable_file(p, t));
    return std::unique_ptr<WritableFile>(new File(this, std::move(f)));
  }
  void hold(bool on) {
    {
      std::lock_guard<std::mutex> l(mu_);
      hold_ = on;
    }
    cv_.notify_all();
  }
  // Waits until a sync is being held.
  void wait_for_held_sync() {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return waiting_ > 0; });
  }

 private:
  class File : public WritableFile {
   public:
    File(HeldSyncEnv* env, std::unique_ptr<WritableFile> f) : env_(env), f_(std::move(f)) {}
    Status append(std::string_view d) override { return f_->append(d); }
    Status sync() override {
      {
        std::unique_lock<std::mutex> l(env_->mu_);
        ++env_->waiting_;
        env_->cv_.notify_all();
        env_->cv_.wait(l, [&] { return !env_->hold_; });
        --env_->waiting_;
      }
      return f_->sync();
    }
    Status truncate(uint64_t s) override { return f_->truncate(s); }
    Status close() override { return f_->close(); }
    uint64_t size() const override { return f_->size(); }

   private:
    HeldSyncEnv* env_;
    std::unique_ptr<WritableFile> f_;
  };
  std::mutex mu_;
  std::condition_variable cv_;
  bool hold_ = false;
  int waiting_ = 0;
};
}  // namespace

// Puts queued while a sync is in flight are written and synced together (group commit).
TEST(PersistingBackendTest, PutsQueuedBehindASyncShareTheNextOne) {
  TempDir dir;
  HeldSyncEnv env(Env::Default());
  auto b = open_backend(dir.path(), {}, &env);
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  env.hold(true);
  std::vector<std::future<Result<Offset>>> acks;
  auto put = [&](int from) {
    auto p = std::make_shared<std::promise<Result<Offset>>>();
    acks.push_back(p->get_future());
    (*b)->put_batch_async(batch_of(from, 2), [p](Result<Offset> r) { p->set_value(std::move(r)); });
  };
  // The first put writes its group on its own thread (the node log's callers commit), so it
  // stays there, in the held sync.
  std::thread first([&] { put(0); });
  env.wait_for_held_sync();  // the first put's group is syncing
  for (int i = 2; i < 22; i += 2) put(i);  // ten more queue up behind it
  env.hold(false);
  first.join();
  for (size_t i = 0; i < acks.size(); ++i) {
    auto r = acks[i].get();
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->value(), 2 * i);
  }
  EXPECT_EQ(stat(**b, "puts"), 11);
  EXPECT_EQ(stat(**b, "wal_groups"), 2);  // one sync for the first put, one for the other ten
  expect_exactly(**b, 22);
}

// After a group that held several writers' puts, the log's group commit waits a little for as
// many before the next sync; a lone writer's puts never wait; wal_group_wait_us=0 turns it off.
TEST(PersistingBackendTest, AppenderWaitsForRecentWritersOnlyWhenThereWereSeveral) {
  for (int64_t cap_us : {2000, 0}) {
    SCOPED_TRACE("wal_group_wait_us=" + std::to_string(cap_us));
    TempDir dir;
    HeldSyncEnv env(Env::Default());
    auto b = open_backend(dir.path(), {{"wal_group_wait_us", std::to_string(cap_us)}}, &env);
    ASSERT_TRUE(b.ok()) << b.status().to_string();
    // A lone writer: one put at a time, each waited for.
    for (int i = 0; i < 10; ++i) ASSERT_TRUE((*b)->put_batch(batch_of(i, 1)).ok());
    EXPECT_EQ(stat(**b, "wal_groups"), 10);
    EXPECT_EQ(stat(**b, "wal_group_waits"), 0);
    // Three puts queued behind a held sync form one group of three.
    std::vector<std::future<Result<Offset>>> acks;
    auto put = [&](int from) {
      auto p = std::make_shared<std::promise<Result<Offset>>>();
      acks.push_back(p->get_future());
      (*b)->put_batch_async(batch_of(from, 1), [p](Result<Offset> r) { p->set_value(std::move(r)); });
    };
    env.hold(true);
    std::thread first([&] { put(10); });  // writes its own group: stays in the held sync
    env.wait_for_held_sync();
    put(11), put(12), put(13);
    env.hold(false);
    first.join();
    for (auto& a : acks) ASSERT_TRUE(a.get().ok());
    EXPECT_EQ(stat(**b, "wal_groups"), 12);
    // The next put comes alone: the appender waits for two more writers (they do not come), then
    // writes it by itself.
    ASSERT_TRUE((*b)->put_batch(batch_of(14, 1)).ok());
    EXPECT_EQ(stat(**b, "wal_groups"), 13);
    EXPECT_EQ(stat(**b, "wal_group_waits"), cap_us > 0 ? 1 : 0);
    expect_exactly(**b, 15);
  }
}

TEST(PersistingBackendTest, WithoutTheWalRecordsAreDurableAtFlush) {
  TempDir dir;
  {
    auto b = open_backend(dir.path(), {{"enable_wal", "false"}});
    ASSERT_TRUE((*b)->put_batch(batch_of(0, 3)).ok());
    ASSERT_TRUE((*b)->flush().ok());
    ASSERT_TRUE((*b)->put_batch(batch_of(3, 2)).ok());  // not flushed: lost with the process
    EXPECT_EQ(stat(**b, "wal_size"), 0);
  }
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/log"));
  auto b = open_backend(dir.path());  // the stream now starts at the dataset's end
  expect_exactly(**b, 3);
  EXPECT_EQ((*b)->put_batch(batch_of(3, 1))->value(), 3u);
}

TEST(PersistingBackendTest, SecondProcessOnlyReadsWhatWasFlushed) {
  TempDir dir;
  auto writer = open_backend(dir.path());
  ASSERT_TRUE((*writer)->put_batch(batch_of(0, 4)).ok());
  ASSERT_TRUE((*writer)->flush().ok());
  ASSERT_TRUE((*writer)->put_batch(batch_of(4, 2)).ok());  // in the writer's WAL and buffer only
  auto reader = open_backend(dir.path());
  ASSERT_TRUE(reader.ok()) << reader.status().to_string();
  EXPECT_FALSE((*reader)->stats().to_object().find("writer")->as_bool());
  expect_exactly(**reader, 4);
  auto put = (*reader)->put_batch(batch_of(6, 1));
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.status().code(), Code::kFailedPrecondition);
  ASSERT_TRUE((*writer)->flush().ok());
  expect_exactly(**reader, 6);  // picks up the writer's next commit
}

TEST(PersistingBackendTest, CorruptWalLeavesTheBucketReadableUpToTheDamage) {
  TempDir dir;
  {
    auto b = open_backend(dir.path(), {{"wal_sync_mode", "os"}});
    for (int i = 0; i < 400; i += 5) ASSERT_TRUE((*b)->put_batch(batch_of(i, 5)).ok());
  }
  // Damage a frame a third of the way into the log's segment: valid frames follow it.
  std::vector<std::string> segs;
  for (auto& e : std::filesystem::directory_iterator(dir.path() + "/log"))
    if (e.path().extension() == ".wal") segs.push_back(e.path());
  ASSERT_EQ(segs.size(), 1u);
  {
    const auto size = std::filesystem::file_size(segs[0]);
    std::fstream f(segs[0], std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(size / 3));
    f.put('\x7f');
    f.put('\x7e');
  }
  auto b = open_backend(dir.path());
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  auto got = (*b)->get(Offset(0), 10000);
  ASSERT_TRUE(got.ok());
  ASSERT_GT(got->size(), 0u);
  ASSERT_LT(got->size(), 400u);
  for (size_t i = 0; i < got->size(); ++i) EXPECT_EQ(*got->decode(i), rec(static_cast<int>(i)));
  auto put = (*b)->put_batch(batch_of(0, 1));
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.status().code(), Code::kCorruption);
  EXPECT_TRUE((*b)->stats().to_object().find("wal_error")->is_string());
  // absolute refuses to open at all.
  b->reset();
  auto strict = open_backend(dir.path(), {{"wal_recovery", "absolute"}});
  ASSERT_FALSE(strict.ok());
  EXPECT_EQ(strict.status().code(), Code::kCorruption);
}

TEST(PersistingBackendTest, OptionsAreValidated) {
  TempDir dir;
  auto bad_mode = open_backend(dir.path(), {{"wal_sync_mode", "sometimes"}});
  EXPECT_NE(bad_mode.status().message().find("wal_sync_mode"), std::string::npos);
  auto bad_interval = open_backend(dir.path(), {{"wal_sync_interval", "-1"}});
  EXPECT_NE(bad_interval.status().message().find("wal_sync_interval"), std::string::npos);
  auto bad_flush_interval = open_backend(dir.path(), {{"flush_interval", "-1"}});
  EXPECT_NE(bad_flush_interval.status().message().find("flush_interval"), std::string::npos);
  auto zero_bytes = open_backend(dir.path(), {{"flush_bytes", "0"}});
  EXPECT_NE(zero_bytes.status().message().find("flush_bytes"), std::string::npos) << zero_bytes.status().to_string();
  auto bad_wait = open_backend(dir.path(), {{"wal_group_wait_us", "200000"}});  // over 100 ms
  EXPECT_NE(bad_wait.status().message().find("wal_group_wait_us"), std::string::npos) << bad_wait.status().to_string();
  auto zero_log = open_backend(dir.path(), {{"max_wal_size", "0"}});
  EXPECT_NE(zero_log.status().message().find("max_wal_size"), std::string::npos) << zero_log.status().to_string();
  auto unknown = open_backend(dir.path(), {{"wal_sync", "always"}});
  EXPECT_NE(unknown.status().message().find("'wal_sync'"), std::string::npos);
  for (const char* mode : {"always", "interval", "os"}) {
    TempDir d;
    auto b = open_backend(d.path(), {{"wal_sync_mode", mode}, {"wal_sync_interval", "0.05"},
                                     {"compression", "zstd"}, {"enable_metrics", "false"}});
    ASSERT_TRUE(b.ok()) << mode << ": " << b.status().to_string();
    ASSERT_TRUE((*b)->put_batch(batch_of(0, 3)).ok());
    EXPECT_EQ((*b)->stats().to_object().find("puts"), nullptr);  // metrics off
    ASSERT_TRUE((*b)->flush().ok());
    expect_exactly(**b, 3);
  }
}

// A bucket skips the type check of a batch whose records have the shape it last took (names,
// kinds and order); a record that differs only in a field's type is still checked and refused,
// before and after a flush, and int into a double field still widens.
TEST(PersistingBackendTest, ATypeClashIsRefusedAfterPutsOfOneShape) {
  TempDir dir;
  auto b = open_backend(dir.path());
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE((*b)->put_batch(batch_of(i, 1)).ok());
  RecordBatch clash;
  clash.add(Record{{"id", "k9"}, {"i", "nine"}});
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round == 0 ? "buffered" : "flushed");
    auto r = (*b)->put_batch(clash);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << r.status().to_string();
    EXPECT_NE(r.status().message().find("'i'"), std::string::npos) << r.status().to_string();
    RecordBatch other_order;  // the same fields in another order: another shape, accepted
    other_order.add(Record{{"i", 7}, {"id", "k7"}});
    ASSERT_TRUE((*b)->put_batch(other_order).ok());
    ASSERT_TRUE((*b)->put_batch(batch_of(3, 2)).ok());
    ASSERT_TRUE((*b)->flush().ok());
  }
  RecordBatch widened;
  widened.add(Record{{"id", "k8"}, {"i", 8.5}});
  ASSERT_TRUE((*b)->put_batch(widened).ok());
  ASSERT_TRUE((*b)->put_batch(batch_of(3, 1)).ok());  // int after double: the known shape is the double's
  ASSERT_TRUE((*b)->flush().ok());
  EXPECT_EQ((*b)->total_count(), 11u);
}
