// LoopChannel: runs functions on an asyncio loop's thread, posted from any thread without the
// GIL. An eventfd registered with loop.add_reader: post() queues the function and writes the
// eventfd (once until the loop drains the queue); the loop's reader callback runs everything
// queued, with the GIL held, in posting order. The channel closes when the loop drops the reader
// (loop.close()); what is posted after that is dropped.
#pragma once

#include <pybind11/pybind11.h>

#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace persisting::python {

class LoopChannel {
 public:
  // The channel of loop, made and registered on its first use. GIL held, on the loop's thread.
  // Null when the loop cannot watch a file descriptor (no add_reader: Windows' proactor loop)
  // or refuses to (closed), and when no eventfd can be had: the caller then uses
  // call_soon_threadsafe.
  static std::shared_ptr<LoopChannel> of(pybind11::handle loop);

  explicit LoopChannel(int fd) : fd_(fd) {}  // takes fd
  ~LoopChannel();
  LoopChannel(const LoopChannel&) = delete;
  LoopChannel& operator=(const LoopChannel&) = delete;

  // Queues fn to run on the loop's thread with the GIL held. Any thread, GIL held or not. False
  // when the channel is closed: fn is not kept (it is destroyed before this returns).
  bool post(std::function<void()> fn);

 private:
  struct Registration;
  void drain();  // the reader callback: on the loop's thread, GIL held
  void close();  // the loop dropped the reader: no more wake-ups can be delivered

  const int fd_;            // the eventfd, closed with the channel
  std::mutex mu_;
  bool closed_ = false;     // the loop dropped the reader
  bool signalled_ = false;  // the eventfd was written since the last drain
  std::vector<std::function<void()>> pending_;
};

}  // namespace persisting::python
