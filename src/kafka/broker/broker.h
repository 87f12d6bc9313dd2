// Broker: Kafka's partitions mapped onto the node's buckets (docs/kafka.md). A partition is a
// bucket, an offset the bucket's offset, a topic a topic. Produce appends to the partition's
// bucket actor (BucketStorage::put), Fetch reads from it (BucketStorage::read) and, when there
// is too little to answer yet, parks one waiter in every partition asked for
// (BucketStorage::get with a wait): no thread is held while a Fetch waits, and the first
// partition that gets data answers (the others are cancelled).
//
// Every completion runs on the bucket actor's thread and is passed straight to the caller's
// callback: the request handlers encode their answer there and hand it to the connection.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "kafka/broker/connection.h"
#include "kafka/broker/error_codes.h"
#include "kafka/broker/topic_catalog.h"
#include "kafka/protocol/record_batch.h"

namespace persisting::kafka {

struct BrokerConfig {
  bool auto_create_topics = true;  // Metadata/Produce create unknown topics (Kafka's default)
  uint32_t default_partitions = 1;  // partitions of an auto-created topic (Kafka's num.partitions)
  uint32_t max_wait_ms = 30000;     // a Fetch's max_wait_ms is cut to this
  size_t max_decompressed_bytes = 64u << 20;  // one produced batch may expand to at most this
};

// The outcome of one partition's produce.
struct ProduceOutcome {
  ErrorCode error = ErrorCode::NONE;
  int64_t base_offset = -1;
  std::string message;  // why, when error != NONE
};

// One partition of a Fetch.
struct FetchPart {
  std::shared_ptr<CatalogTopic> topic;
  uint32_t partition = 0;
  int64_t offset = 0;
  int32_t max_bytes = 1 << 20;
};

struct FetchedPart {
  ErrorCode error = ErrorCode::NONE;
  int64_t high_watermark = -1;
  int64_t log_start_offset = 0;  // the partition's first available offset (retention)
  std::string records;  // whole RecordBatch v2 batches (empty: nothing new)
};

class Broker {
 public:
  Broker(std::shared_ptr<detail::QueueCore> core, CatalogOptions catalog, BrokerConfig config);

  TopicCatalog& catalog() { return catalog_; }
  const BrokerConfig& config() const { return config_; }
  detail::QueueCore& core() { return *core_; }

  // Appends the records of batches (decoded from one partition's Produce data) to the
  // partition, all at once; done gets the first offset. now_ms stamps batches with
  // LogAppendTime. On a replicated partition acks -1 (all) is refused up front with
  // NOT_ENOUGH_REPLICAS while too few replicas are in sync, and answered once every in-sync
  // replica has the records (NOT_ENOUGH_REPLICAS_AFTER_APPEND, with the base offset, when the
  // set shrank below min_insync_replicas meanwhile: the records are in the log). in_log (may be
  // empty) runs with the first offset once the leader has the records, before done, which under
  // acks -1 may wait for the replicas and may then fail with the records in the log.
  void produce(const std::shared_ptr<CatalogTopic>& topic, uint32_t partition, const std::vector<RecordBatch>& batches,
               int16_t acks, std::function<void(ProduceOutcome)> done,
               std::function<void(int64_t)> in_log = nullptr);
  // A produce of records [base, end) already in the log (a retried batch): answered as produce
  // answers them under acks (at once unless acks -1 on a replicated partition).
  static void acknowledge(const std::shared_ptr<CatalogTopic>& topic, uint32_t partition, int64_t base, uint64_t end,
                          int16_t acks, std::function<void(ProduceOutcome)> done);

  // Reads every part (parallel answers, in order). Answers at once when at least min_bytes are
  // there (or max_wait_ms is 0, a part failed, or a part holds more than the answer takes);
  // otherwise parks past what is there until partitions get enough or max_wait_ms passes, then
  // answers with what there is. max_bytes bounds the whole answer (at least one batch is sent).
  // session (may be null) lets a closing connection cancel the parked fetch.
  void fetch(std::vector<FetchPart> parts, int32_t max_wait_ms, int32_t min_bytes, int32_t max_bytes,
             Session* session, std::function<void(std::vector<FetchedPart>)> done);

  // The partition's first available offset (Kafka's earliest; retention removed the records
  // below it: docs/retention.md); done runs on a runtime thread.
  void start_offset(const std::shared_ptr<CatalogTopic>& topic, uint32_t partition,
                    std::function<void(Result<int64_t>)> done);
  // The partition's end offset (Kafka's latest, the high watermark: on a replicated partition
  // the records below it are on every in-sync replica).
  void end_offset(const std::shared_ptr<CatalogTopic>& topic, uint32_t partition,
                  std::function<void(Result<int64_t>)> done);
  // ListOffsets by time: the first offset whose record's timestamp is >= timestamp, with that
  // timestamp; (-1, -1) when there is none (records put by our APIs have no timestamp). Scans
  // the partition from its start, 1,000 records a message.
  void offset_for_time(const std::shared_ptr<CatalogTopic>& topic, uint32_t partition, int64_t timestamp,
                       std::function<void(Result<std::pair<int64_t, int64_t>>)> done);

 private:
  struct FetchState;
  void fetch_round(const std::shared_ptr<FetchState>& st);
  void park(const std::shared_ptr<FetchState>& st);
  void cancel_losers(const std::shared_ptr<FetchState>& st, size_t winner, uint64_t waiter);
  void fetch_answer(const std::shared_ptr<FetchState>& st);
  // A fetch of replicated partitions with nothing to answer yet: waits for a high watermark to
  // pass a fetch offset (or the deadline), then reads again.
  void park_on_high_watermarks(const std::shared_ptr<FetchState>& st);

  std::shared_ptr<detail::QueueCore> core_;
  TopicCatalog catalog_;
  BrokerConfig config_;
};

// Kafka's error for one of our Status codes in a partition's answer.
ErrorCode partition_error(const Status& s);
// Kafka's error for a partition this node cannot serve (CatalogTopic::partition failed):
// NOT_LEADER_OR_FOLLOWER when another node owns it or a rebalance moves it,
// UNKNOWN_TOPIC_OR_PARTITION otherwise.
ErrorCode placement_error(const Status& s);

}  // namespace persisting::kafka
