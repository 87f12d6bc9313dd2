// Helpers shared by the backup tests: a durable topic, its records per bucket, file surgery.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "persisting/queue.h"

namespace persisting::testing {

inline WriterOptions durable_topic(const std::string& topic, uint32_t buckets = 4) {
  WriterOptions w;
  w.topic = topic;
  w.bucket_column = "key";
  w.num_buckets = buckets;
  w.backend = "persisting";
  w.backend_options = {{"wal_sync_mode", "os"}, {"flush_interval", "0"}};
  return w;
}

inline std::vector<Record> batch_of(int producer, int64_t first_seq, int n) {
  std::vector<Record> out;
  for (int i = 0; i < n; ++i) {
    int64_t seq = first_seq + i;
    out.push_back(Record{{"key", "p" + std::to_string(producer) + "-" + std::to_string(seq % 7)},
                         {"producer", producer},
                         {"seq", seq}});
  }
  return out;
}

// Every message of one bucket from its first offset on, in offset order.
inline std::vector<Message> read_bucket(Queue& q, const std::string& topic, uint32_t bucket) {
  std::vector<Message> out;
  auto r = q.reader({.topic = topic, .buckets = {bucket}});
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  if (!r.ok()) return out;
  for (;;) {
    auto got = (*r)->get(10000);
    EXPECT_TRUE(got.ok()) << got.status().to_string();
    if (!got.ok() || got->empty()) break;
    for (auto& m : *got) out.push_back(std::move(m));
  }
  return out;
}

// Files under dir (relative paths, sorted).
inline std::vector<std::string> files_under(const std::string& dir) {
  std::vector<std::string> out;
  if (!std::filesystem::exists(dir)) return out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out.push_back(std::filesystem::relative(e.path(), dir).string());
  std::sort(out.begin(), out.end());
  return out;
}

inline std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

inline void flip_byte(const std::string& path, uint64_t at) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(f) << path;
  f.seekg(static_cast<std::streamoff>(at));
  char c = 0;
  f.get(c);
  f.seekp(static_cast<std::streamoff>(at));
  f.put(static_cast<char>(c ^ 0x40));
}

}  // namespace persisting::testing
