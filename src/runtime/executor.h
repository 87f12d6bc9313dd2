// Executor: the thread pool that runs every actor of a node (an asio io_context served by N
// threads), and the home of their timers (timers.h: one thread for parked readers' deadlines). Each actor has a Mailbox (mailbox.h) on this pool, so
// its messages run one at a time, in order. Asio stays inside src/runtime; the public API never
// sees it.
#pragma once

#include <asio/io_context.hpp>
#include <optional>
#include <thread>
#include <vector>

#include "runtime/timers.h"

namespace persisting::runtime {

class Executor {
 public:
  // threads == 0 picks the number of hardware threads (at least 2).
  explicit Executor(unsigned threads = 0);
  ~Executor();  // stops the pool and joins the threads
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  asio::io_context& io() { return io_; }
  Timers& timers() { return timers_; }
  unsigned threads() const { return static_cast<unsigned>(threads_.size()); }

 private:
  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard_;
  std::vector<std::thread> threads_;
  Timers timers_;  // destroyed first: its callbacks post to io_
};

}  // namespace persisting::runtime
