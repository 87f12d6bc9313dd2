// Status -> Python exception: one class per Status code, from persisting/errors.py.
#pragma once

#include <pybind11/pybind11.h>

#include <string>

#include "persisting/status.h"

namespace persisting::python {

// The exception object for status (an instance of the persisting.errors class of its code).
pybind11::object exception_for(const Status& status);
// Raises the exception for status (as pybind11::error_already_set). status must not be OK.
[[noreturn]] void throw_status(const Status& status);
// Raises persisting.errors.<cls>(message): RecordTypeError, InvalidArgumentError, ...
[[noreturn]] void throw_error(const char* cls, const std::string& message);

// Unwraps a Result, raising its error.
template <typename T>
T value_or_throw(Result<T> r) {
  if (!r.ok()) throw_status(r.status());
  return std::move(r).value();
}
inline void check(const Status& s) {
  if (!s.ok()) throw_status(s);
}

}  // namespace persisting::python
