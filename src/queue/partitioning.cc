#include "queue/partitioning.h"

#include <algorithm>

#include "core/hash.h"
#include "core/status_macros.h"

namespace persisting::queue {

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

Status route_parts(const TopicInfo& info, const std::vector<Record>& records, std::vector<uint32_t>* buckets,
                   std::vector<RecordBatch>* parts, std::vector<std::vector<size_t>>* indexes,
                   const std::vector<uint64_t>* numbers) {
  std::vector<uint32_t> reached;  // in the order the records reach them
  std::vector<RecordBatch> batches;
  std::vector<std::vector<size_t>> idx;
  std::vector<int32_t> slot(info.num_buckets, -1);  // bucket -> its entry in reached
  for (size_t i = 0; i < records.size(); ++i) {
    auto b = bucket_of(info, records[i]);
    if (!b.ok())
      return InvalidArgument("topic '" + info.topic + "': record " + std::to_string(numbers ? (*numbers)[i] : i) +
                             " " + b.status().message() + "; nothing of the batch was written");
    if (slot[*b] < 0) {
      slot[*b] = static_cast<int32_t>(reached.size());
      reached.push_back(*b);
      batches.emplace_back();
      if (indexes) idx.emplace_back();
    }
    batches[slot[*b]].add(records[i]);
    if (indexes) idx[slot[*b]].push_back(i);
  }
  std::vector<uint32_t> order = reached;
  std::sort(order.begin(), order.end());
  buckets->clear();
  parts->clear();
  if (indexes) indexes->clear();
  for (uint32_t b : order) {
    buckets->push_back(b);
    parts->push_back(std::move(batches[slot[b]]));
    if (indexes) indexes->push_back(std::move(idx[slot[b]]));
  }
  return Status::OK();
}

Status route(const TopicInfo& info, const std::vector<Record>& records,
             std::vector<RecordBatch>* per_bucket, std::vector<std::vector<size_t>>* indexes,
             const std::vector<uint64_t>* numbers) {
  std::vector<uint32_t> buckets;
  std::vector<RecordBatch> parts;
  std::vector<std::vector<size_t>> part_indexes;
  RETURN_IF_ERROR(route_parts(info, records, &buckets, &parts, indexes ? &part_indexes : nullptr, numbers));
  per_bucket->assign(info.num_buckets, RecordBatch());
  if (indexes) indexes->assign(info.num_buckets, {});
  for (size_t k = 0; k < buckets.size(); ++k) {
    (*per_bucket)[buckets[k]] = std::move(parts[k]);
    if (indexes) (*indexes)[buckets[k]] = std::move(part_indexes[k]);
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

}  // namespace persisting::queue
