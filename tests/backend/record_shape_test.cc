// What a bucket gives back of a record's shape: field order and explicit nulls, per backend,
// before and after a flush. Pins docs/records.md, "Field order and nulls by backend".
#include <gtest/gtest.h>

#include "persisting/backend.h"
#include "persisting/json.h"
#include "util/temp_dir.h"

using namespace persisting;
using persisting::testing::TempDir;

namespace {

std::unique_ptr<StorageBackend> open(const std::string& backend, const std::string& dir,
                                     TailCache* tail_cache = nullptr) {
  BackendContext ctx;
  ctx.tail_cache = tail_cache;
  ctx.topic = "t";
  ctx.bucket = BucketId(0);
  ctx.bucket_dir = dir;
  ctx.batch_size = 1000;
  auto b = BackendRegistry::global().create(backend, ctx, {});
  EXPECT_TRUE(b.ok()) << b.status().to_string();
  return std::move(b).value();
}

std::vector<std::string> read_all(StorageBackend& b) {
  auto got = b.get(Offset(0), 100);
  EXPECT_TRUE(got.ok()) << got.status().to_string();
  auto records = got->decode_all();
  EXPECT_TRUE(records.ok()) << records.status().to_string();
  std::vector<std::string> out;
  for (const Record& r : *records) out.push_back(to_json(r));
  return out;
}

const std::vector<std::string> kPut = {
    R"({"id":"k","b":1,"a":2})",
    R"({"a":3,"id":"k","b":null})",  // another order, an explicit null
    R"({"id":"k","c":"x"})",         // a new field, two fields absent
    R"({"z":null,"id":"k"})",        // a field no record of the bucket ever set
};

RecordBatch batch() {
  RecordBatch b;
  for (const auto& line : kPut) b.add(*parse_json_record(line));
  return b;
}

}  // namespace

TEST(RecordShape, Defect11_FieldOrderAndNullsAreKeptUntilReadFromLance) {
  // The memory backend, and the buffer of a Lance-backed bucket, give records back as put.
  for (const char* backend : {"memory", "persisting", "lance"}) {
    SCOPED_TRACE(backend);
    TempDir dir;
    auto b = open(backend, dir.path());
    ASSERT_TRUE(b->put_batch(batch()).ok());
    EXPECT_EQ(read_all(*b), kPut);
  }
  // Read from Lance: one column per field, in the order the bucket first met the fields (its
  // schema), and a null cannot be told from an absent field: both read back absent.
  const std::vector<std::string> flushed = {
      R"({"id":"k","b":1,"a":2})",
      R"({"id":"k","a":3})",
      R"({"id":"k","c":"x"})",
      R"({"id":"k"})",
  };
  for (const char* backend : {"persisting", "lance"}) {
    SCOPED_TRACE(backend);
    TempDir dir;
    {
      // Just flushed, the writer serves them from its tail in memory: as put.
      TailCache cache(1 << 20);
      auto b = open(backend, dir.path(), &cache);
      ASSERT_TRUE(b->put_batch(batch()).ok());
      ASSERT_TRUE(b->flush().ok());
      EXPECT_EQ(read_all(*b), kPut);
      // Once the tail is evicted, from Lance.
      cache.set_budget(0);
      EXPECT_EQ(read_all(*b), flushed);
    }
    auto reopened = open(backend, dir.path());
    EXPECT_EQ(read_all(*reopened), flushed);
  }
}
