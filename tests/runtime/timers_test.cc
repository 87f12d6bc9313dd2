#include "runtime/timers.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
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

TEST(TimersTest, AnEarlierDeadlineScheduledLaterRunsFirst) {
  // The thread sleeps towards the 10 s deadline; the 20 ms one must wake it.
  Timers t;
  std::mutex mu;
  std::vector<int> order;
  std::promise<void> done;
  auto now = Clock::now();
  t.schedule(now + std::chrono::seconds(10), [&] { std::lock_guard l(mu); order.push_back(2); });
  t.schedule(now + milliseconds(20), [&] {
    { std::lock_guard l(mu); order.push_back(1); }
    done.set_value();
  });
  ASSERT_EQ(done.get_future().wait_for(std::chrono::seconds(5)), std::future_status::ready);
  std::lock_guard l(mu);
  EXPECT_EQ(order, std::vector<int>{1});
  EXPECT_EQ(t.pending(), 1u);
}

TEST(TimersTest, RunsInDeadlineOrder) {
  Timers t;
  std::mutex mu;
  std::vector<int> order;
  std::promise<void> done;
  auto now = Clock::now();
  for (int i : {3, 1, 4, 2, 0}) {
    t.schedule(now + milliseconds(5 * i), [&, i] {
      std::lock_guard l(mu);
      order.push_back(i);
      if (order.size() == 5) done.set_value();
    });
  }
  ASSERT_EQ(done.get_future().wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
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
