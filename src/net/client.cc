// The remote Client (include/persisting/client.h) over persisting.v1: topics, writers, readers.
// Consumer groups (the remote coordinator, group readers, the Store group calls) are in
// client_groups.cc; what both share in client_core.h.
#include "persisting/client.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <latch>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "core/upcast.h"
#include "groups/group_types.h"
#include "net/client_core.h"
#include "persisting/json.h"
#include "queue/partitioning.h"
#include "queue/topic_settings.h"

namespace persisting {
namespace detail {

using net::from_grpc;

Groups group_by_owner(ClientCore& core, const std::string& topic, const std::vector<BucketId>& buckets) {
  Groups g;
  for (size_t i = 0; i < buckets.size(); ++i) {
    std::string unreachable;
    auto o = core.owner(topic, buckets[i].value(), &unreachable);
    if (!o.ok()) {
      g.failed.emplace_back(i, o.status());
      if (!unreachable.empty()) g.failed_owner[i] = unreachable;
      continue;
    }
    g.by_address[o->address].push_back(i);
    g.owner_name[o->address] = o->id + " (" + o->address + ")";
  }
  return g;
}

bool retryable(const Status& s) {
  return s.code() == Code::kUnavailable || s.code() == Code::kDeadlineExceeded ||
         (s.code() == Code::kFailedPrecondition && s.message().find("is owned by node") != std::string::npos);
}

// A bucket whose owner is being switched by a rebalance (docs/wire-protocol.md, "Rebalance",
// step 5): the nodes switch one after the other, so for a moment an old owner that has switched
// refuses the bucket ("is owned by node n3, not n1") while the others still name it as the owner,
// and a lookup may bounce between the old and the new owner ("more than 3 redirects"). Neither
// is a refusal of the put: the views agree again once the switch reaches the new owner.
bool owner_moving(const Status& s) {
  return (s.code() == Code::kFailedPrecondition && s.message().find("is owned by node") != std::string::npos) ||
         (s.code() == Code::kUnavailable && s.message().find(" redirects") != std::string::npos);
}

// A node that answers UNAVAILABLE "... retry shortly" is in a state that settles by itself
// within a second or two: a replicated bucket's leader comparing its leader epochs after it
// restarted or just opened the topic, a bucket whose etcd election is under way or whose leader
// may have lost its lease (docs/cluster.md, "Failover with etcd"), a bucket fenced by a
// rebalance. The put is sent again (same producer id and sequence) until rpc_timeout.
bool settling(const Status& s) {
  return s.code() == Code::kUnavailable && s.message().find("retry shortly") != std::string::npos;
}

// A call that never reached an answer from the owner: gRPC's own UNAVAILABLE (the connection was
// refused, reset or closed), not one the node sent. For a replicated bucket that is its leader
// gone: with etcd another replica takes over within the lease TTL (docs/cluster.md, "Failover
// with etcd"), so the put is sent again, as while settling. (Without etcd nothing settles by
// itself: the put fails once rpc_timeout has passed.)
bool owner_unreachable(const grpc::Status& g) {
  return net::Channels::never_sent(g) || net::Channels::connection_lost(g) ||
         (g.error_code() == grpc::StatusCode::UNAVAILABLE && g.error_message().find("Broken pipe") != std::string::npos);
}

struct ClientWriterState {
  std::shared_ptr<ClientCore> core;
  TopicInfo info;
  uint64_t producer_id = 0;
  Acks acks = Acks::kDefault;
  std::mutex mu;                   // one put at a time (sequence numbers stay in order per bucket)
  std::vector<uint64_t> sequence;  // per bucket: last sequence sent
  std::vector<bool> written;       // per bucket: acknowledged a put since the last flush

