#include "runtime/mailbox.h"

#include <asio/post.hpp>

namespace persisting::runtime {

void Mailbox::post_to_pool(Message m) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(m));
    if (running_) return;
    running_ = true;
  }
  asio::post(executor_.io(), [self = shared_from_this()] { self->drain(kInlineBudget); });
}

void Mailbox::drain(int budget) {
  auto keep_alive = shared_from_this();
  drain_held(budget);
}

void Mailbox::drain_held(int budget) {
  for (;;) {
    Message m;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (queue_.empty()) {
        running_ = false;
        return;
      }
      if (budget-- <= 0) {
        // Keep running_ set: the pool thread that picks this up continues in order.
        asio::post(executor_.io(), [self = shared_from_this()] { self->drain(kInlineBudget); });
        return;
      }
      m = std::move(queue_.front());
      queue_.pop_front();
    }
    m();
  }
}

}  // namespace persisting::runtime
