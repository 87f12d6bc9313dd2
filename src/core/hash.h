// Stable hashes that are part of the on-disk and wire contract (docs/hashing.md).
// They must give the same answer in every process, build and version: never change them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "persisting/status.h"
#include "persisting/value.h"

namespace persisting {

// 64-bit FNV-1a of the bytes, followed by the splitmix64 finaliser to spread the low bits.
uint64_t stable_hash64(std::string_view bytes);

// The bytes a bucket-column value hashes as: a string's UTF-8 bytes; bytes as they are; an int64
// in decimal ASCII ("-17"); a bool as "true"/"false"; a double as its shortest round-trip decimal
// text. null, vectors, lists and objects cannot be bucket keys (InvalidArgument).
Result<std::string> bucket_key_bytes(const Value& v);

// bucket = stable_hash64(bucket_key_bytes(v)) % num_buckets.
uint32_t bucket_for_key(std::string_view key_bytes, uint32_t num_buckets);

}  // namespace persisting