  // Sends each non-empty bucket batch (parallel), retrying failed buckets with the same
  // sequence. report->parts (one per non-empty bucket, from queue::report_parts) get what
  // became of them: acknowledged with their first offset, or the failure and the owner.
  // numbers (optional, one per record of the batch) is how errors name the records; sent along
  // when a request carries several buckets or the caller numbers them, so the node's errors use
  // them (default: the records' batch indexes).
  Status send(std::vector<RecordBatch> per_bucket, PutReport* report, const std::vector<uint64_t>* numbers = nullptr);
};

Status ClientWriterState::send(std::vector<RecordBatch> per_bucket, PutReport* report,
                               const std::vector<uint64_t>* numbers) {
  std::lock_guard<std::mutex> lock(mu);
  const std::string& topic = info.topic;
  std::vector<BucketId> pending;
  std::map<uint32_t, PutReport::Part*> part_of;
  for (auto& p : report->parts) part_of[p.bucket.value()] = &p;
  for (uint32_t b = 0; b < per_bucket.size(); ++b)
    if (!per_bucket[b].empty()) {
      pending.emplace_back(b);
      ++sequence[b];
    }
  Status first_error;
  // Retries are counted (put_retries), except while a bucket's owner is moving. The race: a put
  // refused by the fence looks the owner up again; a node that has not switched yet names the
  // old owner, which switches before the put reaches it and answers "is owned by node n3". When
  // that was the last counted attempt, the caller got the stale owner's FAILED_PRECONDITION,
  // which is no refusal of the put (a loaded machine widens the window between lookup and put).
  // So the owner is looked up again, with backoff, until it settles or rpc_timeout has passed;
  // a switch that never settles (interrupted: run the rebalance again) is reported as the
  // retryable UNAVAILABLE the docs promise while a bucket moves.
  const auto settle_by = std::chrono::steady_clock::now() + core->options.rpc_timeout;
  for (int attempt = 0; !pending.empty(); ++attempt) {
    // 50, 100, 150, then every 200 ms: a failover or a move settles within a few hundred ms of
    // its cause, and a longer pause only adds to what the caller waits (bench/failover.py).
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(50 * std::min(attempt, 4)));
    // One Put per owner, carrying that owner's buckets.
    Groups g = group_by_owner(*core, topic, pending);
    struct Call {
      std::string address;
      std::vector<uint32_t> buckets;
      grpc::ClientContext ctx;
      v1::PutRequest req;
      v1::PutResponse resp;
      grpc::Status status;
    };
    std::vector<std::unique_ptr<Call>> calls;
    for (const auto& [address, idx] : g.by_address) {
      auto c = std::make_unique<Call>();
      c->address = address;
      c->req.set_topic(topic);
      c->req.set_incarnation(info.incarnation);
      c->req.set_producer_id(producer_id);
      if (acks != Acks::kDefault) c->req.set_acks(acks == Acks::kLeader ? v1::ACKS_LEADER : v1::ACKS_ALL);
      for (size_t i : idx) {
        uint32_t b = pending[i].value();
        c->buckets.push_back(b);
        auto* br = c->req.add_buckets();
        br->set_bucket(b);
        br->set_sequence(sequence[b]);
        net::to_wire(per_bucket[b], br->mutable_run());
        if (idx.size() > 1 || numbers)
          if (auto it = part_of.find(b); it != part_of.end())
            for (size_t r : it->second->records) br->add_record_numbers(numbers ? (*numbers)[r] : r);
      }
      core->channels->prepare(&c->ctx, core->options.rpc_timeout);
      calls.push_back(std::move(c));
    }
    if (calls.size() == 1) {  // one owner: a blocking call, answered on this thread (no hand-off)
      Call* c = calls[0].get();
      c->status = core->channels->stub(c->address)->Put(&c->ctx, c->req, &c->resp);
    } else {  // several: in parallel, each answered on a gRPC thread
      std::latch done(static_cast<ptrdiff_t>(calls.size()));
      for (auto& c : calls) {
        Call* raw = c.get();
        core->channels->stub(c->address)->async()->Put(&raw->ctx, &raw->req, &raw->resp, [raw, &done](grpc::Status s) {
          raw->status = std::move(s);
          done.count_down();
        });
      }
      done.wait();
    }
    std::vector<BucketId> again;
    auto failed = [&](const std::vector<uint32_t>& buckets, const Status& s, const std::string& owner,
                      bool leader_gone = false) {
      bool retry = retryable(s);
      bool moving = owner_moving(s);
      bool settles = moving || settling(s) || leader_gone;
      bool again_ok = retry && (attempt < core->options.put_retries ||
                                (settles && std::chrono::steady_clock::now() < settle_by));
      for (uint32_t b : buckets) {
        if (retry) core->forget_owner(topic, b);
        if (again_ok) again.emplace_back(b);
        if (auto it = part_of.find(b); it != part_of.end()) {
          it->second->status = s;
          it->second->owner = owner;
        }
      }
      if (!again_ok && first_error.ok())
        first_error = moving ? Unavailable(s.message() + " (the owner did not settle within " +
                                           std::to_string(core->options.rpc_timeout.count()) +
                                           " ms: a rebalance switch is under way or was interrupted; retry)")
                             : s;
    };
    // A lookup that the entry node answered with an owner that did not answer: the same as a
    // put that could not reach it.
    const bool replicated = info.replication_factor > 1;
    for (auto& [i, s] : g.failed) {
      const bool redirected = g.failed_owner.count(i) > 0;
      failed({pending[i].value()}, s, redirected ? g.failed_owner[i] : "",
             redirected && replicated && s.code() == Code::kUnavailable);
    }
    for (auto& c : calls) {
      std::string names;
      for (uint32_t b : c->buckets) names += (names.empty() ? "" : ",") + std::to_string(b);
      Status s = from_grpc(c->status, "topic '" + topic + "' bucket" + (c->buckets.size() > 1 ? "s " : " ") + names +
                                          ": owner " + g.owner_name[c->address] + " unavailable");
      if (!s.ok()) {
        failed(c->buckets, s, g.owner_name[c->address], replicated && owner_unreachable(c->status));
        continue;
      }
      for (const auto& a : c->resp.buckets()) {
        auto it = part_of.find(a.bucket());
        if (it == part_of.end()) continue;
        it->second->acknowledged = true;
        written[a.bucket()] = true;
        it->second->first = Offset(a.first_offset());
        it->second->status = Status::OK();
        it->second->owner = g.owner_name[c->address];
      }
    }
    pending.swap(again);
  }
  return first_error;
}


Status ClientReaderState::fetch(const Groups& g, size_t limit, uint32_t wait_ms, std::vector<RecordBatch>* raw,
                                bool* any) {
  const std::string& topic = info.topic;
  struct Call {
    std::string address;
    std::vector<size_t> index;
    grpc::ClientContext ctx;
    v1::GetRequest req;
    v1::GetResponse resp;
    grpc::Status status;
  };
  std::vector<std::unique_ptr<Call>> calls;
  for (auto& [address, idx] : g.by_address) {
    auto c = std::make_unique<Call>();
    c->address = address;
    c->index = idx;
    c->req.set_topic(topic);
    c->req.set_incarnation(info.incarnation);
    c->req.set_limit(static_cast<uint32_t>(limit));
    c->req.set_wait_ms(wait_ms);
    for (size_t i : idx) {
      auto* cur = c->req.add_cursors();
      cur->set_bucket(cursor.buckets[i].value());
      cur->set_offset(cursor.offsets[i]);
    }
    core->channels->prepare(&c->ctx, core->options.rpc_timeout + std::chrono::milliseconds(wait_ms));
    calls.push_back(std::move(c));
  }
  std::mutex mu;
  bool have_data = false;
  if (calls.size() == 1) {  // one owner: a blocking call, answered on this thread (no hand-off)
    Call* c = calls[0].get();
    c->status = core->channels->stub(c->address)->Get(&c->ctx, c->req, &c->resp);
  } else {  // several: in parallel; with wait, the first owner answering with data cancels the others
    std::latch done(static_cast<ptrdiff_t>(calls.size()));
    for (auto& c : calls) {
      Call* raw_call = c.get();
      core->channels->stub(c->address)->async()->Get(&c->ctx, &c->req, &c->resp,
                                                     [raw_call, &calls, &mu, &have_data, &done, wait_ms](grpc::Status s) {
        raw_call->status = std::move(s);
        if (wait_ms > 0 && raw_call->status.ok() && raw_call->resp.buckets_size() > 0) {
          std::lock_guard<std::mutex> lock(mu);
          if (!have_data) {
            have_data = true;
            for (auto& other : calls)
              if (other.get() != raw_call) other->ctx.TryCancel();
          }
        }
        done.count_down();
      });
    }
    done.wait();
  }
  raw->assign(cursor.buckets.size(), RecordBatch());
  *any = false;
  Status first_error;
  for (auto& [i, s] : g.failed)
    if (first_error.ok()) first_error = s;
  for (auto& c : calls) {
    if (!c->status.ok()) {
      if (have_data && c->status.error_code() == grpc::StatusCode::CANCELLED) continue;
      Status s = from_grpc(c->status, "topic '" + topic + "': owner " + g.owner_name.at(c->address) + " unavailable");
      if (retryable(s))
        for (size_t i : c->index) core->forget_owner(topic, cursor.buckets[i].value());
      if (first_error.ok()) first_error = s;
      continue;
    }
    for (const auto& br : c->resp.buckets()) {
      size_t i = 0;
      while (i < cursor.buckets.size() && cursor.buckets[i].value() != br.bucket()) ++i;
      if (i == cursor.buckets.size() || br.offset() != cursor.offsets[i])
        return Internal("topic '" + topic + "': node " + g.owner_name.at(c->address) +
                        " answered for a bucket or offset that was not asked");
      auto batch = net::from_wire(br.run(), "topic '" + topic + "' bucket " + std::to_string(br.bucket()));
      if (!batch.ok()) return batch.status();
      (*raw)[i] = std::move(batch).value();
      *any = *any || !(*raw)[i].empty();
    }
  }
  // Data from live owners is served even when another owner is down; with nothing to serve, the
  // error is the answer.
  if (!*any) return first_error;
  return Status::OK();
}

Groups ClientReaderState::groups(const std::vector<size_t>& which) {
  std::vector<BucketId> buckets;
  buckets.reserve(which.size());
  for (size_t i : which) buckets.push_back(cursor.buckets[i]);
  Groups g = group_by_owner(*core, info.topic, buckets);
  // Indexes into `which` back to indexes into the cursor.
  for (auto& [address, idx] : g.by_address)
    for (size_t& k : idx) k = which[k];
  for (auto& [k, s] : g.failed) k = which[k];
  std::map<size_t, std::string> failed_owner;
  for (auto& [k, owner] : g.failed_owner) failed_owner[which[k]] = std::move(owner);
  g.failed_owner = std::move(failed_owner);
  return g;
}

Result<std::vector<Message>> ClientReaderState::get(size_t limit, uint32_t wait_ms) {
  // Records ahead may end in gaps (rows LanceDB deleted: no message): a get served only from
  // them can come back empty with records still on the node. It asks again, once, then with
  // nothing ahead (take_fair stepped over the gaps). A get that waits and stepped over gaps asks
  // again for as long as its wait lasts: empty only at its deadline (docs/lance-format.md §10).
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::milliseconds(wait_ms);
  for (int round = 0;; ++round) {
    const bool ahead = cursor.any_ahead();
    std::vector<uint64_t> before;
    if (wait_ms > 0) before = cursor.offsets;  // only a get that waits asks again past gaps
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(std::max(Clock::duration(0), deadline - Clock::now()));
    ASSIGN_OR_RETURN(std::vector<Message> out, get_once(limit, wait_ms > 0 ? static_cast<uint32_t>(left.count()) : 0));
    if (!out.empty()) return out;
    const bool waits_on = wait_ms > 0 && cursor.offsets != before && Clock::now() < deadline;
    if (!waits_on && !(ahead && round == 0)) return out;
  }
}

Result<std::vector<Message>> ClientReaderState::get_once(size_t limit, uint32_t wait_ms) {
  std::vector<RecordBatch> raw(cursor.buckets.size());
  // Buckets holding at least their share of the limit from earlier answers (options.read_ahead)
  // are served from it; the others are fetched, up to read_ahead records in all.
  std::vector<size_t> which = cursor.to_fetch(limit);
  if (which.empty()) return queue::take_fair(cursor, info.topic, raw, limit);
  const bool ahead = cursor.any_ahead();
  const size_t ask = std::max<size_t>(limit, options.read_ahead);
  // One owner: a single Get, which the node answers at once when records are there and parks
  // otherwise. Several: a no-wait pass first, so every owner's records are read fairly (of
  // waiting Gets to all, only the first to answer is kept), then waiting Gets if none had any.
  // Records already ahead are an answer: nothing waits then.
  if (ahead) wait_ms = 0;
  bool any = false;
  Groups g = groups(which);
  const uint32_t first_wait = wait_ms > 0 && g.by_address.size() == 1 ? wait_ms : 0;
  Status s = fetch(g, ask, first_wait, &raw, &any);
  // Owners refreshed: once more, unless the wait itself ran out (that would wait twice as long).
  if (!s.ok() && retryable(s) && !(first_wait > 0 && s.code() == Code::kDeadlineExceeded)) {
    g = groups(which);
    s = fetch(g, ask, first_wait, &raw, &any);
  }
  if (!s.ok()) {
    if (!ahead) return s;
    raw.assign(cursor.buckets.size(), RecordBatch());  // the records ahead are served
  }
  if (s.ok() && !any && wait_ms > 0 && first_wait == 0) RETURN_IF_ERROR(fetch(g, ask, wait_ms, &raw, &any));
  return queue::take_fair(cursor, info.topic, raw, limit);
}

}  // namespace detail

