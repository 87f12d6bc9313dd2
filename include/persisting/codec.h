// The compact binary record codec (format version 1), used inside Persisting: the memory
// buffer, the WAL payload and the network. Byte layout: docs/binary-codec.md (and the comment at
// the top of src/core/codec.cc). Decoding checks every length and limits nesting depth.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "persisting/status.h"
#include "persisting/value.h"

namespace persisting {

inline constexpr uint8_t kCodecVersion = 1;
// Maximum nesting of lists/objects inside a record (the record itself is depth 1). Shared with JSON.
inline constexpr int kMaxNestingDepth = 64;

// Appends the encoding of record to *out.
void encode_record(const Record& record, std::string* out);
std::string encode_record(const Record& record);
// Decodes exactly one record from data (the whole of data must be consumed).
Result<Record> decode_record(std::string_view data);
// The encoder does not check nesting depth, but the decoder (and the JSON parser) refuse records
// deeper than kMaxNestingDepth. Call this on records built in code before storing them: an
// InvalidArgument naming the too-deep field ("field 'a[0].b': ...") instead of a record that
// cannot be read back.
Status check_record_depth(const Record& record);

// One top-level field of an encoded record as seen without decoding its value: what a schema
// check needs. name points into the encoded bytes.
struct FieldShape {
  std::string_view name;
  Value::Type type = Value::Type::kNull;
  uint64_t dim = 0;        // kVector: the dimension
  // The value itself, for the scalar types (views point into the encoded bytes):
  bool b = false;          // kBool
  int64_t i = 0;           // kInt
  double d = 0;            // kDouble
  std::string_view bytes;  // kString, kBytes: the contents; kVector: dim x float32 little-endian
  std::string_view value;  // the value's whole encoding, tag included (decode_value reads it)
};
// Replaces *out with the top-level fields of one encoded record, in order. Values are skipped,
// not decoded (nothing is copied; nothing is allocated once *out has capacity, except to check
// a nested object's keys), but checked exactly as decode_record checks them (lengths, tags,
// nesting depth, duplicate keys at every level, trailing bytes): Corruption on malformed input,
// and scan_fields succeeds exactly when decode_record does.
Status scan_fields(std::string_view encoded, std::vector<FieldShape>* out);
// Decodes exactly one encoded value (tag and payload, e.g. FieldShape::value) at nesting depth 1.
Result<Value> decode_value(std::string_view encoded);

// A batch of encoded records packed back to back: the unit that moves between layers.
// Record i is data[ends[i-1] .. ends[i]). The bytes are the batch's own, or (view_of) a view of
// bytes that never change, kept alive by a shared owner: a read can hand out records without
// copying them. Any change to a viewing batch first copies the bytes in.
//
// Each record may carry an append time (milliseconds since the Unix epoch, set by the bucket that
// appended it; docs/records.md, "Append time"). A batch whose records have none (as a producer
// builds it) keeps no times at all: time(i) is 0, "unknown". Appending a batch with times to one
// without gives the earlier records 0, and the other way round.
class RecordBatch {
 public:
  RecordBatch() = default;
  // Records lying back to back in bytes, of the given sizes (adding up to bytes.size()), which
  // owner keeps alive and nobody changes while it lives. Same promise as add_encoded.
  static RecordBatch view_of(std::shared_ptr<const void> owner, std::string_view bytes,
                             std::span<const uint32_t> sizes);

  void add(const Record& r);
  // Appends an already-encoded record (the caller vouches it is valid codec output).
  void add_encoded(std::string_view encoded);
  // Appends records that lie back to back in bytes, of the given sizes (which add up to
  // bytes.size()), with one copy. Same promise as add_encoded.
  void add_encoded_run(std::string_view bytes, std::span<const uint32_t> sizes);
  void append(const RecordBatch& other);
  // Appends other's records [from, from + n) (n clipped to what other has) with one copy.
  void append_range(const RecordBatch& other, size_t from, size_t n);
  void reserve(size_t records, size_t bytes);
  void clear();
  // Removes the first n records (all of them if n >= size()).
  void drop_front(size_t n);

  // Append times (see above). set_times gives every record the same time.
  bool has_times() const { return !times_.empty(); }
  int64_t time(size_t i) const { return times_.empty() ? 0 : times_[i]; }
  const std::vector<int64_t>& times() const { return times_; }
  void set_times(int64_t ms) { times_.assign(ends_.size(), ms); }
  void set_time(size_t i, int64_t ms);
  // One time per record (times.size() == size()), or none (empty).
  void set_times(std::vector<int64_t> times) { times_ = std::move(times); }
  // Smallest and largest time of the batch (0 and 0 when it has none).
  int64_t min_time() const;
  int64_t max_time() const;

  size_t size() const { return ends_.size(); }
  bool empty() const { return ends_.empty(); }
  size_t byte_size() const { return data().size(); }
  // The bytes the batch holds room for without growing (0 for a view: its first change copies).
  size_t byte_capacity() const { return owner_ ? 0 : data_.capacity(); }
  std::string_view encoded(size_t i) const;
  Result<Record> decode(size_t i) const { return decode_record(encoded(i)); }
  // Decodes every record; fails on the first bad one.
  Result<std::vector<Record>> decode_all() const;

  // The raw layout, for codecs that ship batches as a whole.
  std::string_view data() const { return owner_ ? view_ : std::string_view(data_); }
  const std::vector<uint32_t>& ends() const { return ends_; }
  bool is_view() const { return owner_ != nullptr; }

 private:
  void grow_ends(size_t more);
  void own();  // a viewing batch copies its bytes in (before any change)
  // After ends_ grew by n records copied from other's [from, from + n): keeps times_ in step.
  void copy_times(const RecordBatch& other, size_t from, size_t n);

  std::string data_;                    // the bytes, unless owner_ is set
  std::shared_ptr<const void> owner_;   // keeps view_'s bytes alive
  std::string_view view_;
  std::vector<uint32_t> ends_;
  std::vector<int64_t> times_;  // empty, or one per record
};

}  // namespace persisting
