// JSON in and out at the edges (CLI, HTTP). Parsing uses simdjson.
//
// Policy (docs/records.md):
// - Integers that fit int64 become int64; other numbers (fraction or exponent) become double.
//   An integer outside the int64 range is an error (quote it as a string to keep it exactly).
// - NaN and Infinity are not JSON and are rejected on input; on output a non-finite double is
//   written as null (as JavaScript's JSON.stringify does).
// - A duplicate key in one object is an error.
// - Nesting deeper than kMaxNestingDepth (64) is an error.
// - Bytes are written as {"$binary":"<base64>"}, and that exact one-key object is read back as
//   bytes. float32 vectors are written as arrays of numbers (they read back as lists).
// - Errors name the byte position (and line/column) of the problem.
#pragma once

#include <string>
#include <string_view>

#include "persisting/status.h"
#include "persisting/value.h"

namespace persisting {

Result<Value> parse_json(std::string_view text);
// Parses a JSON object into a Record; anything else is an InvalidArgument error.
Result<Record> parse_json_record(std::string_view text);

void to_json(const Value& v, std::string* out);
std::string to_json(const Value& v);
std::string to_json(const Record& r);

}  // namespace persisting
