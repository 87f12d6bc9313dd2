#include "apps/persisting/put_progress.h"

#include <algorithm>

namespace persisting::cli {

std::string line_list(const std::vector<uint64_t>& ls) {
  std::string out;
  for (size_t i = 0; i < ls.size();) {
    size_t j = i;
    while (j + 1 < ls.size() && ls[j + 1] == ls[j] + 1) ++j;
    out += (out.empty() ? "" : ",") + std::to_string(ls[i]) + (j > i ? "-" + std::to_string(ls[j]) : "");
    i = j + 1;
  }
  return (ls.size() == 1 ? "line " : "lines ") + out;
}

std::string PutProgress::summary(uint64_t acked, uint64_t first_not_written) const {
  return std::to_string(acked) + " records acknowledged; first input line not written: " +
         std::to_string(first_not_written);
}

void PutProgress::acknowledged(const PutReport& report, const std::vector<uint64_t>& lines) {
  written_ += lines.size();
  if (!track_offsets_) return;
  for (const auto& p : report.parts)
    for (size_t k = 0; k < p.records.size(); ++k)
      landed_.push_back(Landed{lines[p.records[k]], p.bucket.value(), p.first.value() + k});
}

std::vector<std::string> PutProgress::batch_failed(const Status& s, const PutReport& report,
                                                   const std::vector<uint64_t>& lines) const {
  std::vector<std::string> out;
  if (report.refused || report.acknowledged() == 0) {
    const std::string span = lines.size() == 1 ? "line " + std::to_string(lines.front())
                                               : "lines " + std::to_string(lines.front()) + "-" +
                                                     std::to_string(lines.back());
    out.push_back(span + ": " + s.to_string() +
                  (report.refused ? " (records are numbered by input line)" : "; nothing of " + span + " was written"));
    out.push_back(summary(written_, lines.front()));
    return out;
  }
  // Some buckets took their records, others did not: which lines are which, per bucket.
  uint64_t first_not = UINT64_MAX;
  for (const auto& p : report.parts) {
    std::vector<uint64_t> ls;
    for (size_t i : p.records) ls.push_back(lines[i]);
    std::string where = "bucket " + std::to_string(p.bucket.value()) + (p.owner.empty() ? "" : ", owner " + p.owner);
    if (p.acknowledged) {
      out.push_back(line_list(ls) + " (" + where + "): written");
    } else {
      out.push_back(line_list(ls) + " (" + where + "): not written: " + p.status.to_string());
      first_not = std::min(first_not, ls.front());
    }
  }
  out.push_back(summary(written_ + report.acknowledged(), first_not));
  return out;
}

std::vector<std::string> PutProgress::bad_line(uint64_t line_no, const std::string& why, uint64_t batch_first) const {
  return {"line " + std::to_string(line_no) + ": " + why + " (nothing of lines " + std::to_string(batch_first) + "-" +
              std::to_string(line_no) + " was written; " + std::to_string(written_) + " records before them were)",
          summary(written_, batch_first)};
}

std::string PutProgress::flush_lost(const std::string& backend, const std::map<uint32_t, uint64_t>& persisted) const {
  std::vector<uint64_t> lost;
  for (const auto& l : landed_) {
    auto it = persisted.find(l.bucket);
    if (it == persisted.end() || l.offset >= it->second) lost.push_back(l.line);
  }
  std::sort(lost.begin(), lost.end());
  return "backend '" + backend + "' keeps a record only once it is flushed: " +
         (lost.empty() ? std::string("no lines") : line_list(lost)) + " of this put are not on disk; " +
         std::to_string(written_ - lost.size()) + " records acknowledged and stored" +
         (lost.empty() ? "" : "; first input line not written: " + std::to_string(lost.front()));
}

}  // namespace persisting::cli
