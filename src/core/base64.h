// Base64 (RFC 4648, standard alphabet, padded), used by the JSON codec for bytes
// ({"$binary": ...}) and by etcd membership (the v3 gateway's keys and values).
#pragma once

#include <string>
#include <string_view>

#include "persisting/status.h"

namespace persisting {

void encode_base64(std::string_view in, std::string* out);
// InvalidArgument for a length that is not a multiple of 4 or a character outside the alphabet.
Result<std::string> decode_base64(std::string_view in);

}  // namespace persisting
