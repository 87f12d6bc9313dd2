// BackgroundTask over a ManualScheduler (and the pool): one run at a time, requests coalesced,
// nothing after stop().
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "core/background_task.h"
#include "util/manual_scheduler.h"

using namespace persisting;
using persisting::testing::ManualScheduler;
using namespace std::chrono_literals;

TEST(BackgroundTask, RunsAtTheTimeAskedAndCoalescesRequests) {
  ManualScheduler sched;
  int runs = 0;
  BackgroundTask task(&sched, [&] { ++runs; });
  task.run_after(10s);
  task.run_after(20s);  // a run due earlier covers it
  task.run_after(30s);
  EXPECT_TRUE(task.pending());
  sched.advance(9s);
  EXPECT_EQ(runs, 0);
  sched.advance(1s);
  EXPECT_EQ(runs, 1);
  sched.advance(1h);
  EXPECT_EQ(runs, 1);
  EXPECT_FALSE(task.pending());
  task.run_after(10s);
  task.run_now();  // an earlier request moves the run forward
  sched.run_due();
  EXPECT_EQ(runs, 2);
  sched.advance(1h);
  EXPECT_EQ(runs, 2);
}

TEST(BackgroundTask, ARequestDuringARunRunsAgainAfterIt) {
  ManualScheduler sched;
  int runs = 0;
  BackgroundTask* self = nullptr;
  BackgroundTask task(&sched, [&] {
    if (++runs == 1) self->run_now();  // asked while running: runs again, after this run
  });
  self = &task;
  task.run_now();
  sched.run_due();
  EXPECT_EQ(runs, 2);
}

TEST(BackgroundTask, NothingRunsAfterStop) {
  ManualScheduler sched;
  int runs = 0;
  BackgroundTask task(&sched, [&] { ++runs; });
  task.run_after(1s);
  task.stop();
  task.run_now();  // ignored
  sched.advance(1h);
  EXPECT_EQ(runs, 0);
  EXPECT_EQ(sched.pending(), 0u);
}

// On the pool: stop() waits for a run that is going on, and two runs never overlap.
TEST(BackgroundTask, StopWaitsForARunningBodyOnThePool) {
  auto pool = Scheduler::make_pool(4);
  std::atomic<int> inside{0}, max_inside{0}, runs{0};
  std::promise<void> started;
  std::atomic<bool> first{true};
  BackgroundTask task(pool.get(), [&] {
    int now = ++inside;
    max_inside = std::max(max_inside.load(), now);
    if (first.exchange(false)) started.set_value();
    std::this_thread::sleep_for(20ms);
    ++runs;
    --inside;
  });
  task.run_now();
  started.get_future().wait();
  for (int i = 0; i < 50; ++i) task.run_now();  // while it runs: coalesced into one more run
  task.stop();
  EXPECT_EQ(inside.load(), 0);  // the run going on finished before stop() returned
  int after_stop = runs.load();
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(runs.load(), after_stop);  // and none started after
  EXPECT_EQ(max_inside.load(), 1);
  EXPECT_LE(after_stop, 2);
}

TEST(Scheduler, PoolRunsTasksInTimeOrderAndCancels) {
  auto pool = Scheduler::make_pool(1);
  std::promise<std::string> done;
  std::string order;
  auto now = pool->now();
  pool->schedule_at(now + 30ms, [&] { order += "b"; done.set_value(order); });
  pool->schedule_at(now + 10ms, [&] { order += "a"; });
  auto id = pool->schedule_at(now + 20ms, [&] { order += "x"; });
  EXPECT_TRUE(pool->cancel(id));
  EXPECT_FALSE(pool->cancel(id));
  EXPECT_EQ(done.get_future().get(), "ab");
}
