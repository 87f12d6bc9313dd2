#include <gtest/gtest.h>

#include <thread>

#include "persisting/backend.h"
#include "util/fault_env.h"
#include "util/temp_dir.h"

using namespace persisting;
using persisting::testing::FaultEnv;
using persisting::testing::TempDir;

namespace {

Result<std::unique_ptr<StorageBackend>> open_lance(const std::string& dir, uint32_t batch_size,
                                                   Env* env = nullptr, Options opts = {},
                                                   TailCache* tail_cache = nullptr) {
  BackendContext ctx;
  ctx.tail_cache = tail_cache;
  ctx.topic = "t";
  ctx.bucket = BucketId(0);
  ctx.bucket_dir = dir;
  ctx.batch_size = batch_size;
  ctx.env = env;
  return BackendRegistry::global().create("lance", ctx, opts);
}

Record rec(int i) { return Record{{"id", "k" + std::to_string(i)}, {"i", i}, {"score", 0.5 * i}}; }

RecordBatch batch_of(int from, int n) {
  RecordBatch b;
  for (int i = from; i < from + n; ++i) b.add(rec(i));
  return b;
}

std::vector<Record> all(StorageBackend& b) {
  auto got = b.get(Offset(0), 1 << 20);
  EXPECT_TRUE(got.ok()) << got.status().to_string();
  return *got->decode_all();
}

}  // namespace

TEST(LanceBackendTest, RecordsKeepTheirOffsetsAcrossFlushes) {
  TempDir dir;
  auto b = open_lance(dir.path(), /*batch_size=*/10);
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  EXPECT_TRUE((*b)->durable());
  ASSERT_EQ((*b)->put_batch(batch_of(0, 4))->value(), 0u);   // buffered
  EXPECT_EQ((*b)->stats().to_object().find("buffered")->as_int(), 4);
  ASSERT_EQ((*b)->put_batch(batch_of(4, 8))->value(), 4u);   // reaches 10: flushed
  Object s = (*b)->stats().to_object();
  EXPECT_EQ(s.find("persisted")->as_int(), 12);
  EXPECT_EQ(s.find("buffered")->as_int(), 0);
  EXPECT_EQ(s.find("flush_count")->as_int(), 1);
  ASSERT_EQ((*b)->put_batch(batch_of(12, 3))->value(), 12u);  // buffered again
  auto rows = all(**b);
  ASSERT_EQ(rows.size(), 15u);
  for (int i = 0; i < 15; ++i) EXPECT_EQ(rows[i], rec(i)) << i;
  // A read spanning dataset and buffer.
  auto mid = (*b)->get(Offset(10), 4);
  ASSERT_EQ(mid->size(), 4u);
  EXPECT_EQ(*mid->decode(0), rec(10));
  EXPECT_EQ(*mid->decode(3), rec(13));
  ASSERT_TRUE((*b)->flush().ok());
  EXPECT_EQ((*b)->stats().to_object().find("persisted")->as_int(), 15);
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/data.lance/_versions"));
}

TEST(LanceBackendTest, ReopenRecoversThePersistedCount) {
  TempDir dir;
  {
    auto b = open_lance(dir.path(), 5);
    ASSERT_TRUE((*b)->put_batch(batch_of(0, 7)).ok());
    ASSERT_TRUE((*b)->flush().ok());
  }
  auto b = open_lance(dir.path(), 5);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ((*b)->total_count(), 7u);
  ASSERT_EQ((*b)->put_batch(batch_of(7, 1))->value(), 7u);
  auto rows = all(**b);
  ASSERT_EQ(rows.size(), 8u);
  EXPECT_EQ(rows[7], rec(7));
}

