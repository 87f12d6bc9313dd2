// Kafka's primitive wire types: a bounds-checked Reader over a byte span and a Writer appending to
// a std::string. Big-endian fixed-width integers, unsigned varints, zigzag varints/varlongs,
// strings/bytes/arrays in the classic (int16/int32 length, -1 = null) and the compact (flexible
// versions: unsigned varint length + 1, 0 = null) forms, and tagged-field sections.
//
// Every read failure is a Status naming the field; a Reader never reads past its end, and a length
// is checked against the bytes left before anything is allocated for it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "persisting/status.h"

namespace persisting::kafka {

class Reader {
 public:
  explicit Reader(std::string_view bytes) : data_(bytes) {}

  size_t remaining() const { return data_.size() - pos_; }
  size_t position() const { return pos_; }
  bool empty() const { return remaining() == 0; }
  // The bytes not read yet.
  std::string_view rest() const { return data_.substr(pos_); }

  // Fixed-width, big-endian.
  Result<int8_t> int8(std::string_view field);
  Result<int16_t> int16(std::string_view field);
  Result<int32_t> int32(std::string_view field);
  Result<int64_t> int64(std::string_view field);
  Result<uint32_t> uint32(std::string_view field);
  Result<bool> boolean(std::string_view field);  // any non-zero byte is true
  Result<double> float64(std::string_view field);

  // Variable-length: unsigned varint (at most 5 bytes), zigzag varint (int32, 5 bytes) and zigzag
  // varlong (int64, 10 bytes).
  Result<uint32_t> uvarint(std::string_view field);
  Result<int32_t> varint(std::string_view field);
  Result<int64_t> varlong(std::string_view field);

  // Exactly n raw bytes (a view into the input).
  Result<std::string_view> raw(size_t n, std::string_view field);
  Status skip(size_t n, std::string_view field);

  // Strings: classic int16 length, or compact (uvarint length + 1). A null where a non-nullable
  // string is expected is an error naming the field.
  Result<std::string> string(std::string_view field, bool flexible);
  Result<std::optional<std::string>> nullable_string(std::string_view field, bool flexible);
  // Bytes: classic int32 length, or compact.
  Result<std::string> bytes(std::string_view field, bool flexible);
  Result<std::optional<std::string>> nullable_bytes(std::string_view field, bool flexible);
  // Bytes whose length is a zigzag varint (-1 = null): record keys, values and headers.
  Result<std::optional<std::string>> varint_bytes(std::string_view field);

  // An array's element count: classic int32 or compact (uvarint - 1); -1 means null. The count is
  // checked against the bytes left (each element takes at least min_element_bytes >= 1), so a
  // caller may loop `count` times without trusting the sender.
  Result<int32_t> array_length(std::string_view field, bool flexible, size_t min_element_bytes = 1);
  // As array_length, but a null array is an error.
  Result<int32_t> non_null_array_length(std::string_view field, bool flexible,
                                        size_t min_element_bytes = 1);

  // A tagged-field section (flexible versions): a uvarint count, then (tag, size, bytes) each.
  // Unknown tags are skipped; tags must be strictly increasing.
  Status skip_tagged_fields(std::string_view field);
  // Reads the section only when flexible.
  Status tagged_fields_if(bool flexible, std::string_view field) {
    return flexible ? skip_tagged_fields(field) : Status::OK();
  }

 private:
  Status need(size_t n, std::string_view field) const;
  Result<std::optional<std::string>> sized(int64_t len, std::string_view field);

  std::string_view data_;
  size_t pos_ = 0;
};

class Writer {
 public:
  // Appends to *out (not owned; must outlive the Writer).
  explicit Writer(std::string* out) : out_(out) {}

  std::string* out() { return out_; }
  size_t size() const { return out_->size(); }

  void int8(int8_t v);
  void int16(int16_t v);
  void int32(int32_t v);
  void int64(int64_t v);
  void uint32(uint32_t v);
  void boolean(bool v) { int8(v ? 1 : 0); }
  void float64(double v);
  void uvarint(uint32_t v);
  void varint(int32_t v);
  void varlong(int64_t v);
  void raw(std::string_view bytes);

  void string(std::string_view s, bool flexible);
  void nullable_string(const std::optional<std::string>& s, bool flexible);
  void bytes(std::string_view b, bool flexible);
  void nullable_bytes(const std::optional<std::string>& b, bool flexible);
  void varint_bytes(const std::optional<std::string>& b);  // zigzag varint length, -1 = null
  // n = -1 writes a null array.
  void array_length(int32_t n, bool flexible);
  // An empty tagged-field section (one 0 byte) when flexible; nothing otherwise.
  void tagged_fields_if(bool flexible) {
    if (flexible) uvarint(0);
  }

  // Overwrites 4 bytes at pos (written earlier as a placeholder) with v, big-endian.
  void patch_int32(size_t pos, int32_t v);

 private:
  std::string* out_;
};

// Sizes of the variable-length encodings (for precomputing lengths).
size_t uvarint_size(uint32_t v);
size_t varlong_size(int64_t v);  // zigzag

}  // namespace persisting::kafka
