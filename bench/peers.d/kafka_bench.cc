// kafka_bench: the peer benchmark client for a Kafka-protocol broker (librdkafka's C API), here
// persistingd --kafka-listen. Flags and JSON output as in bench_common.h. The topic is --stream
// (created by the broker on first use, with its default partition count); a record is one Kafka
// message without a key (librdkafka's sticky partitioner keeps a batch in one partition), value =
// the record's JSON text.
//   produce: a batch is --batch-size messages handed to the producer, then rd_kafka_flush until
//            every one is acknowledged (acks=all; flush sends at once, whatever linger.ms says):
//            like Redis's pipelined XADDs and their replies;
//   consume: from offset 0 of every partition (with --rank/--world-size: of partitions p with
//            p % world_size == rank) up to the high watermarks seen at the start, taking at most
//            --fetch messages per call (rd_kafka_consume_batch_queue);
//   wakeup:  a consumer of every partition, parked in a Fetch (fetch.wait.max.ms 10 s), woken by
//            one message from a producer.
// The librdkafka settings (2.0.2; the same for every broker it is pointed at: persisting-kafka-*
// and kafka-floor), each chosen for the lowest latency the client allows:
//   socket.nagle.disable=true  TCP_NODELAY (the default, false, lets a small request wait for the
//                              ACK of the previous one);
//   linger.ms=5                moot: rd_kafka_flush (librdkafka >= 1.8) sends at once whatever it
//                              says, and every produce here ends in a flush;
//   acks=all, enable.idempotence=false, batch.num.messages=10000 (a batch of 100 is one request);
//   fetch.wait.max.ms          10 s for wakeup (a parked Fetch, like XREAD BLOCK), 100 ms for
//                              consume (whose Fetches find records anyway);
//   fetch.min.bytes=1          the default: a Fetch is answered by the first record;
//   fetch.error.backoff.ms=10  only after a failed Fetch (default 500 ms);
//   queued.min.messages        the default 100,000: the consumer prefetches per partition;
//   fetch.queue.backoff.ms     does not exist in 2.0.2 (a later librdkafka added it).
// librdkafka's threads are its design and no setting removes them: a produced message goes from
// the calling thread to the broker's thread, which writes it; the answer and a fetched record come
// back through the broker's thread to the caller's queue. kafka-floor (kafka_floor.cc) measures
// what that costs.
#include <librdkafka/rdkafka.h>

#include "bench_common.h"

namespace {

using peers::Args;
using peers::die;

constexpr int kTimeoutMs = 30000;

void set(rd_kafka_conf_t* conf, const char* key, const std::string& value) {
  char err[512];
  if (rd_kafka_conf_set(conf, key, value.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK)
    die(std::string("kafka config ") + key + ": " + err);
}

// Delivery reports: failures counted (the batch then fails).
std::atomic<uint64_t> g_failed{0};
void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
  if (m->err) {
    if (g_failed.fetch_add(1) == 0) std::fprintf(stderr, "peer bench: delivery: %s\n", rd_kafka_err2str(m->err));
  }
}

rd_kafka_conf_t* base_conf(const Args& a) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  set(conf, "bootstrap.servers", a.host + ":" + std::to_string(a.port));
  set(conf, "socket.nagle.disable", "true");
  set(conf, "client.id", "kafka_bench_" + a.tag);
  return conf;
}

struct Producer {
  rd_kafka_t* rk = nullptr;
  rd_kafka_topic_t* topic = nullptr;
  Producer(const Args& a, const std::string& topic_name) {
    rd_kafka_conf_t* conf = base_conf(a);
    set(conf, "acks", "all");
    set(conf, "linger.ms", "5");  // rd_kafka_flush ignores it: a batch goes out when flushed
    set(conf, "batch.num.messages", "10000");
    set(conf, "enable.idempotence", "false");
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    char err[512];
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (rk == nullptr) die(std::string("producer: ") + err);
    topic = rd_kafka_topic_new(rk, topic_name.c_str(), nullptr);
    if (topic == nullptr) die("topic " + topic_name + ": " + rd_kafka_err2str(rd_kafka_last_error()));
  }
  ~Producer() {
    rd_kafka_flush(rk, kTimeoutMs);
    rd_kafka_topic_destroy(topic);
    rd_kafka_destroy(rk);
  }
  // One message (copied by librdkafka); partition RD_KAFKA_PARTITION_UA lets the partitioner
  // (a hash of the key) choose.
  void send(const std::string& key, const std::string& value, int32_t partition = RD_KAFKA_PARTITION_UA) {
    while (rd_kafka_produce(topic, partition, RD_KAFKA_MSG_F_COPY, const_cast<char*>(value.data()), value.size(),
                            key.empty() ? nullptr : key.data(), key.size(), nullptr) != 0) {
      if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL)
        die(std::string("produce: ") + rd_kafka_err2str(rd_kafka_last_error()));
      rd_kafka_poll(rk, 10);
    }
  }
  bool flush() { return rd_kafka_flush(rk, kTimeoutMs) == RD_KAFKA_RESP_ERR_NO_ERROR && g_failed.load() == 0; }
};

// The topic's partition count (Metadata; an unknown topic is created by the broker).
int32_t partition_count(rd_kafka_t* rk, rd_kafka_topic_t* topic) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, topic, &md, 5000);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) die(std::string("metadata: ") + rd_kafka_err2str(err));
    int32_t n = md->topic_cnt == 1 && md->topics[0].err == 0 ? md->topics[0].partition_cnt : 0;
    rd_kafka_metadata_destroy(md);
    if (n > 0) return n;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // being created
  }
  die(std::string("topic ") + rd_kafka_topic_name(topic) + " has no partitions");
}