// ---- Client --------------------------------------------------------------------------------

Result<std::unique_ptr<Client>> Client::connect(ClientOptions options) {
  if (options.server.empty()) return InvalidArgument("client: no server address (host:port)");
  net::ChannelConfig cc;
  cc.token = options.token;
  cc.tls = options.tls || !options.tls_ca_file.empty();
  if (!options.tls_ca_file.empty()) {
    ASSIGN_OR_RETURN(cc.tls_ca_pem, net::read_text_file(options.tls_ca_file));
  }
  cc.tls_server_name = options.tls_server_name;
  auto core = std::make_shared<detail::ClientCore>();
  core->channels = std::make_unique<net::Channels>(cc);
  for (size_t pos = 0; pos <= options.server.size();) {
    size_t comma = std::min(options.server.find(',', pos), options.server.size());
    if (comma > pos) core->entries.push_back(options.server.substr(pos, comma - pos));
    pos = comma + 1;
  }
  if (core->entries.empty()) return InvalidArgument("client: no server address (host:port)");
  core->options = std::move(options);
  return std::unique_ptr<Client>(new Client(std::move(core)));
}

Client::Client(std::shared_ptr<detail::ClientCore> core) : core_(std::move(core)) {}
Client::~Client() = default;

Result<std::unique_ptr<ClientWriter>> Client::writer(const WriterOptions& options) {
  v1::CreateTopicRequest req;
  net::to_wire(queue::topic_settings(options), req.mutable_spec());
  v1::CreateTopicResponse resp;
  RETURN_IF_ERROR(core_->call_entry(&detail::Stub::CreateTopic, req, &resp));
  auto s = std::make_unique<detail::ClientWriterState>();
  s->core = core_;
  s->info = net::from_wire(resp.topic());
  s->sequence.assign(s->info.num_buckets, 0);
  s->written.assign(s->info.num_buckets, false);
  s->acks = options.acks;
  std::random_device rd;
  while (s->producer_id == 0) s->producer_id = (uint64_t(rd()) << 32) ^ rd();
  return std::unique_ptr<ClientWriter>(new ClientWriter(std::move(s)));
}

