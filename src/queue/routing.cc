#include "queue/routing.h"

#include <algorithm>

#include "core/hash.h"
#include "core/status_macros.h"

namespace persisting::queue {

WriterOptions writer_options(const TopicInfo& info) {
  WriterOptions w;
  w.topic = info.topic;
  w.bucket_column = info.bucket_column;
  w.num_buckets = info.num_buckets;
  w.batch_size = info.batch_size;
  w.backend = info.backend;
  w.backend_options = info.backend_options;
  return w;
}

TopicInfo topic_settings(const WriterOptions& w) {
  TopicInfo info;
  info.topic = w.topic;
  info.bucket_column = w.bucket_column;
  info.num_buckets = w.num_buckets;
  info.batch_size = w.batch_size;
  info.backend = w.backend;
  info.backend_options = w.backend_options;
  return info;
}

Object topic_stats(const TopicInfo& info, std::vector<Object> bucket_stats) {
  Object out;
  out.set("topic", info.topic);
  out.set("backend", info.backend);
  out.set("num_buckets", static_cast<int64_t>(info.num_buckets));
  out.set("bucket_column", info.bucket_column);
  int64_t total = 0;
  List buckets;
  for (auto& o : bucket_stats) {
    if (const Value* t = o.find("total_count"); t && t->is_int()) total += t->as_int();
    buckets.emplace_back(std::move(o));
  }
  out.set("total_count", total);
  out.set("buckets", std::move(buckets));
  return out;
}

namespace {

Result<uint32_t> bucket_of_key(const TopicInfo& info, const Value* key) {
  if (key == nullptr || key->is_null())
    return InvalidArgument("has no value in bucket column '" + info.bucket_column + "'");
  auto bytes = bucket_key_bytes(*key);
  if (!bytes.ok())
    return InvalidArgument("bucket column '" + info.bucket_column + "': " + bytes.status().message());
  return bucket_for_key(*bytes, info.num_buckets);
}

}  // namespace

Result<uint32_t> bucket_of(const TopicInfo& info, const Record& r) {
  // A record nested deeper than the codec reads back would be refused as corruption later.
  RETURN_IF_ERROR(check_record_depth(r));
  return bucket_of_key(info, r.find(info.bucket_column));
}

Result<uint32_t> bucket_of(const TopicInfo& info, const std::vector<FieldShape>& fields) {
  for (const FieldShape& f : fields) {
    if (f.name != info.bucket_column) continue;
    Value key;  // the scalar kinds a key may be; the others are refused by bucket_key_bytes
    switch (f.type) {
      case Value::Type::kString: key = Value(std::string(f.bytes)); break;
      case Value::Type::kBytes: key = Value(Bytes{std::string(f.bytes)}); break;
      case Value::Type::kInt: key = Value(f.i); break;
      case Value::Type::kBool: key = Value(f.b); break;
      case Value::Type::kDouble: key = Value(f.d); break;
      case Value::Type::kVector: key = Value(F32Vector{}); break;
      case Value::Type::kList: key = Value(List{}); break;
      case Value::Type::kObject: key = Value(Object{}); break;
      case Value::Type::kNull: break;
    }
    return bucket_of_key(info, &key);
  }
  return bucket_of_key(info, nullptr);
}

Status route(const TopicInfo& info, const std::vector<Record>& records,
             std::vector<RecordBatch>* per_bucket, std::vector<std::vector<size_t>>* indexes,
             const std::vector<uint64_t>* numbers) {
  per_bucket->assign(info.num_buckets, RecordBatch());
  if (indexes) indexes->assign(info.num_buckets, {});
  for (size_t i = 0; i < records.size(); ++i) {
    auto b = bucket_of(info, records[i]);
    if (!b.ok())
      return InvalidArgument("topic '" + info.topic + "': record " + std::to_string(numbers ? (*numbers)[i] : i) +
                             " " + b.status().message() + "; nothing of the batch was written");
    (*per_bucket)[*b].add(records[i]);
    if (indexes) (*indexes)[*b].push_back(i);
  }
  return Status::OK();
}

std::vector<PutReport::Part> report_parts(const std::vector<std::vector<size_t>>& indexes) {
  std::vector<PutReport::Part> parts;
  for (uint32_t b = 0; b < indexes.size(); ++b) {
    if (indexes[b].empty()) continue;
    PutReport::Part p;
    p.bucket = BucketId(b);
    p.records = indexes[b];
    parts.push_back(std::move(p));
  }
  return parts;
}

Result<std::vector<BucketId>> reader_buckets(const TopicInfo& info, const ReaderOptions& options) {
  std::vector<BucketId> buckets;
  if (options.rank.has_value()) {
    if (!options.buckets.empty())
      return InvalidArgument("reader for topic '" + info.topic + "': give buckets or rank/world_size, not both");
    if (options.world_size == 0 || *options.rank >= options.world_size)
      return InvalidArgument("reader for topic '" + info.topic + "': rank " + std::to_string(*options.rank) +
                             " is not in [0, world_size=" + std::to_string(options.world_size) + ")");
    for (uint32_t b = *options.rank; b < info.num_buckets; b += options.world_size) buckets.emplace_back(b);
  } else if (!options.buckets.empty()) {
    for (uint32_t b : options.buckets) {
      if (b >= info.num_buckets)
        return InvalidArgument("reader for topic '" + info.topic + "': bucket " + std::to_string(b) +
                               " is not in [0, " + std::to_string(info.num_buckets) + ")");
      for (BucketId seen : buckets)
        if (seen.value() == b)
          return InvalidArgument("reader for topic '" + info.topic + "': bucket " + std::to_string(b) +
                                 " listed twice");
      buckets.emplace_back(b);
    }
  } else {
    for (uint32_t b = 0; b < info.num_buckets; ++b) buckets.emplace_back(b);
  }
  return buckets;
}

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
      auto rec = c.ahead[i].decode(c.ahead_from[i] + k);
      if (!rec.ok()) {
        // Nothing of this get is returned: the cursor stays where it was, the bad record ahead.
        return rec.status().with_context("topic '" + topic + "' bucket " + std::to_string(c.buckets[i].value()) +
                                         " offset " + std::to_string(c.offsets[i] + k));
      }
      out.push_back(Message{c.buckets[i], Offset(c.offsets[i] + k), std::move(rec).value()});
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
