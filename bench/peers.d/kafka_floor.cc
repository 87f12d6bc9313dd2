// kafka_floor: the Kafka rows of bench/peers against a broker that does (almost) nothing, to show
// what librdkafka itself costs on this host. Driven by kafka_bench.cc exactly as
// persisting-kafka-* is, so the difference between its rows and persisting-kafka-memory's is what
// Persisting adds, and the difference between its rows and Redis's is the client's.
//
// One thread, one asio io_context, every connection on it (Redis's shape: one event loop). It
// speaks our Kafka protocol library (src/kafka/protocol) and answers:
//   ApiVersions  the five APIs below, at the versions that library speaks;
//   Metadata     every topic asked for exists (made on first use), --partitions partitions,
//                this broker leads them all;
//   Produce      each partition's batches get the next offsets (their base offset is rewritten,
//                nothing is checked, decoded or kept but the last produce of each partition);
//                answered at once (whatever acks says, but 0);
//   Fetch        a partition at its end parks the whole Fetch until a Produce reaches one of its
//                partitions (or max_wait_ms passes); the answer carries that last produce's
//                batches (an offset below it gets OFFSET_OUT_OF_RANGE: nothing is stored);
//   ListOffsets  earliest and latest are both the partition's end.
// Anything else closes the connection. There is no storage, so kafka_bench's consume phase
// cannot run against it (bench/peers runs produce and wake-up only).
//   kafka_floor --serve PORT [--partitions N]   (listens on 127.0.0.1:PORT until killed)
#include <asio/buffer.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>
#include <cstdio>
#include <cstring>
#include <deque>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kafka/protocol/api.h"
#include "kafka/protocol/request.h"

namespace {

namespace k = persisting::kafka;
using asio::ip::tcp;

constexpr int16_t kNone = 0, kOffsetOutOfRange = 1, kUnknownTopicOrPartition = 3;

// RecordBatch v2 header fields (the Kafka protocol guide's record batch layout).
constexpr size_t kBatchLengthAt = 8, kLastOffsetDeltaAt = 23, kBatchHeaderSize = 61;

uint32_t get_be32(const char* p) {
  return (uint32_t(uint8_t(p[0])) << 24) | (uint32_t(uint8_t(p[1])) << 16) | (uint32_t(uint8_t(p[2])) << 8) |
         uint32_t(uint8_t(p[3]));
}
void put_be64(char* p, int64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = char(v & 0xff);
}

struct Partition {
  int64_t next = 0;         // the end offset
  int64_t last_base = 0;    // the last produce's first offset
  std::string last;         // its batches, base offsets rewritten (empty: none yet)
};

class Connection;

// A Fetch waiting for a produce: where its answer goes and what it asked.
struct Parked {
  std::weak_ptr<Connection> conn;
  uint64_t slot = 0;
  k::RequestHeader header;
  k::FetchRequest req;
  std::unique_ptr<asio::steady_timer> timer;
};

class Broker {
 public:
  Broker(asio::io_context& io, int32_t port, int32_t partitions) : io_(io), port_(port), partitions_(partitions) {}
  asio::io_context& io() { return io_; }

  // The answer frame for one request, or nullopt when it is parked (answered later through
  // Connection::answer) or has none (acks 0). close is set for a request we do not serve.
  std::optional<std::string> handle(const std::shared_ptr<Connection>& c, uint64_t slot, std::string_view frame,
                                    bool* close);
  void forget(const Connection* c);

 private:
  std::vector<Partition>& topic(const std::string& name) {
    auto it = topics_.find(name);
    if (it == topics_.end()) it = topics_.emplace(name, std::vector<Partition>(size_t(partitions_))).first;
    return it->second;
  }
  Partition* find(const std::string& name, int32_t p) {
    auto it = topics_.find(name);
    if (it == topics_.end() || p < 0 || p >= int32_t(it->second.size())) return nullptr;
    return &it->second[size_t(p)];
  }
  std::string metadata(const k::RequestHeader& h, const k::MetadataRequest& req);
  std::string produce(const k::RequestHeader& h, const k::ProduceRequest& req);
  // The answer now, or nullopt when nothing is there and the request may wait.
  std::optional<std::string> fetch(const k::RequestHeader& h, const k::FetchRequest& req, bool may_wait);
  std::string list_offsets(const k::RequestHeader& h, const k::ListOffsetsRequest& req);
  void wake(const std::string& topic, int32_t partition);
  void expire(Parked* p);