Result<std::unique_ptr<TopicWriter>> Client::open_writer(const WriterOptions& options) {
  return upcast<TopicWriter>(writer(options));
}

Result<std::unique_ptr<TopicReader>> Client::open_reader(const ReaderOptions& options) {
  return upcast<TopicReader>(reader(options));
}

Result<std::unique_ptr<ClientReader>> Client::reader(const ReaderOptions& options) {
  if (options.read_ahead > net::kMaxGetLimit)
    return InvalidArgument("reader of topic '" + options.topic + "': read_ahead " + std::to_string(options.read_ahead) +
                           " is above " + std::to_string(net::kMaxGetLimit) + " (a node's largest get)");
  ASSIGN_OR_RETURN(TopicInfo info, core_->topic(options.topic));
  ASSIGN_OR_RETURN(std::vector<BucketId> buckets, queue::reader_buckets(info, options));
  auto s = std::make_unique<detail::ClientReaderState>();
  s->core = core_;
  s->info = std::move(info);
  s->options = options;
  s->cursor.init(std::move(buckets));
  if (!options.group.empty()) RETURN_IF_ERROR(s->join_group());  // client_groups.cc
  return std::unique_ptr<ClientReader>(new ClientReader(std::move(s)));
}

Result<std::vector<TopicInfo>> Client::topics() {
  v1::ListTopicsRequest req;
  v1::ListTopicsResponse resp;
  RETURN_IF_ERROR(core_->call_entry(&detail::Stub::ListTopics, req, &resp));
  if (!resp.unreached().empty()) {
    std::string ids;
    for (const auto& id : resp.unreached()) ids += (ids.empty() ? "" : ", ") + id;
    return Unavailable("listing topics: node(s) " + ids + " could not be asked, so their topics may be missing (" +
                       std::to_string(resp.topics_size()) + " listed); list again once they are back");
  }
  std::vector<TopicInfo> out;
  for (const auto& t : resp.topics()) out.push_back(net::from_wire(t));
  return out;
}

