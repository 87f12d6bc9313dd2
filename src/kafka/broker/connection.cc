#include "kafka/broker/connection.h"

#include <asio/bind_executor.hpp>
#include <asio/dispatch.hpp>
#include <asio/post.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>
#include <cerrno>
#include <cstring>
#include <sys/socket.h>

namespace persisting::kafka {
namespace {

constexpr size_t kReadChunk = 64 * 1024;

uint32_t load_be32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | uint32_t{u[3]};
}

}  // namespace

void Session::park(uint64_t id, std::function<void()> cancel) {
  std::lock_guard<std::mutex> lock(parked_mu);
  parked.emplace_back(id, std::move(cancel));
}

void Session::unpark(uint64_t id) {
  std::lock_guard<std::mutex> lock(parked_mu);
  for (size_t i = 0; i < parked.size(); ++i)
    if (parked[i].first == id) {
      parked[i] = std::move(parked.back());
      parked.pop_back();
      return;
    }
}

void Reply::send(std::string bytes) const { conn_->complete(slot_, Connection::SlotState::kReady, std::move(bytes)); }
void Reply::send_and_close(std::string bytes) const {
  conn_->complete(slot_, Connection::SlotState::kReadyThenClose, std::move(bytes));
}
void Reply::none() const { conn_->complete(slot_, Connection::SlotState::kNone, {}); }
void Reply::close() const { conn_->complete(slot_, Connection::SlotState::kClose, {}); }

Connection::Connection(std::shared_ptr<asio::io_context> io, asio::ip::tcp::socket socket, asio::ssl::context* tls,
                       FrameHandler* handler, ConnectionLimits limits, std::function<void()> on_gone)
    : io_(std::move(io)),
      strand_(asio::make_strand(*io_)),
      socket_(std::move(socket)),
      handler_(handler),
      limits_(limits),
      on_gone_(std::move(on_gone)) {
  std::error_code ec;
  auto ep = socket_.remote_endpoint(ec);
  if (!ec) session_.peer = ep.address().to_string() + ":" + std::to_string(ep.port());
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  if (tls) tls_ = std::make_unique<asio::ssl::stream<asio::ip::tcp::socket>>(std::move(socket_), *tls);
}

Connection::~Connection() {
  if (on_gone_) on_gone_();
}

template <class F>
void Connection::with_stream(F&& f) {
  if (tls_)
    f(*tls_);
  else
    f(socket_);
}

void Connection::start() {
  asio::dispatch(strand_, [self = shared_from_this()] {
    if (!self->tls_) return self->read_more();
    self->tls_->async_handshake(asio::ssl::stream_base::server,
                                asio::bind_executor(self->strand_, [self](const std::error_code& ec) {
      if (ec) return self->close();
      self->read_more();
    }));
  });
}

void Connection::close_async() {
  asio::dispatch(strand_, [self = shared_from_this()] { self->close(); });
}

void Connection::close() {
  if (closed_) return;
  {
    std::lock_guard<std::mutex> lock(mu_);  // no direct write starts after this (or is under way)
    closed_ = true;
  }
  handler_->on_close(session_);
  std::error_code ec;
  auto& sock = tls_ ? tls_->lowest_layer() : socket_;
  sock.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  sock.close(ec);
}

void Connection::read_more() {
  if (closed_ || reading_ || taking_) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (close_after_write_) return;
    if (slots_.size() >= limits_.max_in_flight) return;  // resumed when answers drain
  }
  if (in_begin_ > 0) {  // keep the unconsumed tail at the front (not the whole buffer: it is
                        // mostly free space)
    if (in_end_ > in_begin_) std::memmove(in_.data(), in_.data() + in_begin_, in_end_ - in_begin_);
    in_end_ -= in_begin_;
    in_begin_ = 0;
  }
  size_t want = kReadChunk;
  if (in_end_ >= 4) {  // a frame in progress: room for all of it
    size_t frame = size_t{load_be32(in_.data())} + 4;
    if (frame > in_end_) want = std::max(want, frame - in_end_);
  }
  if (in_.size() < in_end_ + want) in_.resize(in_end_ + want);
  reading_ = true;
  with_stream([&](auto& s) {
    s.async_read_some(asio::buffer(in_.data() + in_end_, in_.size() - in_end_),
                      asio::bind_executor(strand_, [self = shared_from_this()](const std::error_code& ec, size_t n) {
      self->on_read(ec, n);
    }));
  });
}

void Connection::on_read(const std::error_code& ec, size_t n) {
  reading_ = false;
  if (closed_) return;
  if (ec) return close();
  in_end_ += n;
  take_frames();
  read_more();
}

