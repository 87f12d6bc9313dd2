// Strong types for the identifiers that would otherwise all be integers or strings.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace persisting {

// A StrongInt wraps an integer so an Offset cannot be passed where a BucketId is expected.
template <typename Tag, typename Rep>
class StrongInt {
 public:
  using rep = Rep;
  constexpr StrongInt() = default;
  constexpr explicit StrongInt(Rep v) : v_(v) {}
  constexpr Rep value() const { return v_; }
  constexpr auto operator<=>(const StrongInt&) const = default;

 private:
  Rep v_{};
};

struct OffsetTag {};
struct BucketIdTag {};

// Position of a record inside one bucket's log: dense 0, 1, 2, ... in put order.
using Offset = StrongInt<OffsetTag, uint64_t>;
// Index of a bucket inside a topic: 0 .. num_buckets-1.
using BucketId = StrongInt<BucketIdTag, uint32_t>;

// A cluster member's name ("n1"). Distinct from addresses and topic names.
class NodeId {
 public:
  NodeId() = default;
  explicit NodeId(std::string id) : id_(std::move(id)) {}
  const std::string& str() const { return id_; }
  auto operator<=>(const NodeId&) const = default;

 private:
  std::string id_;
};

}  // namespace persisting

template <typename Tag, typename Rep>
struct std::hash<persisting::StrongInt<Tag, Rep>> {
  size_t operator()(const persisting::StrongInt<Tag, Rep>& v) const noexcept {
    return std::hash<Rep>()(v.value());
  }
};
