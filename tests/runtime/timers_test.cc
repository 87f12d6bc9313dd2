#include "runtime/timers.h"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <future>
#include <mutex>
#include <vector>

namespace persisting::runtime {
namespace {

using Clock = Timers::Clock;
using std::chrono::milliseconds;

TEST(TimersTest, RunsEachCallbackOnceNotBeforeItsDeadline) {
  Timers t;
  auto start = Clock::now();
  std::promise<Clock::time_point> ran;
  t.schedule(start + milliseconds(30), [&] { ran.set_value(Clock::now()); });
  EXPECT_GE(ran.get_future().get(), start + milliseconds(30));
  EXPECT_EQ(t.pending(), 0u);
}

// Records the order callbacks ran in; done() once `expect` have run.
struct RunOrder {
  explicit RunOrder(size_t expect) : expect(expect) {}
  std::function<void()> mark(int i) {
    return [this, i] {
      std::lock_guard l(mu);
      order.push_back(i);
      if (order.size() == expect) done.set_value();
    };
  }
  bool wait() { return done.get_future().wait_for(std::chrono::seconds(5)) == std::future_status::ready; }
  std::vector<int> seen() {
    std::lock_guard l(mu);
    return order;
  }
  size_t expect;
  std::mutex mu;
  std::vector<int> order;
  std::promise<void> done;
};

TEST(TimersTest, AnEarlierDeadlineScheduledLaterRunsFirst) {
  // The thread sleeps towards the 10 s deadline; the 20 ms one must wake it.
  RunOrder run(1);  // outlives t, whose thread calls into it
  Timers t;
  auto now = Clock::now();
  t.schedule(now + std::chrono::seconds(10), run.mark(2));
  t.schedule(now + milliseconds(20), run.mark(1));
  ASSERT_TRUE(run.wait());
  EXPECT_EQ(run.seen(), std::vector<int>{1});
  EXPECT_EQ(t.pending(), 1u);
}

TEST(TimersTest, RunsInDeadlineOrder) {
  RunOrder run(5);
  Timers t;
  auto now = Clock::now();
  for (int i : {3, 1, 4, 2, 0}) t.schedule(now + milliseconds(5 * i), run.mark(i));
  ASSERT_TRUE(run.wait());
  EXPECT_EQ(run.seen(), (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST(TimersTest, CancelledCallbacksNeverRun) {
  Timers t;
  std::atomic<int> cancelled_ran{0};
  std::promise<void> marker;
  auto now = Clock::now();
  std::vector<Timers::Key> keys;
  for (int i = 0; i < 100; ++i) keys.push_back(t.schedule(now + milliseconds(20), [&] { ++cancelled_ran; }));
  for (const auto& k : keys) EXPECT_TRUE(t.cancel(k));
  for (const auto& k : keys) EXPECT_FALSE(t.cancel(k));  // already gone
  t.schedule(now + milliseconds(40), [&] { marker.set_value(); });
  ASSERT_EQ(marker.get_future().wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_EQ(cancelled_ran.load(), 0);
}

TEST(TimersTest, CancelAfterRunReturnsFalse) {
  Timers t;
  std::promise<void> ran;
  auto k = t.schedule(Clock::now(), [&] { ran.set_value(); });
  ran.get_future().wait();
  EXPECT_FALSE(t.cancel(k));
}

TEST(TimersTest, DestructionDropsPendingCallbacks) {
  std::atomic<int> ran{0};
  {
    Timers t;
    t.schedule(Clock::now() + std::chrono::seconds(30), [&] { ++ran; });
    EXPECT_EQ(t.pending(), 1u);
  }  // returns at once, without waiting 30 s or running the callback
  EXPECT_EQ(ran.load(), 0);
}

}  // namespace
}  // namespace persisting::runtime
