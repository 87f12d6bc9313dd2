// BackgroundErrors: what a bucket's background work (a flush, the WAL's interval sync or
// writeback, a close at shutdown) last failed with, for stats ("bg_error", "bg_error_count") and
// /metrics. Each failure is logged once: the same task failing with the same status code as the
// time before (a retry failing the same way) is counted but not logged again; a success clears the current
// error, so the next failure is logged anew. Thread-safe.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "persisting/bucket_stats.h"
#include "persisting/log.h"
#include "persisting/value.h"

namespace persisting {

class BackgroundErrors {
 public:
  // subject names the owner in log lines ("topic 't' bucket 3"); logger may be null (default).
  BackgroundErrors(Logger* logger, std::string subject) : logger_(logger), subject_(std::move(subject)) {}

  // The outcome of one background task (task: "flush", "WAL sync", ...). OK clears the error.
  void report(std::string_view task, const Status& s);
  // The current failure (OK when the last task of each kind that failed has since succeeded).
  Status current() const;
  uint64_t count() const;
  // Sets s->background: the current failure ("<task>: <status>", empty when none) and the count.
  void add_stats(BucketStats* s) const;

 private:
  Logger* logger_;
  std::string subject_;
  mutable std::mutex mu_;
  std::string task_;  // of the current error
  Status current_;
  uint64_t count_ = 0;
};

}  // namespace persisting
