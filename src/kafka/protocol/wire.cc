#include "kafka/protocol/wire.h"

#include <cstring>

#include "core/status_macros.h"

namespace persisting::kafka {

namespace {

std::string name(std::string_view field) { return std::string(field); }

}  // namespace

Status Reader::need(size_t n, std::string_view field) const {
  if (remaining() < n) {
    return InvalidArgument("kafka: " + name(field) + ": needs " + std::to_string(n) + " bytes at offset " +
                           std::to_string(pos_) + ", " + std::to_string(remaining()) + " left");
  }
  return Status::OK();
}

Result<int8_t> Reader::int8(std::string_view field) {
  RETURN_IF_ERROR(need(1, field));
  return static_cast<int8_t>(data_[pos_++]);
}

Result<int16_t> Reader::int16(std::string_view field) {
  RETURN_IF_ERROR(need(2, field));
  auto b = reinterpret_cast<const unsigned char*>(data_.data() + pos_);
  pos_ += 2;
  return static_cast<int16_t>(static_cast<uint16_t>((b[0] << 8) | b[1]));
}

Result<uint32_t> Reader::uint32(std::string_view field) {
  RETURN_IF_ERROR(need(4, field));
  auto b = reinterpret_cast<const unsigned char*>(data_.data() + pos_);
  pos_ += 4;
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | uint32_t{b[3]};
}

Result<int32_t> Reader::int32(std::string_view field) {
  ASSIGN_OR_RETURN(uint32_t v, uint32(field));
  return static_cast<int32_t>(v);
}

Result<int64_t> Reader::int64(std::string_view field) {
  RETURN_IF_ERROR(need(8, field));
  auto b = reinterpret_cast<const unsigned char*>(data_.data() + pos_);
  pos_ += 8;
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | b[i];
  return static_cast<int64_t>(v);
}

Result<bool> Reader::boolean(std::string_view field) {
  ASSIGN_OR_RETURN(int8_t v, int8(field));
  return v != 0;
}

Result<double> Reader::float64(std::string_view field) {
  ASSIGN_OR_RETURN(int64_t bits, int64(field));
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}

Result<uint32_t> Reader::uvarint(std::string_view field) {
  uint32_t v = 0;
  for (int i = 0; i < 5; ++i) {
    if (pos_ >= data_.size()) {
      return InvalidArgument("kafka: " + name(field) + ": varint truncated at offset " + std::to_string(pos_));
    }
    auto byte = static_cast<unsigned char>(data_[pos_++]);
    if (i == 4 && (byte & 0xF0) != 0) {
      return InvalidArgument("kafka: " + name(field) + ": varint does not fit 32 bits");
    }
    v |= uint32_t{byte & 0x7Fu} << (7 * i);
    if ((byte & 0x80) == 0) return v;
  }
  return InvalidArgument("kafka: " + name(field) + ": varint longer than 5 bytes");
}

Result<int32_t> Reader::varint(std::string_view field) {
  ASSIGN_OR_RETURN(uint32_t u, uvarint(field));
  return static_cast<int32_t>((u >> 1) ^ (~(u & 1) + 1));
}

Result<int64_t> Reader::varlong(std::string_view field) {
  uint64_t u = 0;
  for (int i = 0; i < 10; ++i) {
    if (pos_ >= data_.size()) {
      return InvalidArgument("kafka: " + name(field) + ": varlong truncated at offset " + std::to_string(pos_));
    }
    auto byte = static_cast<unsigned char>(data_[pos_++]);
    if (i == 9 && (byte & 0xFE) != 0) {
      return InvalidArgument("kafka: " + name(field) + ": varlong does not fit 64 bits");
    }
    u |= uint64_t{byte & 0x7Fu} << (7 * i);
    if ((byte & 0x80) == 0) return static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));
  }
  return InvalidArgument("kafka: " + name(field) + ": varlong longer than 10 bytes");
}

Result<std::string_view> Reader::raw(size_t n, std::string_view field) {
  RETURN_IF_ERROR(need(n, field));
  std::string_view v = data_.substr(pos_, n);
  pos_ += n;
  return v;
}

