// Internal: one description of a message drives both directions. A message's fields are listed
// once, in a `template <class S> Status serde(S& s, T& m, int16_t version)` function, against the
// Decoder (reads into the fields) or the Encoder (writes them). Only the message .cc files include
// this header.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kafka/protocol/wire.h"
#include "persisting/status.h"

namespace persisting::kafka::detail {

class Decoder {
 public:
  static constexpr bool kDecoding = true;
  Decoder(Reader& r, bool flexible) : r_(r), flex(flexible) {}

  Status i8(int8_t& v, std::string_view f) { return get(r_.int8(f), v); }
  Status i16(int16_t& v, std::string_view f) { return get(r_.int16(f), v); }
  Status i32(int32_t& v, std::string_view f) { return get(r_.int32(f), v); }
  Status i64(int64_t& v, std::string_view f) { return get(r_.int64(f), v); }
  Status boolean(bool& v, std::string_view f) { return get(r_.boolean(f), v); }
  Status str(std::string& v, std::string_view f) { return get(r_.string(f, flex), v); }
  Status nstr(std::optional<std::string>& v, std::string_view f) { return get(r_.nullable_string(f, flex), v); }
  Status bytes(std::string& v, std::string_view f) { return get(r_.bytes(f, flex), v); }
  Status nbytes(std::optional<std::string>& v, std::string_view f) { return get(r_.nullable_bytes(f, flex), v); }
  // Nullable bytes read as a string: null becomes empty (records blobs).
  Status records(std::string& v, std::string_view f) {
    auto b = r_.nullable_bytes(f, flex);
    if (!b.ok()) return b.status();
    v = b->has_value() ? std::move(**b) : std::string();
    return Status::OK();
  }
  // An array; a null array reads as empty. `elem(T&)` describes one element.
  template <class T, class F>
  Status array(std::vector<T>& v, std::string_view f, F&& elem) {
    auto n = r_.array_length(f, flex);
    if (!n.ok()) return n.status();
    v.clear();
    for (int32_t i = 0; i < *n; ++i) {
      v.emplace_back();
      Status st = elem(v.back());
      if (!st.ok()) return st;
    }
    return Status::OK();
  }
  // An array where null and empty differ.
  template <class T, class F>
  Status narray(std::optional<std::vector<T>>& v, std::string_view f, F&& elem) {
    auto n = r_.array_length(f, flex);
    if (!n.ok()) return n.status();
    if (*n < 0) {
      v.reset();
      return Status::OK();
    }
    v.emplace();
    for (int32_t i = 0; i < *n; ++i) {
      v->emplace_back();
      Status st = elem(v->back());
      if (!st.ok()) return st;
    }
    return Status::OK();
  }
  // The tagged-field section that ends every structure in flexible versions.
  Status tags(std::string_view f) { return r_.tagged_fields_if(flex, f); }

  Reader& reader() { return r_; }

 private:
  template <class R, class T>
  static Status get(R&& r, T& out) {
    if (!r.ok()) return r.status();
    out = std::move(*r);
    return Status::OK();
  }
  Reader& r_;

 public:
  const bool flex;
};

class Encoder {
 public:
  static constexpr bool kDecoding = false;
  Encoder(Writer& w, bool flexible) : w_(w), flex(flexible) {}

  Status i8(const int8_t& v, std::string_view) { return w_.int8(v), Status::OK(); }
  Status i16(const int16_t& v, std::string_view) { return w_.int16(v), Status::OK(); }
  Status i32(const int32_t& v, std::string_view) { return w_.int32(v), Status::OK(); }
  Status i64(const int64_t& v, std::string_view) { return w_.int64(v), Status::OK(); }
  Status boolean(const bool& v, std::string_view) { return w_.boolean(v), Status::OK(); }
  Status str(const std::string& v, std::string_view) { return w_.string(v, flex), Status::OK(); }
  Status nstr(const std::optional<std::string>& v, std::string_view) {
    return w_.nullable_string(v, flex), Status::OK();
  }
  Status bytes(const std::string& v, std::string_view) { return w_.bytes(v, flex), Status::OK(); }
  Status nbytes(const std::optional<std::string>& v, std::string_view) {
    return w_.nullable_bytes(v, flex), Status::OK();
  }
  Status records(const std::string& v, std::string_view) { return w_.bytes(v, flex), Status::OK(); }
  template <class T, class F>
  Status array(std::vector<T>& v, std::string_view, F&& elem) {
    w_.array_length(static_cast<int32_t>(v.size()), flex);
    for (T& e : v) {
      Status st = elem(e);
      if (!st.ok()) return st;
    }
    return Status::OK();
  }
  template <class T, class F>
  Status narray(std::optional<std::vector<T>>& v, std::string_view f, F&& elem) {
    if (!v) {
      w_.array_length(-1, flex);
      return Status::OK();
    }
    return array(*v, f, elem);
  }
  Status tags(std::string_view) { return w_.tagged_fields_if(flex), Status::OK(); }

 private:
  Writer& w_;

 public:
  const bool flex;
};

}  // namespace persisting::kafka::detail

// Shorthand inside serde functions: return the first error.
#define KAFKA_FIELD(expr)            \
  do {                               \
    ::persisting::Status _kst = (expr); \
    if (!_kst.ok()) return _kst;     \
  } while (0)

// Defines Type::decode and Type::encode from `Status serde(S&, Type&, int16_t)` in the .cc file.
// encode() only reads the fields (the Encoder never writes through the reference).
#define KAFKA_DEFINE_CODEC(Type, key)                                                        \
  ::persisting::Result<Type> Type::decode(::persisting::kafka::Reader& r, int16_t version) { \
    Type m;                                                                                  \
    ::persisting::kafka::detail::Decoder d(r, ::persisting::kafka::is_flexible(key, version)); \
    ::persisting::Status st = serde(d, m, version);                                          \
    if (!st.ok()) return st;                                                                 \
    return m;                                                                                \
  }                                                                                          \
  void Type::encode(::persisting::kafka::Writer& w, int16_t version) const {                 \
    ::persisting::kafka::detail::Encoder e(w, ::persisting::kafka::is_flexible(key, version)); \
    (void)serde(e, const_cast<Type&>(*this), version);                                       \
  }
