// Group commit: appenders that queue up while a sync is in progress share the next sync.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "storage/wal/wal.h"
#include "tests/wal/wal_test_util.h"

namespace persisting::wal {
namespace {

using testing::batch_for;
using testing::capture;
using testing::eventually;
using testing::Replayed;
using testing::ScratchDir;
using testing::SyncGateEnv;

class GroupCommitTest : public ::testing::Test {
 protected:
  // Opens the WAL, then closes the gate and starts one appender, which becomes the leader and
  // blocks in its sync.
  void open_and_block_a_leader(WalOptions o) {
    o.env = &env;
    Replayed unused;
    auto w = Wal::open(d.path(), o, capture(&unused), nullptr);
    ASSERT_TRUE(w.ok());
    wal = std::move(*w);
    before = env.syncs();
    env.close_gate();
    ts.emplace_back([this] { firsts[0] = *wal->append(batch_for(0, 1)); });
    ASSERT_TRUE(eventually([&] { return env.waiting() == 1; }));
  }
  // Starts n more appenders of `records` records each and waits until all are queued.
  void queue_behind(int n, size_t records) {
    for (int i = 1; i <= n; ++i) ts.emplace_back([this, i, records] { firsts[i] = *wal->append(batch_for(0, records)); });
    ASSERT_TRUE(eventually([&] { return wal->queued_requests() == static_cast<size_t>(n + 1); }));
  }
  void release() {
    env.open_gate();
    for (auto& t : ts) t.join();
  }
  void TearDown() override {  // also after a failed ASSERT: never leave a thread blocked
    env.open_gate();
    for (auto& t : ts) {
      if (t.joinable()) t.join();
    }
  }

  ScratchDir d;
  SyncGateEnv env{Env::Default()};
  std::unique_ptr<Wal> wal;
  int before = 0;
  std::vector<std::thread> ts;
  std::vector<Offset> firsts = std::vector<Offset>(8);
};

TEST_F(GroupCommitTest, AppendersQueuedDuringASyncShareTheNextOne) {
  open_and_block_a_leader({});
  queue_behind(4, 2);
  release();

  // One sync for the leader's group, one shared by the four that queued behind it.
  EXPECT_EQ(env.syncs() - before, 2);
  EXPECT_EQ(wal->next_offset(), Offset(9));
  EXPECT_EQ(wal->durable_offset(), Offset(9));
  EXPECT_EQ(firsts[0], Offset(0));
  std::vector<uint64_t> got;
  for (int i = 1; i < 5; ++i) got.push_back(firsts[i].value());
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<uint64_t>{1, 3, 5, 7}));
}

TEST_F(GroupCommitTest, AGroupStopsAtMaxGroupBytes) {
  WalOptions o;
  o.max_group_bytes = 1;  // every batch is its own group
  open_and_block_a_leader(o);
  queue_behind(3, 1);
  release();
  EXPECT_EQ(env.syncs() - before, 4);
  EXPECT_EQ(wal->next_offset(), Offset(4));
}

}  // namespace
}  // namespace persisting::wal
