// The actor mailbox: a message posted to an idle mailbox runs at once on the caller's thread
// (without being queued), later ones run in order after it, each message is gone (its
// captures released) before the next runs, and no two messages of one mailbox ever overlap.
#include "runtime/mailbox.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <memory>
#include <thread>
#include <vector>

namespace persisting::runtime {
namespace {

TEST(MailboxTest, AnIdleMailboxRunsTheMessageOnTheCallersThreadAndThenWhatItPosted) {
  Executor executor(2);
  auto box = Mailbox::create(executor);
  std::vector<int> order;
  std::thread::id ran_on;
  box->post([&] {
    ran_on = std::this_thread::get_id();
    order.push_back(1);
    box->post([&] { order.push_back(3); });  // queued: runs after this one, not inside it
    order.push_back(2);
  });
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));  // all ran before post returned
}

TEST(MailboxTest, AMessageIsReleasedBeforeTheNextOneRuns) {
  Executor executor(2);
  auto box = Mailbox::create(executor);
  auto token = std::make_shared<int>(7);
  std::weak_ptr<int> watch = token;
  bool released_before_next = false;
  box->post([&, held = std::move(token)] {
    EXPECT_EQ(*held, 7);
    box->post([&] { released_before_next = watch.expired(); });
  });
  EXPECT_TRUE(released_before_next);
}

TEST(MailboxTest, MessagesOfOneMailboxNeverOverlapAndKeepEachSendersOrder) {
  Executor executor(2);
  auto box = Mailbox::create(executor);
  constexpr int kPerSender = 20000;
  std::atomic<int> running{0};
  std::atomic<bool> overlapped{false};
  std::vector<int> last(2, -1);  // touched only inside messages
  std::atomic<bool> out_of_order{false};
  std::promise<void> all_done;
  std::atomic<int> left{2 * kPerSender};
  auto sender = [&](int id) {
    for (int i = 0; i < kPerSender; ++i) {
      box->post([&, id, i] {
        if (running.fetch_add(1) != 0) overlapped = true;
        if (last[id] != i - 1) out_of_order = true;
        last[id] = i;
        running.fetch_sub(1);
        if (left.fetch_sub(1) == 1) all_done.set_value();
      });
    }
  };
  std::thread a(sender, 0), b(sender, 1);
  a.join();
  b.join();
  ASSERT_EQ(all_done.get_future().wait_for(std::chrono::seconds(60)), std::future_status::ready);
  EXPECT_FALSE(overlapped.load());
  EXPECT_FALSE(out_of_order.load());
}

}  // namespace
}  // namespace persisting::runtime
