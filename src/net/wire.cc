#include "net/wire.h"

#include "core/status_macros.h"
#include "queue/partitioning.h"

namespace persisting::net {

void to_wire(const RecordBatch& batch, v1::RecordRun* run) { to_wire(batch, 0, batch.size(), run); }

void to_wire(const RecordBatch& batch, size_t first, size_t n, v1::RecordRun* run) {
  const auto& ends = batch.ends();
  uint32_t begin = first == 0 ? 0 : ends[first - 1];
  uint32_t end = n == 0 ? begin : ends[first + n - 1];
  run->mutable_records()->assign(batch.data().data() + begin, end - begin);
  auto* out = run->mutable_ends();
  out->Reserve(static_cast<int>(n));
  for (size_t i = first; i < first + n; ++i) out->AddAlreadyReserved(ends[i] - begin);
  if (batch.has_times()) {
    auto* times = run->mutable_times();
    times->Reserve(static_cast<int>(n));
    for (size_t i = first; i < first + n; ++i) times->AddAlreadyReserved(batch.time(i));
  }
}

namespace {

// check(i, fields) for each record's top-level fields, if given.
Result<RecordBatch> records_from_wire(const v1::RecordRun& run, const std::string& what,
                                      const std::function<Status(const std::vector<FieldShape>&)>& check) {
  const std::string& data = run.records();
  std::vector<FieldShape> fields;
  RecordBatch batch;
  batch.reserve(run.ends_size(), data.size());
  uint32_t prev = 0;
  for (int i = 0; i < run.ends_size(); ++i) {
    uint32_t end = run.ends(i);
    if (end < prev || end > data.size())
      return InvalidArgument(what + ": record " + std::to_string(i) + " ends at byte " + std::to_string(end) +
                             ", outside [" + std::to_string(prev) + ", " + std::to_string(data.size()) +
                             "]: malformed record run");
    std::string_view rec(data.data() + prev, end - prev);
    if (rec.empty() && !check) {  // a gap in a read (StorageBackend::get); puts are checked
      batch.add_encoded(rec);
      prev = end;
      continue;
    }
    if (Status s = scan_fields(rec, &fields); !s.ok())
      return InvalidArgument(what + ": record " + std::to_string(i) + " is malformed: " + s.message());
    if (check) {
      Status s = check(fields);
      if (!s.ok()) return InvalidArgument(what + ": record " + std::to_string(i) + " " + s.message());
    }
    batch.add_encoded(rec);
    prev = end;
  }
  // Append times come with reads (a put's are the bucket's to give: ignored).
  if (!check && run.times_size() > 0) {
    if (run.times_size() != run.ends_size())
      return InvalidArgument(what + ": " + std::to_string(run.times_size()) + " append times for " +
                             std::to_string(run.ends_size()) + " records: malformed record run");
    batch.set_times(std::vector<int64_t>(run.times().begin(), run.times().end()));
  }
  if (prev != data.size())
    return InvalidArgument(what + ": " + std::to_string(data.size() - prev) +
                           " bytes after the last record: malformed record run");
  return batch;
}

}  // namespace

Result<RecordBatch> from_wire(const v1::RecordRun& run, const std::string& what) {
  return records_from_wire(run, what, nullptr);
}

Result<RecordBatch> from_wire(const v1::RecordRun& run, const std::string& what, const TopicInfo& info,
                              uint32_t bucket) {
  return records_from_wire(run, what, [&info, bucket](const std::vector<FieldShape>& fields) -> Status {
    ASSIGN_OR_RETURN(uint32_t b, queue::bucket_of(info, fields));
    if (b != bucket) return InvalidArgument("belongs to bucket " + std::to_string(b) + ", not this one");
    return Status::OK();
  });
}

void to_wire(const TopicInfo& info, v1::TopicSpec* spec) {
  spec->set_topic(info.topic);
  spec->set_bucket_column(info.bucket_column);
  spec->set_num_buckets(info.num_buckets);
  spec->set_batch_size(info.batch_size);
  spec->set_backend(info.backend);
  for (const auto& [k, v] : info.backend_options) (*spec->mutable_backend_options())[k] = v;
  spec->set_durable(info.durable);
  spec->set_incarnation(info.incarnation);
  spec->set_replication_factor(info.replication_factor);
  if (info.retention.any()) to_wire(info.retention, spec->mutable_retention());
}

void to_wire(const Retention& r, v1::Retention* out) {
  out->Clear();
  if (r.records) out->set_records(*r.records);
  if (r.bytes) out->set_bytes(*r.bytes);
  if (r.ms) out->set_ms(*r.ms);
  if (r.policy == RetentionPolicy::kInterest) out->set_policy(v1::RETENTION_POLICY_INTEREST);
}

Retention from_wire(const v1::Retention& r) {
  Retention out;
  if (r.has_records()) out.records = r.records();
  if (r.has_bytes()) out.bytes = r.bytes();
  if (r.has_ms()) out.ms = r.ms();
  if (r.policy() == v1::RETENTION_POLICY_INTEREST) out.policy = RetentionPolicy::kInterest;
  return out;
}

TopicInfo from_wire(const v1::TopicSpec& spec) {
  TopicInfo info;
  info.topic = spec.topic();
  info.bucket_column = spec.bucket_column();
  info.num_buckets = spec.num_buckets();
  info.batch_size = spec.batch_size();
  info.backend = spec.backend();
  for (const auto& [k, v] : spec.backend_options()) info.backend_options[k] = v;
  info.durable = spec.durable();
  info.incarnation = spec.incarnation();
  info.replication_factor = spec.replication_factor();  // 0: not given (a request)
  info.retention = from_wire(spec.retention());
  return info;
}


}  // namespace persisting::net
