// Helpers shared by the node log tests: records that name their stream and offset, and what a
// restarted process recovers from (a copy of) a node log directory.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "persisting/codec.h"
#include "storage/wal/node_log.h"
#include "tests/wal/wal_test_util.h"

namespace persisting::wal::testing {

// The record at offset o of stream s in every node log test.
inline std::string stream_record(const std::string& s, uint64_t o, size_t pad = 0) {
  std::string r = s + "@" + std::to_string(o) + "|";
  r.append(pad + (o % 5), static_cast<char>('a' + o % 26));
  return r;
}

inline RecordBatch stream_batch(const std::string& s, uint64_t first, size_t count, size_t pad = 0) {
  RecordBatch b;
  for (size_t i = 0; i < count; ++i) b.add_encoded(stream_record(s, first + i, pad));
  return b;
}

// stream -> its records, in replay order, with their offsets.
using StreamRecords = std::map<std::string, std::vector<std::pair<uint64_t, std::string>>>;

// Attaches every stream the log holds (from offset 0) and collects its records.
inline Status attach_all(NodeLog* log, StreamRecords* out) {
  for (const auto& name : log->unattached_streams()) {
    auto& got = (*out)[name];
    auto end = log->attach(name, Offset(0), [&got](Offset o, std::string_view r) {
      got.emplace_back(o.value(), std::string(r));
      return Status::OK();
    }, {});
    if (!end.ok()) return end.status();
  }
  return Status::OK();
}

struct RecoveredStreams {
  Status status;  // of the open (and the attaches)
  StreamRecords streams;
  NodeLogReport report;
};

// Recovers a copy of dir as a restarted process would (plain Env, the given policy), leaving dir
// alone.
inline RecoveredStreams recover_streams_copy(const std::string& dir, const std::string& copy,
                                             RecoveryPolicy policy = RecoveryPolicy::kTolerateTail) {
  std::filesystem::remove_all(copy);
  std::filesystem::copy(dir, copy, std::filesystem::copy_options::recursive);
  RecoveredStreams r;
  NodeLogOptions o;
  o.wal.recovery_policy = policy;
  auto log = NodeLog::open(copy, o, &r.report);
  if (!log.ok()) {
    r.status = log.status();
    return r;
  }
  r.status = attach_all(log->get(), &r.streams);
  return r;
}

// Each stream's records are its originals at offsets first, first+1, ... (first: from `from`).
inline void expect_stream_prefix(const StreamRecords& got, const std::string& s, uint64_t from, size_t pad = 0) {
  auto it = got.find(s);
  if (it == got.end()) return;
  for (size_t i = 0; i < it->second.size(); ++i) {
    ASSERT_EQ(it->second[i].first, from + i) << s << " record " << i;
    ASSERT_EQ(it->second[i].second, stream_record(s, from + i, pad)) << s << " offset " << from + i;
  }
}

inline size_t count_of(const StreamRecords& got, const std::string& s) {
  auto it = got.find(s);
  return it == got.end() ? 0 : it->second.size();
}

}  // namespace persisting::wal::testing
