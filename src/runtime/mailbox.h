// Mailbox: the serial message queue of one actor, run on the Executor's pool.
//
// Guarantees: messages run one at a time (never two of one mailbox concurrently) and in the
// order they were posted.
//
// "Caller runs": when post() finds the mailbox idle, the message runs at once on the posting
// thread instead of waking a pool thread for it. A producer that puts and then waits for the
// answer therefore costs no thread switch while its bucket is uncontended. A thread that starts
// draining runs at most kInlineBudget messages (its own and any queued behind it) before handing
// the rest to the pool, so a caller is never captured by other callers' work for long.
// post_to_pool() never runs inline; use it where the caller must not be re-entered.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <type_traits>

#include "runtime/executor.h"

namespace persisting::runtime {

// Always held by shared_ptr (Mailbox::create): a draining thread keeps it alive while the last
// message it runs may release the actor that owns it.
class Mailbox : public std::enable_shared_from_this<Mailbox> {
 public:
  using Message = std::function<void()>;
  static constexpr int kInlineBudget = 32;

  static std::shared_ptr<Mailbox> create(Executor& executor) {
    return std::shared_ptr<Mailbox>(new Mailbox(executor));
  }
  Mailbox(const Mailbox&) = delete;
  Mailbox& operator=(const Mailbox&) = delete;

  // Actors keep themselves alive while a message is queued by capturing a shared_ptr in it.
  // A message that runs at once (the mailbox was idle) is called where it is, never wrapped
  // in a Message: no allocation and no queue on an uncontended actor's path.
  template <typename F>
  void post(F&& message) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (running_) {  // the draining thread will run it, in order
        queue_.emplace_back(std::forward<F>(message));
        return;
      }
      running_ = true;  // idle means empty: nothing queued can come before it
    }
    auto keep_alive = shared_from_this();  // the message may release the actor that owns this
    {
      std::decay_t<F> run(std::forward<F>(message));  // gone before the next message, as queued ones
      run();
    }
    drain_held(kInlineBudget - 1);
  }
  void post_to_pool(Message m);

 private:
  explicit Mailbox(Executor& executor) : executor_(executor) {}
  void drain(int budget);
  void drain_held(int budget);  // drain(), its caller keeping the mailbox alive

  Executor& executor_;
  std::mutex mu_;
  std::deque<Message> queue_;
  bool running_ = false;  // a thread is draining (or a drain is scheduled on the pool)
};

}  // namespace persisting::runtime
