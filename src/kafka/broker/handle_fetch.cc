// Fetch: a long poll over the partitions asked for (Broker::fetch). Fetch sessions (KIP-227) are
// not kept: every request is a full fetch and the answer's session id is 0, which tells clients
// to keep sending full requests.
#include "kafka/broker/dispatcher.h"

namespace persisting::kafka {

void Dispatcher::handle(Session& s, const RequestHeader& h, FetchRequest req, const Reply& reply) {
  struct Where {
    size_t topic, partition;
  };
  auto response = std::make_shared<FetchResponse>();
  std::vector<FetchPart> parts;
  std::vector<Where> where;
  response->responses.resize(req.topics.size());
  for (size_t t = 0; t < req.topics.size(); ++t) {
    const auto& rt = req.topics[t];
    auto& out = response->responses[t];
    out.topic = rt.topic;
    out.partitions.resize(rt.partitions.size());
    auto topic = broker_->catalog().find(rt.topic);
    for (size_t p = 0; p < rt.partitions.size(); ++p) {
      const auto& rp = rt.partitions[p];
      auto& op = out.partitions[p];
      op.partition_index = rp.partition;
      op.log_start_offset = 0;
      if (!topic.ok() || rp.partition < 0 || static_cast<uint32_t>(rp.partition) >= (*topic)->partitions()) {
        op.error_code = error_value(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
        op.high_watermark = -1;
        continue;
      }
      parts.push_back({*topic, static_cast<uint32_t>(rp.partition), rp.fetch_offset,
                       rp.partition_max_bytes > 0 ? rp.partition_max_bytes : (1 << 20)});
      where.push_back({t, p});
    }
  }
  const RequestHeader header = h;
  broker_->fetch(std::move(parts), req.max_wait_ms, req.min_bytes, req.max_bytes, &s,
                 [response, where = std::move(where), header, reply](std::vector<FetchedPart> got) {
    for (size_t i = 0; i < got.size(); ++i) {
      auto& op = response->responses[where[i].topic].partitions[where[i].partition];
      op.error_code = error_value(got[i].error);
      op.high_watermark = got[i].high_watermark;
      op.log_start_offset = got[i].log_start_offset;
      op.last_stable_offset = got[i].high_watermark;  // no transactions: everything is stable
      op.records = std::move(got[i].records);
    }
    reply.send(response_frame(header, *response));
  });
}

void Dispatcher::handle(Session&, const RequestHeader& h, ListOffsetsRequest req, const Reply& reply) {
  struct Gather {
    RequestHeader header;
    ListOffsetsResponse response;
    Reply reply;
    std::mutex mu;
    size_t left = 1;
    void done_one() {
      bool last;
      {
        std::lock_guard<std::mutex> lock(mu);
        last = --left == 0;
      }
      if (last) reply.send(response_frame(header, response));
    }
  };
  auto g = std::make_shared<Gather>();
  g->header = h;
  g->reply = reply;
  g->response.topics.resize(req.topics.size());
  for (size_t t = 0; t < req.topics.size(); ++t) {
    g->response.topics[t].name = req.topics[t].name;
    g->response.topics[t].partitions.resize(req.topics[t].partitions.size());
    g->left += req.topics[t].partitions.size();
  }
  const bool v0 = h.api_version == 0;
  for (size_t t = 0; t < req.topics.size(); ++t) {
    auto topic = broker_->catalog().find(req.topics[t].name);
    for (size_t p = 0; p < req.topics[t].partitions.size(); ++p) {
      const auto& rp = req.topics[t].partitions[p];
      auto* out = &g->response.topics[t].partitions[p];
      out->partition_index = rp.partition_index;
      auto answer = [g, out, v0](ErrorCode e, int64_t offset, int64_t timestamp) {
        {
          std::lock_guard<std::mutex> lock(g->mu);
          out->error_code = error_value(e);
          out->offset = offset;
          out->timestamp = timestamp;
          if (v0 && e == ErrorCode::NONE) out->old_style_offsets = {offset};
        }
        g->done_one();
      };
      if (!topic.ok() || rp.partition_index < 0 ||
          static_cast<uint32_t>(rp.partition_index) >= (*topic)->partitions()) {
        answer(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, -1, -1);
        continue;
      }
      // Only the partition's owner answers (NOT_LEADER_OR_FOLLOWER elsewhere, in a cluster).
      if (auto a = (*topic)->partition(static_cast<uint32_t>(rp.partition_index)); !a.ok()) {
        answer(placement_error(a.status()), -1, -1);
        continue;
      }
      if (rp.timestamp == kListOffsetsEarliest) {
        broker_->start_offset(*topic, static_cast<uint32_t>(rp.partition_index), [answer](Result<int64_t> first) {
          if (!first.ok()) return answer(partition_error(first.status()), -1, -1);
          answer(ErrorCode::NONE, *first, -1);
        });
        continue;
      }
      if (rp.timestamp == kListOffsetsLatest) {
        broker_->end_offset(*topic, static_cast<uint32_t>(rp.partition_index), [answer](Result<int64_t> end) {
          if (!end.ok()) return answer(partition_error(end.status()), -1, -1);
          answer(ErrorCode::NONE, *end, -1);
        });
        continue;
      }
      if (rp.timestamp < 0) {  // -3 (max timestamp, KIP-734) and others
        answer(ErrorCode::UNSUPPORTED_VERSION, -1, -1);
        continue;
      }
      broker_->offset_for_time(*topic, static_cast<uint32_t>(rp.partition_index), rp.timestamp,
                               [answer](Result<std::pair<int64_t, int64_t>> r) {
        if (!r.ok()) return answer(partition_error(r.status()), -1, -1);
        answer(ErrorCode::NONE, r->first, r->second);
      });
    }
  }
  g->done_one();
}

}  // namespace persisting::kafka