  asio::io_context& io_;
  int32_t port_, partitions_;
  std::map<std::string, std::vector<Partition>> topics_;
  std::list<Parked> parked_;
};

// One client connection: size-prefixed frames in, answers out in request order.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket s, Broker& b) : sock_(std::move(s)), broker_(b) {
    sock_.set_option(tcp::no_delay(true));
  }
  ~Connection() { broker_.forget(this); }
  void start() { read_size(); }
  // The answer of request `slot` (answers leave in slot order).
  void answer(uint64_t slot, std::string frame) {
    pending_[slot - first_slot_] = std::move(frame);
    flush();
  }
  void done_without_answer(uint64_t slot) {
    pending_[slot - first_slot_] = std::string();
    flush();
  }

 private:
  void read_size() {
    asio::async_read(sock_, asio::buffer(size_, 4), [self = shared_from_this()](std::error_code ec, size_t) {
      if (ec) return self->close();
      const uint32_t n = get_be32(self->size_);
      if (n > (100u << 20)) return self->close();
      self->frame_.resize(n);
      self->read_frame();
    });
  }
  void read_frame() {
    asio::async_read(sock_, asio::buffer(frame_), [self = shared_from_this()](std::error_code ec, size_t) {
      if (ec) return self->close();
      const uint64_t slot = self->first_slot_ + self->pending_.size();
      self->pending_.emplace_back();
      bool close = false;
      auto out = self->broker_.handle(self, slot, self->frame_, &close);
      if (close) return self->close();
      if (out) self->answer(slot, std::move(*out));
      self->read_size();
    });
  }
  // Writes the answers that are ready at the front, in one gathered write.
  void flush() {
    if (writing_) return;
    while (!pending_.empty() && pending_.front()) {
      if (!pending_.front()->empty()) out_.push_back(std::move(*pending_.front()));
      pending_.pop_front();
      ++first_slot_;
    }
    if (out_.empty()) return;
    writing_ = true;
    bufs_.clear();
    for (const auto& s : out_) bufs_.push_back(asio::buffer(s));
    asio::async_write(sock_, bufs_, [self = shared_from_this()](std::error_code ec, size_t) {
      self->writing_ = false;
      self->out_.clear();
      if (ec) return self->close();
      self->flush();
    });
  }
  void close() {
    std::error_code ignored;
    sock_.close(ignored);
  }

  tcp::socket sock_;
  Broker& broker_;
  char size_[4];
  std::string frame_;
  uint64_t first_slot_ = 0;                       // the slot of pending_.front()
  std::deque<std::optional<std::string>> pending_;  // answers by slot; nullopt: not yet
  std::vector<std::string> out_;                  // being written
  std::vector<asio::const_buffer> bufs_;
  bool writing_ = false;
};