TEST(LanceBackendTest, IncompatibleTypeIsRejectedAtPutAndNothingIsBuffered) {
  TempDir dir;
  auto b = open_lance(dir.path(), 100);
  ASSERT_TRUE((*b)->put(Record{{"id", "a"}, {"n", 1}}).ok());
  ASSERT_TRUE((*b)->flush().ok());
  // Against the dataset's schema.
  RecordBatch bad;
  bad.add(Record{{"id", "b"}, {"n", 2}});
  bad.add(Record{{"id", "c"}, {"n", "three"}});
  auto r = (*b)->put_batch(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("'n'"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("int64"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("string"), std::string::npos) << r.status().message();
  EXPECT_EQ((*b)->total_count(), 1u);
  // Against records still in the buffer (not yet in the schema).
  ASSERT_TRUE((*b)->put(Record{{"id", "d"}, {"tag", true}}).ok());
  auto r2 = (*b)->put(Record{{"id", "e"}, {"tag", "yes"}});
  ASSERT_FALSE(r2.ok());
  EXPECT_NE(r2.status().message().find("'tag'"), std::string::npos) << r2.status().message();
  EXPECT_NE(r2.status().message().find("bool"), std::string::npos) << r2.status().message();
  EXPECT_EQ((*b)->total_count(), 2u);
  ASSERT_TRUE((*b)->flush().ok());
}

TEST(LanceBackendTest, NewFieldsAndWideningEvolveTheSchema) {
  TempDir dir;
  auto b = open_lance(dir.path(), 100);
  ASSERT_TRUE((*b)->put(Record{{"id", "a"}, {"n", 1}}).ok());
  ASSERT_TRUE((*b)->flush().ok());
  ASSERT_TRUE((*b)->put(Record{{"id", "b"}, {"n", 2.5}, {"extra", "new"}}).ok());
  ASSERT_TRUE((*b)->flush().ok());
  auto rows = all(**b);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_TRUE(rows[0].find("n")->is_double());  // the column was widened
  EXPECT_EQ(rows[0].find("n")->as_double(), 1.0);
  EXPECT_EQ(rows[0].find("extra"), nullptr);    // absent, not null
  EXPECT_EQ(rows[1].find("extra")->as_string(), "new");
}

// Small gets over flushed fragments are served from a read window (one Lance read per window,
// not per get) and give exactly the records put; a widened column invalidates the window. (No
// tail in memory here, so the flushed rows come from Lance.)
TEST(LanceBackendTest, SmallReadsOfFlushedRowsGoThroughTheReadWindow) {
  TempDir dir;
  TailCache no_tail(0);
  auto b = open_lance(dir.path(), /*batch_size=*/10, nullptr, {}, &no_tail);
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  ASSERT_TRUE((*b)->put_batch(batch_of(0, 10)).ok());  // three fragments of 10
  ASSERT_TRUE((*b)->put_batch(batch_of(10, 10)).ok());
  ASSERT_TRUE((*b)->put_batch(batch_of(20, 10)).ok());
  ASSERT_TRUE((*b)->put_batch(batch_of(30, 5)).ok());   // buffered
  ASSERT_EQ((*b)->stats().to_object().find("persisted")->as_int(), 30);
  for (int pass = 0; pass < 2; ++pass) {
    std::vector<Record> got;
    for (uint64_t off = 0; off < 35;) {
      auto r = (*b)->get(Offset(off), 3);
      ASSERT_TRUE(r.ok()) << r.status().to_string();
      ASSERT_GT(r->size(), 0u) << "at " << off;
      auto rows = r->decode_all();
      ASSERT_TRUE(rows.ok()) << rows.status().to_string();
      got.insert(got.end(), rows->begin(), rows->end());
      off += r->size();
    }
    ASSERT_EQ(got.size(), 35u);
    for (int i = 0; i < 35; ++i) EXPECT_EQ(got[i], rec(i)) << "offset " << i;
  }
  // One window holds all 30 flushed rows: the 20 gets of both passes read Lance once.
  EXPECT_EQ((*b)->stats().to_object().find("read_window_fills")->as_int(), 1);
  // A get crossing from the window into the buffer gets both.
  auto across = (*b)->get(Offset(28), 4);
  ASSERT_TRUE(across.ok());
  ASSERT_EQ(across->size(), 4u);
  EXPECT_EQ(*across->decode(0), rec(28));
  EXPECT_EQ(*across->decode(3), rec(31));
  // Widening "i" to double rewrites the column: the window must not serve the old ints.
  ASSERT_TRUE((*b)->put(Record{{"id", "w"}, {"i", 0.5}}).ok());
  ASSERT_TRUE((*b)->flush().ok());
  auto widened = (*b)->get(Offset(1), 1);
  ASSERT_TRUE(widened.ok());
  ASSERT_EQ(widened->size(), 1u);
  auto row = widened->decode(0);
  ASSERT_TRUE(row->find("i")->is_double()) << "window served a stale row";
  EXPECT_EQ(row->find("i")->as_double(), 1.0);
  EXPECT_EQ((*b)->stats().to_object().find("read_window_fills")->as_int(), 2);
}

TEST(LanceBackendTest, FailedFlushKeepsTheBufferAndIsRetried) {
  TempDir dir;
  FaultEnv env(Env::Default());
  auto b = open_lance(dir.path(), 1000, &env);
  ASSERT_TRUE(b.ok());
  ASSERT_TRUE((*b)->put_batch(batch_of(0, 5)).ok());
  env.fail_writes(FaultEnv::WriteFault::kNoSpace);
  Status s = (*b)->flush();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("flush of 5 records"), std::string::npos) << s.message();
  Object st = (*b)->stats().to_object();
  EXPECT_EQ(st.find("buffered")->as_int(), 5);
  EXPECT_TRUE(st.find("last_flush_error")->is_string());
  EXPECT_EQ(all(**b).size(), 5u);  // readers are still served
  env.clear();
  ASSERT_TRUE((*b)->flush().ok());
  EXPECT_EQ((*b)->stats().to_object().find("persisted")->as_int(), 5);
  EXPECT_TRUE((*b)->stats().to_object().find("last_flush_error")->is_null());
  // Nothing was written twice: a fresh open sees exactly the five records.
  b->reset();
  auto again = open_lance(dir.path(), 1000);
  auto rows = all(**again);
  ASSERT_EQ(rows.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(rows[i], rec(i));
}

// While flushes fail, the buffer does not grow past max_buffered_bytes: puts are refused with an
// error naming the limit and the failure, and accepted again once a flush gets through.
TEST(LanceBackendTest, PutsAreRefusedPastMaxBufferedBytes) {
  TempDir dir;
  FaultEnv env(Env::Default());
  auto b = open_lance(dir.path(), 1000, &env, {{"max_buffered_bytes", "1K"}});
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  env.fail_writes(FaultEnv::WriteFault::kNoSpace);
  int accepted = 0;
  Status refused;
  for (int i = 0; i < 1000 && refused.ok(); i += 10) {
    Status s = (*b)->put_batch(batch_of(i, 10)).status();
    if (s.ok()) {
      ++accepted;
      (void)(*b)->flush();  // fails: the records stay buffered
    } else {
      refused = s;
    }
  }
  ASSERT_FALSE(refused.ok()) << "the buffer grew past max_buffered_bytes";
  EXPECT_EQ(refused.code(), Code::kResourceExhausted) << refused.to_string();
  EXPECT_NE(refused.message().find("max_buffered_bytes"), std::string::npos) << refused.message();
  EXPECT_NE(refused.message().find("last flush failed"), std::string::npos) << refused.message();
  const int64_t buffered = (*b)->stats().to_object().find("buffered")->as_int();
  EXPECT_EQ(buffered, accepted * 10);  // the refused batch changed nothing
  env.clear();
  ASSERT_TRUE((*b)->flush().ok());
  EXPECT_TRUE((*b)->put_batch(batch_of(5000, 10)).ok());
  EXPECT_EQ((*b)->total_count(), static_cast<uint64_t>(buffered + 10));
  auto bad = open_lance(dir.path() + "/x", 1000, nullptr, {{"max_buffered_bytes", "0"}});
  EXPECT_NE(bad.status().message().find("max_buffered_bytes"), std::string::npos) << bad.status().to_string();
}

TEST(LanceBackendTest, OneWriterPerBucket) {
  TempDir dir;
  auto w1 = open_lance(dir.path(), 100);
  auto w2 = open_lance(dir.path(), 100);
  ASSERT_TRUE((*w1)->put(rec(0)).ok());
  auto r = (*w2)->put(rec(1));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("writer.lock"), std::string::npos) << r.status().message();
}

TEST(LanceBackendTest, ReaderSeesAnotherWritersCommits) {
  TempDir dir;
  auto writer = open_lance(dir.path(), 2);
  auto reader = open_lance(dir.path(), 2);  // as in another process: never puts
  EXPECT_EQ((*reader)->get(Offset(0), 10)->size(), 0u);
  ASSERT_TRUE((*writer)->put_batch(batch_of(0, 3)).ok());  // flushed (>= 2)
  auto got = (*reader)->get(Offset(0), 10);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->size(), 3u);
}

