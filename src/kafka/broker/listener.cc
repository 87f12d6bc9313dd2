#include "kafka/broker/listener.h"

#include <asio/executor_work_guard.hpp>
#include <asio/post.hpp>
#include <chrono>
#include <condition_variable>

namespace persisting::kafka {

// One io_context per io thread (concurrency hint 1: its scheduler never wakes another thread for
// its handlers), each connection on one of them, round robin. A request and its answer then stay
// on one thread unless a bucket actor completes elsewhere (a WAL sync), where a shared context
// would hand handlers between its threads (a futex wake and a context switch each).
struct Listener::State {
  explicit State(unsigned n) : ios(contexts(n)), acceptor(*ios[0]) {
    for (auto& io : ios) work.emplace_back(io->get_executor());
  }
  static std::vector<std::shared_ptr<IoContext>> contexts(unsigned n) {
    std::vector<std::shared_ptr<IoContext>> v;
    for (unsigned i = 0; i < n; ++i) v.push_back(std::make_shared<IoContext>(1));
    return v;
  }
  std::vector<std::shared_ptr<IoContext>> ios;  // before acceptor: it is made on ios[0]
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> work;
  asio::ip::tcp::acceptor acceptor;
  size_t next = 0;  // the context of the next connection (on the acceptor's thread only)
  std::unique_ptr<asio::ssl::context> tls;
  FrameHandler* handler = nullptr;
  ConnectionLimits limits;
  std::mutex mu;
  std::condition_variable gone;
  std::vector<std::weak_ptr<Connection>> connections;
  size_t live = 0;
  bool stopping = false;
};

Result<std::pair<std::string, int>> parse_host_port(const std::string& address) {
  std::string host, port;
  if (!address.empty() && address.front() == '[') {
    auto close = address.find(']');
    if (close == std::string::npos || close + 1 >= address.size() || address[close + 1] != ':')
      return InvalidArgument("Kafka listen address '" + address + "': expected [host]:port");
    host = address.substr(1, close - 1);
    port = address.substr(close + 2);
  } else {
    auto colon = address.rfind(':');
    if (colon == std::string::npos) return InvalidArgument("Kafka listen address '" + address + "': expected host:port");
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
  }
  if (host.empty()) host = "127.0.0.1";
  if (host == "localhost") host = "127.0.0.1";
  int p = -1;
  try {
    size_t used = 0;
    p = std::stoi(port, &used);
    if (used != port.size()) p = -1;
  } catch (...) {
    p = -1;
  }
  if (p < 0 || p > 65535) return InvalidArgument("Kafka listen address '" + address + "': bad port '" + port + "'");
  return std::make_pair(host, p);
}

Result<std::unique_ptr<Listener>> Listener::start(ListenerConfig config, FrameHandler* handler) {
  auto hp = parse_host_port(config.listen);
  if (!hp.ok()) return hp.status();
  std::unique_ptr<Listener> l(new Listener());
  const unsigned n = std::max(1u, config.io_threads);
  l->state_ = std::make_shared<State>(n);
  State& s = *l->state_;
  s.handler = handler;
  s.limits = config.limits;
  if (!config.tls_cert_pem.empty() || !config.tls_key_pem.empty()) {
    s.tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    std::error_code ec;
    s.tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                           asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                           asio::ssl::context::no_tlsv1_1,
                       ec);
    s.tls->use_certificate_chain(asio::buffer(config.tls_cert_pem), ec);
    if (ec) return InvalidArgument("Kafka listener: TLS certificate: " + ec.message());
    s.tls->use_private_key(asio::buffer(config.tls_key_pem), asio::ssl::context::pem, ec);
    if (ec) return InvalidArgument("Kafka listener: TLS key: " + ec.message());
  }
  std::error_code ec;
  auto address = asio::ip::make_address(hp->first, ec);
  if (ec) return InvalidArgument("Kafka listen address '" + config.listen + "': " + ec.message());
  asio::ip::tcp::endpoint ep(address, static_cast<unsigned short>(hp->second));
  s.acceptor.open(ep.protocol(), ec);
  if (!ec) s.acceptor.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) s.acceptor.bind(ep, ec);
  if (!ec) s.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Unavailable("Kafka listener: cannot listen on " + config.listen + ": " + ec.message());
  l->port_ = s.acceptor.local_endpoint().port();
  l->host_ = hp->first;
  for (unsigned i = 0; i < n; ++i) l->threads_.emplace_back([io = s.ios[i]] { io->run(); });
  return l;
}

void Listener::serve() {
  asio::post(*state_->ios[0], [this] { accept(); });
}

void Listener::accept() {
  std::shared_ptr<State> st = state_;
  std::shared_ptr<asio::io_context> io = st->ios[st->next++ % st->ios.size()];
  st->acceptor.async_accept(*io, [this, st, io](const std::error_code& ec, asio::ip::tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !st->acceptor.is_open()) return;
    if (!ec) {
      std::shared_ptr<Connection> c;
      {
        std::lock_guard<std::mutex> lock(st->mu);
        if (st->stopping) return;
        ++st->live;
        std::weak_ptr<State> weak = st;
        c = std::make_shared<Connection>(io, std::move(socket), st->tls.get(), st->handler, st->limits,
                                         [weak] {
          if (auto s = weak.lock()) {
            std::lock_guard<std::mutex> lock(s->mu);
            --s->live;
            s->gone.notify_all();
          }
        });
        // Forget connections that are gone, now and then.
        if (st->connections.size() > 64 && st->connections.size() > 2 * st->live)
          std::erase_if(st->connections, [](const auto& w) { return w.expired(); });
        st->connections.push_back(c);
      }
      c->start();
    }
    accept();
  });
}

void Listener::stop() {
  if (stopped_ || !state_) return;
  stopped_ = true;
  State& s = *state_;
  std::vector<std::shared_ptr<Connection>> open;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    s.stopping = true;
    for (auto& w : s.connections)
      if (auto c = w.lock()) open.push_back(std::move(c));
  }
  asio::post(*s.ios[0], [st = state_] {
    std::error_code ec;
    st->acceptor.close(ec);
  });
  for (auto& c : open) c->close_async();
  open.clear();
  {
    // Closing cancels the connections' parked fetches; their answers come back through the io
    // threads, which still run. Bounded: a connection still held after this is dropped with them.
    std::unique_lock<std::mutex> lock(s.mu);
    s.gone.wait_for(lock, std::chrono::seconds(2), [&] { return s.live == 0; });
  }
  for (auto& w : s.work) w.reset();
  for (auto& io : s.ios) io->stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
  // No thread runs the contexts now. Pending handlers (the accept, reads of connections that did
  // not go in time, answers queued after the stop) own their connection or the state, which own
  // the context: destroy them, and drop answers that come later.
  {
    std::lock_guard<std::mutex> lock(s.mu);
    for (auto& w : s.connections)
      if (auto c = w.lock()) c->abandon();
  }
  std::error_code ec;
  s.acceptor.close(ec);
  for (auto& io : s.ios) io->shutdown();
}

Listener::~Listener() { stop(); }

}  // namespace persisting::kafka
