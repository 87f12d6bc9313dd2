#include "queue/read_cursor.h"

#include <algorithm>

#include "core/status_macros.h"

namespace persisting::queue {

std::vector<size_t> fair_shares(const std::vector<size_t>& sizes, size_t limit, size_t rotation) {
  size_t n = sizes.size();
  std::vector<size_t> take(n, 0);
  size_t total = 0;
  for (size_t s : sizes) total += s;
  if (total <= limit) return sizes;
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return sizes[a] < sizes[b]; });
  size_t remaining = limit, k = n;
  for (size_t i : order) {
    size_t share = remaining / k;
    take[i] = std::min(sizes[i], share);
    remaining -= take[i];
    --k;
  }
  for (size_t j = 0; j < n && remaining > 0; ++j) {
    size_t i = (rotation + j) % n;
    if (take[i] < sizes[i]) {
      ++take[i];
      --remaining;
    }
  }
  return take;
}

std::vector<size_t> fair_shares(const std::vector<RecordBatch>& raw, size_t limit, size_t rotation) {
  std::vector<size_t> sizes;
  sizes.reserve(raw.size());
  for (const auto& b : raw) sizes.push_back(b.size());
  return fair_shares(sizes, limit, rotation);
}

void Cursor::init(std::vector<BucketId> covered) {
  buckets = std::move(covered);
  offsets.assign(buckets.size(), 0);
  ahead.assign(buckets.size(), RecordBatch());
  ahead_from.assign(buckets.size(), 0);
}

void Cursor::reset() {
  std::fill(offsets.begin(), offsets.end(), 0);
  for (auto& a : ahead) a.clear();
  std::fill(ahead_from.begin(), ahead_from.end(), 0);
}

Status Cursor::set_offset(Offset offset, std::optional<BucketId> bucket, const std::string& topic) {
  auto move_to = [&](size_t i) {
    offsets[i] = offset.value();
    if (i < ahead.size()) {
      ahead[i].clear();
      ahead_from[i] = 0;
    }
  };
  if (!bucket.has_value()) {
    for (size_t i = 0; i < buckets.size(); ++i) move_to(i);
    return Status::OK();
  }
  for (size_t i = 0; i < buckets.size(); ++i) {
    if (buckets[i] == *bucket) {
      move_to(i);
      return Status::OK();
    }
  }
  return InvalidArgument("reader of topic '" + topic + "' does not cover bucket " + std::to_string(bucket->value()));
}

std::vector<Offset> Cursor::offset_list() const {
  std::vector<Offset> out;
  for (uint64_t o : offsets) out.emplace_back(o);
  return out;
}

bool Cursor::any_ahead() const {
  for (size_t i = 0; i < buckets.size(); ++i)
    if (ahead_count(i) > 0) return true;
  return false;
}

std::vector<size_t> Cursor::to_fetch(size_t limit) const {
  std::vector<size_t> out;
  size_t share = buckets.empty() ? 0 : (limit + buckets.size() - 1) / buckets.size();
  for (size_t i = 0; i < buckets.size(); ++i)
    if (ahead_count(i) < share) out.push_back(i);
  return out;
}

Result<std::vector<Message>> take_fair(Cursor& c, const std::string& topic, std::vector<RecordBatch>& raw,
                                       size_t limit) {
  size_t n = raw.size();
  if (c.ahead.size() != n) {
    c.ahead.assign(n, RecordBatch());
    c.ahead_from.assign(n, 0);
  }
  std::vector<size_t> sizes(n);
  for (size_t i = 0; i < n; ++i) {
    if (!raw[i].empty() || c.ahead_count(i) == 0) {  // a fetch starts at offsets[i], as the read-ahead
      c.ahead[i] = std::move(raw[i]);
      c.ahead_from[i] = 0;
    }
    // Leading gaps give no message: step over them, so the limit goes to records.
    while (c.ahead_count(i) > 0 && c.ahead[i].encoded(c.ahead_from[i]).empty()) {
      ++c.ahead_from[i];
      ++c.offsets[i];
    }
    sizes[i] = c.ahead_count(i);
  }
  std::vector<size_t> take = fair_shares(sizes, limit, c.rotation);
  std::vector<Message> out;
  size_t total = 0;
  for (size_t t : take) total += t;
  out.reserve(total);
  for (size_t j = 0; j < n; ++j) {
    size_t i = (c.rotation + j) % n;
    for (size_t k = 0; k < take[i]; ++k) {
      if (c.ahead[i].encoded(c.ahead_from[i] + k).empty()) continue;  // a gap (StorageBackend::get)
      auto rec = c.ahead[i].decode(c.ahead_from[i] + k);
      if (!rec.ok()) {
        // Nothing of this get is returned: the cursor stays where it was, the bad record ahead.
        return rec.status().with_context("topic '" + topic + "' bucket " + std::to_string(c.buckets[i].value()) +
                                         " offset " + std::to_string(c.offsets[i] + k));
      }
      out.push_back(Message{c.buckets[i], Offset(c.offsets[i] + k), std::move(rec).value(),
                            c.ahead[i].time(c.ahead_from[i] + k)});
    }
  }
  for (size_t i = 0; i < n; ++i) {
    c.offsets[i] += take[i];
    c.ahead_from[i] += take[i];
    if (c.ahead_count(i) == 0) {
      c.ahead[i].clear();
      c.ahead_from[i] = 0;
    }
  }
  if (n > 0) c.rotation = (c.rotation + 1) % n;
  return out;
}

}  // namespace persisting::queue
