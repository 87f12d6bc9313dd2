// StubBroker: a test-only Kafka "broker" on loopback, built from the protocol library alone, so
// that real clients (kcat / librdkafka, kafka-python) check our encoders: ApiVersions, Metadata,
// Produce, ListOffsets and Fetch responses, and the record batches we write. One partition per
// topic, batches kept in memory; Fetch can re-encode every batch with another codec, so a client
// decodes batches our encoder compressed. Not the broker (src/kafka/broker): no groups, no
// long poll, a thread per connection. Bounded: every wait polls with a timeout and stops when the
// stub is destroyed.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "kafka/protocol/api.h"
#include "kafka/protocol/record_batch.h"
#include "kafka/protocol/request.h"

namespace persisting::kafka::testing {

class StubBroker {
 public:
  // serve_codec: when set, Fetch re-encodes each stored batch with it.
  explicit StubBroker(std::optional<Compression> serve_codec = std::nullopt) : serve_codec_(serve_codec) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listen_fd_, 16) != 0) return;
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~StubBroker() {
    stop_ = true;
    if (acceptor_.joinable()) acceptor_.join();
    for (auto& t : connections_) t.join();
    ::close(listen_fd_);
  }
  StubBroker(const StubBroker&) = delete;
  StubBroker& operator=(const StubBroker&) = delete;

  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  // Every batch produced to topic, as decoded (offsets assigned).
  std::vector<RecordBatch> batches(const std::string& topic) {
    std::lock_guard<std::mutex> lock(mu_);
    return topics_[topic].batches;
  }
  // Errors the stub met (decode failures, CRC errors): a test expects none.
  std::vector<std::string> errors() {
    std::lock_guard<std::mutex> lock(mu_);
    return errors_;
  }

 private:
  struct Log {
    std::vector<RecordBatch> batches;
    int64_t next_offset = 0;
  };

  void accept_loop() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) continue;
      connections_.emplace_back([this, fd] {
        serve(fd);
        ::close(fd);
      });
    }
  }

  bool read_exact(int fd, char* buf, size_t n) {
    size_t got = 0;
    while (got < n) {
      if (stop_) return false;
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      ssize_t r = ::read(fd, buf + got, n - got);
      if (r <= 0) return false;
      got += static_cast<size_t>(r);
    }
    return true;
  }

  static bool write_all(int fd, const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      ssize_t w = ::write(fd, s.data() + off, s.size() - off);
      if (w <= 0) return false;
      off += static_cast<size_t>(w);
    }
    return true;
  }

  void error(std::string e) {
    std::lock_guard<std::mutex> lock(mu_);
    errors_.push_back(std::move(e));
  }

  void serve(int fd) {
    for (;;) {
      char size_buf[4];
      if (!read_exact(fd, size_buf, 4)) return;
      Reader sr(std::string_view(size_buf, 4));
      int32_t size = *sr.int32("size");
      if (size < 0 || size > (64 << 20)) return error("frame size " + std::to_string(size));
      std::string frame(static_cast<size_t>(size), '\0');
      if (!read_exact(fd, frame.data(), frame.size())) return;
      auto req = decode_request(frame);
      if (!req.ok()) return error(req.status().to_string());
      std::optional<std::string> response = handle(*req);
      if (response && !write_all(fd, *response)) return;
    }
  }

  std::optional<std::string> handle(const DecodedRequest& req) {
    const RequestHeader& h = req.header;
    if (std::holds_alternative<UnsupportedRequest>(req.body)) {
      std::optional<std::string> answer = unsupported_version_response(h);
      if (!answer) error("unsupported request " + api_name(h.api_key) + " v" + std::to_string(h.api_version));
      return answer;
    }
    if (std::holds_alternative<ApiVersionsRequest>(req.body)) {
      return encode_response_frame(h.api_key, h.api_version, h.correlation_id, ApiVersionsResponse::supported());
    }
    if (auto* m = std::get_if<MetadataRequest>(&req.body)) return metadata(h, *m);
    if (auto* p = std::get_if<ProduceRequest>(&req.body)) return produce(h, *p);
    if (auto* l = std::get_if<ListOffsetsRequest>(&req.body)) return list_offsets(h, *l);
    if (auto* f = std::get_if<FetchRequest>(&req.body)) return fetch(h, *f);
    error("no stub handler for " + api_name(h.api_key));
    return std::nullopt;
  }

  std::string metadata(const RequestHeader& h, const MetadataRequest& m) {
    MetadataResponse r;
    r.brokers = {{0, "127.0.0.1", port_, std::nullopt}};
    r.cluster_id = "stub";
    r.controller_id = 0;
    std::vector<std::string> names = m.topics.value_or(std::vector<std::string>{"t"});
    for (const std::string& name : names) {
      MetadataResponse::Partition p;
      p.partition_index = 0;
      p.leader_id = 0;
      p.replica_nodes = {0};
      p.isr_nodes = {0};
      r.topics.push_back({0, name, false, {p}, INT32_MIN});
    }
    return encode_response_frame(h.api_key, h.api_version, h.correlation_id, r);
  }

  std::string produce(const RequestHeader& h, const ProduceRequest& m) {
    ProduceResponse r;
    for (const auto& t : m.topics) {
      ProduceResponse::Topic rt{t.name, {}};
      for (const auto& p : t.partitions) {
        ProduceResponse::Partition rp;
        rp.index = p.index;
        auto decoded = decode_record_batches(p.records);
        if (!decoded.ok()) {
          error(decoded.status().to_string());
          rp.error_code = 2;  // CORRUPT_MESSAGE
        } else {
          std::lock_guard<std::mutex> lock(mu_);
          Log& log = topics_[t.name];
          rp.base_offset = log.next_offset;
          for (RecordBatch& b : *decoded) {
            b.base_offset = log.next_offset;
            log.next_offset += b.last_offset_delta + 1;
            log.batches.push_back(std::move(b));
          }
        }
        rt.partitions.push_back(rp);
      }
      r.responses.push_back(std::move(rt));
    }
    if (m.acks == 0) return {};
    return encode_response_frame(h.api_key, h.api_version, h.correlation_id, r);
  }

  std::string list_offsets(const RequestHeader& h, const ListOffsetsRequest& m) {
    ListOffsetsResponse r;
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& t : m.topics) {
      ListOffsetsResponse::Topic rt{t.name, {}};
      for (const auto& p : t.partitions) {
        ListOffsetsResponse::Partition rp;
        rp.partition_index = p.partition_index;
        int64_t offset = p.timestamp == kListOffsetsEarliest ? 0 : topics_[t.name].next_offset;
        rp.offset = offset;
        rp.old_style_offsets = {offset};
        rt.partitions.push_back(rp);
      }
      r.topics.push_back(std::move(rt));
    }
    return encode_response_frame(h.api_key, h.api_version, h.correlation_id, r);
  }

  std::string fetch(const RequestHeader& h, const FetchRequest& m) {
    FetchResponse r;
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& t : m.topics) {
      FetchResponse::Topic rt{t.topic, {}};
      for (const auto& p : t.partitions) {
        FetchResponse::Partition rp;
        rp.partition_index = p.partition;
        const Log& log = topics_[t.topic];
        rp.high_watermark = log.next_offset;
        rp.last_stable_offset = log.next_offset;
        rp.log_start_offset = 0;
        for (const RecordBatch& b : log.batches) {
          if (b.last_offset() < p.fetch_offset) continue;
          Status st = encode_record_batch(b, serve_codec_.value_or(b.compression()), &rp.records);
          if (!st.ok()) error(st.to_string());
        }
        rt.partitions.push_back(std::move(rp));
      }
      r.responses.push_back(std::move(rt));
    }
    return encode_response_frame(h.api_key, h.api_version, h.correlation_id, r);
  }

  std::optional<Compression> serve_codec_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  std::vector<std::thread> connections_;
  std::mutex mu_;
  std::map<std::string, Log> topics_;
  std::vector<std::string> errors_;
};

}  // namespace persisting::kafka::testing