Result<TopicInfo> Client::topic(const std::string& name) { return core_->topic(name); }

Status Client::alter_topic(const std::string& topic, const Retention& retention) {
  RETURN_IF_ERROR(groups::validate_name("topic", topic));  // validate_topic_name's rule, client-side
  v1::AlterTopicRequest req;
  req.set_topic(topic);
  net::to_wire(retention, req.mutable_retention());
  v1::AlterTopicResponse resp;
  // As delete_topic: the next entry node only when this one could not be reached.
  Status s;
  for (const auto& address : core_->entries) {
    resp.Clear();
    s = core_->call(address, &detail::Stub::AlterTopic, req, &resp, "node at " + address);
    if (s.code() != Code::kUnavailable || s.message().rfind("topic '", 0) == 0) break;
  }
  return s;
}

Status Client::delete_topic(const std::string& topic) {
  RETURN_IF_ERROR(groups::validate_name("topic", topic));  // validate_topic_name's rule, client-side
  v1::DeleteTopicRequest req;
  req.set_topic(topic);
  v1::DeleteTopicResponse resp;
  // Not retried on a node that may have acted: only the next entry node, and only when this one
  // could not be reached (a node's own UNAVAILABLE names the topic: some member missed it).
  Status s;
  for (const auto& address : core_->entries) {
    resp.Clear();
    s = core_->call(address, &detail::Stub::DeleteTopic, req, &resp, "node at " + address);
    if (s.code() != Code::kUnavailable || s.message().rfind("topic '", 0) == 0) break;
  }
  {
    std::lock_guard<std::mutex> lock(core_->mu);
    for (auto it = core_->owners.lower_bound({topic, 0}); it != core_->owners.end() && it->first.first == topic;)
      it = core_->owners.erase(it);
  }
  return s;
}

