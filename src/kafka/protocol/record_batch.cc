#include "kafka/protocol/record_batch.h"

#include "core/crc32c.h"
#include "core/status_macros.h"
#include "kafka/protocol/wire.h"

namespace persisting::kafka {

namespace {

constexpr size_t kMagicOffset = 16;
constexpr size_t kCrcOffset = 17;
constexpr size_t kAttributesOffset = 21;
constexpr size_t kRecordCountOffset = 57;
// A record's smallest encoding: length, attributes, timestamp delta, offset delta, key, value and
// header count, one byte each.
constexpr size_t kMinRecordBytes = 7;

std::string at(size_t batch, std::string_view field) {
  return "record batch " + std::to_string(batch) + " " + std::string(field);
}

// One record from r. Field names are constants: the caller adds "record batch B: record I" to an
// error, so the success path builds no strings.
Status decode_record(Reader& r, Record* rec) {
  ASSIGN_OR_RETURN(int32_t length, r.varint("length"));
  if (length < 0) return InvalidArgument("kafka: length: negative (" + std::to_string(length) + ")");
  ASSIGN_OR_RETURN(std::string_view body, r.raw(static_cast<size_t>(length), "body"));
  Reader rr(body);
  RETURN_IF_ERROR(rr.int8("attributes").status());
  ASSIGN_OR_RETURN(rec->timestamp_delta, rr.varlong("timestamp_delta"));
  ASSIGN_OR_RETURN(int32_t offset_delta, rr.varint("offset_delta"));
  rec->offset_delta = offset_delta;
  ASSIGN_OR_RETURN(rec->key, rr.varint_bytes("key"));
  ASSIGN_OR_RETURN(rec->value, rr.varint_bytes("value"));
  ASSIGN_OR_RETURN(int32_t nheaders, rr.varint("headers count"));
  // A header takes at least two bytes (key length, value length).
  if (nheaders < 0 || static_cast<size_t>(nheaders) > rr.remaining() / 2) {
    return InvalidArgument("kafka: headers count " + std::to_string(nheaders) + " with " +
                           std::to_string(rr.remaining()) + " bytes left");
  }
  for (int32_t h = 0; h < nheaders; ++h) {
    RecordHeader header;
    ASSIGN_OR_RETURN(std::optional<std::string> key, rr.varint_bytes("header key"));
    if (!key) return InvalidArgument("kafka: header key: null");
    header.key = std::move(*key);
    ASSIGN_OR_RETURN(header.value, rr.varint_bytes("header value"));
    rec->headers.push_back(std::move(header));
  }
  if (!rr.empty()) {
    return InvalidArgument("kafka: " + std::to_string(rr.remaining()) + " bytes past its last header");
  }
  return Status::OK();
}

Status decode_records(std::string_view bytes, int32_t count, std::vector<Record>* out) {
  Reader r(bytes);
  if (static_cast<size_t>(count) > bytes.size() / kMinRecordBytes) {
    return InvalidArgument("kafka: records count " + std::to_string(count) + " but only " +
                           std::to_string(bytes.size()) + " bytes of records");
  }
  out->reserve(static_cast<size_t>(count));  // bounded by the bytes present (>= 7 per record)
  for (int32_t i = 0; i < count; ++i) {
    Record rec;
    Status st = decode_record(r, &rec);
    if (!st.ok()) return st.with_context("record " + std::to_string(i));
    out->push_back(std::move(rec));
  }
  if (!r.empty()) {
    return InvalidArgument("kafka: records: " + std::to_string(r.remaining()) + " bytes past the last of " +
                           std::to_string(count) + " records");
  }
  return Status::OK();
}

Result<RecordBatch> decode_batch(std::string_view bytes, size_t* consumed, const DecodeLimits& limits) {
  Reader r(bytes);
  RecordBatch b;
  ASSIGN_OR_RETURN(b.base_offset, r.int64("base_offset"));
  ASSIGN_OR_RETURN(int32_t batch_length, r.int32("batch_length"));
  if (batch_length < static_cast<int32_t>(kBatchHeaderBytes - kBatchLengthEnd)) {
    return InvalidArgument("kafka: batch_length " + std::to_string(batch_length) + " is shorter than a batch header");
  }
  if (static_cast<size_t>(batch_length) > r.remaining()) {
    return InvalidArgument("kafka: batch_length " + std::to_string(batch_length) + " runs past the end (" +
                           std::to_string(r.remaining()) + " bytes left)");
  }
  const size_t total = kBatchLengthEnd + static_cast<size_t>(batch_length);
  ASSIGN_OR_RETURN(b.partition_leader_epoch, r.int32("partition_leader_epoch"));
  ASSIGN_OR_RETURN(int8_t magic, r.int8("magic"));
  if (magic != 2) {
    return NotSupported("kafka: magic " + std::to_string(magic) + ": only RecordBatch v2 (magic 2) is supported");
  }
  ASSIGN_OR_RETURN(uint32_t crc, r.uint32("crc"));
  uint32_t actual = crc32c(bytes.substr(kAttributesOffset, total - kAttributesOffset));
  if (actual != crc) {
    return Corruption("kafka: crc: stored " + std::to_string(crc) + ", computed " + std::to_string(actual));
  }
  ASSIGN_OR_RETURN(b.attributes, r.int16("attributes"));
  ASSIGN_OR_RETURN(b.last_offset_delta, r.int32("last_offset_delta"));
  ASSIGN_OR_RETURN(b.base_timestamp, r.int64("base_timestamp"));
  ASSIGN_OR_RETURN(b.max_timestamp, r.int64("max_timestamp"));
  ASSIGN_OR_RETURN(b.producer_id, r.int64("producer_id"));
  ASSIGN_OR_RETURN(b.producer_epoch, r.int16("producer_epoch"));
  ASSIGN_OR_RETURN(b.base_sequence, r.int32("base_sequence"));
  ASSIGN_OR_RETURN(int32_t count, r.int32("records count"));
  if (count < 0) return InvalidArgument("kafka: records count: negative (" + std::to_string(count) + ")");
  ASSIGN_OR_RETURN(Compression codec, compression_from_attributes(b.attributes));
  std::string_view records = bytes.substr(kBatchHeaderBytes, total - kBatchHeaderBytes);
  if (codec == Compression::kNone) {
    RETURN_IF_ERROR(decode_records(records, count, &b.records));
  } else {
    std::string plain;
    RETURN_IF_ERROR(decompress(codec, records, limits.max_decompressed_bytes, &plain));
    RETURN_IF_ERROR(decode_records(plain, count, &b.records));
  }
  *consumed = total;
  return b;
}

// Errors name the batch: "record batch 2: kafka: crc: ...".
Result<RecordBatch> decode_one(std::string_view bytes, size_t* consumed, const DecodeLimits& limits,
                               size_t batch_index) {
  auto b = decode_batch(bytes, consumed, limits);
  if (!b.ok()) return b.status().with_context("record batch " + std::to_string(batch_index));
  return b;
}

void encode_record(const Record& rec, std::string* body, std::string* out) {
  body->clear();
  Writer w(body);
  w.int8(0);  // record attributes: unused
  w.varlong(rec.timestamp_delta);
  w.varint(static_cast<int32_t>(rec.offset_delta));
  w.varint_bytes(rec.key);
  w.varint_bytes(rec.value);
  w.varint(static_cast<int32_t>(rec.headers.size()));
  for (const RecordHeader& h : rec.headers) {
    w.varint(static_cast<int32_t>(h.key.size()));
    w.raw(h.key);
    w.varint_bytes(h.value);
  }
  Writer(out).varint(static_cast<int32_t>(body->size()));
  out->append(*body);
}

}  // namespace

Result<RecordBatch> decode_record_batch(std::string_view bytes, size_t* consumed, const DecodeLimits& limits) {
  size_t n = 0;
  ASSIGN_OR_RETURN(RecordBatch b, decode_one(bytes, &n, limits, 0));
  if (consumed != nullptr) *consumed = n;
  return b;
}

Result<std::vector<RecordBatch>> decode_record_batches(std::string_view bytes, const DecodeLimits& limits) {
  std::vector<RecordBatch> batches;
  size_t pos = 0;
  while (pos < bytes.size()) {
    size_t n = 0;
    ASSIGN_OR_RETURN(RecordBatch b, decode_one(bytes.substr(pos), &n, limits, batches.size()));
    batches.push_back(std::move(b));
    pos += n;
  }
  return batches;
}

Status encode_record_batch(const RecordBatch& batch, Compression compression, std::string* out) {
  // Written in place at the end of *out (a Fetch answer is megabytes: no intermediate copies).
  const size_t start = out->size();
  std::string body;
  Writer w(out);
  w.int64(batch.base_offset);
  w.int32(0);  // batch_length, patched below
  w.int32(batch.partition_leader_epoch);
  w.int8(2);  // magic
  w.uint32(0);  // crc, patched below
  w.int16(static_cast<int16_t>((batch.attributes & ~kCompressionMask) | static_cast<int16_t>(compression)));
  w.int32(batch.last_offset_delta);
  w.int64(batch.base_timestamp);
  w.int64(batch.max_timestamp);
  w.int64(batch.producer_id);
  w.int16(batch.producer_epoch);
  w.int32(batch.base_sequence);
  w.int32(static_cast<int32_t>(batch.records.size()));
  if (compression == Compression::kNone) {
    for (const Record& rec : batch.records) encode_record(rec, &body, out);
  } else {
    std::string records;
    for (const Record& rec : batch.records) encode_record(rec, &body, &records);
    Status st = compress(compression, records, out);
    if (!st.ok()) {
      out->resize(start);  // nothing of this batch
      return st;
    }
  }
  w.patch_int32(start + 8, static_cast<int32_t>(out->size() - start - kBatchLengthEnd));
  w.patch_int32(start + kCrcOffset,
                static_cast<int32_t>(crc32c(std::string_view(*out).substr(start + kAttributesOffset))));
  return Status::OK();
}

BatchWriter::BatchWriter(std::string* out, int64_t base_offset)
    : out_(out), start_(out->size()), base_offset_(base_offset) {
  out_->append(kBatchHeaderBytes, '\0');
}

void BatchWriter::add(int64_t timestamp_delta, int32_t offset_delta, std::optional<std::string_view> key,
                      std::optional<std::string_view> value, const std::vector<RecordHeader>& headers) {
  body_.clear();
  Writer w(&body_);
  w.int8(0);  // record attributes: unused
  w.varlong(timestamp_delta);
  w.varint(offset_delta);
  auto bytes = [&w](const std::optional<std::string_view>& b) {
    if (!b) return w.varint(-1);
    w.varint(static_cast<int32_t>(b->size()));
    w.raw(*b);
  };
  bytes(key);
  bytes(value);
  w.varint(static_cast<int32_t>(headers.size()));
  for (const RecordHeader& h : headers) {
    w.varint(static_cast<int32_t>(h.key.size()));
    w.raw(h.key);
    w.varint_bytes(h.value);
  }
  Writer(out_).varint(static_cast<int32_t>(body_.size()));
  out_->append(body_);
}

void BatchWriter::finish(int32_t last_offset_delta, int64_t base_timestamp, int64_t max_timestamp, int32_t count) {
  std::string header;
  Writer w(&header);
  w.int64(base_offset_);
  w.int32(static_cast<int32_t>(size() - kBatchLengthEnd));
  w.int32(-1);  // partition leader epoch
  w.int8(2);    // magic
  w.uint32(0);  // crc, below
  w.int16(0);   // attributes: uncompressed, CreateTime, not transactional
  w.int32(last_offset_delta);
  w.int64(base_timestamp);
  w.int64(max_timestamp);
  w.int64(-1);  // producer id
  w.int16(-1);  // producer epoch
  w.int32(-1);  // base sequence
  w.int32(count);
  out_->replace(start_, kBatchHeaderBytes, header);
  Writer(out_).patch_int32(start_ + kCrcOffset,
                           static_cast<int32_t>(crc32c(std::string_view(*out_).substr(start_ + kAttributesOffset))));
}

void set_base_offset(std::string* bytes, size_t batch_start, int64_t base_offset) {
  auto u = static_cast<uint64_t>(base_offset);
  for (int i = 7; i >= 0; --i) {
    (*bytes)[batch_start + static_cast<size_t>(i)] = static_cast<char>(u);
    u >>= 8;
  }
}

Result<std::vector<BatchSpan>> scan_record_batches(std::string_view bytes) {
  std::vector<BatchSpan> spans;
  size_t pos = 0;
  while (pos < bytes.size()) {
    const size_t index = spans.size();
    std::string_view rest = bytes.substr(pos);
    if (rest.size() < kBatchHeaderBytes) {
      return InvalidArgument("kafka: " + at(index, "header") + ": truncated (" + std::to_string(rest.size()) +
                             " bytes)");
    }
    Reader r(rest);
    BatchSpan s;
    s.start = pos;
    ASSIGN_OR_RETURN(s.base_offset, r.int64(at(index, "base_offset")));
    ASSIGN_OR_RETURN(int32_t batch_length, r.int32(at(index, "batch_length")));
    if (batch_length < static_cast<int32_t>(kBatchHeaderBytes - kBatchLengthEnd) ||
        static_cast<size_t>(batch_length) > rest.size() - kBatchLengthEnd) {
      return InvalidArgument("kafka: " + at(index, "batch_length") + " " + std::to_string(batch_length) +
                             " is out of range");
    }
    if (rest[kMagicOffset] != 2) {
      return NotSupported("kafka: " + at(index, "magic") + " " + std::to_string(static_cast<int>(rest[kMagicOffset])) +
                          ": only RecordBatch v2 is supported");
    }
    Reader tail(rest.substr(23));
    ASSIGN_OR_RETURN(s.last_offset_delta, tail.int32(at(index, "last_offset_delta")));
    Reader count(rest.substr(kRecordCountOffset));
    ASSIGN_OR_RETURN(s.record_count, count.int32(at(index, "records count")));
    s.size = kBatchLengthEnd + static_cast<size_t>(batch_length);
    spans.push_back(s);
    pos += s.size;
  }
  return spans;
}

}  // namespace persisting::kafka
