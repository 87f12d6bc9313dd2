// nats_bench: the peer benchmark client for NATS JetStream (the C client, libnats). Flags and
// JSON output as in bench_common.h. Stream --stream (created with --storage file|memory if it does
// not exist) on subject bench.<stream>; a record is its JSON text as the message body.
//   produce: a batch is --batch-size js_PublishAsync calls, then natsConnection_Flush (the
//            client otherwise holds buffered publishes for up to 1 ms), then
//            js_PublishAsyncComplete: acknowledged = every PubAck of the batch received;
//   consume: an ephemeral pull consumer (AckNone, from the first message) fetching --fetch at a
//            time, up to the message count the stream had at the start; with --group, the durable
//            pull consumer --group shared by every consumer of the group;
//   wakeup:  a pull consumer (new messages only) parked in Fetch(1), woken by a js_Publish;
//   delete:  deletes the stream (bench/replication.py, after a run). Prints nothing.
#include <nats/nats.h>

#include "bench_common.h"

namespace {

using peers::Args;
using peers::die;

void check(natsStatus s, const char* what, jsErrCode jerr = jsErrCode(0)) {
  if (s != NATS_OK)
    die(std::string(what) + ": " + natsStatus_GetText(s) + " (" + nats_GetLastError(nullptr) + ", jetstream " +
        std::to_string(int(jerr)) + ")");
}

std::atomic<uint64_t> publish_errors{0};

void on_publish_error(jsCtx*, jsPubAckErr* pae, void*) {
  if (publish_errors++ == 0) std::fprintf(stderr, "peer bench: publish: %s\n", pae->ErrText ? pae->ErrText : "error");
}

// Creates the stream unless it exists (with the same configuration, which JetStream accepts).
void ensure_stream(jsCtx* js, const std::string& name, const std::string& subject, const std::string& storage,
                   uint32_t replicas) {
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = name.c_str();
  const char* subjects[] = {subject.c_str()};
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  if (storage == "memory") cfg.Storage = js_MemoryStorage;
  else if (storage == "file") cfg.Storage = js_FileStorage;
  else die("--storage is file or memory");
  if (replicas != 1 && replicas != 3 && replicas != 5) die("--replicas is 1, 3 or 5");
  cfg.Replicas = static_cast<int64_t>(replicas);
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = jsErrCode(0);
  natsStatus s = js_AddStream(&si, js, &cfg, nullptr, &jerr);
  if (s != NATS_OK && jerr != JSStreamNameExistErr) check(s, "add stream", jerr);
  if (si) jsStreamInfo_Destroy(si);
}

// An ephemeral pull consumer, or the durable one named durable (shared by its subscribers).
natsSubscription* pull_consumer(jsCtx* js, const std::string& stream, const std::string& subject,
                                jsDeliverPolicy from, const std::string& durable = "") {
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = stream.c_str();
  so.Config.AckPolicy = js_AckNone;
  so.Config.DeliverPolicy = from;
  natsSubscription* sub = nullptr;
  jsErrCode jerr = jsErrCode(0);
  check(js_PullSubscribe(&sub, js, subject.c_str(), durable.empty() ? nullptr : durable.c_str(), nullptr, &so, &jerr),
        "pull subscribe", jerr);
  return sub;
}

// Fetches up to limit messages (waiting up to timeout_ms for the first); returns how many.
size_t fetch(natsSubscription* sub, uint64_t limit, int64_t timeout_ms) {
  natsMsgList list{};
  jsErrCode jerr = jsErrCode(0);
  natsStatus s = natsSubscription_Fetch(&list, sub, int(limit), timeout_ms, &jerr);
  if (s == NATS_TIMEOUT) return 0;
  check(s, "fetch", jerr);
  size_t n = size_t(list.Count);
  natsMsgList_Destroy(&list);
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  Args a = peers::parse_args(argc, argv);
  natsConnection* nc = nullptr;
  std::string url = "nats://" + a.host + ":" + std::to_string(a.port);
  check(natsConnection_ConnectTo(&nc, url.c_str()), "connect");
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.PublishAsync.MaxPending = int64_t(std::max<uint32_t>(a.batch_size, 1000));
  jo.PublishAsync.ErrHandler = on_publish_error;
  jsCtx* js = nullptr;
  check(natsConnection_JetStream(&js, nc, &jo), "jetstream");
  const std::string subject = "bench." + a.stream;

  if (a.phase == "produce") {
    ensure_stream(js, a.stream, subject, a.storage, a.replicas);
    const std::string payload(a.record_size, 'x');
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = 10000;
    peers::run_produce(a, [&](uint64_t first, uint64_t n) {
      for (uint64_t i = first; i < first + n; ++i) {
        std::string body = peers::record_json(a, i, payload);
        check(js_PublishAsync(js, subject.c_str(), body.data(), int(body.size()), nullptr), "publish");
      }
      check(natsConnection_Flush(nc), "flush");
      check(js_PublishAsyncComplete(js, &po), "publish complete");
      return publish_errors.load() == 0;
    });
  } else if (a.phase == "consume") {
    jsStreamInfo* si = nullptr;
    jsErrCode jerr = jsErrCode(0);
    check(js_GetStreamInfo(&si, js, a.stream.c_str(), nullptr, &jerr), "stream info", jerr);
    uint64_t want = si->State.Msgs;
    jsStreamInfo_Destroy(si);
    natsSubscription* sub = pull_consumer(js, a.stream, subject, js_DeliverAll, a.group);
    if (a.group.empty()) {
      peers::run_consume(a, want, [&](uint64_t limit) { return fetch(sub, limit, 5000); });
    } else {  // the group is done when a fetch finds nothing (the server says so, or 200 ms pass)
      peers::run_consume(a, peers::kShare, [&](uint64_t limit) { return fetch(sub, limit, 200); });
    }
    // Unsubscribing deletes a consumer this subscriber created: not while the group still reads.
    if (a.group.empty()) natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
  } else if (a.phase == "wakeup") {
    std::string stream = a.stream + "w", wsubject = "bench." + stream;
    ensure_stream(js, stream, wsubject, a.storage, a.replicas);
    natsSubscription* sub = pull_consumer(js, stream, wsubject, js_DeliverNew);
    peers::run_wakeup(
        a, [&](uint32_t) { return fetch(sub, 1, 10000) == 1; },
        [&](uint32_t i) {
          std::string body = "{\"id\":\"w\",\"idx\":" + std::to_string(i) + "}";
          jsPubAck* pa = nullptr;
          jsErrCode jerr = jsErrCode(0);
          check(js_Publish(&pa, js, wsubject.c_str(), body.data(), int(body.size()), nullptr, &jerr), "publish", jerr);
          jsPubAck_Destroy(pa);
          return true;
        });
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
  } else if (a.phase == "delete") {  // bench/replication.py: a run's stream goes once it is measured
    jsErrCode jerr = jsErrCode(0);
    check(js_DeleteStream(js, a.stream.c_str(), nullptr, &jerr), "delete stream", jerr);
  } else {
    die("unknown phase " + a.phase);
  }
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  nats_Close();
  return 0;
}
