// Replica placement (runtime::rendezvous_replicas): the top of the rendezvous ranking, spread
// over zones. Issue 18: RF 1 is today's owner; with 3 zones and RF 3 one replica per zone.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "runtime/placement.h"

using namespace persisting;
using namespace persisting::runtime;

namespace {

// n1..nN; with zones, member i is in zone "z" + (i % zones).
std::vector<Member> members(int n, int zones = 0) {
  std::vector<Member> m;
  for (int i = 1; i <= n; ++i)
    m.push_back({NodeId("n" + std::to_string(i)), "", zones ? "z" + std::to_string(i % zones) : ""});
  return m;
}

std::vector<std::string> ids(const std::vector<const Member*>& ms) {
  std::vector<std::string> out;
  for (const Member* m : ms) out.push_back(m->id.str());
  return out;
}

}  // namespace

TEST(ReplicaPlacement, FactorOneIsTodaysOwnerForManyTopicsAndBuckets) {
  for (int n : {1, 2, 3, 5, 7}) {
    for (int zones : {0, 2, 3}) {
      auto m = members(n, zones);
      for (int t = 0; t < 20; ++t) {
        std::string topic = "topic-" + std::to_string(t);
        for (uint32_t b = 0; b < 32; ++b) {
          auto r = rendezvous_replicas(m, topic, BucketId(b), 1);
          ASSERT_EQ(r.size(), 1u);
          EXPECT_EQ(r[0]->id, rendezvous_owner(m, topic, BucketId(b)).id) << topic << ":" << b;
        }
      }
    }
  }
}

TEST(ReplicaPlacement, TheOwnerLeadsEveryReplicaSet) {
  auto m = members(5, 3);
  for (uint32_t b = 0; b < 200; ++b)
    for (size_t rf : {3u, 5u})
      EXPECT_EQ(rendezvous_replicas(m, "t", BucketId(b), rf)[0]->id, rendezvous_owner(m, "t", BucketId(b)).id);
}

TEST(ReplicaPlacement, WithoutZonesTheReplicasAreTheTopOfTheRanking) {
  auto m = members(5);
  for (uint32_t b = 0; b < 100; ++b) {
    auto ranking = rendezvous_ranking(m, "orders", BucketId(b));
    ASSERT_EQ(ranking.size(), 5u);
    EXPECT_EQ(ranking[0]->id, rendezvous_owner(m, "orders", BucketId(b)).id);
    for (size_t rf : {1u, 3u, 5u}) {
      auto r = rendezvous_replicas(m, "orders", BucketId(b), rf);
      auto got = ids(r);
      EXPECT_EQ(got, ids(std::vector<const Member*>(ranking.begin(), ranking.begin() + rf))) << b;
      EXPECT_EQ(std::set<std::string>(got.begin(), got.end()).size(), rf) << "distinct";
    }
  }
}

TEST(ReplicaPlacement, ThreeZonesAndFactorThreeGiveOneReplicaPerZone) {
  // 6 nodes in 3 zones (two per zone), and 9 nodes (three per zone).
  for (int n : {3, 6, 9}) {
    auto m = members(n, 3);
    std::map<std::string, std::string> zone_of;
    for (const auto& x : m) zone_of[x.id.str()] = x.zone;
    std::map<std::string, int> leaders;
    for (int t = 0; t < 10; ++t) {
      for (uint32_t b = 0; b < 64; ++b) {
        std::string topic = "t" + std::to_string(t);
        auto r = rendezvous_replicas(m, topic, BucketId(b), 3);
        ASSERT_EQ(r.size(), 3u);
        std::set<std::string> zones;
        for (const Member* x : r) zones.insert(x->zone);
        EXPECT_EQ(zones, (std::set<std::string>{"z0", "z1", "z2"})) << topic << ":" << b << " n=" << n;
        leaders[r[0]->id.str()]++;
      }
    }
    EXPECT_EQ(leaders.size(), static_cast<size_t>(n)) << "every node leads some buckets";
  }
}

TEST(ReplicaPlacement, MoreReplicasThanZonesFillFromTheRanking) {
  // 5 nodes in 2 zones, RF 3: both zones used, the third replica is the best node left.
  auto m = members(5, 2);
  for (uint32_t b = 0; b < 100; ++b) {
    auto r = rendezvous_replicas(m, "t", BucketId(b), 3);
    std::set<std::string> zones, distinct;
    for (const Member* x : r) {
      zones.insert(x->zone);
      distinct.insert(x->id.str());
    }
    EXPECT_EQ(zones.size(), 2u);
    EXPECT_EQ(distinct.size(), 3u);
    // The replica the fill step adds is the best-ranked member the zone step left out.
    auto ranking = rendezvous_ranking(m, "t", BucketId(b));
    for (const Member* x : ranking) {
      if (x == r[0] || x == r[1]) continue;
      EXPECT_EQ(x, r[2]) << b;
      break;
    }
  }
}

TEST(ReplicaPlacement, DeterministicAndIndependentOfMemberOrder) {
  auto m = members(7, 3);
  auto reversed = std::vector<Member>(m.rbegin(), m.rend());
  for (uint32_t b = 0; b < 64; ++b)
    EXPECT_EQ(ids(rendezvous_replicas(m, "orders", BucketId(b), 5)),
              ids(rendezvous_replicas(reversed, "orders", BucketId(b), 5)));
}
