// Status and Result<T>: errors are values in Persisting. No exception crosses the public API.
// A Status carries a Code and a message that names the thing at fault (topic, bucket, field, file).
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace persisting {

enum class Code {
  kOk = 0,
  kInvalidArgument,    // bad input from the caller; nothing was changed
  kNotFound,           // a topic, bucket or file does not exist
  kAlreadyExists,      // create-if-absent lost (commit races, existing topic)
  kFailedPrecondition, // state conflicts with the request (e.g. reopening with other settings)
  kOutOfRange,         // offset past the end and similar
  kIOError,            // the file system failed (ENOSPC, EIO, fsync)
  kCorruption,         // stored bytes failed a check (CRC, magic, version)
  kNotSupported,       // a feature or format that is not implemented: refused, never misread
  kUnavailable,        // an owner node or service cannot be reached
  kDeadlineExceeded,   // a timeout passed
  kResourceExhausted,  // a limit was hit (size, depth)
  kUnauthenticated,    // missing or wrong credentials
  kInternal,           // a bug
};

std::string_view code_name(Code c);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status OK() { return Status(); }
  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "InvalidArgument: topic 'a/b': contains '/'"
  std::string to_string() const;

  // Returns a copy whose message is prefixed with context ("bucket 3: ").
  Status with_context(std::string_view context) const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
inline Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
inline Status AlreadyExists(std::string m) { return {Code::kAlreadyExists, std::move(m)}; }
inline Status FailedPrecondition(std::string m) { return {Code::kFailedPrecondition, std::move(m)}; }
inline Status OutOfRange(std::string m) { return {Code::kOutOfRange, std::move(m)}; }
inline Status IOError(std::string m) { return {Code::kIOError, std::move(m)}; }
inline Status Corruption(std::string m) { return {Code::kCorruption, std::move(m)}; }
inline Status NotSupported(std::string m) { return {Code::kNotSupported, std::move(m)}; }
inline Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
inline Status DeadlineExceeded(std::string m) { return {Code::kDeadlineExceeded, std::move(m)}; }
inline Status ResourceExhausted(std::string m) { return {Code::kResourceExhausted, std::move(m)}; }
inline Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }

// Result<T> holds either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::in_place_index<1>, std::move(status)) {  // NOLINT
    assert(!std::get<1>(v_).ok() && "Result constructed from an OK status");
  }

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<1>(v_);
  }
  T& value() & { assert(ok()); return std::get<0>(v_); }
  const T& value() const& { assert(ok()); return std::get<0>(v_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace persisting

// Early return helpers for Status / Result plumbing. Only PERSISTING_-prefixed names here, so the
// header defines nothing that could clash with a user's macros; the implementation uses the short
// names from src/core/status_macros.h.
#define PERSISTING_CONCAT_INNER(a, b) a##b
#define PERSISTING_CONCAT(a, b) PERSISTING_CONCAT_INNER(a, b)

#define PERSISTING_RETURN_IF_ERROR(expr)               \
  do {                                                 \
    ::persisting::Status _st = (expr);                 \
    if (!_st.ok()) return _st;                         \
  } while (0)

#define PERSISTING_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                     \
  if (!tmp.ok()) return tmp.status();                    \
  lhs = std::move(tmp).value()

#define PERSISTING_ASSIGN_OR_RETURN(lhs, expr) \
  PERSISTING_ASSIGN_OR_RETURN_IMPL(PERSISTING_CONCAT(_res_, __LINE__), lhs, expr)
