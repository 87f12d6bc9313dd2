#include "kafka/broker/record_mapping.h"

#include "core/status_macros.h"
#include "persisting/json.h"

namespace persisting::kafka {
namespace {

Value bytes_or_null(const std::optional<std::string>& b) {
  if (!b) return Value();
  return Value(Bytes{*b});
}

std::optional<std::string> optional_bytes(const Value* v) {
  if (v == nullptr || v->is_null()) return std::nullopt;
  if (v->is_bytes()) return v->as_bytes().data;
  if (v->is_string()) return v->as_string();
  return to_json(*v);
}

}  // namespace

Status append_stored(const Record& r, int64_t timestamp, const CatalogTopic& topic, ::persisting::RecordBatch* out) {
  if (topic.kind() == TopicKind::kKafka) {
    Object o;
    o.reserve(4);
    o.append_unchecked(kKeyColumn, bytes_or_null(r.key));
    o.append_unchecked(kValueColumn, bytes_or_null(r.value));
    o.append_unchecked(kTimestampColumn, Value(timestamp));
    List headers;
    headers.reserve(r.headers.size());
    for (const auto& h : r.headers) {
      Object ho;
      ho.append_unchecked("key", Value(h.key));
      ho.append_unchecked("value", bytes_or_null(h.value));
      headers.emplace_back(std::move(ho));
    }
    o.append_unchecked(kHeadersColumn, Value(std::move(headers)));
    out->add(o);
    return Status::OK();
  }
  const std::string& column = topic.info().bucket_column;
  if (!r.value)
    return InvalidArgument("topic '" + topic.name() + "' holds JSON records (created by the Persisting API): a Kafka "
                           "record needs a JSON object as its value, not null");
  auto parsed = parse_json_record(*r.value);
  if (!parsed.ok())
    return InvalidArgument("topic '" + topic.name() + "' holds JSON records (created by the Persisting API): a Kafka "
                           "record's value must be a JSON object: " + parsed.status().message());
  Object o = std::move(parsed).value();
  if (!o.contains(column)) {
    if (!r.key)
      return InvalidArgument("topic '" + topic.name() + "': a record needs its bucket column '" + column +
                             "' (in the JSON value, or as the Kafka key)");
    o.set(column, Value(*r.key));
  }
  RETURN_IF_ERROR(check_record_depth(o));
  out->add(o);
  return Status::OK();
}

Status to_kafka(std::string_view encoded, const CatalogTopic& topic, Record* out, int64_t* timestamp) {
  out->key.reset();
  out->value.reset();
  out->headers.clear();
  *timestamp = -1;
  if (topic.kind() == TopicKind::kKafka) {
    // Scanned, not decoded: key and value are copied straight out of the encoded record.
    KafkaView view;
    RETURN_IF_ERROR(view_kafka(encoded, topic, &view));
    if (view.key) out->key.emplace(*view.key);
    if (view.value) out->value.emplace(*view.value);
    out->headers = std::move(view.headers);
    *timestamp = view.timestamp;
    return Status::OK();
  }
  ASSIGN_OR_RETURN(::persisting::Record r, decode_record(encoded));
  out->key = optional_bytes(r.find(topic.info().bucket_column));
  std::string json;
  to_json(Value(std::move(r)), &json);
  out->value = std::move(json);
  return Status::OK();
}

Status view_kafka(std::string_view encoded, const CatalogTopic& topic, KafkaView* out) {
  out->key.reset();
  out->value.reset();
  out->headers.clear();
  out->timestamp = -1;
  if (topic.kind() != TopicKind::kKafka) {
    RETURN_IF_ERROR(to_kafka(encoded, topic, &out->owned, &out->timestamp));
    if (out->owned.key) out->key = *out->owned.key;
    if (out->owned.value) out->value = *out->owned.value;
    out->headers = out->owned.headers;
    return Status::OK();
  }
  thread_local std::vector<FieldShape> fields;
  RETURN_IF_ERROR(scan_fields(encoded, &fields));
  for (const FieldShape& f : fields) {
    const bool text = f.type == Value::Type::kBytes || f.type == Value::Type::kString;
    if (f.name == kKeyColumn) {
      if (text) out->key = f.bytes;
    } else if (f.name == kValueColumn) {
      if (text) out->value = f.bytes;
    } else if (f.name == kTimestampColumn) {
      if (f.type == Value::Type::kInt) out->timestamp = f.i;
    } else if (f.name == kHeadersColumn && f.type == Value::Type::kList && f.value.size() > 2) {
      // (A list of at least one element takes a tag, a count and the element: more than 2
      // bytes; an empty one, every record without headers, is not decoded.)
      ASSIGN_OR_RETURN(Value v, decode_value(f.value));
      for (const Value& h : v.as_list()) {
        if (!h.is_object()) continue;
        RecordHeader rh;
        if (const Value* k = h.as_object().find("key"); k && k->is_string()) rh.key = k->as_string();
        rh.value = optional_bytes(h.as_object().find("value"));
        out->headers.push_back(std::move(rh));
      }
    }
  }
  return Status::OK();
}

}  // namespace persisting::kafka
