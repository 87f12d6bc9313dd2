// redis_bench: the peer benchmark client for Redis Streams (hiredis). Flags and JSON output as in
// bench_common.h. The stream key is --stream; a record is one entry with fields id, idx, payload.
//   produce: a batch is --batch-size XADDs pipelined on one connection, then every reply read
//            (acknowledged = the replies, which Redis sends after its AOF write/fsync);
//   consume: XREAD COUNT <fetch> from the start of the stream up to the XLEN seen at the start;
//            with --group, XREADGROUP ... NOACK in consumer group --group (consumer --tag);
//   wakeup:  XREAD BLOCK on a second connection, woken by an XADD.
#include <hiredis/hiredis.h>

#include <cstdarg>

#include "bench_common.h"

namespace {

using peers::Args;
using peers::die;

struct Conn {
  redisContext* c = nullptr;
  explicit Conn(const Args& a) {
    c = redisConnect(a.host.c_str(), a.port);
    if (c == nullptr || c->err) die(std::string("connect: ") + (c ? c->errstr : "out of memory"));
  }
  ~Conn() { redisFree(c); }
  // One command; dies on a transport error or an error reply.
  redisReply* command(const char* fmt, ...) __attribute__((format(printf, 2, 3))) {
    va_list ap;
    va_start(ap, fmt);
    auto* r = static_cast<redisReply*>(redisvCommand(c, fmt, ap));
    va_end(ap);
    check(r);
    return r;
  }
  void check(redisReply* r) const {
    if (r == nullptr) die(std::string("redis: ") + c->errstr);
    if (r->type == REDIS_REPLY_ERROR) die(std::string("redis: ") + r->str);
  }
};

bool xadd_batch(Conn& conn, const Args& a, const std::string& payload, uint64_t first, uint64_t n) {
  for (uint64_t i = first; i < first + n; ++i) {
    std::string id = peers::record_id(a, i), idx = std::to_string(i);
    redisAppendCommand(conn.c, "XADD %s * id %b idx %b payload %b", a.stream.c_str(), id.data(), id.size(), idx.data(),
                       idx.size(), payload.data(), payload.size());
  }
  for (uint64_t i = 0; i < n; ++i) {
    void* reply = nullptr;
    if (redisGetReply(conn.c, &reply) != REDIS_OK) return false;
    conn.check(static_cast<redisReply*>(reply));
    freeReplyObject(reply);
  }
  return true;
}

// XREAD reply: [[stream, [[id, [field, value, ...]], ...]]]. Returns the entry count and the
// last id read.
size_t entries(redisReply* r, std::string* last_id) {
  if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) return 0;
  redisReply* list = r->element[0]->element[1];
  if (list->elements > 0) *last_id = list->element[list->elements - 1]->element[0]->str;
  return list->elements;
}

}  // namespace

int main(int argc, char** argv) {
  Args a = peers::parse_args(argc, argv);
  Conn conn(a);
  if (a.phase == "produce") {
    const std::string payload(a.record_size, 'x');
    peers::run_produce(a, [&](uint64_t first, uint64_t n) { return xadd_batch(conn, a, payload, first, n); });
  } else if (a.phase == "consume" && !a.group.empty()) {
    redisReply* r = static_cast<redisReply*>(redisCommand(conn.c, "XGROUP CREATE %s %s 0", a.stream.c_str(), a.group.c_str()));
    if (r == nullptr || (r->type == REDIS_REPLY_ERROR && std::strncmp(r->str, "BUSYGROUP", 9) != 0)) conn.check(r);
    freeReplyObject(r);
    std::string last;
    peers::run_consume(a, peers::kShare, [&](uint64_t limit) {
      redisReply* r = conn.command("XREADGROUP GROUP %s %s COUNT %llu NOACK STREAMS %s >", a.group.c_str(),
                                   a.tag.c_str(), (unsigned long long)limit, a.stream.c_str());
      size_t n = entries(r, &last);
      freeReplyObject(r);
      return n;
    });
  } else if (a.phase == "consume") {
    redisReply* len = conn.command("XLEN %s", a.stream.c_str());
    uint64_t want = uint64_t(len->integer);
    freeReplyObject(len);
    std::string last = "0-0";
    peers::run_consume(a, want, [&](uint64_t limit) {
      redisReply* r = conn.command("XREAD COUNT %llu STREAMS %s %s", (unsigned long long)limit, a.stream.c_str(),
                                   last.c_str());
      size_t n = entries(r, &last);
      freeReplyObject(r);
      return n;
    });
  } else if (a.phase == "wakeup") {
    std::string key = a.stream + "-wakeup", last = "0-0";
    freeReplyObject(conn.command("DEL %s", key.c_str()));
    Conn reader(a);
    const std::string id = "w", payload;
    peers::run_wakeup(
        a,
        [&](uint32_t) {
          redisReply* r = reader.command("XREAD BLOCK 10000 COUNT 1 STREAMS %s %s", key.c_str(), last.c_str());
          size_t n = entries(r, &last);
          freeReplyObject(r);
          return n == 1;
        },
        [&](uint32_t i) {
          redisReply* r = conn.command("XADD %s * id %s idx %u", key.c_str(), id.c_str(), i);
          freeReplyObject(r);
          return true;
        });
  } else {
    die("unknown phase " + a.phase);
  }
  return 0;
}
