// A blocking Kafka client socket for tests (every read bounded by a 10 s receive timeout), with
// helpers to frame requests and decode answers through the protocol library.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <string_view>

#include "kafka/protocol/api.h"
#include "kafka/protocol/header.h"
#include "kafka/protocol/request.h"

namespace persisting::kafka {

// A blocking client socket with a receive timeout (every read is bounded).
class Client {
 public:
  explicit Client(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~Client() { ::close(fd_); }
  bool connected() const { return connected_; }
  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  // One response frame without its size; nullopt when the connection closed (or timed out).
  std::optional<std::string> receive() {
    std::string size(4, '\0');
    if (!read_exactly(size.data(), 4)) return std::nullopt;
    const auto* u = reinterpret_cast<const unsigned char*>(size.data());
    const uint32_t n = (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | u[3];
    std::string body(n, '\0');
    if (n > 0 && !read_exactly(body.data(), n)) return std::nullopt;
    return body;
  }
  // Whether the server closed the connection (EOF within the timeout).
  bool closed_by_peer() {
    char c;
    return ::recv(fd_, &c, 1, 0) == 0;
  }

 private:
  bool read_exactly(char* p, size_t n) {
    while (n > 0) {
      ssize_t got = ::recv(fd_, p, n, 0);
      if (got <= 0) return false;
      p += got;
      n -= static_cast<size_t>(got);
    }
    return true;
  }
  int fd_ = -1;
  bool connected_ = false;
};

template <class Msg>
std::string frame(ApiKey key, int16_t version, int32_t correlation, const Msg& body) {
  RequestHeader h;
  h.api_key = static_cast<int16_t>(key);
  h.api_version = version;
  h.correlation_id = correlation;
  h.client_id = "broker_test";
  return encode_request_frame(h, body);
}

template <class Msg>
Msg decode_body(ApiKey key, int16_t version, const std::string& bytes, int32_t* correlation) {
  Reader r(bytes);
  auto c = decode_response_header(static_cast<int16_t>(key), version, r);
  EXPECT_TRUE(c.ok()) << c.status().to_string();
  *correlation = c.ok() ? *c : -1;
  auto m = Msg::decode(r, version);
  EXPECT_TRUE(m.ok()) << m.status().to_string();
  return m.ok() ? *m : Msg{};
}

}  // namespace persisting::kafka
