// Records <-> Python values. The GIL must be held.
//
//   None <-> null, bool <-> bool, int <-> int64 (a larger int is an error naming the field),
//   float <-> double, str <-> string, bytes (bytearray, memoryview) <-> bytes,
//   list (tuple) <-> list, dict (str keys) <-> object,
//   1-D numpy float32 array <-> float32 vector (a list of floats when numpy is not installed).
// Other types, other numpy dtypes and other shapes raise TypeError naming the field.
#pragma once

#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "persisting/queue.h"

namespace persisting::python {

// A record from a dict: TypeError (persisting.RecordTypeError) for a non-dict or a value of
// another type, ValueError (persisting.InvalidArgumentError) for an int out of range.
Record to_record(pybind11::handle obj);
// Each element of a list or tuple; errors name the element ("record 2: field 'x': ...").
std::vector<Record> to_records(pybind11::handle seq);
// One value (the bucket column's value for get_bucket_id); what names it in errors.
Value to_value(pybind11::handle obj, const std::string& what);

pybind11::object from_value(const Value& v);
pybind11::dict from_object(const Object& o);
pybind11::list from_messages(const std::vector<Message>& messages);
pybind11::dict from_topic(const TopicInfo& info);

}  // namespace persisting::python
