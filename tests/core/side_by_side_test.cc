// run_side_by_side: jobs overlap on the pool, results come back in order, and a caller that is
// itself a pool task never waits for a queued job (a one-thread pool cannot deadlock).
#include "core/side_by_side.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

namespace persisting {
namespace {

TEST(SideBySide, ResultsComeBackInOrderWithEveryError) {
  std::vector<std::function<Status()>> jobs;
  for (int i = 0; i < 20; ++i)
    jobs.push_back([i]() -> Status { return i % 3 == 0 ? IOError("job " + std::to_string(i)) : Status::OK(); });
  const auto results = run_side_by_side(std::move(jobs));
  ASSERT_EQ(results.size(), 20u);
  for (int i = 0; i < 20; ++i) {
    if (i % 3 == 0) {
      EXPECT_EQ(results[i].message(), "job " + std::to_string(i));
    } else {
      EXPECT_TRUE(results[i].ok()) << i;
    }
  }
  EXPECT_TRUE(run_side_by_side({}).empty());
}

TEST(SideBySide, JobsOverlap) {
  // The first job (the caller's) ends only once the second has started elsewhere.
  auto pool = Scheduler::make_pool(2);
  std::promise<void> second_started;
  auto started = second_started.get_future();
  std::vector<std::function<Status()>> jobs;
  jobs.push_back([&]() -> Status {
    return started.wait_for(std::chrono::seconds(30)) == std::future_status::ready ? Status::OK()
                                                                                   : Internal("never side by side");
  });
  jobs.push_back([&] {
    second_started.set_value();
    return Status::OK();
  });
  for (const Status& s : run_side_by_side(std::move(jobs), pool.get())) EXPECT_TRUE(s.ok()) << s.to_string();
}

TEST(SideBySide, APoolTaskOfAOneThreadPoolRunsTheJobsItself) {
  auto pool = Scheduler::make_pool(1);
  std::promise<size_t> done;
  auto result = done.get_future();
  std::atomic<int> ran{0};
  pool->schedule_after(Scheduler::Clock::duration::zero(), [&] {
    std::vector<std::function<Status()>> jobs(5, [&] {
      ++ran;
      return Status::OK();
    });
    done.set_value(run_side_by_side(std::move(jobs), pool.get()).size());
  });
  ASSERT_EQ(result.wait_for(std::chrono::seconds(60)), std::future_status::ready) << "the pool task waited for itself";
  EXPECT_EQ(result.get(), 5u);
  EXPECT_EQ(ran.load(), 5);
}

}  // namespace
}  // namespace persisting
