#include "kafka/broker/group_coordinator.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <thread>

#include "util/manual_scheduler.h"
#include "util/temp_dir.h"

namespace persisting::kafka {
using namespace coord;  // group_requests.h
namespace {

using namespace std::chrono_literals;
using testing::ManualScheduler;
using testing::TempDir;

}  // namespace

void PrintTo(ErrorCode e, std::ostream* os) { *os << error_name(e); }
void PrintTo(GroupPhase p, std::ostream* os) { *os << phase_name(p); }

namespace {

// A callback's result: set once, and counted (every call must complete exactly once).
template <typename T>
struct Capture {
  struct State {
    std::mutex mu;
    std::optional<T> value;
    int calls = 0;
  };
  std::shared_ptr<State> s = std::make_shared<State>();
  std::function<void(T)> cb() const {
    return [s = s](T r) {
      std::lock_guard<std::mutex> lock(s->mu);
      ++s->calls;
      s->value = std::move(r);
    };
  }
  bool done() const {
    std::lock_guard<std::mutex> lock(s->mu);
    EXPECT_LE(s->calls, 1) << "a callback ran more than once";
    return s->value.has_value();
  }
  const T& operator*() const { return *s->value; }
  const T* operator->() const { return &*s->value; }
};

class GroupCoordinatorTest : public ::testing::Test {
 protected:
  GroupCoordinatorTest() { make_coordinator(no_delay()); }

  // The tests' default: no initial delay, so a lone joiner's rebalance completes at once.
  static GroupCoordinatorOptions no_delay() { return {.initial_rebalance_delay = 0ms}; }

  void make_coordinator(GroupCoordinatorOptions o, bool durable = false) {
    coordinator.reset();
    table.reset();
    table = std::make_unique<groups::GroupTable>(
        durable ? std::make_unique<groups::GroupStore>(Env::Default(), dir.path()) : nullptr,
        [this] { return sched.now(); });
    coordinator = std::make_unique<GroupCoordinator>(
        table.get(), &sched,
        [this](const std::string& topic) -> Result<uint32_t> {
          auto it = topics.find(topic);
          if (it == topics.end()) return NotFound("topic '" + topic + "' does not exist");
          return it->second;
        },
        [this] {
          std::vector<std::string> names;
          for (const auto& [name, n] : topics) names.push_back(name);
          return names;
        },
        o);
  }

  static JoinGroupRequest join_request(const std::string& member_id, const std::string& client,
                                       std::vector<std::string> protocols = {"range"}) {
    JoinGroupRequest r;
    r.group_id = "g";
    r.session_timeout_ms = 10000;
    r.rebalance_timeout_ms = 30000;
    r.member_id = member_id;
    r.protocol_type = "consumer";
    for (const auto& p : protocols) r.protocols.push_back({p, "meta-" + client});
    r.client_id = client;
    return r;
  }

