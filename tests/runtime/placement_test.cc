#include <gtest/gtest.h>

#include <map>

#include "runtime/placement.h"

using namespace persisting;
using namespace persisting::runtime;

namespace {
std::vector<Member> members(int n) {
  std::vector<Member> m;
  for (int i = 1; i <= n; ++i) m.push_back({NodeId("n" + std::to_string(i)), ""});
  return m;
}
}  // namespace

TEST(PlacementTest, SingleMemberOwnsEverything) {
  auto m = members(1);
  for (uint32_t b = 0; b < 16; ++b) EXPECT_EQ(rendezvous_owner(m, "t", BucketId(b)).id, NodeId("n1"));
}

TEST(PlacementTest, DeterministicAndIndependentOfMemberOrder) {
  auto m = members(3);
  auto reversed = std::vector<Member>(m.rbegin(), m.rend());
  for (uint32_t b = 0; b < 64; ++b)
    EXPECT_EQ(rendezvous_owner(m, "orders", BucketId(b)).id, rendezvous_owner(reversed, "orders", BucketId(b)).id);
}

TEST(PlacementTest, SpreadsBucketsAcrossMembers) {
  auto m = members(3);
  std::map<std::string, int> count;
  for (uint32_t b = 0; b < 300; ++b) count[rendezvous_owner(m, "t", BucketId(b)).id.str()]++;
  ASSERT_EQ(count.size(), 3u);
  for (auto& [id, c] : count) {
    EXPECT_GT(c, 60) << id;
    EXPECT_LT(c, 140) << id;
  }
}

TEST(PlacementTest, AddingAMemberMovesOnlyBucketsToIt) {
  auto three = members(3), four = members(4);
  int moved = 0;
  for (uint32_t b = 0; b < 400; ++b) {
    NodeId before = rendezvous_owner(three, "t", BucketId(b)).id;
    NodeId after = rendezvous_owner(four, "t", BucketId(b)).id;
    if (before != after) {
      EXPECT_EQ(after, NodeId("n4"));
      ++moved;
    }
  }
  EXPECT_GT(moved, 50);  // about a quarter of the buckets go to the new member
  EXPECT_LT(moved, 150);
}
