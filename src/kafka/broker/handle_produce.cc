// Produce: each partition's RecordBatches are decoded (CRC-32C checked, decompressed), checked
// against the idempotent producer's sequences when they carry a producer id, and appended to the
// partition's bucket in one put. The answer is sent when every partition has answered (acks 1:
// once the leader has the records as durably as the topic's backend makes them; -1 on a
// replicated partition: once every in-sync replica has, see Broker::produce); acks=0 gets none.
#include <atomic>
#include <mutex>

#include "kafka/broker/dispatcher.h"

namespace persisting::kafka {
namespace {

struct ProduceGather {
  RequestHeader header;
  ProduceResponse response;
  Reply reply;
  bool acks0 = false;
  std::mutex mu;
  size_t left = 0;

  void set(size_t t, size_t p, const ProduceOutcome& o) {
    bool last;
    {
      std::lock_guard<std::mutex> lock(mu);
      auto& part = response.responses[t].partitions[p];
      part.error_code = error_value(o.error);
      part.base_offset = o.error == ErrorCode::NONE ? o.base_offset : -1;
      part.log_start_offset = 0;
      if (o.error != ErrorCode::NONE) part.error_message = o.message;
      last = --left == 0;
    }
    if (last && !acks0) reply.send(response_frame(header, response));
  }
};

}  // namespace

void Dispatcher::handle(Session&, const RequestHeader& h, ProduceRequest req, const Reply& reply) {
  auto g = std::make_shared<ProduceGather>();
  g->header = h;
  g->reply = reply;
  g->acks0 = req.acks == 0;
  size_t parts = 0;
  g->response.responses.resize(req.topics.size());
  for (size_t t = 0; t < req.topics.size(); ++t) {
    g->response.responses[t].name = req.topics[t].name;
    g->response.responses[t].partitions.resize(req.topics[t].partitions.size());
    for (size_t p = 0; p < req.topics[t].partitions.size(); ++p)
      g->response.responses[t].partitions[p].index = req.topics[t].partitions[p].index;
    parts += req.topics[t].partitions.size();
  }
  g->left = parts + 1;  // +1: held until every partition is started
  if (g->acks0) reply.none();
  DecodeLimits limits;
  limits.max_decompressed_bytes = broker_->config().max_decompressed_bytes;
  for (size_t t = 0; t < req.topics.size(); ++t) {
    const auto& rt = req.topics[t];
    auto topic = topic_for(rt.name, true);
    for (size_t p = 0; p < rt.partitions.size(); ++p) {
      const auto& rp = rt.partitions[p];
      if (!topic.ok()) {
        g->set(t, p, {topic.status().code() == Code::kInvalidArgument ? ErrorCode::INVALID_TOPIC_EXCEPTION
                                                                      : ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                      -1, topic.status().message()});
        continue;
      }
      if (rp.index < 0 || static_cast<uint32_t>(rp.index) >= (*topic)->partitions()) {
        g->set(t, p, {ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, -1,
                      "topic '" + rt.name + "' has no partition " + std::to_string(rp.index)});
        continue;
      }
      if (req.transactional_id) {
        g->set(t, p, {ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED, -1, "transactions are not supported"});
        continue;
      }
      auto batches = decode_record_batches(rp.records, limits);
      if (!batches.ok()) {
        const Code c = batches.status().code();
        g->set(t, p, {c == Code::kResourceExhausted ? ErrorCode::MESSAGE_TOO_LARGE : ErrorCode::CORRUPT_MESSAGE, -1,
                      "topic '" + rt.name + "' partition " + std::to_string(rp.index) + ": " +
                          batches.status().message()});
        continue;
      }
      // Idempotent producers: every batch checked in order; a retried batch is answered with
      // its first offset and nothing is appended. On a replicated partition a producer's state
      // may come from the partition's previous leader (learned before its first check here).
      std::vector<uint64_t> tickets;
      std::vector<int64_t> ids;          // each ticket's producer id
      std::vector<int64_t> first_index;  // each batch's first record within the put
      bool refused = false;
      int64_t records = 0;
      for (const RecordBatch& b : *batches) {
        first_index.push_back(records);
        records += static_cast<int64_t>(b.records.size());
        if (b.producer_id < 0) continue;
        if (auto learned = (*topic)->producer_snapshot(static_cast<uint32_t>(rp.index), b.producer_id))
          producers_->learn(b.producer_id, rt.name, rp.index, *learned);
        SequenceVerdict v = producers_->check(rt.name, rp.index,
                                              {b.producer_id, b.producer_epoch, b.base_sequence,
                                               static_cast<int32_t>(b.records.size())});
        if (v.kind == SequenceVerdict::kAppend) {
          tickets.push_back(v.ticket);
          ids.push_back(b.producer_id);
          continue;
        }
        if (v.kind == SequenceVerdict::kDuplicate && batches->size() == 1) {
          // Answered as the first one would be now (under acks -1: once it is replicated).
          broker_->acknowledge(*topic, static_cast<uint32_t>(rp.index), v.base_offset,
                               static_cast<uint64_t>(v.base_offset) + b.records.size(), req.acks,
                               [g, t, p](ProduceOutcome o) { g->set(t, p, o); });
        } else {
          g->set(t, p, {v.kind == SequenceVerdict::kDuplicate ? ErrorCode::DUPLICATE_SEQUENCE_NUMBER : v.error, -1,
                        v.message});
        }
        for (uint64_t k : tickets) producers_->append_failed(k);
        refused = true;
        break;
      }
      if (refused) continue;
      // Once the records are in the leader's log the batches are remembered (a retry is a
      // duplicate, whatever the answer: acks -1 may still fail after the append), and on a
      // replicated partition each producer's state goes to the followers with the records.
      // Not in the log: their sequences are expected again.
      auto in_log = std::make_shared<std::atomic<bool>>(false);
      ProducerState* producers = producers_;
      std::function<void(int64_t)> on_log;
      if (!tickets.empty())
        on_log = [producers, in_log, tickets, ids, first_index, topic = *topic, partition = rp.index,
                  batches_with_ids = batches->size(), records](int64_t base) {
          in_log->store(true);
          // tickets are the batches with a producer id, in order; with ids on every batch (what
          // clients send) they line up with first_index.
          for (size_t k = 0; k < tickets.size(); ++k)
            producers->appended(tickets[k], base + (tickets.size() == batches_with_ids ? first_index[k] : 0));
          if (!topic->replicated()) return;
          for (size_t k = 0; k < ids.size(); ++k) {
            if (k + 1 < ids.size() && ids[k + 1] == ids[k]) continue;  // its newest batch here
            if (auto snap = producers->snapshot(ids[k], topic->name(), partition))
              topic->producer_appended(static_cast<uint32_t>(partition), ids[k], static_cast<uint64_t>(base),
                                       static_cast<uint32_t>(records), std::move(*snap));
          }
        };
      broker_->produce(*topic, static_cast<uint32_t>(rp.index), *batches, req.acks,
                       [g, t, p, producers, tickets = std::move(tickets), in_log](ProduceOutcome o) {
        if (!in_log->load())
          for (uint64_t k : tickets) producers->append_failed(k);
        g->set(t, p, o);
      }, std::move(on_log));
    }
  }
  // Release the hold taken above (answers when the last partition completes).
  bool last;
  {
    std::lock_guard<std::mutex> lock(g->mu);
    last = --g->left == 0;
  }
  if (last && !g->acks0) reply.send(response_frame(h, g->response));
}

}  // namespace persisting::kafka