void Connection::take_frames() {
  // A handler that answers inline re-enters write_ready; the frames are taken by this loop only,
  // and the buffer is not moved under a frame being handled.
  if (taking_) return;
  taking_ = true;
  while (!closed_ && in_end_ - in_begin_ >= 4) {
    const uint32_t size = load_be32(in_.data() + in_begin_);
    if (size > limits_.max_frame_bytes || size > uint32_t{INT32_MAX}) {
      taking_ = false;
      return close();
    }
    if (in_end_ - in_begin_ - 4 < size) break;  // not all of it yet
    uint64_t slot;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (close_after_write_ || slots_.size() >= limits_.max_in_flight) break;
      slot = first_slot_ + slots_.size();
      slots_.emplace_back();
    }
    std::string_view frame(in_.data() + in_begin_ + 4, size);
    in_begin_ += 4 + size;
    handler_->on_frame(session_, frame, Reply(shared_from_this(), slot));
  }
  taking_ = false;
}

void Connection::complete(uint64_t slot, SlotState state, std::string bytes) {
  if (abandoned_.load(std::memory_order_acquire)) return;
  if (state == SlotState::kReady || state == SlotState::kReadyThenClose) {
    const uint32_t size = static_cast<uint32_t>(bytes.size() - 4);
    bytes[0] = static_cast<char>(size >> 24);
    bytes[1] = static_cast<char>(size >> 16);
    bytes[2] = static_cast<char>(size >> 8);
    bytes[3] = static_cast<char>(size);
    if (state == SlotState::kReady && !strand_.running_in_this_thread() && write_now(slot, &bytes)) return;
  }
  asio::dispatch(strand_, [self = shared_from_this(), slot, state, bytes = std::move(bytes)]() mutable {
    {
      std::lock_guard<std::mutex> lock(self->mu_);
      if (self->closed_ || self->close_after_write_ || slot < self->first_slot_ ||
          slot - self->first_slot_ >= self->slots_.size())
        return;
      Slot& s = self->slots_[slot - self->first_slot_];
      s.state = state;
      s.bytes = std::move(bytes);
    }
    self->write_ready();
  });
}

bool Connection::write_now(uint64_t slot, std::string* bytes) {
  if (tls_) return false;
  bool resume;  // the strand has work: answers ready behind this one, or reading to restart
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_ || close_after_write_ || writing_ || slots_.empty() || slot != first_slot_) return false;
    size_t sent = 0;
    while (sent < bytes->size()) {
      const ssize_t n = ::send(socket_.native_handle(), bytes->data() + sent, bytes->size() - sent,
                               MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      break;  // full (the strand writes the rest when the socket takes it), or failed (its write
              // fails the same way and closes)
    }
    if (sent == 0) return false;
    if (sent < bytes->size()) {  // the rest goes out through the strand, before anything later
      Slot& s = slots_.front();
      s.state = SlotState::kReady;
      s.bytes = bytes->substr(sent);
      resume = true;
    } else {
      const bool was_full = slots_.size() >= limits_.max_in_flight;
      slots_.pop_front();
      ++first_slot_;
      resume = was_full || (!slots_.empty() && slots_.front().state != SlotState::kWaiting);
    }
  }
  if (resume)
    asio::post(strand_, [self = shared_from_this()] {
      self->write_ready();
      if (!self->closed_) {
        self->take_frames();
        self->read_more();
      }
    });
  return true;
}

void Connection::write_ready() {
  if (closed_) return;
  bool was_full;
  bool close_now = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (writing_) return;
    was_full = slots_.size() >= limits_.max_in_flight;
    while (!slots_.empty() && slots_.front().state != SlotState::kWaiting) {
      Slot& s = slots_.front();
      if (s.state == SlotState::kClose) {
        close_after_write_ = true;
        slots_.clear();
        break;
      }
      if (s.state == SlotState::kReady || s.state == SlotState::kReadyThenClose) {
        out_.push_back(std::move(s.bytes));
        if (s.state == SlotState::kReadyThenClose) {
          close_after_write_ = true;
          slots_.clear();
          break;
        }
      }
      slots_.pop_front();
      ++first_slot_;
    }
    if (out_.empty()) {
      close_now = close_after_write_;
    } else {
      writing_ = true;
    }
  }
  if (out_.empty()) {
    if (close_now) return close();
    if (was_full) {
      take_frames();
      read_more();
    }
    return;
  }
  out_buffers_.clear();
  for (const auto& o : out_) out_buffers_.push_back(asio::buffer(o));
  with_stream([&](auto& s) {
    asio::async_write(s, out_buffers_,
                      asio::bind_executor(strand_, [self = shared_from_this()](const std::error_code& ec, size_t) {
      self->out_.clear();
      bool close_now;
      {
        std::lock_guard<std::mutex> lock(self->mu_);
        self->writing_ = false;
        close_now = self->close_after_write_ && self->slots_.empty();
      }
      if (ec || close_now) return self->close();
      self->write_ready();
      if (!self->closed_) {
        self->take_frames();
        self->read_more();
      }
    }));
  });
}

}  // namespace persisting::kafka