  Capture<JoinGroupResponse> join(JoinGroupRequest r) {
    Capture<JoinGroupResponse> c;
    coordinator->join_group(std::move(r), c.cb());
    return c;
  }
  Capture<JoinGroupResponse> join(const std::string& member_id, const std::string& client) {
    return join(join_request(member_id, client));
  }
  Capture<SyncGroupResponse> sync(const std::string& member_id, int32_t generation,
                                  std::vector<SyncGroupRequest::Assignment> assignments = {}) {
    SyncGroupRequest r;
    r.group_id = "g";
    r.member_id = member_id;
    r.generation_id = generation;
    r.assignments = std::move(assignments);
    Capture<SyncGroupResponse> c;
    coordinator->sync_group(std::move(r), c.cb());
    return c;
  }
  ErrorCode heartbeat(const std::string& member_id, int32_t generation,
                      std::optional<std::string> instance = std::nullopt) {
    Capture<HeartbeatResponse> c;
    coordinator->heartbeat({"g", generation, member_id, instance}, c.cb());
    EXPECT_TRUE(c.done());
    return c->error;
  }
  LeaveGroupResponse leave(const std::string& member_id) {
    Capture<LeaveGroupResponse> c;
    coordinator->leave_group({"g", {{member_id, std::nullopt}}}, c.cb());
    EXPECT_TRUE(c.done());
    return *c;
  }
  // Commits (topic, partition -> offset) and returns each partition's error.
  std::map<std::pair<std::string, int32_t>, ErrorCode> commit(
      const std::string& member_id, int32_t generation,
      std::map<std::string, std::map<int32_t, int64_t>> offsets, std::string* message = nullptr) {
    OffsetCommitRequest r;
    r.group_id = "g";
    r.member_id = member_id;
    r.generation_id = generation;
    for (const auto& [topic, parts] : offsets) {
      OffsetCommitRequest::Topic t{topic, {}};
      for (const auto& [p, o] : parts) t.partitions.push_back({p, o, std::nullopt});
      r.topics.push_back(std::move(t));
    }
    Capture<OffsetCommitResponse> c;
    coordinator->offset_commit(std::move(r), c.cb());
    sched.run_due();
    EXPECT_TRUE(c.done());
    std::map<std::pair<std::string, int32_t>, ErrorCode> out;
    for (const auto& t : c->topics)
      for (const auto& p : t.partitions) out[{t.name, p.partition}] = p.error;
    if (message) *message = c->message;
    return out;
  }
  // The committed offsets Kafka's OffsetFetch answers for the listed partitions of topic.
  std::map<int32_t, int64_t> fetch(const std::string& topic, std::vector<int32_t> partitions) {
    Capture<OffsetFetchResponse> c;
    coordinator->offset_fetch({"g", std::vector<OffsetFetchRequest::Topic>{{topic, partitions}}}, c.cb());
    sched.run_due();
    EXPECT_TRUE(c.done());
    EXPECT_EQ(c->error, ErrorCode::NONE) << c->message;
    std::map<int32_t, int64_t> out;
    for (const auto& t : c->topics)
      for (const auto& p : t.partitions) {
        EXPECT_EQ(p.error, ErrorCode::NONE);
        out[p.partition] = p.committed_offset;
      }
    return out;
  }
  // A stable group of the given clients; returns their member ids (the first is the leader).
  std::vector<std::string> stable_group(const std::vector<std::string>& clients, int32_t* generation) {
    std::vector<Capture<JoinGroupResponse>> joins;
    std::vector<std::string> ids;
    // Join one by one: each new member triggers a rebalance that the earlier ones rejoin.
    for (size_t i = 0; i < clients.size(); ++i) {
      joins.clear();
      auto fresh = join("", clients[i]);
      for (size_t k = 0; k < ids.size(); ++k) joins.push_back(join(ids[k], clients[k]));
      EXPECT_TRUE(fresh.done());
      EXPECT_EQ(fresh->error, ErrorCode::NONE) << fresh->message;
      ids.push_back(fresh->member_id);
      for (auto& j : joins) EXPECT_TRUE(j.done());
      *generation = fresh->generation_id;
    }
    std::vector<SyncGroupRequest::Assignment> assignments;
    for (size_t k = 0; k < ids.size(); ++k) assignments.push_back({ids[k], "assign-" + clients[k]});
    std::vector<Capture<SyncGroupResponse>> syncs;
    for (size_t k = 1; k < ids.size(); ++k) syncs.push_back(sync(ids[k], *generation));
    syncs.push_back(sync(ids[0], *generation, assignments));
    for (auto& s : syncs) {
      EXPECT_TRUE(s.done());
      EXPECT_EQ(s->error, ErrorCode::NONE) << s->message;
    }
    return ids;
  }

