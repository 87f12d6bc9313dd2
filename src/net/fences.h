// Rebalance fences on a node: the buckets of a topic whose puts this node refuses because a
// rebalance is moving them (docs/wire-protocol.md, "Rebalance"), the puts in flight a fence
// waits for, and the file that keeps the fences across restarts, <data_dir>/<topic>/fences.json.
// No gRPC here.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <string>

#include "persisting/env.h"
#include "persisting/status.h"

namespace persisting::net {

// One topic's fences: bucket -> the node it is moving to. A Put holds `mu` shared from its fence
// check until its runs are handed to the actors, and counts them (put_started) until they are
// answered (put_answered); so a fence, set under the exclusive lock, then waiting for the
// bucket's puts to drain, sees a final record count.
struct Fences {
  std::shared_mutex mu;
  std::map<uint32_t, std::string> moving;
  std::mutex file_mu;  // serializes writes of fences.json

  void put_started(uint32_t bucket);
  void put_answered(uint32_t bucket);
  // Waits until no put of bucket is in flight; false when timeout passed first.
  bool drained(uint32_t bucket, std::chrono::milliseconds timeout);

 private:
  std::mutex inflight_mu_;
  std::condition_variable inflight_cv_;
  std::map<uint32_t, int> inflight_;
};

// <data_dir>/<topic>/fences.json, format 1: {"format":1,"fences":{"3":"n3"}}: the buckets this
// node refuses puts to because a rebalance is moving them (to the node named). Present only while
// there are fences; written before a fence is reported set, so a restart keeps it.
std::string fences_path(const std::string& data_dir, const std::string& topic);
// No file: no fences.
Result<std::map<uint32_t, std::string>> load_fences(Env* env, const std::string& path);
// Replaces the file atomically; removes it when fences is empty.
Status store_fences(Env* env, const std::string& path, const std::map<uint32_t, std::string>& fences);

}  // namespace persisting::net
