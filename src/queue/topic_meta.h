// Topic metadata, persisted as <data_dir>/<topic>/topic.json (format 1; docs/architecture.md,
// "Topics"):
//   {"format":1,"topic":"events","bucket_column":"id","num_buckets":4,"batch_size":100,
//    "backend":"memory","options":{"k":"v"},"incarnation":"9f3c0a51d2e4b768"}
// Written atomically (temp file, fsync, rename) when a topic is created. Unknown keys are
// ignored on read so later versions can add fields; a higher "format" is refused. A file
// without "incarnation" (written before it existed) reads as incarnation 0.
#pragma once

#include <string>
#include <string_view>

#include "persisting/env.h"
#include "persisting/queue.h"

namespace persisting::queue {

inline constexpr int kTopicMetaFormat = 1;

std::string topic_dir(const std::string& data_dir, const std::string& topic);
std::string bucket_dir(const std::string& data_dir, const std::string& topic, BucketId bucket);
std::string topic_meta_path(const std::string& data_dir, const std::string& topic);
// Where a topic being deleted is moved before its files are removed: a name no topic can have
// (it starts with '.'), one per incarnation. Open removes leftovers (kDeletedPrefix).
inline constexpr const char* kDeletedPrefix = ".deleted.";
std::string deleted_topic_dir(const std::string& data_dir, const TopicInfo& info);

// A fresh incarnation id: random, never 0.
uint64_t new_incarnation();
// "9f3c0a51d2e4b768": 16 lowercase hex digits, as topic.json and messages write it.
std::string incarnation_text(uint64_t incarnation);

std::string encode_topic_meta(const TopicInfo& info);
// path is used in error messages.
Result<TopicInfo> decode_topic_meta(std::string_view json, const std::string& path);

// NotFound when the topic has no topic.json.
Result<TopicInfo> load_topic_meta(Env* env, const std::string& data_dir, const std::string& topic);
Status store_topic_meta(Env* env, const std::string& data_dir, const TopicInfo& info);
// store_topic_meta for a topic whose directory does not exist yet: on failure the directory
// it made is removed again, so no half-made topic is left.
Status create_topic_meta(Env* env, const std::string& data_dir, const TopicInfo& info);

// "records=100,bytes=4096", "records=100,policy=interest", or "none".
std::string retention_text(const Retention& r);
// "limits" or "interest" (docs/retention.md, "Interest").
std::string retention_policy_name(RetentionPolicy p);
// The policy named text; InvalidArgument naming what (the flag or argument) and the accepted
// values otherwise.
Result<RetentionPolicy> parse_retention_policy(std::string_view text, const std::string& what);
// InvalidArgument for a zero limit, or limits on a backend without retention (docs/retention.md).
Status check_retention(const std::string& topic, const std::string& backend, const Retention& r);

// 1, 3 or 5.
bool valid_replication_factor(uint64_t rf);
// InvalidArgument naming the topic unless rf is 1, 3, 5 or 0 (not given).
Status check_replication_factor(const std::string& topic, uint32_t rf);

// FailedPrecondition naming each setting that differs between the stored topic and a writer's.
Status check_same_settings(const TopicInfo& stored, const WriterOptions& wanted);

}  // namespace persisting::queue
