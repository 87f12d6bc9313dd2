#include "core/hash.h"

#include <charconv>

namespace persisting {

uint64_t stable_hash64(std::string_view bytes) {
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a offset basis
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ULL;  // FNV prime
  }
  // splitmix64 finaliser
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h;
}

Result<std::string> bucket_key_bytes(const Value& v) {
  char buf[32];
  switch (v.type()) {
    case Value::Type::kString: return v.as_string();
    case Value::Type::kBytes: return v.as_bytes().data;
    case Value::Type::kInt: {
      auto r = std::to_chars(buf, buf + sizeof buf, v.as_int());
      return std::string(buf, r.ptr);
    }
    case Value::Type::kBool: return std::string(v.as_bool() ? "true" : "false");
    case Value::Type::kDouble: {
      auto r = std::to_chars(buf, buf + sizeof buf, v.as_double());
      return std::string(buf, r.ptr);
    }
    default:
      return InvalidArgument(std::string("a ") + std::string(type_name(v.type())) +
                             " value cannot be a bucket key");
  }
}

uint32_t bucket_for_key(std::string_view key_bytes, uint32_t num_buckets) {
  return static_cast<uint32_t>(stable_hash64(key_bytes) % num_buckets);
}

}  // namespace persisting
