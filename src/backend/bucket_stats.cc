#include "persisting/bucket_stats.h"

namespace persisting {

Object BucketStats::to_object() const {
  Object o;
  if (!topic.empty()) {
    o.set("topic", topic);
    o.set("bucket", static_cast<int64_t>(bucket));
  }
  if (closed) o.set("closed", true);
  if (!backend.empty()) o.set("backend", backend);
  if (!closed) {
    o.set("total_count", static_cast<int64_t>(total_count));
    o.set("first_offset", static_cast<int64_t>(first_offset));
    o.set("durable", durable);
  }
  if (buffer) {
    o.set("persisted", static_cast<int64_t>(buffer->persisted));
    o.set("buffered", static_cast<int64_t>(buffer->buffered));
    o.set("flush_count", static_cast<int64_t>(buffer->flush_count));
    o.set("last_flush_duration_s", buffer->last_flush_duration_s);
    o.set("last_flush_error", buffer->last_flush_error.empty() ? Value() : Value(buffer->last_flush_error));
  }
  if (wal_size) o.set("wal_size", static_cast<int64_t>(*wal_size));
  if (background) {
    o.set("bg_error", background->error.empty() ? Value() : Value(background->error));
    o.set("bg_error_count", static_cast<int64_t>(background->error_count));
  }
  for (const auto& [k, v] : extra) o.set(k, v);
  if (!topic.empty()) o.set("parked_readers", static_cast<int64_t>(parked_readers));
  return o;
}

}  // namespace persisting
