#include "kafka/protocol/messages/fetch.h"

#include "kafka/protocol/api.h"
#include "kafka/protocol/serde.h"

namespace persisting::kafka {

namespace {

template <class S>
Status serde(S& s, FetchRequest& m, int16_t v) {
  KAFKA_FIELD(s.i32(m.replica_id, "Fetch.replica_id"));
  KAFKA_FIELD(s.i32(m.max_wait_ms, "Fetch.max_wait_ms"));
  KAFKA_FIELD(s.i32(m.min_bytes, "Fetch.min_bytes"));
  if (v >= 3) KAFKA_FIELD(s.i32(m.max_bytes, "Fetch.max_bytes"));
  if (v >= 4) KAFKA_FIELD(s.i8(m.isolation_level, "Fetch.isolation_level"));
  if (v >= 7) {
    KAFKA_FIELD(s.i32(m.session_id, "Fetch.session_id"));
    KAFKA_FIELD(s.i32(m.session_epoch, "Fetch.session_epoch"));
  }
  KAFKA_FIELD(s.array(m.topics, "Fetch.topics", [&](FetchRequest::Topic& t) {
    KAFKA_FIELD(s.str(t.topic, "Fetch.topics.topic"));
    KAFKA_FIELD(s.array(t.partitions, "Fetch.partitions", [&](FetchRequest::Partition& p) {
      KAFKA_FIELD(s.i32(p.partition, "Fetch.partitions.partition"));
      if (v >= 9) KAFKA_FIELD(s.i32(p.current_leader_epoch, "Fetch.partitions.current_leader_epoch"));
      KAFKA_FIELD(s.i64(p.fetch_offset, "Fetch.partitions.fetch_offset"));
      if (v >= 5) KAFKA_FIELD(s.i64(p.log_start_offset, "Fetch.partitions.log_start_offset"));
      KAFKA_FIELD(s.i32(p.partition_max_bytes, "Fetch.partitions.partition_max_bytes"));
      return s.tags("Fetch.partitions");
    }));
    return s.tags("Fetch.topics");
  }));
  if (v >= 7) {
    KAFKA_FIELD(s.array(m.forgotten_topics_data, "Fetch.forgotten_topics_data", [&](FetchRequest::ForgottenTopic& t) {
      KAFKA_FIELD(s.str(t.topic, "Fetch.forgotten_topics_data.topic"));
      KAFKA_FIELD(s.array(t.partitions, "Fetch.forgotten_topics_data.partitions",
                          [&](int32_t& p) { return s.i32(p, "Fetch.forgotten_topics_data.partitions"); }));
      return s.tags("Fetch.forgotten_topics_data");
    }));
  }
  if (v >= 11) KAFKA_FIELD(s.str(m.rack_id, "Fetch.rack_id"));
  return s.tags("Fetch");
}

template <class S>
Status serde(S& s, FetchResponse& m, int16_t v) {
  if (v >= 1) KAFKA_FIELD(s.i32(m.throttle_time_ms, "FetchResponse.throttle_time_ms"));
  if (v >= 7) {
    KAFKA_FIELD(s.i16(m.error_code, "FetchResponse.error_code"));
    KAFKA_FIELD(s.i32(m.session_id, "FetchResponse.session_id"));
  }
  KAFKA_FIELD(s.array(m.responses, "FetchResponse.responses", [&](FetchResponse::Topic& t) {
    KAFKA_FIELD(s.str(t.topic, "FetchResponse.responses.topic"));
    KAFKA_FIELD(s.array(t.partitions, "FetchResponse.partitions", [&](FetchResponse::Partition& p) {
      KAFKA_FIELD(s.i32(p.partition_index, "FetchResponse.partitions.partition_index"));
      KAFKA_FIELD(s.i16(p.error_code, "FetchResponse.partitions.error_code"));
      KAFKA_FIELD(s.i64(p.high_watermark, "FetchResponse.partitions.high_watermark"));
      if (v >= 4) KAFKA_FIELD(s.i64(p.last_stable_offset, "FetchResponse.partitions.last_stable_offset"));
      if (v >= 5) KAFKA_FIELD(s.i64(p.log_start_offset, "FetchResponse.partitions.log_start_offset"));
      if (v >= 4) {
        KAFKA_FIELD(s.array(p.aborted_transactions, "FetchResponse.aborted_transactions",
                            [&](FetchResponse::AbortedTransaction& a) {
                              KAFKA_FIELD(s.i64(a.producer_id, "FetchResponse.aborted_transactions.producer_id"));
                              KAFKA_FIELD(s.i64(a.first_offset, "FetchResponse.aborted_transactions.first_offset"));
                              return s.tags("FetchResponse.aborted_transactions");
                            }));
      }
      if (v >= 11) KAFKA_FIELD(s.i32(p.preferred_read_replica, "FetchResponse.partitions.preferred_read_replica"));
      KAFKA_FIELD(s.records(p.records, "FetchResponse.partitions.records"));
      return s.tags("FetchResponse.partitions");
    }));
    return s.tags("FetchResponse.responses");
  }));
  return s.tags("FetchResponse");
}

}  // namespace

KAFKA_DEFINE_CODEC(FetchRequest, ApiKey::kFetch)
KAFKA_DEFINE_CODEC(FetchResponse, ApiKey::kFetch)

}  // namespace persisting::kafka
