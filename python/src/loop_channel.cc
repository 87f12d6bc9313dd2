#include "loop_channel.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace py = pybind11;

namespace persisting::python {

// Owned by the reader callback the loop keeps (and so by the loop while the reader is
// registered): when the loop drops it (closing), the channel closes.
struct LoopChannel::Registration {
  explicit Registration(std::shared_ptr<LoopChannel> c) : channel(std::move(c)) {}
  ~Registration() {
    if (channel) channel->close();
  }
  Registration(const Registration&) = delete;
  Registration& operator=(const Registration&) = delete;
  std::shared_ptr<LoopChannel> channel;
};

// The eventfd is closed only here, when no thread can be posting any more (a poster holds the
// channel), so post writes it outside the lock.
LoopChannel::~LoopChannel() { ::close(fd_); }

namespace {

// {loop: capsule of a weak_ptr<LoopChannel>, or False when the loop has no add_reader}, keyed
// weakly (a loop's entry goes with the loop; the channel is owned by the loop's reader).
// Never destroyed; the GIL serializes its creation.
py::object& channels() {
  static py::object* table = nullptr;
  if (!table) table = new py::object(py::module_::import("weakref").attr("WeakKeyDictionary")());
  return *table;
}

}  // namespace

std::shared_ptr<LoopChannel> LoopChannel::of(py::handle loop) {
  py::object& table = channels();
  py::object got;
  try {
    got = table.attr("get")(loop);
  } catch (py::error_already_set&) {
    return nullptr;  // a loop that cannot be weakly referenced: no channel
  }
  if (py::isinstance<py::capsule>(got))
    return py::reinterpret_borrow<py::capsule>(got).get_pointer<std::weak_ptr<LoopChannel>>()->lock();
  if (!got.is_none()) return nullptr;  // False: known to have no add_reader

  int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) return nullptr;
  auto channel = std::make_shared<LoopChannel>(fd);
  auto registration = std::make_shared<Registration>(channel);
  try {
    loop.attr("add_reader")(fd, py::cpp_function([registration] { registration->channel->drain(); }));
  } catch (py::error_already_set& e) {
    // Not supported (NotImplementedError, no such method): remembered; else (a closed loop,
    // say) not.
    if (e.matches(PyExc_NotImplementedError) || e.matches(PyExc_AttributeError)) table[loop] = py::bool_(false);
    return nullptr;
  }
  table[loop] = py::capsule(new std::weak_ptr<LoopChannel>(channel),
                            [](void* p) { delete static_cast<std::weak_ptr<LoopChannel>*>(p); });
  return channel;
}

bool LoopChannel::post(std::function<void()> fn) {
  bool queued = false, wake = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!closed_) {
      pending_.push_back(std::move(fn));
      queued = true;
      wake = !signalled_;
      signalled_ = true;
    }
  }
  if (!queued) {
    fn = nullptr;  // closed: dropped, outside the lock
    return false;
  }
  if (wake) {
    uint64_t one = 1;
    ssize_t n;
    do n = ::write(fd_, &one, sizeof one); while (n < 0 && errno == EINTR);
    // EAGAIN only when the counter is about to overflow: it is readable then anyway
  }
  return true;
}

void LoopChannel::drain() {
  uint64_t count;
  ssize_t n;
  do n = ::read(fd_, &count, sizeof count); while (n < 0 && errno == EINTR);
  std::vector<std::function<void()>> batch;
  {
    std::lock_guard<std::mutex> lock(mu_);
    batch.swap(pending_);
    signalled_ = false;
  }
  for (auto& fn : batch) {
    try {
      fn();
    } catch (py::error_already_set& e) {
      e.discard_as_unraisable("persisting: completing an asyncio call");
    }
    fn = nullptr;
  }
}

void LoopChannel::close() {
  std::vector<std::function<void()>> dropped;
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
  dropped.swap(pending_);
}

}  // namespace persisting::python
