// Helpers of the replication tests (in_sync_test.cc, elect_test.cc): a one-bucket factor-3
// topic, its records, and everything readable through a node.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "net/connect_to.h"
#include "persisting/client.h"

namespace persisting::testing {

// Records {"id": i, "k": 0} for i in [from, to): all in the topic's one bucket.
inline std::vector<Record> records(int64_t from, int64_t to) {
  std::vector<Record> out;
  for (int64_t i = from; i < to; ++i) out.push_back(Record{{"id", i}, {"k", int64_t{0}}});
  return out;
}

// Every record of the topic readable through address now (no waiting), as ids in offset order.
inline std::vector<int64_t> read_all(const std::string& address, const std::string& topic) {
  std::vector<int64_t> ids;
  auto c = connect_to(address);
  if (!c) return ids;
  auto r = c->reader({.topic = topic});
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  if (!r.ok()) return ids;
  for (int i = 0; i < 100; ++i) {  // bounded
    auto msgs = (*r)->get(1000);
    EXPECT_TRUE(msgs.ok()) << msgs.status().to_string();
    if (!msgs.ok() || msgs->empty()) break;
    for (const auto& m : *msgs) ids.push_back(m.record.find("id")->as_int());
  }
  return ids;
}

// One bucket (so one leader), factor 3, the node's WAL.
inline WriterOptions replicated(const std::string& topic, Acks acks = Acks::kDefault) {
  return {.topic = topic, .bucket_column = "k", .num_buckets = 1, .backend = "persisting",
          .replication_factor = 3, .acks = acks};
}

}  // namespace persisting::testing
