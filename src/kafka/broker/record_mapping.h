// How a Kafka record becomes one of our records and back (docs/kafka.md, "Mapping").
//
// A topic created over Kafka (TopicKind::kKafka) stores each Kafka record as
//   {"key": bytes|null, "value": bytes|null, "timestamp": int64 ms,
//    "headers": [{"key": string, "value": bytes|null}, ...]}
// Lance keeps key and value as binary columns, timestamp as int64 and headers as JSON text (the
// engine's rule for lists of objects), all of which LanceDB reads.
//
// A topic created by our APIs (TopicKind::kRecords) holds JSON-like records. A Kafka consumer
// gets value = the record's JSON text and key = the bucket column's value (a string as it is,
// any other value as JSON text; null when the record lacks it). A Kafka producer must send a
// JSON object as the value; when the object has no bucket column and the Kafka record has a key,
// the key (as a string) is added as the bucket column.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "kafka/broker/topic_catalog.h"
#include "kafka/protocol/record_batch.h"
#include "persisting/codec.h"

namespace persisting::kafka {

// Appends the stored form of r (with its absolute timestamp) to *out. InvalidArgument naming the
// record when a kRecords topic gets a value that is not a JSON object.
Status append_stored(const Record& r, int64_t timestamp, const CatalogTopic& topic, ::persisting::RecordBatch* out);

// The Kafka view of one stored record: key, value, headers and the timestamp (-1 when the
// record has none: records put by our APIs).
Status to_kafka(std::string_view encoded, const CatalogTopic& topic, Record* out, int64_t* timestamp);

// The same without copies where it can: for a Kafka topic, key and value view the encoded
// record (valid while it is); for a topic of our APIs they view `owned`.
struct KafkaView {
  std::optional<std::string_view> key, value;
  std::vector<RecordHeader> headers;
  int64_t timestamp = -1;
  Record owned;
};
Status view_kafka(std::string_view encoded, const CatalogTopic& topic, KafkaView* out);

}  // namespace persisting::kafka