Result<Object> Client::stats(const std::string& topic) {
  ASSIGN_OR_RETURN(TopicInfo info, core_->topic(topic));
  std::vector<BucketId> all;
  for (uint32_t b = 0; b < info.num_buckets; ++b) all.emplace_back(b);
  auto g = detail::group_by_owner(*core_, topic, all);
  // The live owners' buckets are reported even when another owner is down (as a reader serves
  // them); what could not be asked goes to "errors", one entry per owner.
  List errors;
  Status first_error;
  for (const auto& [i, s] : g.failed) {
    Object e{{"buckets", List{Value(static_cast<int64_t>(i))}}, {"error", s.to_string()}};
    if (g.failed_owner.count(i)) e.set("owner", g.failed_owner[i]);
    errors.emplace_back(std::move(e));
    if (first_error.ok()) first_error = s;
  }
  std::map<uint32_t, Object> by_bucket;
  for (const auto& [address, idx] : g.by_address) {
    v1::StatsRequest req;
    req.set_topic(topic);
    for (size_t i : idx) req.add_buckets(static_cast<uint32_t>(i));
    v1::StatsResponse resp;
    Status s = core_->call(address, &detail::Stub::Stats, req, &resp,
                           "topic '" + topic + "': owner " + g.owner_name[address] + " unavailable");
    if (!s.ok()) {
      if (detail::retryable(s))
        for (size_t i : idx) core_->forget_owner(topic, static_cast<uint32_t>(i));
      List buckets;
      for (size_t i : idx) buckets.emplace_back(static_cast<int64_t>(i));
      errors.emplace_back(Object{{"buckets", Value(std::move(buckets))}, {"owner", g.owner_name[address]},
                                 {"error", s.to_string()}});
      if (first_error.ok()) first_error = s;
      continue;
    }
    for (const auto& j : resp.bucket_stats_json()) {
      auto v = parse_json(j);
      if (!v.ok() || !v->is_object()) return Internal("topic '" + topic + "': node sent unreadable stats");
      const Value* b = v->as_object().find("bucket");
      by_bucket[b && b->is_int() ? static_cast<uint32_t>(b->as_int()) : 0] = v->as_object();
    }
  }
  if (by_bucket.empty() && !first_error.ok()) return first_error;  // nothing to show
  std::vector<Object> bucket_stats;
  for (auto& [b, o] : by_bucket) bucket_stats.push_back(std::move(o));
  Object out = queue::topic_stats(info, std::move(bucket_stats));
  if (!errors.empty()) out.set("errors", Value(std::move(errors)));
  return out;
}

Status Client::flush(const std::string& topic) {
  std::map<std::string, std::string> targets;  // address -> name
  if (topic.empty()) {
    v1::ClusterStatusRequest req;
    v1::ClusterStatusResponse resp;
    RETURN_IF_ERROR(core_->call_entry(&detail::Stub::ClusterStatus, req, &resp));
    for (const auto& m : resp.members()) targets[m.member().address()] = m.member().id();
  } else {
    ASSIGN_OR_RETURN(TopicInfo info, core_->topic(topic));
    std::vector<BucketId> all;
    for (uint32_t b = 0; b < info.num_buckets; ++b) all.emplace_back(b);
    auto g = detail::group_by_owner(*core_, topic, all);
    if (!g.failed.empty()) return g.failed[0].second;
    for (const auto& [address, idx] : g.by_address) targets[address] = g.owner_name[address];
  }
  for (const auto& [address, name] : targets) {
    v1::FlushRequest req;
    req.set_topic(topic);
    v1::FlushResponse resp;
    RETURN_IF_ERROR(core_->call(address, &detail::Stub::Flush, req, &resp, "node " + name + " unavailable"));
  }
  return Status::OK();
}

