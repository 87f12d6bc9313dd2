// A topic's settings in their two shapes (TopicInfo, WriterOptions) and the topic-level stats
// object built from its buckets' stats: shared by the embedded Queue and the remote Client
// (library persisting_routing, on the records alone).
#pragma once

#include <string>
#include <vector>

#include "persisting/codec.h"
#include "persisting/queue.h"

namespace persisting::queue {

// A topic's settings as writer options, and back (durable stays false: the registry knows it).
WriterOptions writer_options(const TopicInfo& info);
TopicInfo topic_settings(const WriterOptions& options);

// {"topic","backend","num_buckets","bucket_column","total_count","buckets":[...]} from the
// buckets' stats objects (in bucket order): the shape of Queue::stats and Client::stats.
Object topic_stats(const TopicInfo& info, std::vector<Object> bucket_stats);

}  // namespace persisting::queue