Status Reader::skip(size_t n, std::string_view field) {
  RETURN_IF_ERROR(need(n, field));
  pos_ += n;
  return Status::OK();
}

Result<std::optional<std::string>> Reader::sized(int64_t len, std::string_view field) {
  if (len == -1) return std::optional<std::string>();
  if (len < -1) return InvalidArgument("kafka: " + name(field) + ": negative length " + std::to_string(len));
  RETURN_IF_ERROR(need(static_cast<size_t>(len), field));
  std::optional<std::string> v(std::in_place, data_.substr(pos_, static_cast<size_t>(len)));
  pos_ += static_cast<size_t>(len);
  return v;
}

Result<std::optional<std::string>> Reader::nullable_string(std::string_view field, bool flexible) {
  if (flexible) {
    ASSIGN_OR_RETURN(uint32_t n, uvarint(field));
    return sized(static_cast<int64_t>(n) - 1, field);
  }
  ASSIGN_OR_RETURN(int16_t n, int16(field));
  return sized(n, field);
}

Result<std::string> Reader::string(std::string_view field, bool flexible) {
  ASSIGN_OR_RETURN(std::optional<std::string> v, nullable_string(field, flexible));
  if (!v) return InvalidArgument("kafka: " + name(field) + ": null where a string is required");
  return std::move(*v);
}

Result<std::optional<std::string>> Reader::nullable_bytes(std::string_view field, bool flexible) {
  if (flexible) {
    ASSIGN_OR_RETURN(uint32_t n, uvarint(field));
    return sized(static_cast<int64_t>(n) - 1, field);
  }
  ASSIGN_OR_RETURN(int32_t n, int32(field));
  return sized(n, field);
}

Result<std::string> Reader::bytes(std::string_view field, bool flexible) {
  ASSIGN_OR_RETURN(std::optional<std::string> v, nullable_bytes(field, flexible));
  if (!v) return InvalidArgument("kafka: " + name(field) + ": null where bytes are required");
  return std::move(*v);
}

Result<std::optional<std::string>> Reader::varint_bytes(std::string_view field) {
  ASSIGN_OR_RETURN(int32_t n, varint(field));
  return sized(n, field);
}

Result<int32_t> Reader::array_length(std::string_view field, bool flexible, size_t min_element_bytes) {
  int64_t n;
  if (flexible) {
    ASSIGN_OR_RETURN(uint32_t u, uvarint(field));
    n = static_cast<int64_t>(u) - 1;
  } else {
    ASSIGN_OR_RETURN(int32_t v, int32(field));
    n = v;
  }
  if (n == -1) return -1;
  if (n < -1) return InvalidArgument("kafka: " + name(field) + ": negative array length " + std::to_string(n));
  if (min_element_bytes == 0) min_element_bytes = 1;
  if (static_cast<uint64_t>(n) > remaining() / min_element_bytes) {
    return InvalidArgument("kafka: " + name(field) + ": array of " + std::to_string(n) + " elements but only " +
                           std::to_string(remaining()) + " bytes left");
  }
  if (n > INT32_MAX) return InvalidArgument("kafka: " + name(field) + ": array length overflows");
  return static_cast<int32_t>(n);
}

Result<int32_t> Reader::non_null_array_length(std::string_view field, bool flexible, size_t min_element_bytes) {
  ASSIGN_OR_RETURN(int32_t n, array_length(field, flexible, min_element_bytes));
  if (n < 0) return InvalidArgument("kafka: " + name(field) + ": null where an array is required");
  return n;
}

Status Reader::skip_tagged_fields(std::string_view field) {
  std::string what = name(field) + " tagged fields";
  ASSIGN_OR_RETURN(uint32_t count, uvarint(what));
  if (count > remaining() / 2) {
    return InvalidArgument("kafka: " + what + ": " + std::to_string(count) + " fields but only " +
                           std::to_string(remaining()) + " bytes left");
  }
  int64_t last_tag = -1;
  for (uint32_t i = 0; i < count; ++i) {
    ASSIGN_OR_RETURN(uint32_t tag, uvarint(what));
    if (static_cast<int64_t>(tag) <= last_tag) {
      return InvalidArgument("kafka: " + what + ": tag " + std::to_string(tag) + " out of order");
    }
    last_tag = tag;
    ASSIGN_OR_RETURN(uint32_t size, uvarint(what));
    RETURN_IF_ERROR(skip(size, what));
  }
  return Status::OK();
}

