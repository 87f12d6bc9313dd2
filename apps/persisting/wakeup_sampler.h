// The wake-up test's sampling loop, shared by `persisting bench --phase wakeup` and the peer clients
// of bench/peers (bench/peers.d/bench_common.h includes it, so every system is timed the same way).
// One reader thread, kept for every sample as a consumer keeps its thread, parks in a blocking read;
// the calling thread waits 3 ms for it to park, then times put_one(sample) from its start to the
// reader's return. (A fresh thread per sample would also time the first call a client library
// makes on a new thread: for gRPC that is a large part of a wake-up.)
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace persisting::bench {

// read_one(i): blocks until sample i's record arrives (true) or gives up (false).
// put_one(i): puts sample i's record; false when the put failed, and then abort() is called,
// which must end the process (the reader is still parked and cannot be joined).
// Returns the wake-up times in µs of the samples whose read got the record, in sample order.
template <typename ReadOne, typename PutOne, typename Abort>
std::vector<double> sample_wakeups(uint32_t samples, ReadOne&& read_one, PutOne&& put_one, Abort&& abort) {
  using Clock = std::chrono::steady_clock;
  std::vector<double> us;
  std::atomic<int64_t> put_start_ns{0};
  std::mutex mu;
  std::condition_variable cv;
  uint32_t go = 0, done = 0;  // samples the reader may start / has finished (under mu)
  std::thread reader([&] {
    for (uint32_t i = 0; i < samples; ++i) {
      {
        std::unique_lock<std::mutex> l(mu);
        cv.wait(l, [&] { return go > i; });
      }
      const bool ok = read_one(i);
      const int64_t now = Clock::now().time_since_epoch().count();
      if (ok) us.push_back(double(now - put_start_ns.load()) / 1000.0);
      {
        std::lock_guard<std::mutex> l(mu);
        done = i + 1;
      }
      cv.notify_all();
    }
  });
  for (uint32_t i = 0; i < samples; ++i) {
    {
      std::lock_guard<std::mutex> l(mu);
      go = i + 1;
    }
    cv.notify_all();
    std::this_thread::sleep_for(std::chrono::milliseconds(3));  // the reader parks meanwhile
    put_start_ns = Clock::now().time_since_epoch().count();
    if (!put_one(i)) abort();
    std::unique_lock<std::mutex> l(mu);
    cv.wait(l, [&] { return done > i; });
  }
  reader.join();
  return us;
}

}  // namespace persisting::bench