  ManualScheduler sched;
  TempDir dir;
  std::map<std::string, uint32_t> topics{{"t", 4}, {"u", 2}};
  std::unique_ptr<groups::GroupTable> table;
  std::unique_ptr<GroupCoordinator> coordinator;
};

TEST_F(GroupCoordinatorTest, JoinBarrierWaitsForEveryKnownMemberAndTheLeaderGetsTheMembers) {
  auto a = join("", "a");
  ASSERT_TRUE(a.done());  // alone, no initial delay: completes at once
  ASSERT_EQ(a->error, ErrorCode::NONE) << a->message;
  EXPECT_EQ(a->generation_id, 1);
  EXPECT_EQ(a->leader, a->member_id);
  EXPECT_EQ(a->protocol_name, "range");
  ASSERT_EQ(a->members.size(), 1u);
  std::string ida = a->member_id;
  ASSERT_EQ(sync(ida, 1, {{ida, "all"}})->error, ErrorCode::NONE);

  auto b = join("", "b");
  EXPECT_FALSE(b.done()) << "B must wait until A rejoined";
  EXPECT_EQ(coordinator->describe("g")->phase, GroupPhase::kPreparingRebalance);
  EXPECT_EQ(heartbeat(ida, 1), ErrorCode::REBALANCE_IN_PROGRESS);
  auto a2 = join(ida, "a");
  ASSERT_TRUE(a2.done());
  ASSERT_TRUE(b.done());
  EXPECT_EQ(a2->error, ErrorCode::NONE);
  EXPECT_EQ(b->error, ErrorCode::NONE);
  EXPECT_EQ(a2->generation_id, 2);
  EXPECT_EQ(b->generation_id, 2);
  EXPECT_EQ(a2->leader, ida);  // the leader stays
  EXPECT_EQ(b->leader, ida);
  ASSERT_EQ(a2->members.size(), 2u);
  std::map<std::string, std::string> metadata;
  for (const auto& m : a2->members) metadata[m.member_id] = m.metadata;
  EXPECT_EQ(metadata[ida], "meta-a");
  EXPECT_EQ(metadata[b->member_id], "meta-b");
  EXPECT_TRUE(b->members.empty()) << "only the leader gets the member list";
}

TEST_F(GroupCoordinatorTest, FollowersWaitInSyncGroupForTheLeadersAssignments) {
  int32_t gen = 0;
  auto ids = stable_group({"a", "b"}, &gen);
  auto c = join("", "c");
  auto a = join(ids[0], "a");
  auto b = join(ids[1], "b");
  ASSERT_TRUE(c.done() && a.done() && b.done());
  gen = a->generation_id;
  EXPECT_EQ(coordinator->describe("g")->phase, GroupPhase::kCompletingRebalance);
  auto sb = sync(ids[1], gen);
  auto sc = sync(c->member_id, gen);
  EXPECT_FALSE(sb.done());
  EXPECT_FALSE(sc.done());
  EXPECT_EQ(heartbeat(ids[1], gen), ErrorCode::NONE);  // heartbeats while waiting are fine
  auto sa = sync(ids[0], gen, {{ids[0], "p0"}, {ids[1], "p1,p2"}, {c->member_id, "p3"}});
  ASSERT_TRUE(sa.done() && sb.done() && sc.done());
  EXPECT_EQ(sa->assignment, "p0");
  EXPECT_EQ(sb->assignment, "p1,p2");
  EXPECT_EQ(sc->assignment, "p3");
  EXPECT_EQ(sb->protocol_name, "range");
  EXPECT_EQ(coordinator->describe("g")->phase, GroupPhase::kStable);
  // A late SyncGroup in Stable gets the stored assignment at once.
  auto again = sync(ids[1], gen);
  ASSERT_TRUE(again.done());
  EXPECT_EQ(again->assignment, "p1,p2");
}

TEST_F(GroupCoordinatorTest, HeartbeatErrors) {
  int32_t gen = 0;
  auto ids = stable_group({"a", "b"}, &gen);
  EXPECT_EQ(heartbeat(ids[0], gen), ErrorCode::NONE);
  EXPECT_EQ(heartbeat(ids[0], gen - 1), ErrorCode::ILLEGAL_GENERATION);
  EXPECT_EQ(heartbeat("nobody", gen), ErrorCode::UNKNOWN_MEMBER_ID);
  Capture<HeartbeatResponse> other;
  coordinator->heartbeat({"other-group", 1, "x", std::nullopt}, other.cb());
  ASSERT_TRUE(other.done());
  EXPECT_EQ(other->error, ErrorCode::UNKNOWN_MEMBER_ID);

  auto c = join("", "c");  // a rebalance starts
  EXPECT_EQ(heartbeat(ids[0], gen), ErrorCode::REBALANCE_IN_PROGRESS);
  EXPECT_EQ(heartbeat(ids[1], gen), ErrorCode::REBALANCE_IN_PROGRESS);
  auto a = join(ids[0], "a");
  auto b = join(ids[1], "b");
  ASSERT_TRUE(a.done() && b.done() && c.done());
  // After it: the old generation is illegal, the new one fine.
  EXPECT_EQ(heartbeat(ids[0], gen), ErrorCode::ILLEGAL_GENERATION);
  EXPECT_EQ(heartbeat(ids[0], a->generation_id), ErrorCode::NONE);
  // A SyncGroup of the old generation too.
  EXPECT_EQ(sync(ids[1], gen)->error, ErrorCode::ILLEGAL_GENERATION);
}

TEST_F(GroupCoordinatorTest, MemberIdRequiredThenTheSecondJoinEntersTheGroup) {
  auto r = join_request("", "a");
  r.require_known_member_id = true;
  auto first = join(r);
  ASSERT_TRUE(first.done());
  EXPECT_EQ(first->error, ErrorCode::MEMBER_ID_REQUIRED);
  ASSERT_FALSE(first->member_id.empty());
  EXPECT_TRUE(coordinator->describe("g")->members.empty());
  r.member_id = first->member_id;
  auto second = join(r);
  ASSERT_TRUE(second.done());
  EXPECT_EQ(second->error, ErrorCode::NONE);
  EXPECT_EQ(second->member_id, first->member_id);
  EXPECT_EQ(second->leader, first->member_id);

  // A member id handed out and never used expires with its session timeout.
  auto r2 = join_request("", "z");
  r2.group_id = "h";
  r2.require_known_member_id = true;
  auto lost = join(r2);
  ASSERT_EQ(lost->error, ErrorCode::MEMBER_ID_REQUIRED);
  ASSERT_TRUE(coordinator->describe("h").has_value());
  sched.advance(11s);
  EXPECT_FALSE(coordinator->describe("h").has_value());
  r2.member_id = lost->member_id;
  r2.require_known_member_id = true;
  EXPECT_EQ(join(r2)->error, ErrorCode::UNKNOWN_MEMBER_ID);
}

TEST_F(GroupCoordinatorTest, InitialDelayGathersMembersStartingTogether) {
  make_coordinator({.initial_rebalance_delay = 3s});
  auto a = join("", "a");
  EXPECT_FALSE(a.done());
  sched.advance(1s);
  auto b = join("", "b");
  EXPECT_FALSE(b.done());
  sched.advance(1999ms);
  EXPECT_FALSE(a.done());
  sched.advance(1ms);
  ASSERT_TRUE(a.done() && b.done());
  EXPECT_EQ(a->generation_id, 1);
  EXPECT_EQ(b->generation_id, 1);
  EXPECT_EQ(a->leader, a->member_id);
  EXPECT_EQ(a->members.size(), 2u);
}

TEST_F(GroupCoordinatorTest, RebalanceTimeoutDropsMembersThatDidNotRejoin) {
  int32_t gen = 0;
  auto ids = stable_group({"a", "b"}, &gen);
  auto c = join("", "c");
  auto a = join(ids[0], "a");
  EXPECT_FALSE(c.done());
  // B keeps heartbeating but never rejoins: the rebalance timeout (30 s) ends the barrier.
  for (int i = 0; i < 5; ++i) {
    sched.advance(5s);
    EXPECT_EQ(heartbeat(ids[1], gen), ErrorCode::REBALANCE_IN_PROGRESS);
  }
  EXPECT_FALSE(c.done());
  sched.advance(5s);
  ASSERT_TRUE(c.done() && a.done());
  EXPECT_EQ(a->members.size(), 2u);
  EXPECT_EQ(c->generation_id, gen + 1);
  EXPECT_EQ(heartbeat(ids[1], gen), ErrorCode::UNKNOWN_MEMBER_ID);
  EXPECT_EQ(join(ids[1], "b")->error, ErrorCode::UNKNOWN_MEMBER_ID);
}

TEST_F(GroupCoordinatorTest, SessionExpiryStartsARebalanceForTheOthers) {
  int32_t gen = 0;
  auto ids = stable_group({"a", "b"}, &gen);
  // Only B heartbeats; A's session (10 s) runs out.
  for (int i = 0; i < 3; ++i) {
    sched.advance(3s);
    EXPECT_EQ(heartbeat(ids[1], gen), ErrorCode::NONE);
  }
  sched.advance(2s);
  EXPECT_EQ(heartbeat(ids[1], gen), ErrorCode::REBALANCE_IN_PROGRESS);
  EXPECT_EQ(heartbeat(ids[0], gen), ErrorCode::UNKNOWN_MEMBER_ID);
  auto b = join(ids[1], "b");
  ASSERT_TRUE(b.done());
  EXPECT_EQ(b->error, ErrorCode::NONE);
  EXPECT_EQ(b->generation_id, gen + 1);
  EXPECT_EQ(b->leader, ids[1]);
  EXPECT_EQ(b->members.size(), 1u);
}

TEST_F(GroupCoordinatorTest, MembersWaitingInJoinOrSyncDoNotExpire) {
  int32_t gen = 0;
  auto ids = stable_group({"a", "b"}, &gen);
  // The leader rejoins (a rebalance) and waits 25 s, past its 10 s session, for B, which
  // heartbeats meanwhile.
  auto a = join(ids[0], "a");
  for (int i = 0; i < 5; ++i) {
    sched.advance(5s);
    EXPECT_EQ(heartbeat(ids[1], gen), ErrorCode::REBALANCE_IN_PROGRESS);
  }
  EXPECT_FALSE(a.done());
  auto b = join(ids[1], "b");
  ASSERT_TRUE(a.done() && b.done());
  EXPECT_EQ(a->members.size(), 2u);
  gen = a->generation_id;
  // Now B waits 20 s in SyncGroup for a leader that heartbeats but is slow to assign.
  auto sb = sync(ids[1], gen);
  for (int i = 0; i < 4; ++i) {
    sched.advance(5s);
    EXPECT_EQ(heartbeat(ids[0], gen), ErrorCode::NONE);
  }
  ASSERT_FALSE(sb.done());
  auto sa = sync(ids[0], gen, {{ids[0], "x"}, {ids[1], "y"}});
  ASSERT_TRUE(sa.done() && sb.done());
  EXPECT_EQ(sa->assignment, "x");
  EXPECT_EQ(sb->assignment, "y");
  // B's session starts again when its SyncGroup completes.
  sched.advance(5s);
  EXPECT_EQ(heartbeat(ids[1], gen), ErrorCode::NONE);
}

TEST_F(GroupCoordinatorTest, StaticMemberRejoinsWithANewIdWithoutARebalance) {
  auto ra = join_request("", "a");
  ra.group_instance_id = "pod-a";
  auto a = join(ra);
  ASSERT_EQ(a->error, ErrorCode::NONE);
  auto b = join("", "b");
  auto a2 = join(a->member_id, "a");
  ASSERT_EQ(b->error, ErrorCode::NONE);
  int32_t gen = b->generation_id;
  auto sb = sync(b->member_id, gen);
  ASSERT_EQ(sync(a->member_id, gen, {{a->member_id, "pa"}, {b->member_id, "pb"}})->error, ErrorCode::NONE);
  ASSERT_EQ(sb->assignment, "pb");

  // pod-a restarts: it joins with no member id and its instance id.
  auto again = join(ra);
  ASSERT_TRUE(again.done());
  EXPECT_EQ(again->error, ErrorCode::NONE);
  EXPECT_NE(again->member_id, a->member_id);
  EXPECT_EQ(again->generation_id, gen) << "no rebalance";
  EXPECT_EQ(coordinator->describe("g")->phase, GroupPhase::kStable);
  EXPECT_EQ(heartbeat(b->member_id, gen), ErrorCode::NONE);
  auto s = sync(again->member_id, gen);
  ASSERT_TRUE(s.done());
  EXPECT_EQ(s->assignment, "pa");
  // The old incarnation is fenced.
  EXPECT_EQ(heartbeat(a->member_id, gen, "pod-a"), ErrorCode::FENCED_INSTANCE_ID);
  EXPECT_EQ((commit(a->member_id, gen, {{"t", {{0, 1}}}})[{"t", 0}]), ErrorCode::UNKNOWN_MEMBER_ID);
  EXPECT_EQ(heartbeat(again->member_id, gen, "pod-a"), ErrorCode::NONE);
}

TEST_F(GroupCoordinatorTest, LeaveGroupRebalancesTheRestAndEndsWithAnEmptyGroup) {
  int32_t gen = 0;
  auto ids = stable_group({"a", "b"}, &gen);
  auto left = leave(ids[1]);
  EXPECT_EQ(left.error, ErrorCode::NONE);
  ASSERT_EQ(left.members.size(), 1u);
  EXPECT_EQ(left.members[0].error, ErrorCode::NONE);
  EXPECT_EQ(heartbeat(ids[0], gen), ErrorCode::REBALANCE_IN_PROGRESS);
  auto a = join(ids[0], "a");
  ASSERT_TRUE(a.done());
  EXPECT_EQ(a->generation_id, gen + 1);
  EXPECT_EQ(a->members.size(), 1u);
  EXPECT_EQ(leave(ids[1]).error, ErrorCode::UNKNOWN_MEMBER_ID);  // twice
  EXPECT_EQ(leave(ids[0]).error, ErrorCode::NONE);
  EXPECT_FALSE(coordinator->describe("g").has_value()) << "an empty group is forgotten";
}

TEST_F(GroupCoordinatorTest, LeaveGroupOfSeveralMembersByIdOrInstance) {
  auto ra = join_request("", "a");
  ra.group_instance_id = "pod-a";
  auto a = join(ra);
  ASSERT_EQ(a->error, ErrorCode::NONE);
  auto b = join("", "b");
  auto c = join("", "c");
  auto a2 = join(a->member_id, "a");
  ASSERT_TRUE(a2.done() && b.done() && c.done());
  // v3+: pod-a by its instance alone, b by id, and a stranger.
  Capture<LeaveGroupResponse> left;
  coordinator->leave_group({"g", {{"", std::string("pod-a")}, {b->member_id, std::nullopt}, {"who", std::nullopt}}},
                           left.cb());
  ASSERT_TRUE(left.done());
  ASSERT_EQ(left->members.size(), 3u);
  EXPECT_EQ(left->members[0].error, ErrorCode::NONE);
  EXPECT_EQ(left->members[1].error, ErrorCode::NONE);
  EXPECT_EQ(left->members[2].error, ErrorCode::UNKNOWN_MEMBER_ID);
  EXPECT_EQ(coordinator->describe("g")->members, std::vector<std::string>{c->member_id});
  // A fenced incarnation cannot remove its successor.
  auto a3 = join(ra);
  EXPECT_FALSE(a3.done()) << "a rebalance: it waits for c to join again";
  Capture<LeaveGroupResponse> stale;
  coordinator->leave_group({"g", {{a->member_id, std::string("pod-a")}}}, stale.cb());
  ASSERT_TRUE(stale.done());
  EXPECT_EQ(stale->members[0].error, ErrorCode::FENCED_INSTANCE_ID);
  EXPECT_EQ(coordinator->describe("g")->members.size(), 2u);
}

TEST_F(GroupCoordinatorTest, StaticMemberRestartingDuringARebalanceTakesPartInIt) {
  auto ra = join_request("", "a");
  ra.group_instance_id = "pod-a";
  auto a = join(ra);
  ASSERT_EQ(sync(a->member_id, a->generation_id, {{a->member_id, "all"}})->error, ErrorCode::NONE);
  auto b = join("", "b");  // a rebalance waits for pod-a
  EXPECT_FALSE(b.done());
  auto restarted = join(ra);  // pod-a comes back under a new id and joins the rebalance
  ASSERT_TRUE(restarted.done() && b.done());
  EXPECT_EQ(restarted->error, ErrorCode::NONE);
  EXPECT_NE(restarted->member_id, a->member_id);
  EXPECT_EQ(restarted->generation_id, a->generation_id + 1);
  EXPECT_EQ(restarted->leader, restarted->member_id) << "it was the leader; its new id is";
  EXPECT_EQ(restarted->members.size(), 2u);
}

TEST_F(GroupCoordinatorTest, LeaveOfTheLastMissingMemberCompletesTheBarrier) {
  int32_t gen = 0;
  auto ids = stable_group({"a", "b"}, &gen);
  auto c = join("", "c");
  auto a = join(ids[0], "a");
  EXPECT_FALSE(c.done());
  leave(ids[1]);
  ASSERT_TRUE(a.done() && c.done());
  EXPECT_EQ(a->members.size(), 2u);
}

TEST_F(GroupCoordinatorTest, LeaderRejoiningStartsARebalanceFollowerRejoiningDoesNot) {
  int32_t gen = 0;
  auto ids = stable_group({"a", "b"}, &gen);
  auto b = join(ids[1], "b");
  ASSERT_TRUE(b.done());
  EXPECT_EQ(b->generation_id, gen);
  EXPECT_EQ(coordinator->describe("g")->phase, GroupPhase::kStable);
  auto a = join(ids[0], "a");
  EXPECT_FALSE(a.done());
  EXPECT_EQ(coordinator->describe("g")->phase, GroupPhase::kPreparingRebalance);
}

TEST_F(GroupCoordinatorTest, ProtocolsMustMatchAndTheCommonOneIsChosen) {
  auto a = join(join_request("", "a", {"range", "roundrobin"}));
  ASSERT_EQ(a->protocol_name, "range");
  ASSERT_EQ(sync(a->member_id, a->generation_id, {})->error, ErrorCode::NONE);
  auto bad = join(join_request("", "b", {"sticky"}));
  ASSERT_TRUE(bad.done());
  EXPECT_EQ(bad->error, ErrorCode::INCONSISTENT_GROUP_PROTOCOL);
  auto other_type = join_request("", "b", {"range"});
  other_type.protocol_type = "connect";
  EXPECT_EQ(join(other_type)->error, ErrorCode::INCONSISTENT_GROUP_PROTOCOL);
  EXPECT_EQ(coordinator->describe("g")->phase, GroupPhase::kStable) << "refused joins change nothing";

  auto b = join(join_request("", "b", {"roundrobin"}));
  auto a2 = join(join_request(a->member_id, "a", {"range", "roundrobin"}));
  ASSERT_TRUE(a2.done() && b.done());
  EXPECT_EQ(a2->protocol_name, "roundrobin");
  for (const auto& m : a2->members) EXPECT_FALSE(m.metadata.empty());
}

TEST_F(GroupCoordinatorTest, BadJoinsAreRefused) {
  auto r = join_request("", "a");
  r.session_timeout_ms = 100;
  EXPECT_EQ(join(r)->error, ErrorCode::INVALID_SESSION_TIMEOUT);
  r = join_request("", "a");
  r.group_id = "";
  EXPECT_EQ(join(r)->error, ErrorCode::INVALID_GROUP_ID);
  r.group_id = "../x";
  EXPECT_EQ(join(r)->error, ErrorCode::INVALID_GROUP_ID);
  r = join_request("", "a");
  r.protocols.clear();
  EXPECT_EQ(join(r)->error, ErrorCode::INCONSISTENT_GROUP_PROTOCOL);
  EXPECT_EQ(join("unknown-id", "a")->error, ErrorCode::UNKNOWN_MEMBER_ID);
  EXPECT_FALSE(coordinator->describe("g").has_value());
}

TEST_F(GroupCoordinatorTest, OffsetCommitIsRefusedForStaleGenerationsAndStrangers) {
  int32_t gen = 0;
  auto ids = stable_group({"a", "b"}, &gen);
  EXPECT_EQ((commit(ids[0], gen - 1, {{"t", {{0, 5}}}})[{"t", 0}]), ErrorCode::ILLEGAL_GENERATION);
  EXPECT_EQ((commit("stranger", gen, {{"t", {{0, 5}}}})[{"t", 0}]), ErrorCode::UNKNOWN_MEMBER_ID);
  std::string message;
  EXPECT_EQ((commit("", -1, {{"t", {{0, 5}}}}, &message)[{"t", 0}]), ErrorCode::UNKNOWN_MEMBER_ID)
      << "no commit without membership while the group has members";
  EXPECT_NE(message.find("generation -1"), std::string::npos) << message;
  EXPECT_TRUE(table->committed("t", "g")->empty()) << "refused commits change nothing";

  // During a rebalance the current generation may still commit (before rejoining), but not
  // between the join and the assignment.
  auto c = join("", "c");
  EXPECT_EQ((commit(ids[0], gen, {{"t", {{0, 5}}}})[{"t", 0}]), ErrorCode::NONE);
  auto a = join(ids[0], "a");
  auto b = join(ids[1], "b");
  ASSERT_TRUE(a.done() && b.done() && c.done());
  EXPECT_EQ((commit(ids[0], a->generation_id, {{"t", {{0, 6}}}})[{"t", 0}]), ErrorCode::REBALANCE_IN_PROGRESS);
  EXPECT_EQ(table->committed("t", "g")->at(BucketId(0)), Offset(5));
}

TEST_F(GroupCoordinatorTest, CommitWithoutMembershipIsAcceptedAndHoldsNothing) {
  // kcat and simple consumers: generation -1, no member id, no group membership.
  auto errors = commit("", -1, {{"t", {{0, 5}, {3, 9}}}});
  EXPECT_EQ((errors[{"t", 0}]), ErrorCode::NONE);
  EXPECT_EQ((errors[{"t", 3}]), ErrorCode::NONE);
  auto c = table->committed("t", "g");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->at(BucketId(0)), Offset(5));
  EXPECT_EQ(c->at(BucketId(3)), Offset(9));
  sched.run_due();
  EXPECT_TRUE(coordinator->claimed_topics("g").empty());
  // Nothing is held: one of our readers joins the group at once.
  groups::JoinRequest r{.topic = "t", .group = "g", .num_buckets = 4};
  EXPECT_TRUE(table->join(r).ok());
}

TEST_F(GroupCoordinatorTest, OffsetFetchAnswersMinusOneForNeverCommittedPartitions) {
  EXPECT_EQ(fetch("t", {0, 1, 2}), (std::map<int32_t, int64_t>{{0, -1}, {1, -1}, {2, -1}}));
  EXPECT_EQ(fetch("no-such-topic", {0}), (std::map<int32_t, int64_t>{{0, -1}}));
  commit("", -1, {{"t", {{1, 42}}}});
  EXPECT_EQ(fetch("t", {0, 1, 2}), (std::map<int32_t, int64_t>{{0, -1}, {1, 42}, {2, -1}}));

  // Null topics: every topic with commits, with its committed partitions.
  Capture<OffsetFetchResponse> all;
  coordinator->offset_fetch({"g", std::nullopt}, all.cb());
  sched.run_due();
  ASSERT_TRUE(all.done());
  ASSERT_EQ(all->topics.size(), 1u);
  EXPECT_EQ(all->topics[0].name, "t");
  ASSERT_EQ(all->topics[0].partitions.size(), 1u);
  EXPECT_EQ(all->topics[0].partitions[0].partition, 1);
  EXPECT_EQ(all->topics[0].partitions[0].committed_offset, 42);
}

TEST_F(GroupCoordinatorTest, KafkaCommitsAreTheGroupTablesPerTopicAndKeepOurReadersOut) {
  int32_t gen = 0;
  auto ids = stable_group({"a"}, &gen);
  auto errors = commit(ids[0], gen, {{"t", {{0, 10}, {1, 11}}}, {"u", {{1, 7}}}});
  for (const auto& [where, e] : errors) EXPECT_EQ(e, ErrorCode::NONE) << where.first << "/" << where.second;
  // The same commits as gRPC, the CLI and Python see for group g of t and of u.
  EXPECT_EQ(*table->committed("t", "g"), (groups::Committed{{BucketId(0), Offset(10)}, {BucketId(1), Offset(11)}}));
  EXPECT_EQ(*table->committed("u", "g"), (groups::Committed{{BucketId(1), Offset(7)}}));
  EXPECT_EQ(coordinator->claimed_topics("g"), (std::vector<std::string>{"t", "u"}));

  // While the Kafka group is alive our readers of g on t are refused, naming it.
  groups::JoinRequest ours{.topic = "t", .group = "g", .num_buckets = 4};
  auto refused = table->join(ours);
  ASSERT_EQ(refused.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find(kKafkaClaimInstance), std::string::npos) << refused.status().to_string();
  // Another topic the Kafka group never committed to is free.
  topics["w"] = 1;
  groups::JoinRequest elsewhere{.topic = "w", .group = "g", .num_buckets = 1};
  EXPECT_TRUE(table->join(elsewhere).ok());

  // The Kafka group ends: its claims go, our reader joins and reads from Kafka's commits.
  leave(ids[0]);
  sched.run_due();
  EXPECT_TRUE(coordinator->claimed_topics("g").empty());
  auto joined = table->join(ours);
  ASSERT_TRUE(joined.ok()) << joined.status().to_string();
  EXPECT_EQ(table->committed("t", "g")->at(BucketId(1)), Offset(11));
  // And our reader's commits are what Kafka's OffsetFetch answers.
  ASSERT_TRUE(table->commit("t", "g", joined->member_id, joined->generation, {{BucketId(2), Offset(3)}}).ok());
  EXPECT_EQ(fetch("t", {1, 2, 3}), (std::map<int32_t, int64_t>{{1, 11}, {2, 3}, {3, -1}}));
}

TEST_F(GroupCoordinatorTest, KafkaCommitIsRefusedWhileOurReadersHoldTheGroup) {
  groups::JoinRequest ours{.topic = "t", .group = "g", .num_buckets = 4};
  auto reader = table->join(ours);
  ASSERT_TRUE(reader.ok());
  int32_t gen = 0;
  auto ids = stable_group({"a"}, &gen);
  std::string message;
  auto errors = commit(ids[0], gen, {{"t", {{0, 10}}}, {"u", {{0, 4}}}}, &message);
  EXPECT_EQ((errors[{"t", 0}]), ErrorCode::INCONSISTENT_GROUP_PROTOCOL);
  EXPECT_EQ((errors[{"u", 0}]), ErrorCode::NONE) << "u has no reader of ours";
  EXPECT_NE(message.find(reader->member_id), std::string::npos) << message;
  EXPECT_TRUE(table->committed("t", "g")->empty());
  // Our reader is undisturbed: same generation, its commit goes through.
  EXPECT_TRUE(table->commit("t", "g", reader->member_id, reader->generation, {{BucketId(0), Offset(1)}}).ok());
}

TEST_F(GroupCoordinatorTest, HeartbeatsKeepTheClaimAliveAndExpiryReleasesIt) {
  make_coordinator({.initial_rebalance_delay = 0ms, .claim_session_timeout = 60s});
  int32_t gen = 0;
  auto ids = stable_group({"a"}, &gen);
  ASSERT_EQ((commit(ids[0], gen, {{"t", {{0, 1}}}})[{"t", 0}]), ErrorCode::NONE);
  groups::JoinRequest ours{.topic = "t", .group = "g", .num_buckets = 4};
  for (int i = 0; i < 60; ++i) {  // 5 minutes of heartbeats every 5 s, no commits
    sched.advance(5s);
    ASSERT_EQ(heartbeat(ids[0], gen), ErrorCode::NONE);
  }
  EXPECT_EQ(table->join(ours).status().code(), Code::kFailedPrecondition) << "the claim outlived its timeout";
  // The member dies: its session expires, the Kafka group empties, the claim is released.
  sched.advance(11s);
  EXPECT_FALSE(coordinator->describe("g").has_value());
  EXPECT_TRUE(coordinator->claimed_topics("g").empty());
  EXPECT_TRUE(table->join(ours).ok());
}

TEST_F(GroupCoordinatorTest, CommitErrorsArePerPartition) {
  int32_t gen = 0;
  auto ids = stable_group({"a"}, &gen);
  std::string message;
  auto errors = commit(ids[0], gen, {{"t", {{0, 3}, {4, 3}, {1, -2}}}, {"nope", {{0, 1}}}}, &message);
  EXPECT_EQ((errors[{"t", 0}]), ErrorCode::NONE);
  EXPECT_EQ((errors[{"t", 4}]), ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
  EXPECT_EQ((errors[{"t", 1}]), ErrorCode::OFFSET_OUT_OF_RANGE);
  EXPECT_EQ((errors[{"nope", 0}]), ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
  EXPECT_FALSE(message.empty());
  EXPECT_EQ(*table->committed("t", "g"), (groups::Committed{{BucketId(0), Offset(3)}}));

  OffsetCommitRequest big;
  big.group_id = "g";
  big.generation_id = gen;
  big.member_id = ids[0];
  big.topics = {{"t", {{2, 1, std::string(5000, 'm')}}}};
  Capture<OffsetCommitResponse> c;
  coordinator->offset_commit(big, c.cb());
  sched.run_due();
  ASSERT_TRUE(c.done());
  EXPECT_EQ(c->topics[0].partitions[0].error, ErrorCode::OFFSET_METADATA_TOO_LARGE);

  big.group_id = "bad/name";
  Capture<OffsetCommitResponse> bad;
  coordinator->offset_commit(big, bad.cb());
  ASSERT_TRUE(bad.done());
  EXPECT_EQ(bad->topics[0].partitions[0].error, ErrorCode::INVALID_GROUP_ID);
}

TEST_F(GroupCoordinatorTest, CommitsAreDurableInTheGroupsOffsetsFile) {
  make_coordinator(no_delay(), /*durable=*/true);
  ASSERT_EQ((commit("", -1, {{"t", {{2, 17}}}})[{"t", 2}]), ErrorCode::NONE);
  // A restarted node: a new table over the same data dir.
  make_coordinator(no_delay(), /*durable=*/true);
  EXPECT_EQ(fetch("t", {2}), (std::map<int32_t, int64_t>{{2, 17}}));
}

TEST_F(GroupCoordinatorTest, ShutdownAnswersWaitingCalls) {
  make_coordinator({.initial_rebalance_delay = 3s});
  auto a = join("", "a");
  EXPECT_FALSE(a.done());
  coordinator.reset();
  ASSERT_TRUE(a.done());
  EXPECT_EQ(a->error, ErrorCode::COORDINATOR_NOT_AVAILABLE);
  sched.advance(10s);  // its timers are gone and harmless
}

TEST_F(GroupCoordinatorTest, ConcurrentHeartbeatsAndCommitsFromManyThreads) {
  constexpr int kMembers = 4, kRounds = 100;
  int32_t gen = 0;
  auto ids = stable_group({"a", "b", "c", "d"}, &gen);
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kMembers; ++i) {
    threads.emplace_back([&, i] {
      for (int k = 1; k <= kRounds; ++k) {
        Capture<HeartbeatResponse> h;
        coordinator->heartbeat({"g", gen, ids[i], std::nullopt}, h.cb());
        if (!h.done() || h->error != ErrorCode::NONE) ++bad;
        OffsetCommitRequest r;
        r.group_id = "g";
        r.generation_id = gen;
        r.member_id = ids[i];
        r.topics = {{"t", {{i, k, std::nullopt}}}};
        Capture<OffsetCommitResponse> c;
        coordinator->offset_commit(std::move(r), c.cb());
        for (int w = 0; w < 100000 && !c.done(); ++w) {
          sched.run_due();  // tasks run on whichever thread gets there first
          std::this_thread::yield();
        }
        if (!c.done() || c->topics[0].partitions[0].error != ErrorCode::NONE) ++bad;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(bad.load(), 0);
  groups::Committed want;
  for (int i = 0; i < kMembers; ++i) want[BucketId(i)] = Offset(kRounds);
  EXPECT_EQ(*table->committed("t", "g"), want);
  EXPECT_EQ(coordinator->describe("g")->phase, GroupPhase::kStable);
}

}  // namespace
}  // namespace persisting::kafka