// ---- Writer ----

void Writer::int8(int8_t v) { out_->push_back(static_cast<char>(v)); }

void Writer::int16(int16_t v) {
  auto u = static_cast<uint16_t>(v);
  char b[2] = {static_cast<char>(u >> 8), static_cast<char>(u)};
  out_->append(b, 2);
}

void Writer::uint32(uint32_t u) {
  char b[4] = {static_cast<char>(u >> 24), static_cast<char>(u >> 16), static_cast<char>(u >> 8),
               static_cast<char>(u)};
  out_->append(b, 4);
}

void Writer::int32(int32_t v) { uint32(static_cast<uint32_t>(v)); }

void Writer::int64(int64_t v) {
  auto u = static_cast<uint64_t>(v);
  char b[8];
  for (int i = 7; i >= 0; --i) {
    b[i] = static_cast<char>(u);
    u >>= 8;
  }
  out_->append(b, 8);
}

void Writer::float64(double v) {
  int64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  int64(bits);
}

void Writer::uvarint(uint32_t v) {
  while (v >= 0x80) {
    out_->push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out_->push_back(static_cast<char>(v));
}

void Writer::varint(int32_t v) {
  uvarint((static_cast<uint32_t>(v) << 1) ^ static_cast<uint32_t>(v >> 31));
}

void Writer::varlong(int64_t v) {
  uint64_t u = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
  while (u >= 0x80) {
    out_->push_back(static_cast<char>((u & 0x7F) | 0x80));
    u >>= 7;
  }
  out_->push_back(static_cast<char>(u));
}

void Writer::raw(std::string_view bytes) { out_->append(bytes); }

void Writer::string(std::string_view s, bool flexible) {
  if (flexible) {
    uvarint(static_cast<uint32_t>(s.size() + 1));
  } else {
    int16(static_cast<int16_t>(s.size()));
  }
  raw(s);
}

void Writer::nullable_string(const std::optional<std::string>& s, bool flexible) {
  if (s) return string(*s, flexible);
  if (flexible) {
    uvarint(0);
  } else {
    int16(-1);
  }
}

void Writer::bytes(std::string_view b, bool flexible) {
  if (flexible) {
    uvarint(static_cast<uint32_t>(b.size() + 1));
  } else {
    int32(static_cast<int32_t>(b.size()));
  }
  raw(b);
}

void Writer::nullable_bytes(const std::optional<std::string>& b, bool flexible) {
  if (b) return bytes(*b, flexible);
  if (flexible) {
    uvarint(0);
  } else {
    int32(-1);
  }
}

void Writer::varint_bytes(const std::optional<std::string>& b) {
  if (!b) return varint(-1);
  varint(static_cast<int32_t>(b->size()));
  raw(*b);
}

void Writer::array_length(int32_t n, bool flexible) {
  if (flexible) {
    uvarint(static_cast<uint32_t>(n + 1));  // -1 -> 0 (null)
  } else {
    int32(n);
  }
}

void Writer::patch_int32(size_t pos, int32_t v) {
  auto u = static_cast<uint32_t>(v);
  (*out_)[pos] = static_cast<char>(u >> 24);
  (*out_)[pos + 1] = static_cast<char>(u >> 16);
  (*out_)[pos + 2] = static_cast<char>(u >> 8);
  (*out_)[pos + 3] = static_cast<char>(u);
}

size_t uvarint_size(uint32_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

size_t varlong_size(int64_t v) {
  uint64_t u = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
  size_t n = 1;
  while (u >= 0x80) {
    u >>= 7;
    ++n;
  }
  return n;
}

}  // namespace persisting::kafka