// A simple (group-less) consumer of some partitions, from given offsets, into one queue.
struct Consumer {
  rd_kafka_t* rk = nullptr;
  rd_kafka_topic_t* topic = nullptr;
  rd_kafka_queue_t* queue = nullptr;
  std::vector<int32_t> started;
  Consumer(const Args& a, const std::string& topic_name, int fetch_wait_ms) {
    rd_kafka_conf_t* conf = base_conf(a);
    set(conf, "fetch.wait.max.ms", std::to_string(fetch_wait_ms));
    set(conf, "fetch.error.backoff.ms", "10");
    char err[512];
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (rk == nullptr) die(std::string("consumer: ") + err);
    rd_kafka_topic_conf_t* tconf = rd_kafka_topic_conf_new();
    if (rd_kafka_topic_conf_set(tconf, "auto.commit.enable", "false", err, sizeof(err)) != RD_KAFKA_CONF_OK)
      die(std::string("topic config: ") + err);
    topic = rd_kafka_topic_new(rk, topic_name.c_str(), tconf);
    if (topic == nullptr) die("topic " + topic_name + ": " + rd_kafka_err2str(rd_kafka_last_error()));
    queue = rd_kafka_queue_new(rk);
  }
  // The partition's high watermark (its end offset), asked of the broker.
  int64_t end_of(int32_t p) {
    int64_t lo = 0, hi = 0;
    rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(rk, rd_kafka_topic_name(topic), p, &lo, &hi, kTimeoutMs);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) die(std::string("watermarks: ") + rd_kafka_err2str(err));
    return hi;
  }
  void start(int32_t p, int64_t offset) {
    if (rd_kafka_consume_start_queue(topic, p, offset, queue) != 0)
      die(std::string("consume start: ") + rd_kafka_err2str(rd_kafka_last_error()));
    started.push_back(p);
  }
  ~Consumer() {
    for (int32_t p : started) rd_kafka_consume_stop(topic, p);
    rd_kafka_queue_destroy(queue);
    rd_kafka_topic_destroy(topic);
    rd_kafka_destroy(rk);
  }
  // Up to max messages (waiting at most timeout_ms for them); returns how many were records.
  uint64_t take(size_t max, int timeout_ms) {
    thread_local std::vector<rd_kafka_message_t*> msgs;
    msgs.resize(max);
    ssize_t n = rd_kafka_consume_batch_queue(queue, timeout_ms, msgs.data(), max);
    if (n < 0) die(std::string("consume: ") + rd_kafka_err2str(rd_kafka_last_error()));
    uint64_t records = 0;
    for (ssize_t i = 0; i < n; ++i) {
      if (msgs[i]->err == RD_KAFKA_RESP_ERR_NO_ERROR)
        ++records;
      else if (msgs[i]->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
        die(std::string("consume: ") + rd_kafka_message_errstr(msgs[i]));
      rd_kafka_message_destroy(msgs[i]);
    }
    return records;
  }
};

}  // namespace

int main(int argc, char** argv) {
  Args a = peers::parse_args(argc, argv);
  if (a.phase == "produce") {
    Producer producer(a, a.stream);
    partition_count(producer.rk, producer.topic);  // the topic exists before the clock starts
    const std::string payload(a.record_size, 'x');
    peers::run_produce(a, [&](uint64_t first, uint64_t n) {
      for (uint64_t i = first; i < first + n; ++i) producer.send({}, peers::record_json(a, i, payload));
      return producer.flush();
    });
  } else if (a.phase == "consume") {
    Consumer consumer(a, a.stream, 100);
    const int32_t parts = partition_count(consumer.rk, consumer.topic);
    uint64_t want = 0;
    for (int32_t p = 0; p < parts; ++p) {
      if (uint32_t(p) % a.world_size != a.rank) continue;
      want += uint64_t(consumer.end_of(p));
    }
    for (int32_t p = 0; p < parts; ++p)
      if (uint32_t(p) % a.world_size == a.rank) consumer.start(p, RD_KAFKA_OFFSET_BEGINNING);
    peers::run_consume(a, want, [&](uint64_t limit) { return consumer.take(limit, 5000); });
  } else if (a.phase == "wakeup") {
    Producer producer(a, a.stream);
    const int32_t parts = partition_count(producer.rk, producer.topic);
    Consumer reader(a, a.stream, 10000);
    // Every end offset first: a ListOffsets sent after the first start() would queue behind
    // that partition's parked Fetch on the same connection (answers go in request order) and
    // wait out fetch.wait.max.ms.
    std::vector<int64_t> ends;
    for (int32_t p = 0; p < parts; ++p) ends.push_back(reader.end_of(p));
    for (int32_t p = 0; p < parts; ++p) reader.start(p, ends[size_t(p)]);
    const std::string key = "w", value = "{\"id\":\"w\"}";
    peers::run_wakeup(
        a, [&](uint32_t) { return reader.take(1, 10000) == 1; },
        [&](uint32_t i) {
          producer.send(key, value, int32_t(i % uint32_t(parts)));
          return producer.flush();
        });
  } else {
    die("unknown phase " + a.phase);
  }
  return 0;
}
