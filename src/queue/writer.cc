// QueueWriter: validates and routes records to their buckets, has every target bucket check its
// part when the batch spans several (so a refused batch changes no bucket), then appends each
// bucket's part with one message to its actor.
#include <atomic>

#include "backend/node_log_host.h"
#include "core/hash.h"
#include "core/status_macros.h"
#include "queue/queue_core.h"
#include "queue/partitioning.h"

namespace persisting {
namespace {

// One batch put in flight: its parts, what they became, and who hears of it.
struct Job {
  std::string topic;
  std::vector<RecordBatch> per_part;           // parallel to report->parts
  std::vector<std::vector<uint64_t>> numbers;  // parallel to report->parts: how its records are named
  // Every actor of the topic (held here, so a put_async in flight does not need its writer), and
  // parallel to report->parts, the parts' actors (kept alive by all).
  std::shared_ptr<const std::vector<std::shared_ptr<runtime::BucketStorage>>> all;
  std::vector<runtime::BucketStorage*> actors;
  std::vector<bool> needs_check;  // parallel to report->parts
  std::vector<uint64_t> shape;    // parallel to report->parts: the part's one shape, or 0
  std::shared_ptr<detail::WriterState::Shapes> shapes;
  std::shared_ptr<PutReport> report;
  std::function<void(Status)> done;
  // Where the topic's node log is, when its parts should share one group commit (a persisting
  // topic in a data dir): send() plugs it while handing them out (NodeLogHost::plug).
  Env* env = nullptr;
  std::string log_data_dir;
  std::mutex mu;
  size_t left = 0;  // check round: buckets yet to answer (mu)
  std::atomic<size_t> sending{0};  // send: parts yet to be acknowledged
  Status first;  // the first error (with its bucket; mu)
};

// A record's top-level shape: its field names, value types and vector sizes (nulls skipped),
// hashed; 0 when it has a list or object field, whose column types depend on their contents.
uint64_t record_shape(const Record& r) {
  uint64_t h = 1469598103934665603ull;  // FNV-style mixing of per-field hashes: no allocation
  for (const auto& [name, v] : r) {
    const Value::Type t = v.type();
    if (t == Value::Type::kNull) continue;
    if (t == Value::Type::kList || t == Value::Type::kObject) return 0;
    uint64_t kind = static_cast<uint64_t>(t) + 1;
    if (t == Value::Type::kVector) kind |= static_cast<uint64_t>(v.as_vector().size()) << 8;
    h = (h ^ stable_hash64(name)) * 1099511628211ull;
    h = (h ^ kind) * 1099511628211ull;
  }
  return h | 1;
}

std::string bucket_name(const std::string& topic, BucketId b) {
  return "topic '" + topic + "' bucket " + std::to_string(b.value());
}

// The shapes of a put's acknowledged parts become their buckets' accepted shapes (one lock for
// the whole put, by the last part).
void note_accepted_shapes(Job& job) {
  if (!job.shapes) return;
  std::lock_guard<std::mutex> shapes_lock(job.shapes->mu);
  auto& accepted = job.shapes->accepted;
  for (size_t k = 0; k < job.report->parts.size(); ++k) {
    const PutReport::Part& p = job.report->parts[k];
    if (!p.acknowledged || job.shape[k] == 0) continue;
    if (accepted.size() <= p.bucket.value()) accepted.resize(p.bucket.value() + 1);
    accepted[p.bucket.value()] = job.shape[k];
  }
}

// Sends each part to its actor; done(first error or OK) runs once every bucket answered.
void send(std::shared_ptr<Job> job) {
  auto& parts = job->report->parts;
  job->sending.store(parts.size());
  // Let go once every bucket has its part: then one group commit starts for all of them.
  std::shared_ptr<void> plug = parts.size() > 1 && job->env ? NodeLogHost::plug(job->env, job->log_data_dir) : nullptr;
  for (size_t k = 0; k < parts.size(); ++k) {
    job->actors[k]->put(std::move(job->per_part[k]), [job, k](Result<Offset> r) {
      // Each part's fields are written by its own answer only; the last answer (acq_rel on the
      // count) sees them all.
      PutReport::Part& p = job->report->parts[k];
      if (r.ok()) {
        p.acknowledged = true;
        p.first = *r;
      } else {
        p.status = r.status().with_context(bucket_name(job->topic, p.bucket));
        std::lock_guard<std::mutex> lock(job->mu);
        if (job->first.ok()) job->first = p.status;
      }
      if (job->sending.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
      note_accepted_shapes(*job);
      Status first;
      {
        std::lock_guard<std::mutex> lock(job->mu);
        first = job->first;
      }
      job->done(std::move(first));
    }, plug);
  }
}

// Asks every target bucket whether it accepts its part; sends the parts only if all do.
void check_then_send(std::shared_ptr<Job> job) {
  auto& parts = job->report->parts;
  std::vector<size_t> checking;
  for (size_t k = 0; k < parts.size(); ++k)
    if (job->needs_check[k]) checking.push_back(k);
  job->left = checking.size();
  for (size_t k : checking) {
    const uint32_t b = parts[k].bucket.value();
    job->actors[k]->check(&job->per_part[k], &job->numbers[k], [job, b](Status st) {
      bool last;
      {
        std::lock_guard<std::mutex> lock(job->mu);
        if (!st.ok() && job->first.ok())
          job->first = Status(st.code(), bucket_name(job->topic, BucketId(b)) + ": " + st.message() +
                                              "; nothing of the batch was written");
        last = --job->left == 0;
      }
      if (!last) return;
      if (!job->first.ok()) {
        job->report->refused = true;
        for (auto& p : job->report->parts) p.status = job->first;
        return job->done(job->first);
      }
      send(job);
    });
  }
}

// Routes records and sends them (checked first when they span several buckets); report is filled
// before done runs.
// want_records: the caller reads the report's record indexes (put_async does not: its puts skip
// that bookkeeping unless the topic's backend checks batches, whose errors need the indexes).
void start(detail::WriterState& s, const std::vector<Record>& records, const std::vector<uint64_t>* numbers,
           std::shared_ptr<PutReport> report, bool want_records, std::function<void(Status)> done) {
  auto job = std::make_shared<Job>();
  job->report = std::move(report);
  std::vector<std::vector<size_t>> indexes;
  // Every bucket of a topic has the same backend.
  const bool need_indexes = want_records || numbers || (!s.actors->empty() && (*s.actors)[0]->checks_batches());
  std::vector<uint32_t> buckets;
  Status st = queue::route_parts(s.info, records, &buckets, &job->per_part, need_indexes ? &indexes : nullptr, numbers);
  if (!st.ok()) {
    job->report->refused = true;
    return done(std::move(st));
  }
  job->report->parts.reserve(buckets.size());
  for (size_t k = 0; k < buckets.size(); ++k) {
    job->report->parts.push_back(PutReport::Part{.bucket = BucketId(buckets[k])});
    if (need_indexes) job->report->parts.back().records = indexes[k];
  }
  job->done = std::move(done);
  job->topic = s.info.topic;
  if (job->report->parts.size() > 1 && s.info.backend == "persisting" && !s.core->options.data_dir.empty()) {
    job->env = s.core->env;
    job->log_data_dir = s.core->options.data_dir;
  }
  bool any_checks = false;  // buckets whose backend accepts everything need no check round
  {
    std::lock_guard<std::mutex> lock(s.mu);
    if (s.written.size() != s.actors->size()) s.written.resize(s.actors->size());
    job->all = s.actors;
    job->actors.reserve(job->report->parts.size());
    for (const auto& p : job->report->parts) {
      const uint32_t b = p.bucket.value();
      s.written[b] = true;
      job->actors.push_back((*s.actors)[b].get());
      any_checks = any_checks || job->actors.back()->checks_batches();
    }
  }
  if (job->report->parts.empty()) return job->done(Status::OK());
  // One bucket appends all or nothing by itself; it is still asked first when the caller numbers
  // the records, so its errors use those numbers.
  if ((job->report->parts.size() == 1 && !numbers) || !any_checks) return send(job);
  // A part whose records all have the shape its bucket last accepted whole needs no check.
  const auto& parts = job->report->parts;
  job->shapes = s.shapes;
  job->shape.assign(parts.size(), 0);
  job->needs_check.assign(parts.size(), true);
  bool any_needed = false;
  {
    std::vector<uint64_t> accepted;
    {
      std::lock_guard<std::mutex> lock(s.shapes->mu);
      accepted = s.shapes->accepted;
    }
    for (size_t k = 0; k < parts.size(); ++k) {
      uint64_t shape = record_shape(records[parts[k].records.front()]);
      for (size_t i : parts[k].records)
        if (shape != 0 && record_shape(records[i]) != shape) shape = 0;
      job->shape[k] = shape;
      const uint32_t b = parts[k].bucket.value();
      job->needs_check[k] = shape == 0 || b >= accepted.size() || accepted[b] != shape;
      any_needed = any_needed || job->needs_check[k];
    }
  }
  if (!any_needed) return send(job);
  job->numbers.resize(indexes.size());
  for (size_t k = 0; k < indexes.size(); ++k)
    for (size_t i : indexes[k]) job->numbers[k].push_back(numbers ? (*numbers)[i] : i);
  check_then_send(job);
}

}  // namespace

QueueWriter::QueueWriter(std::unique_ptr<detail::WriterState> s) : s_(std::move(s)) {}
QueueWriter::~QueueWriter() = default;
const TopicInfo& QueueWriter::topic() const { return s_->info; }

Result<Position> QueueWriter::put(const Record& record) {
  auto b = queue::bucket_of(s_->info, record);
  if (!b.ok()) return b.status().with_context("topic '" + s_->info.topic + "': record");
  RecordBatch batch;
  batch.add(record);
  std::promise<Result<Offset>> p;
  auto f = p.get_future();
  s_->mark_written(*b);
  (*s_->actors)[*b]->put(std::move(batch), [&p](Result<Offset> r) { p.set_value(std::move(r)); });
  ASSIGN_OR_RETURN(Offset off, f.get());
  return Position{BucketId(*b), off};
}

Status QueueWriter::put(const std::vector<Record>& records) { return put_async(records).get(); }

Status QueueWriter::put(const std::vector<Record>& records, PutReport* report, const std::vector<uint64_t>* numbers) {
  auto shared = std::make_shared<PutReport>();
  std::promise<Status> p;
  auto f = p.get_future();
  start(*s_, records, numbers, shared, /*want_records=*/true, [&p](Status st) { p.set_value(std::move(st)); });
  Status result = f.get();
  *report = std::move(*shared);
  return result;
}

void QueueWriter::put_async(const std::vector<Record>& records, std::function<void(Status)> done) {
  start(*s_, records, nullptr, std::make_shared<PutReport>(), /*want_records=*/false, std::move(done));
}

std::future<Status> QueueWriter::put_async(const std::vector<Record>& records) {
  auto p = std::make_shared<std::promise<Status>>();
  auto f = p->get_future();
  put_async(records, [p](Status s) { p->set_value(std::move(s)); });
  return f;
}

Status QueueWriter::flush() {
  std::vector<std::shared_ptr<runtime::BucketStorage>> actors;
  {
    std::lock_guard<std::mutex> lock(s_->mu);
    for (size_t b = 0; b < s_->written.size(); ++b)
      if (s_->written[b]) actors.push_back((*s_->actors)[b]);
    s_->written.assign(s_->actors->size(), false);
  }
  Status s = detail::flush_actors(actors);
  if (!s.ok()) {  // not flushed: still to flush next time
    std::lock_guard<std::mutex> lock(s_->mu);
    for (const auto& a : actors) s_->written[a->bucket().value()] = true;
  }
  return s;
}

Result<Object> QueueWriter::stats() { return s_->core->stats(s_->info); }

}  // namespace persisting