Result<Object> Client::cluster_status(const std::string& topic) {
  v1::ClusterStatusRequest req;
  req.set_topic(topic);
  v1::ClusterStatusResponse resp;
  RETURN_IF_ERROR(core_->call_entry(&detail::Stub::ClusterStatus, req, &resp));
  Object out;
  out.set("self", resp.self());
  out.set("membership", resp.membership());
  List members;
  for (const auto& m : resp.members()) {
    Object o{{"id", m.member().id()}, {"address", m.member().address()}, {"alive", m.alive()}};
    if (!m.member().zone().empty()) o.set("zone", m.member().zone());
    if (!m.detail().empty()) o.set("detail", m.detail());
    members.emplace_back(std::move(o));
  }
  out.set("members", std::move(members));
  if (!topic.empty()) {
    Object own;
    for (const auto& o : resp.ownership()) own.set(std::to_string(o.bucket()), o.owner());
    out.set("topic", topic);
    out.set("ownership", std::move(own));
    List ids;
    for (const auto& id : resp.placement()) ids.emplace_back(id);
    Object placement{{"epoch", static_cast<int64_t>(resp.placement_epoch())}, {"members", Value(std::move(ids))}};
    if (!resp.placement_zones().empty()) {
      Object zones;
      for (const auto& id : resp.placement()) {
        auto z = resp.placement_zones().find(id);
        if (z != resp.placement_zones().end()) zones.set(id, z->second);
      }
      placement.set("zones", std::move(zones));
    }
    out.set("placement", std::move(placement));
    // Each bucket's replicas, leader first (docs/cluster.md, "Replication"). 0: an older node.
    out.set("replication_factor", static_cast<int64_t>(std::max<uint32_t>(resp.replication_factor(), 1)));
    List buckets;
    for (const auto& o : resp.ownership()) {
      List replicas;
      for (const auto& r : o.replicas()) replicas.emplace_back(r);
      if (replicas.empty()) replicas.emplace_back(o.owner());
      // The leader by the answering node's record (an older node: the first replica, epoch 0).
      std::string leader = o.leader().empty() ? replicas.front().as_string() : o.leader();
      Object bucket{{"bucket", static_cast<int64_t>(o.bucket())},
                    {"leader", leader},
                    {"epoch", static_cast<int64_t>(o.leader_epoch())},
                    {"replicas", Value(std::move(replicas))}};
      if (!o.log_ends().empty()) {  // the answering node leads the bucket
        Object ends;
        for (const auto& r : o.replicas()) {
          auto it = o.log_ends().find(r);
          if (it != o.log_ends().end()) ends.set(r, static_cast<int64_t>(it->second));
        }
        bucket.set("log_ends", std::move(ends));
        bucket.set("high_watermark", static_cast<int64_t>(o.high_watermark()));
        List in_sync;
        for (const auto& r : o.in_sync()) in_sync.emplace_back(r);
        bucket.set("in_sync", Value(std::move(in_sync)));
        if (o.min_insync() > 0) bucket.set("min_insync_replicas", static_cast<int64_t>(o.min_insync()));
      }
      buckets.emplace_back(std::move(bucket));
    }
    out.set("buckets", std::move(buckets));
  }
  return out;
}

Result<Object> Client::elect_leader(const std::string& topic, uint32_t bucket, const std::string& node,
                                    bool allow_unclean) {
  v1::ElectLeaderRequest req;
  req.set_topic(topic);
  req.set_bucket(bucket);
  req.set_node(node);
  req.set_allow_unclean(allow_unclean);
  v1::ElectLeaderResponse resp;
  const std::string& address = core_->entries[0];
  grpc::ClientContext ctx;
  core_->channels->prepare(&ctx, core_->options.rpc_timeout);
  RETURN_IF_ERROR(net::from_grpc(core_->channels->stub(address)->ElectLeader(&ctx, req, &resp), "node at " + address));
  List updated, unreached;
  for (const auto& id : resp.updated()) updated.emplace_back(id);
  for (const auto& id : resp.unreached()) unreached.emplace_back(id);
  // The routing cache: the bucket's owner is the new leader now.
  core_->forget_owner(topic, bucket);
  return Object{{"topic", topic},
                {"bucket", static_cast<int64_t>(bucket)},
                {"leader", resp.leader()},
                {"epoch", static_cast<int64_t>(resp.epoch())},
                {"start", static_cast<int64_t>(resp.start())},
                {"previous_leader", resp.previous_leader()},
                {"updated", Value(std::move(updated))},
                {"unreached", Value(std::move(unreached))}};
}

Result<Object> Client::rebalance(const std::string& topic, const RebalanceOptions& options) {
  v1::RebalanceRequest req;
  req.set_topic(topic);
  req.set_dry_run(options.dry_run);
  req.set_rehearse(options.rehearse);
  v1::RebalanceResponse resp;
  const std::string& address = core_->entries[0];
  grpc::ClientContext ctx;
  core_->channels->prepare(&ctx, options.timeout);
  RETURN_IF_ERROR(net::from_grpc(core_->channels->stub(address)->Rebalance(&ctx, req, &resp), "node at " + address));
  auto placement = [](uint64_t epoch, const auto& members) {
    List ids;
    for (const auto& id : members) ids.emplace_back(id);
    return Object{{"epoch", static_cast<int64_t>(epoch)}, {"members", Value(std::move(ids))}};
  };
  List moves;
  int64_t records = 0;
  for (const auto& m : resp.moves()) {
    moves.emplace_back(Object{{"bucket", static_cast<int64_t>(m.bucket())},
                              {"from", m.from()},
                              {"to", m.to()},
                              {"records", static_cast<int64_t>(m.records())}});
    records += static_cast<int64_t>(m.records());
  }
  List dropped;
  for (const auto& d : resp.dropped()) dropped.emplace_back(d);
  std::string result = options.dry_run   ? "planned"
                       : options.rehearse ? "rehearsed"
                       : resp.moves_size() > 0 ? "moved"
                                               : "nothing to move";
  Object out{{"topic", topic},
             {"result", result},
             {"dry_run", options.dry_run},
             {"rehearse", options.rehearse},
             {"previous_placement", placement(resp.previous_epoch(), resp.previous_members())},
             {"placement", placement(resp.epoch(), resp.members())},
             {"moves", Value(std::move(moves))},
             {"records", records},
             {"dropped", Value(std::move(dropped))}};
  return out;
}

