// One Kafka client connection: 4-byte big-endian size-prefixed frames in, responses out in the
// order the requests came (Kafka clients pipeline and match answers by order as well as by
// correlation id).
//
// Everything a connection does runs on its strand of the listener's io_context: reading, handing
// frames to the FrameHandler, and writing. A handler answers through its Reply, from any thread
// (a bucket actor's completion); the answer is dispatched onto the strand (run inline when the
// completion already runs there) and written as soon as every earlier answer is out. Several
// ready answers go out in one gathered write. One exception: an answer completed off the strand
// that is the oldest one owed, with nothing being written, is sent at once by the completing
// thread (a non-blocking send on a plain socket; what the socket does not take goes through the
// strand). A Fetch woken by a Produce on another connection (another io thread) is then written
// by the thread that appended the record, instead of waking the connection's io thread for it.
// The answers' bookkeeping (slots_ and the write state) is under a mutex for that.
//
// A frame larger than max_frame_bytes or with a negative size closes the connection; so does a
// handler that asks for it (Reply::close). Reading stops while max_in_flight requests wait for
// their answers, so a client cannot queue work without bound.
#pragma once

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl/context.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/strand.hpp>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace persisting::kafka {

class Connection;

// Per-connection state the request handlers keep (authentication, the fetches parked for it).
// Touched by handlers on the connection's strand, except `parked` (under its mutex).
struct Session {
  bool authenticated = false;  // set by the handler (true from the start without a token)
  bool raw_sasl_next = false;  // SaslHandshake v0: the next frame is a bare SASL token
  std::string client_id;
  std::string peer;            // "127.0.0.1:54321", for logs

  // Cancellers of fetches parked for this connection, run when it closes (keyed by waiter id).
  std::mutex parked_mu;
  std::vector<std::pair<uint64_t, std::function<void()>>> parked;
  void park(uint64_t id, std::function<void()> cancel);
  void unpark(uint64_t id);
};

// The answer to one request. Exactly one of send, none or close, once; from any thread.
class Reply {
 public:
  Reply() = default;
  Reply(std::shared_ptr<Connection> c, uint64_t slot) : conn_(std::move(c)), slot_(slot) {}
  // bytes: a response frame whose first 4 bytes are reserved for the size (filled in here).
  void send(std::string bytes) const;
  // send, then close the connection once it is written (a failed authentication).
  void send_and_close(std::string bytes) const;
  // No answer (a Produce with acks=0); later answers are not held back by it.
  void none() const;
  // Close the connection (after the answers before this one are written).
  void close() const;

 private:
  std::shared_ptr<Connection> conn_;
  uint64_t slot_ = 0;
};

class FrameHandler {
 public:
  virtual ~FrameHandler() = default;
  // One request frame (without its size prefix), on the connection's strand. frame is valid only
  // during the call.
  virtual void on_frame(Session& session, std::string_view frame, Reply reply) = 0;
  // The connection closed (on its strand): cancel what is parked for it.
  virtual void on_close(Session& session) = 0;
};

// The listener's io_context, which can destroy its pending handlers once its threads have stopped
// (what its destructor does). Handlers own their connection and a connection keeps the context
// alive, so the listener breaks that cycle this way when it stops.
class IoContext : public asio::io_context {
 public:
  using asio::io_context::io_context;
  using asio::execution_context::shutdown;
};

struct ConnectionLimits {
  size_t max_frame_bytes = 100u << 20;
  size_t max_in_flight = 256;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  using Strand = asio::strand<asio::io_context::executor_type>;

  // tls: null for plain TCP. io must outlive the connection (the listener keeps it alive).
  Connection(std::shared_ptr<asio::io_context> io, asio::ip::tcp::socket socket, asio::ssl::context* tls,
             FrameHandler* handler, ConnectionLimits limits, std::function<void()> on_gone);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void start();
  // Closes from any thread.
  void close_async();
  // The listener has stopped: answers that come later are dropped instead of queued on a context
  // no thread runs. From any thread.
  void abandon() { abandoned_.store(true, std::memory_order_release); }

 private:
  friend class Reply;
  enum class SlotState : uint8_t { kWaiting, kReady, kReadyThenClose, kNone, kClose };
  struct Slot {
    SlotState state = SlotState::kWaiting;
    std::string bytes;
  };

  void complete(uint64_t slot, SlotState state, std::string bytes);
  // Sends *bytes (a framed answer for slot) from this thread when slot is the oldest owed and
  // nothing is being written; false (nothing sent) otherwise, and then the strand writes it.
  bool write_now(uint64_t slot, std::string* bytes);
  void read_more();
  void on_read(const std::error_code& ec, size_t n);
  void take_frames();
  void write_ready();
  void close();
  template <class F> void with_stream(F&& f);

  std::shared_ptr<asio::io_context> io_;
  Strand strand_;
  asio::ip::tcp::socket socket_;                                        // plain
  std::unique_ptr<asio::ssl::stream<asio::ip::tcp::socket>> tls_;      // or TLS
  FrameHandler* handler_;
  ConnectionLimits limits_;
  std::function<void()> on_gone_;
  Session session_;
  std::atomic<bool> abandoned_{false};

  std::string in_;         // received bytes: [in_begin_, in_end_) not consumed yet
  size_t in_begin_ = 0, in_end_ = 0;
  bool reading_ = false;
  bool taking_ = false;
  // Written on the strand under mu_ (write_now reads it there); read on the strand without it.
  bool closed_ = false;
  std::mutex mu_;           // guards the four below (write_now runs off the strand)
  std::deque<Slot> slots_;  // answers of requests first_slot_, first_slot_ + 1, ...
  uint64_t first_slot_ = 0;
  bool writing_ = false;
  bool close_after_write_ = false;
  std::vector<std::string> out_;  // the answers being written (strand only)
  std::vector<asio::const_buffer> out_buffers_;
};

}  // namespace persisting::kafka
