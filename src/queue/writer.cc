// QueueWriter: validates and routes records to their buckets, then appends each bucket's part
// with one message to its actor.
#include <atomic>

#include "core/status_macros.h"
#include "queue/queue_core.h"
#include "queue/routing.h"

namespace persisting {
namespace {

// Sends each non-empty bucket batch to its actor; done(first error or OK) runs once every
// bucket answered.
void send(detail::WriterState& s, std::vector<RecordBatch> per_bucket, std::function<void(Status)> done) {
  struct Pending {
    std::atomic<int> left{0};
    std::mutex mu;
    Status first;
    std::function<void(Status)> done;
  };
  auto pending = std::make_shared<Pending>();
  pending->done = std::move(done);
  int n = 0;
  for (const auto& b : per_bucket) n += b.empty() ? 0 : 1;
  if (n == 0) return pending->done(Status::OK());
  pending->left = n;
  for (size_t b = 0; b < per_bucket.size(); ++b) {
    if (per_bucket[b].empty()) continue;
    s.actors[b]->put(std::move(per_bucket[b]), [pending](Result<Offset> r) {
      if (!r.ok()) {
        std::lock_guard<std::mutex> lock(pending->mu);
        if (pending->first.ok()) pending->first = r.status();
      }
      if (pending->left.fetch_sub(1) == 1) pending->done(std::move(pending->first));
    });
  }
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
  s_->actors[*b]->put(std::move(batch), [&p](Result<Offset> r) { p.set_value(std::move(r)); });
  ASSIGN_OR_RETURN(Offset off, f.get());
  return Position{BucketId(*b), off};
}

Status QueueWriter::put(const std::vector<Record>& records) { return put_async(records).get(); }

void QueueWriter::put_async(const std::vector<Record>& records, std::function<void(Status)> done) {
  std::vector<RecordBatch> per_bucket;
  Status s = queue::route(s_->info, records, &per_bucket);
  if (!s.ok()) return done(std::move(s));
  send(*s_, std::move(per_bucket), std::move(done));
}

std::future<Status> QueueWriter::put_async(const std::vector<Record>& records) {
  auto p = std::make_shared<std::promise<Status>>();
  auto f = p->get_future();
  put_async(records, [p](Status s) { p->set_value(std::move(s)); });
  return f;
}

Status QueueWriter::flush() { return detail::flush_actors(s_->actors); }

Result<Object> QueueWriter::stats() { return s_->core->stats(s_->info); }

}  // namespace persisting