TEST(LanceBackendTest, OptionsAreValidated) {
  TempDir dir;
  auto bad = open_lance(dir.path(), 10, nullptr, {{"compression", "brotli"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("compression"), std::string::npos);
  auto unknown = open_lance(dir.path(), 10, nullptr, {{"colour", "red"}});
  EXPECT_NE(unknown.status().message().find("'colour'"), std::string::npos);
  auto no_dir = open_lance("", 10);
  EXPECT_NE(no_dir.status().message().find("data directory"), std::string::npos);
  for (const char* c : {"zstd", "lz4", "none"}) {
    TempDir d;
    auto b = open_lance(d.path(), 10, nullptr, {{"compression", c}, {"sync", "false"}});
    ASSERT_TRUE(b.ok()) << c;
    ASSERT_TRUE((*b)->put_batch(batch_of(0, 20)).ok());
    ASSERT_TRUE((*b)->flush().ok());
    EXPECT_EQ(all(**b).size(), 20u) << c;
  }
}

// Data files go through Env::new_unbuffered_file (O_DIRECT where the file system allows)
// unless direct_io=false; the records read back the same either way.
TEST(LanceBackendTest, DirectIoOptionChoosesHowDataFilesAreOpened) {
  class Counting : public EnvWrapper {
   public:
    using EnvWrapper::EnvWrapper;
    Result<std::unique_ptr<WritableFile>> new_unbuffered_file(const std::string& p) override {
      ++unbuffered;
      return target()->new_unbuffered_file(p);
    }
    int unbuffered = 0;
  };
  for (const char* direct : {"true", "false"}) {
    Counting env(Env::Default());
    TempDir dir;
    auto b = open_lance(dir.path(), 10, &env, {{"direct_io", direct}});
    ASSERT_TRUE(b.ok()) << b.status().to_string();
    ASSERT_TRUE((*b)->put_batch(batch_of(0, 25)).ok());
    ASSERT_TRUE((*b)->flush().ok());
    EXPECT_EQ(all(**b), *batch_of(0, 25).decode_all()) << direct;
    if (std::string(direct) == "true") {
      EXPECT_GE(env.unbuffered, 1);
    } else {
      EXPECT_EQ(env.unbuffered, 0);
    }
  }
  TempDir bad_dir;
  auto bad = open_lance(bad_dir.path(), 10, nullptr, {{"direct_io", "sometimes"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("direct_io"), std::string::npos) << bad.status().to_string();
}

TEST(LanceBackendTest, FlushIntervalFlushesAQuietBucket) {
  auto persisted = [](StorageBackend& b) { return b.stats().to_object().find("persisted")->as_int(); };
  TempDir dir;
  auto b = open_lance(dir.path(), /*batch_size=*/1000, nullptr, {{"flush_interval", "0.05"}});
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  ASSERT_TRUE((*b)->put_batch(batch_of(0, 5)).ok());  // far below batch_size
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (persisted(**b) < 5 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(persisted(**b), 5);
  ASSERT_TRUE((*b)->put_batch(batch_of(5, 2)).ok());  // and again later
  while (persisted(**b) < 7 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(persisted(**b), 7);
  EXPECT_EQ(all(**b), *batch_of(0, 7).decode_all());
  // What the interval flushed is in the dataset: a fresh process reads it.
  b->reset();
  auto again = open_lance(dir.path(), 1000);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->total_count(), 7u);

  TempDir off_dir;
  auto off = open_lance(off_dir.path(), 1000, nullptr, {{"flush_interval", "0"}});
  ASSERT_TRUE(off.ok()) << off.status().to_string();
  ASSERT_TRUE((*off)->put_batch(batch_of(0, 5)).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(persisted(**off), 0);  // nothing asked for a flush
  ASSERT_TRUE((*off)->flush().ok());
  EXPECT_EQ(persisted(**off), 5);
  auto bad = open_lance(off_dir.path() + "/x", 1000, nullptr, {{"flush_interval", "-1"}});
  EXPECT_NE(bad.status().message().find("flush_interval"), std::string::npos) << bad.status().to_string();
}
