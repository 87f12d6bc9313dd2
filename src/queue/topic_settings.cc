#include "queue/topic_settings.h"

namespace persisting::queue {

WriterOptions writer_options(const TopicInfo& info) {
  WriterOptions w;
  w.topic = info.topic;
  w.bucket_column = info.bucket_column;
  w.num_buckets = info.num_buckets;
  w.batch_size = info.batch_size;
  w.backend = info.backend;
  w.backend_options = info.backend_options;
  w.retention = info.retention;
  w.replication_factor = info.replication_factor;
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
  info.retention = w.retention;
  info.replication_factor = w.replication_factor;  // 0 (not given) until the topic is opened
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

}  // namespace persisting::queue