std::optional<std::string> Broker::handle(const std::shared_ptr<Connection>& c, uint64_t slot, std::string_view frame,
                                          bool* close) {
  auto d = k::decode_request(frame);
  if (!d.ok()) {
    *close = true;
    return std::nullopt;
  }
  const k::RequestHeader& h = d->header;
  if (auto* r = std::get_if<k::ApiVersionsRequest>(&d->body)) {
    (void)r;
    k::ApiVersionsResponse out = k::ApiVersionsResponse::supported();
    std::erase_if(out.api_keys, [](const auto& a) {
      const auto key = static_cast<k::ApiKey>(a.api_key);
      return key != k::ApiKey::kProduce && key != k::ApiKey::kFetch && key != k::ApiKey::kListOffsets &&
             key != k::ApiKey::kMetadata && key != k::ApiKey::kApiVersions;
    });
    return k::encode_response_frame(h.api_key, h.api_version, h.correlation_id, out);
  }
  if (std::holds_alternative<k::UnsupportedRequest>(d->body)) {
    if (auto out = k::unsupported_version_response(h)) return out;
  }
  if (auto* r = std::get_if<k::MetadataRequest>(&d->body)) return metadata(h, *r);
  if (auto* r = std::get_if<k::ListOffsetsRequest>(&d->body)) return list_offsets(h, *r);
  if (auto* r = std::get_if<k::ProduceRequest>(&d->body)) {
    std::string out = produce(h, *r);
    if (r->acks == 0) {
      c->done_without_answer(slot);
      return std::nullopt;
    }
    return out;
  }
  if (auto* r = std::get_if<k::FetchRequest>(&d->body)) {
    if (auto out = fetch(h, *r, r->max_wait_ms > 0)) return out;
    Parked& p = parked_.emplace_back();
    p.conn = c;
    p.slot = slot;
    p.header = h;
    p.req = std::move(*r);
    p.timer = std::make_unique<asio::steady_timer>(io_, std::chrono::milliseconds(p.req.max_wait_ms));
    Parked* pp = &p;
    p.timer->async_wait([this, pp](std::error_code ec) {
      if (!ec) expire(pp);
    });
    return std::nullopt;
  }
  *close = true;  // not one of ours
  return std::nullopt;
}

std::string Broker::metadata(const k::RequestHeader& h, const k::MetadataRequest& req) {
  k::MetadataResponse r;
  r.brokers.push_back({0, "127.0.0.1", port_, std::nullopt});
  r.cluster_id = "kafka-floor";
  r.controller_id = 0;
  auto describe = [&](const std::string& name) {
    auto& t = r.topics.emplace_back();
    t.name = name;
    const auto& parts = topic(name);
    for (int32_t p = 0; p < int32_t(parts.size()); ++p) {
      auto& mp = t.partitions.emplace_back();
      mp.partition_index = p;
      mp.leader_id = 0;
      mp.leader_epoch = 0;
      mp.replica_nodes = {0};
      mp.isr_nodes = {0};
    }
  };
  if (req.topics) {
    for (const auto& name : *req.topics) describe(name);
  } else {
    std::vector<std::string> names;
    for (const auto& [name, parts] : topics_) names.push_back(name);
    for (const auto& name : names) describe(name);
  }
  return k::encode_response_frame(h.api_key, h.api_version, h.correlation_id, r);
}

std::string Broker::produce(const k::RequestHeader& h, const k::ProduceRequest& req) {
  k::ProduceResponse r;
  for (const auto& t : req.topics) {
    auto& rt = r.responses.emplace_back();
    rt.name = t.name;
    auto& parts = topic(t.name);
    for (const auto& p : t.partitions) {
      auto& rp = rt.partitions.emplace_back();
      rp.index = p.index;
      if (p.index < 0 || p.index >= int32_t(parts.size())) {
        rp.error_code = kUnknownTopicOrPartition;
        continue;
      }
      Partition& part = parts[size_t(p.index)];
      std::string batches = p.records;
      const int64_t base = part.next;
      int64_t next = base;
      // Each batch: its base offset set, the next one found by its length (a cut-off tail is
      // dropped). The CRC does not cover the base offset.
      size_t at = 0;
      while (batches.size() - at >= kBatchHeaderSize) {
        const size_t len = 12 + get_be32(batches.data() + at + kBatchLengthAt);
        if (len < kBatchHeaderSize || len > batches.size() - at) break;
        put_be64(batches.data() + at, next);
        next += int64_t(get_be32(batches.data() + at + kLastOffsetDeltaAt)) + 1;
        at += len;
      }
      batches.resize(at);
      part.next = next;
      part.last_base = base;
      part.last = std::move(batches);
      rp.base_offset = base;
      rp.log_start_offset = base;
      if (next > base) wake(t.name, p.index);
    }
  }
  return k::encode_response_frame(h.api_key, h.api_version, h.correlation_id, r);
}

