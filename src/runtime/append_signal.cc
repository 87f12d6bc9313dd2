#include "runtime/append_signal.h"

#include <algorithm>

#include <asio/post.hpp>

namespace persisting::runtime {

AppendSignal::Buckets AppendSignal::buckets_of(const std::vector<BucketId>& ids) {
  Buckets bits;
  for (BucketId id : ids) {
    const size_t word = id.value() / 64;
    if (bits.size() <= word) bits.resize(word + 1, 0);
    bits[word] |= uint64_t{1} << (id.value() % 64);
  }
  return bits;
}

void AppendSignal::notify(BucketId bucket, bool inline_run) {
  // seq_cst, as the caller's count of the change before it and a waiter's store of
  // any_waiting_ before it looks at the counts: one of the two sees the other.
  if (!any_waiting_.load()) return;
  const size_t word = bucket.value() / 64;
  const uint64_t bit = uint64_t{1} << (bucket.value() % 64);
  std::vector<Waiter> ready;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      const Buckets& b = *it->second.buckets;
      if (word < b.size() && (b[word] & bit)) {
        ready.push_back(std::move(it->second));
        it = waiters_.erase(it);
      } else {
        ++it;
      }
    }
    if (waiters_.empty()) any_waiting_.store(false);
  }
  if (ready.empty()) return;
  for (const Waiter& w : ready) executor_.timers().cancel(w.deadline);
  if (inline_run) {
    for (Waiter& w : ready) w.woke(true);
    return;
  }
  asio::post(executor_.io(), [ready = std::move(ready)]() mutable {
    for (Waiter& w : ready) w.woke(true);
  });
}

void AppendSignal::wait(uint64_t id, std::shared_ptr<const Buckets> buckets, Clock::time_point deadline, Woke woke) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto remembered = std::find(cancelled_.begin(), cancelled_.end(), id);
    if (id != 0 && remembered != cancelled_.end()) {
      *remembered = 0;  // cancelled before it waited: answered below, as a cancel would
    } else if (!waiters_.count(id)) {
      auto key = executor_.timers().schedule(deadline, [weak = weak_from_this(), id] {
        auto self = weak.lock();
        if (!self) return;
        asio::post(self->executor_.io(), [self, id] {
          if (Woke w = self->take(id, /*cancel_deadline=*/false)) w(false);
        });
      });
      waiters_.emplace(id, Waiter{std::move(buckets), std::move(woke), key});
      any_waiting_.store(true);
      return;
    }
  }
  woke(false);
}

AppendSignal::Woke AppendSignal::take(uint64_t id, bool cancel_deadline, bool remember_absent) {
  Woke woke;
  Timers::Key deadline;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = waiters_.find(id);
    if (it == waiters_.end()) {
      if (remember_absent && id != 0) {  // not waiting yet: its wait will find this
        cancelled_[next_cancelled_] = id;
        next_cancelled_ = (next_cancelled_ + 1) % kRememberedCancels;
      }
      return nullptr;
    }
    woke = std::move(it->second.woke);
    deadline = it->second.deadline;
    waiters_.erase(it);
    if (waiters_.empty()) any_waiting_.store(false);
  }
  if (cancel_deadline) executor_.timers().cancel(deadline);
  return woke;
}

void AppendSignal::wake(uint64_t id) {
  if (Woke w = take(id, /*cancel_deadline=*/true)) asio::post(executor_.io(), [w = std::move(w)] { w(true); });
}

void AppendSignal::cancel(uint64_t id) {
  if (Woke w = take(id, /*cancel_deadline=*/true, /*remember_absent=*/true)) w(false);
}

size_t AppendSignal::waiting_on(BucketId bucket) const {
  const size_t word = bucket.value() / 64;
  const uint64_t bit = uint64_t{1} << (bucket.value() % 64);
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const auto& [id, w] : waiters_)
    if (word < w.buckets->size() && ((*w.buckets)[word] & bit)) ++n;
  return n;
}

size_t AppendSignal::waiting() const {
  std::lock_guard<std::mutex> lock(mu_);
  return waiters_.size();
}

}  // namespace persisting::runtime