// ---- ClientWriter ----------------------------------------------------------------------------

ClientWriter::ClientWriter(std::unique_ptr<detail::ClientWriterState> s) : s_(std::move(s)) {}
ClientWriter::~ClientWriter() = default;
const TopicInfo& ClientWriter::topic() const { return s_->info; }

Result<Position> ClientWriter::put(const Record& record) {
  auto b = queue::bucket_of(s_->info, record);
  if (!b.ok()) return b.status().with_context("topic '" + s_->info.topic + "': record");
  std::vector<RecordBatch> per_bucket(s_->info.num_buckets);
  per_bucket[*b].add(record);
  std::vector<std::vector<size_t>> indexes(s_->info.num_buckets);
  indexes[*b].push_back(0);
  PutReport report;
  report.parts = queue::report_parts(indexes);
  RETURN_IF_ERROR(s_->send(std::move(per_bucket), &report));
  return Position{BucketId(*b), report.parts[0].first};
}

Status ClientWriter::put(const std::vector<Record>& records) {
  PutReport report;
  return put(records, &report);
}

Status ClientWriter::put(const std::vector<Record>& records, PutReport* report, const std::vector<uint64_t>* numbers) {
  *report = PutReport();
  std::vector<RecordBatch> per_bucket;
  std::vector<std::vector<size_t>> indexes;
  if (Status s = queue::route(s_->info, records, &per_bucket, &indexes, numbers); !s.ok()) {
    report->refused = true;
    return s;
  }
  report->parts = queue::report_parts(indexes);
  return s_->send(std::move(per_bucket), report, numbers);
}

Status ClientWriter::flush() {
  // Only the owners of the buckets written since the last flush: a put to live owners does not
  // fail because another owner of the topic is down.
  std::vector<BucketId> buckets;
  {
    std::lock_guard<std::mutex> lock(s_->mu);
    for (uint32_t b = 0; b < s_->written.size(); ++b)
      if (s_->written[b]) buckets.emplace_back(b);
  }
  const std::string& topic = s_->info.topic;
  auto g = detail::group_by_owner(*s_->core, topic, buckets);
  if (!g.failed.empty()) return g.failed[0].second;
  Status first;
  std::vector<uint32_t> flushed;
  for (const auto& [address, idx] : g.by_address) {
    v1::FlushRequest req;
    req.set_topic(topic);
    v1::FlushResponse resp;
    Status s = s_->core->call(address, &detail::Stub::Flush, req, &resp, "node " + g.owner_name[address] + " unavailable");
    if (!s.ok()) {
      if (first.ok()) first = s;
      continue;
    }
    for (size_t i : idx) flushed.push_back(buckets[i].value());
  }
  std::lock_guard<std::mutex> lock(s_->mu);
  for (uint32_t b : flushed) s_->written[b] = false;
  return first;
}
Result<Object> ClientWriter::stats() { return Client(s_->core).stats(s_->info.topic); }

// ---- ClientReader ----------------------------------------------------------------------------

ClientReader::ClientReader(std::unique_ptr<detail::ClientReaderState> s) : s_(std::move(s)) {}
// A group reader leaves its group (committing first with auto_commit). A failure cannot be
// returned from here: it goes to stderr (call close() to get it).
ClientReader::~ClientReader() {
  if (Status s = close(); !s.ok()) std::fprintf(stderr, "persisting: closing a group reader: %s\n", s.to_string().c_str());
}
const TopicInfo& ClientReader::topic() const { return s_->info; }
const std::vector<BucketId>& ClientReader::buckets() const { return s_->cursor.buckets; }

Result<std::vector<Message>> ClientReader::get(size_t limit, bool wait, std::chrono::milliseconds timeout) {
  if (s_->member) return s_->group_get(limit, wait, timeout);
  if (limit == 0) return std::vector<Message>();
  return s_->get(limit, wait && timeout.count() > 0 ? static_cast<uint32_t>(timeout.count()) : 0);
}

void ClientReader::reset() { s_->cursor.reset(); }

Status ClientReader::set_offset(Offset offset, std::optional<BucketId> bucket) {
  return s_->cursor.set_offset(offset, bucket, s_->info.topic);
}

std::vector<Offset> ClientReader::offsets() const { return s_->cursor.offset_list(); }

// commit() and close(): client_groups.cc.

}  // namespace persisting
