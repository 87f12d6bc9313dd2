#include "groups/membership.h"

#include <gtest/gtest.h>

#include "fake_clock.h"
#include "groups/group_state.h"

namespace persisting::groups {
namespace {

using namespace std::chrono_literals;
using testing::FakeClock;

MemberOptions dynamic_options(FakeClock& clock, uint32_t num_buckets = 4) {
  MemberOptions o;
  o.topic = "t";
  o.group = "g";
  o.num_buckets = num_buckets;
  o.auto_commit = false;
  o.session_timeout = 3s;
  o.clock = clock.fn();
  return o;
}

// A reader's positions over buckets, all at offset o.
Commits at(const std::vector<BucketId>& buckets, uint64_t o) {
  Commits c;
  for (BucketId b : buckets) c.emplace_back(b, Offset(o));
  return c;
}

std::vector<BucketId> ids(std::initializer_list<uint32_t> l) {
  std::vector<BucketId> out;
  for (uint32_t b : l) out.emplace_back(b);
  return out;
}

TEST(Member, JoinGivesTheBucketsAndWhereEachStarts) {
  FakeClock clock;
  GroupTable table(nullptr, clock.fn());
  {
    Member first(table, dynamic_options(clock));
    ASSERT_TRUE(first.join().ok());
    auto change = first.take_change();
    ASSERT_TRUE(change);
    first.note_positions(at(change->buckets, 0));
    Commits pos = {{BucketId(0), Offset(3)}, {BucketId(1), Offset(0)}, {BucketId(2), Offset(0)}, {BucketId(3), Offset(0)}};
    ASSERT_TRUE(first.commit(pos).ok());
    ASSERT_TRUE(first.close(pos).ok());
  }
  Member m(table, dynamic_options(clock));
  ASSERT_TRUE(m.join().ok());
  auto change = m.take_change();
  ASSERT_TRUE(change);
  EXPECT_EQ(change->buckets, ids({0, 1, 2, 3}));
  EXPECT_EQ(change->starts.at(BucketId(0)), std::optional<Offset>(Offset(3)));
  // The first member's commit carried every bucket, those it never moved too (at 0).
  EXPECT_EQ(change->starts.at(BucketId(1)), std::optional<Offset>(Offset(0)));
  EXPECT_EQ(change->starts.size(), 4u);
  EXPECT_FALSE(m.take_change());
}

TEST(Member, LearnsOfANewAssignmentOnItsNextPollWhenAHeartbeatIsDue) {
  FakeClock clock;
  GroupTable table(nullptr, clock.fn());
  Member a(table, dynamic_options(clock));
  ASSERT_TRUE(a.join().ok());
  auto ca = a.take_change();
  a.note_positions(at(ca->buckets, 0));
  Member b(table, dynamic_options(clock));
  ASSERT_TRUE(b.join().ok());
  auto cb = b.take_change();
  ASSERT_TRUE(cb);
  EXPECT_EQ(cb->buckets, ids({1, 3}));

  // Not due yet: a keeps its set.
  auto none = a.poll(at(ca->buckets, 0));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(*none);
  clock.advance(a.heartbeat_interval());
  auto changed = a.poll(at(ca->buckets, 0));
  ASSERT_TRUE(changed.ok()) << changed.status().to_string();
  ASSERT_TRUE(*changed);
  EXPECT_EQ((*changed)->buckets, ids({0, 2}));
  EXPECT_TRUE((*changed)->starts.empty());  // it keeps 0 and 2 with its own offsets
}

TEST(Member, AFencedCommitRefreshesCommitsWhatItStillOwnsAndReportsTheRest) {
  FakeClock clock;
  GroupTable table(nullptr, clock.fn());
  Member a(table, dynamic_options(clock));
  ASSERT_TRUE(a.join().ok());
  auto ca = a.take_change();
  a.note_positions(at(ca->buckets, 0));
  Member b(table, dynamic_options(clock));  // takes 1 and 3 at a new generation
  ASSERT_TRUE(b.join().ok());

  // a read 5 records of every bucket and commits without having polled.
  Status s = a.commit(at(ids({0, 1, 2, 3}), 5));
  EXPECT_TRUE(is_fenced(s)) << s.to_string();
  EXPECT_NE(s.message().find("bucket(s) 1,3"), std::string::npos) << s.to_string();
  auto c = table.committed("t", "g");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, (Committed{{BucketId(0), Offset(5)}, {BucketId(2), Offset(5)}}));
  // And its next poll hands the reader the smaller set.
  auto changed = a.poll(at(ids({0, 1, 2, 3}), 5));
  ASSERT_TRUE(changed.ok() && *changed);
  EXPECT_EQ((*changed)->buckets, ids({0, 2}));
}

TEST(Member, AnExpiredMemberRejoinsOnItsNextPoll) {
  FakeClock clock;
  GroupTable table(nullptr, clock.fn());
  Member a(table, dynamic_options(clock));
  ASSERT_TRUE(a.join().ok());
  auto ca = a.take_change();
  std::string first_id = a.assignment().member_id;
  clock.advance(4s);  // past the 3 s session timeout
  EXPECT_EQ(table.expire(), 1u);
  auto p = a.poll(at(ca->buckets, 0));
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_NE(a.assignment().member_id, first_id);
  EXPECT_EQ(a.assignment().buckets, ids({0, 1, 2, 3}));
}

TEST(Member, AutoCommitsWhenDueAndOnClose) {
  FakeClock clock;
  GroupTable table(nullptr, clock.fn());
  MemberOptions o = dynamic_options(clock, 2);
  o.auto_commit = true;
  o.auto_commit_interval = 5s;
  o.session_timeout = 30s;
  Member m(table, o);
  ASSERT_TRUE(m.join().ok());
  auto c = m.take_change();
  m.note_positions(at(c->buckets, 0));
  ASSERT_TRUE(m.poll(at(c->buckets, 4)).ok());
  EXPECT_TRUE(table.committed("t", "g")->empty());  // not due yet
  clock.advance(5s);
  ASSERT_TRUE(m.poll(at(c->buckets, 4)).ok());
  EXPECT_EQ(table.committed("t", "g")->at(BucketId(1)), Offset(4));
  ASSERT_TRUE(m.close(at(c->buckets, 9)).ok());
  EXPECT_EQ(table.committed("t", "g")->at(BucketId(1)), Offset(9));
  EXPECT_TRUE(table.describe("t", "g")->members.empty());
  EXPECT_TRUE(m.close(at(c->buckets, 10)).ok());  // twice: nothing more
  EXPECT_EQ(table.committed("t", "g")->at(BucketId(1)), Offset(9));
  EXPECT_EQ(m.poll({}).status().code(), Code::kFailedPrecondition);
}

TEST(Member, AReplacedStaticMemberIsFencedAndDoesNotComeBack) {
  FakeClock clock;
  GroupTable table(nullptr, clock.fn());
  MemberOptions o = dynamic_options(clock);
  o.static_buckets = ids({0, 1});
  Member old_member(table, o);
  ASSERT_TRUE(old_member.join().ok());
  old_member.take_change();
  Member fresh(table, o);
  ASSERT_TRUE(fresh.join().ok());
  clock.advance(old_member.heartbeat_interval());
  auto p = old_member.poll(at(ids({0, 1}), 0));
  EXPECT_TRUE(is_fenced(p.status())) << p.status().to_string();
  Status s = old_member.commit(at(ids({0, 1}), 7));
  EXPECT_TRUE(is_fenced(s)) << s.to_string();
  EXPECT_TRUE(table.committed("t", "g")->empty());
  EXPECT_EQ(table.describe("t", "g")->members.size(), 1u);
}

TEST(MemberOptions, RefuseBadGroupNamesAndIntervals) {
  ReaderOptions r;
  r.topic = "t";
  r.group = "a/b";
  auto bad = member_options(r, 4, {});
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("group name 'a/b'"), std::string::npos) << bad.status().to_string();
  r.group = "ok";
  r.session_timeout = 0ms;
  EXPECT_EQ(member_options(r, 4, {}).status().code(), Code::kInvalidArgument);
  r.session_timeout = 1s;
  r.auto_commit_interval = -1ms;
  EXPECT_EQ(member_options(r, 4, {}).status().code(), Code::kInvalidArgument);
  r.auto_commit = false;
  EXPECT_TRUE(member_options(r, 4, {}).ok());
}

}  // namespace
}  // namespace persisting::groups
