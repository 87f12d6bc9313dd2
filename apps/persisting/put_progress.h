// What a `persisting put` has stored so far, by input line, and the messages that say so when it
// fails (docs/cli.md, "What a failed put says"): every failing put reports how many records were
// acknowledged and the first input line not written, and names lines, never positions inside one
// bucket's share of a batch.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "persisting/queue.h"

namespace persisting::cli {

// "line 4" or "lines 1-3,5,7-9" (ls ascending).
std::string line_list(const std::vector<uint64_t>& ls);

class PutProgress {
 public:
  // track_offsets: remember where each acknowledged line landed (bucket, offset), for backends
  // that store a record only at its flush (lance), so a failed flush can name the lines it lost.
  explicit PutProgress(bool track_offsets) : track_offsets_(track_offsets) {}

  uint64_t written() const { return written_; }
  // A batch acknowledged whole; lines are its records' input line numbers.
  void acknowledged(const PutReport& report, const std::vector<uint64_t>& lines);
  // The messages for a batch whose put returned s: per bucket (and owner) the lines written and
  // not when it was written in part, then the summary.
  std::vector<std::string> batch_failed(const Status& s, const PutReport& report,
                                        const std::vector<uint64_t>& lines) const;
  // The messages for an unreadable input line; batch_first is the first line of the unsent batch.
  std::vector<std::string> bad_line(uint64_t line_no, const std::string& why, uint64_t batch_first) const;
  // The message for a flush that failed on a backend that stores records only at flush, given
  // each bucket's persisted count (from stats; a bucket missing counts as nothing persisted).
  std::string flush_lost(const std::string& backend, const std::map<uint32_t, uint64_t>& persisted) const;

 private:
  std::string summary(uint64_t acked, uint64_t first_not_written) const;

  struct Landed {
    uint64_t line;
    uint32_t bucket;
    uint64_t offset;
  };
  bool track_offsets_;
  uint64_t written_ = 0;
  std::vector<Landed> landed_;
};

}  // namespace persisting::cli
