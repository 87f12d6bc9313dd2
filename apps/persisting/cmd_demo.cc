// `persisting demo`: a producer and a consumer exchanging records on the embedded default
// (an in-process queue with the memory backend).
#include <iostream>
#include <thread>

#include "apps/persisting/commands.h"
#include "persisting/json.h"
#include "persisting/queue.h"

namespace persisting::cli {

int run_demo() {
  auto q = Queue::open({});
  if (!q.ok()) return fail(q.status().to_string());
  WriterOptions wo;
  wo.topic = "demo";
  wo.bucket_column = "user";
  wo.num_buckets = 4;
  auto writer = (*q)->writer(wo);
  if (!writer.ok()) return fail(writer.status().to_string());
  auto reader = (*q)->reader({.topic = "demo"});
  if (!reader.ok()) return fail(reader.status().to_string());

  constexpr int kRecords = 12;
  std::cout << "embedded queue: topic 'demo', 4 buckets by 'user', backend memory\n";
  std::mutex print_mu;
  Status produce_status;
  std::thread producer([&] {
    const char* users[] = {"ada", "bob", "cy"};
    for (int i = 0; i < kRecords; ++i) {
      Record r{{"user", users[i % 3]}, {"seq", i}, {"text", "hello #" + std::to_string(i)}};
      // Held across the put so the consumer's line never comes before the producer's.
      std::unique_lock<std::mutex> lock(print_mu);
      auto pos = (*writer)->put(r);
      if (!pos.ok()) {
        produce_status = pos.status();
        return;
      }
      std::cout << "producer: put    " << to_json(r) << " -> bucket " << pos->bucket.value()
                << " offset " << pos->offset.value() << "\n";
      lock.unlock();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  int received = 0;
  while (received < kRecords) {
    auto msgs = (*reader)->get(5, /*wait=*/true, std::chrono::seconds(2));
    if (!msgs.ok()) {
      producer.join();
      return fail(msgs.status().to_string());
    }
    if (msgs->empty()) break;
    std::lock_guard<std::mutex> lock(print_mu);
    for (const auto& m : *msgs) {
      std::cout << "consumer: got    " << to_json(m.record) << " <- bucket " << m.bucket.value()
                << " offset " << m.offset.value() << "\n";
      ++received;
    }
  }
  producer.join();
  if (!produce_status.ok()) return fail(produce_status.to_string());
  std::cout << "done: " << received << " of " << kRecords << " records exchanged\n";
  return received == kRecords ? 0 : 1;
}

}  // namespace persisting::cli
