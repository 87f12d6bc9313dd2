// Connects to a persistingd node, puts one record and reads it back.
//   client_example 127.0.0.1:7070 [topic]
// Exits 0 when the record read back is the one put.
#include <chrono>
#include <cstdio>
#include <string>

#include "persisting/client.h"
#include "persisting/json.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s host:port [topic]\n", argv[0]);
    return 2;
  }
  const std::string topic = argc > 2 ? argv[2] : "example";
  auto fail = [](const char* what, const persisting::Status& s) {
    std::fprintf(stderr, "%s: %s\n", what, s.to_string().c_str());
    return 1;
  };

  auto client = persisting::Client::connect({.server = argv[1]});
  if (!client.ok()) return fail("connect", client.status());

  auto writer = (*client)->writer({.topic = topic, .bucket_column = "id", .num_buckets = 4});
  if (!writer.ok()) return fail("writer", writer.status());
  auto record = persisting::parse_json_record(R"({"id": "user-1", "text": "hello from the client example"})");
  if (!record.ok()) return fail("record", record.status());
  auto pos = (*writer)->put(*record);
  if (!pos.ok()) return fail("put", pos.status());

  auto reader = (*client)->reader({.topic = topic, .buckets = {pos->bucket.value()}});
  if (!reader.ok()) return fail("reader", reader.status());
  if (auto s = (*reader)->set_offset(pos->offset); !s.ok()) return fail("set_offset", s);
  auto got = (*reader)->get(1, /*wait=*/true, std::chrono::seconds(5));
  if (!got.ok()) return fail("get", got.status());
  if (got->size() != 1) {
    std::fprintf(stderr, "get: expected 1 record, got %zu\n", got->size());
    return 1;
  }
  const std::string put_json = persisting::to_json(*record);
  const std::string got_json = persisting::to_json((*got)[0].record);
  std::printf("put bucket %u offset %llu: %s\n", static_cast<unsigned>(pos->bucket.value()),
              static_cast<unsigned long long>(pos->offset.value()), got_json.c_str());
  if (got_json != put_json) {
    std::fprintf(stderr, "read back %s, expected %s\n", got_json.c_str(), put_json.c_str());
    return 1;
  }
  return 0;
}
