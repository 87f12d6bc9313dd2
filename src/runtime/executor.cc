#include "runtime/executor.h"

namespace persisting::runtime {

Executor::Executor(unsigned threads) {
  if (threads == 0) threads = std::max(2u, std::thread::hardware_concurrency());
  guard_.emplace(io_.get_executor());
  threads_.reserve(threads);
  for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this] { io_.run(); });
}

Executor::~Executor() {
  guard_.reset();
  io_.stop();
  for (auto& t : threads_) t.join();
}

}  // namespace persisting::runtime