std::optional<std::string> Broker::fetch(const k::RequestHeader& h, const k::FetchRequest& req, bool may_wait) {
  k::FetchResponse r;
  bool any = false;
  for (const auto& t : req.topics) {
    auto& rt = r.responses.emplace_back();
    rt.topic = t.topic;
    for (const auto& p : t.partitions) {
      auto& rp = rt.partitions.emplace_back();
      rp.partition_index = p.partition;
      const Partition* part = find(t.topic, p.partition);
      if (part == nullptr) {
        rp.error_code = kUnknownTopicOrPartition;
        any = true;
        continue;
      }
      rp.high_watermark = rp.last_stable_offset = part->next;
      rp.log_start_offset = part->last.empty() ? part->next : part->last_base;
      if (p.fetch_offset == part->next) continue;
      if (!part->last.empty() && p.fetch_offset >= part->last_base && p.fetch_offset < part->next) {
        rp.records = part->last;
      } else {
        rp.error_code = kOffsetOutOfRange;
      }
      any = true;
    }
  }
  if (!any && may_wait) return std::nullopt;
  return k::encode_response_frame(h.api_key, h.api_version, h.correlation_id, r);
}

std::string Broker::list_offsets(const k::RequestHeader& h, const k::ListOffsetsRequest& req) {
  k::ListOffsetsResponse r;
  for (const auto& t : req.topics) {
    auto& rt = r.topics.emplace_back();
    rt.name = t.name;
    for (const auto& p : t.partitions) {
      auto& rp = rt.partitions.emplace_back();
      rp.partition_index = p.partition_index;
      const Partition* part = find(t.name, p.partition_index);
      if (part == nullptr) {
        rp.error_code = kUnknownTopicOrPartition;
        continue;
      }
      rp.offset = part->next;
      if (h.api_version == 0) rp.old_style_offsets = {part->next};
    }
  }
  return k::encode_response_frame(h.api_key, h.api_version, h.correlation_id, r);
}

// Answers every parked Fetch that asked for this partition.
void Broker::wake(const std::string& topic, int32_t partition) {
  for (auto it = parked_.begin(); it != parked_.end();) {
    bool wants = false;
    for (const auto& t : it->req.topics)
      if (t.topic == topic)
        for (const auto& p : t.partitions) wants = wants || p.partition == partition;
    if (!wants) {
      ++it;
      continue;
    }
    auto conn = it->conn.lock();
    if (conn) {
      if (auto out = fetch(it->header, it->req, /*may_wait=*/false)) conn->answer(it->slot, std::move(*out));
    }
    it->timer->cancel();
    it = parked_.erase(it);
  }
}

void Broker::expire(Parked* p) {
  for (auto it = parked_.begin(); it != parked_.end(); ++it) {
    if (&*it != p) continue;
    if (auto conn = it->conn.lock())
      if (auto out = fetch(it->header, it->req, /*may_wait=*/false)) conn->answer(it->slot, std::move(*out));
    parked_.erase(it);
    return;
  }
}

void Broker::forget(const Connection* c) {
  std::erase_if(parked_, [c](const Parked& p) {
    auto conn = p.conn.lock();
    return !conn || conn.get() == c;
  });
}

void accept(tcp::acceptor& a, Broker& b) {
  a.async_accept([&a, &b](std::error_code ec, tcp::socket s) {
    if (!ec) std::make_shared<Connection>(std::move(s), b)->start();
    accept(a, b);
  });
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0, partitions = 4;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string f = argv[i];
    if (f == "--serve") port = std::atoi(argv[i + 1]);
    else if (f == "--partitions") partitions = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "kafka_floor: unknown flag %s\n", f.c_str());
      return 2;
    }
  }
  if (port <= 0 || partitions <= 0) {
    std::fprintf(stderr, "usage: kafka_floor --serve PORT [--partitions N]\n");
    return 2;
  }
  asio::io_context io(1);
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), uint16_t(port)));
  Broker broker(io, port, partitions);
  accept(acceptor, broker);
  io.run();  // until killed, as the other servers of bench/peers
  return 0;
}
