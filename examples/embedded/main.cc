// Opens an embedded Queue (in memory, or in data_dir when given), puts one record and reads it
// back.   embedded_example [data_dir]
// Exits 0 when the record read back is the one put.
#include <chrono>
#include <cstdio>
#include <string>

#include "persisting/json.h"
#include "persisting/queue.h"

int main(int argc, char** argv) {
  auto fail = [](const char* what, const persisting::Status& s) {
    std::fprintf(stderr, "%s: %s\n", what, s.to_string().c_str());
    return 1;
  };
  auto queue = persisting::Queue::open({.data_dir = argc > 1 ? argv[1] : ""});
  if (!queue.ok()) return fail("open", queue.status());

  auto writer = (*queue)->writer({.topic = "example", .bucket_column = "id", .num_buckets = 4});
  if (!writer.ok()) return fail("writer", writer.status());
  auto record = persisting::parse_json_record(R"({"id": "user-1", "text": "hello from the embedded example"})");
  if (!record.ok()) return fail("record", record.status());
  auto pos = (*writer)->put(*record);
  if (!pos.ok()) return fail("put", pos.status());

  auto reader = (*queue)->reader({.topic = "example", .buckets = {pos->bucket.value()}});
  if (!reader.ok()) return fail("reader", reader.status());
  if (auto s = (*reader)->set_offset(pos->offset); !s.ok()) return fail("set_offset", s);
  auto got = (*reader)->get(1, /*wait=*/true, std::chrono::seconds(5));
  if (!got.ok()) return fail("get", got.status());
  if (got->size() != 1 || persisting::to_json((*got)[0].record) != persisting::to_json(*record)) {
    std::fprintf(stderr, "did not read back the record put\n");
    return 1;
  }
  std::printf("put bucket %u offset %llu: %s\n", static_cast<unsigned>(pos->bucket.value()),
              static_cast<unsigned long long>(pos->offset.value()), persisting::to_json((*got)[0].record).c_str());
  return 0;
}
