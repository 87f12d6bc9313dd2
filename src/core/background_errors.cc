#include "core/background_errors.h"

#include "core/log.h"

namespace persisting {

void BackgroundErrors::report(std::string_view task, const Status& s) {
  std::string line;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (s.ok()) {
      // Only the kind of task that failed can clear its failure (a writeback going well says
      // nothing about a failing flush).
      if (!current_.ok() && task_ == task) {
        line = subject_ + ": " + std::string(task) + " works again after: " + current_.to_string();
        current_ = Status::OK();
        task_.clear();
      }
    } else {
      ++count_;
      // The same task failing with the same code is the same failure retried (messages differ
      // in details such as a new file's name each time).
      bool same = !current_.ok() && task_ == task && current_.code() == s.code();
      if (!same) line = subject_ + ": background " + std::string(task) + " failed: " + s.to_string();
      current_ = s;
      task_ = std::string(task);
    }
  }
  if (line.empty()) return;
  log_line(logger_, s.ok() ? LogLevel::kInfo : LogLevel::kError, line);
}

Status BackgroundErrors::current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

uint64_t BackgroundErrors::count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return count_;
}

void BackgroundErrors::add_stats(BucketStats* s) const {
  std::lock_guard<std::mutex> lock(mu_);
  BucketStats::Background& b = s->background.emplace();
  if (!current_.ok()) b.error = task_ + ": " + current_.to_string();
  b.error_count = count_;
}

}  // namespace persisting
