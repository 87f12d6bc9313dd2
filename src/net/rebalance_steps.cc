// net::Service's side of an operator rebalance (docs/wire-protocol.md, "Rebalance"): the
// Rebalance RPC, which runs the coordinator (rebalance.h) on the mover pool, and the steps it
// calls on every member: FenceBucket (old owner: refuse puts, report the final count and the
// producers' deduplication state; fences stored in <topic>/fences.json, fences.h), CopyBucket
// (new owner: pull a copy from the old owner, also on the mover pool), SetPlacement (adopt the
// next epoch, stored in <topic>/placement.json, placement.h) and DropBuckets (delete copies of
// buckets this node does not own).
#include <asio/post.hpp>
#include <algorithm>
#include <future>

#include "core/log.h"
#include "core/cleanup.h"
#include "core/status_macros.h"
#include "net/rebalance.h"
#include "net/service_internal.h"
#include "net/wire.h"
#include "persisting/json.h"
#include "queue/topic_meta.h"

namespace persisting::net {
namespace {

constexpr auto kChunkTimeout = std::chrono::seconds(60);  // one Get of a copy
constexpr uint32_t kCopyChunk = 10000;                     // records per Get of a copy (bytes: the source's limit)

}  // namespace

Result<uint64_t> total_count(runtime::BucketStorage& actor) {
  auto p = std::make_shared<std::promise<BucketStats>>();
  auto f = p->get_future();
  actor.stats([p](BucketStats s) { p->set_value(std::move(s)); });
  BucketStats s = f.get();
  if (s.closed) return Unavailable(bucket_name(actor.topic(), actor.bucket().value()) + " is closed");
  return s.total_count;
}

namespace {

// why, saying also that lifting a fence on the way out failed (the bucket then refuses puts until
// the operator's next rebalance or a restart lifts it).
Status also(Status why, const Status& lifted) { return with_cleanup(std::move(why), "lifting the fence", lifted); }

}  // namespace

Result<uint64_t> Service::fence(TopicEntry& t, uint32_t bucket, const std::string& target) {
  ASSIGN_OR_RETURN(auto actor, directory_->local_bucket(t, bucket));  // refuses a bucket this node does not own
  {
    std::unique_lock lock(t.fences.mu);
    t.fences.moving[bucket] = target;
  }
  if (Status s = save_fences(t); !s.ok())
    return also(s.with_context(bucket_name(t.info.topic, bucket) + ": storing the fence"), lift_fence(t, bucket));
  // Puts that passed the fence check before it was set may still be unanswered: wait for them,
  // so that the count below is final.
  if (!t.fences.drained(bucket, kFenceDrainTimeout)) {
    Status lifted = lift_fence(t, bucket);
    return also(Unavailable(bucket_name(t.info.topic, bucket) + ": puts in flight were not answered within 30 s" +
                            (lifted.ok() ? "; fence lifted" : "")),
                lifted);
  }
  auto n = total_count(*actor);
  if (!n.ok()) return also(n.status(), lift_fence(t, bucket));
  return n;
}

Status Service::lift_fence(TopicEntry& t, uint32_t bucket) {
  {
    std::unique_lock lock(t.fences.mu);
    if (t.fences.moving.erase(bucket) == 0) return Status::OK();
  }
  return save_fences(t);
}

Status Service::save_fences(TopicEntry& t) {
  if (!core_->has_data_dir()) return Status::OK();
  std::lock_guard<std::mutex> file_lock(t.fences.file_mu);
  std::map<uint32_t, std::string> snapshot;
  {
    std::shared_lock lock(t.fences.mu);
    snapshot = t.fences.moving;
  }
  return store_fences(core_->env, fences_path(core_->options.data_dir, t.info.topic), snapshot);
}

Status Service::drop_local(TopicEntry& t, uint32_t bucket, bool* had) {
  {
    std::lock_guard<std::mutex> lock(t.mu);
    t.actors[bucket].reset();
  }
  *had = core_->manager->find(t.info.topic, BucketId(bucket)) != nullptr;
  // A close error (a failed flush) does not matter for a copy that is being deleted; it is logged.
  log_if_error(core_->options.logger.get(), LogLevel::kInfo,
               "closing " + bucket_name(t.info.topic, bucket) + " before deleting it",
               core_->manager->drop(t.info.topic, BucketId(bucket)));
  if (core_->has_data_dir()) {
    std::string dir = queue::bucket_dir(core_->options.data_dir, t.info.topic, BucketId(bucket));
    if (core_->env->file_exists(dir)) {
      *had = true;
      RETURN_IF_ERROR(core_->env->remove_all(dir));
    }
  }
  return Status::OK();
}

Result<uint64_t> Service::copy_bucket(TopicEntry& t, const v1::CopyBucketRequest& req) {
  const uint32_t b = req.bucket();
  const TopicInfo& info = t.info;
  RETURN_IF_ERROR(check_bucket(t, b));
  if (t.placement()->owner(info.topic, b) == self_.id)
    return FailedPrecondition(bucket_name(info.topic, b) + " is owned by this node (" + self_.id.str() +
                              "): it is not overwritten with a copy");
  if (req.source().address().empty()) return InvalidArgument(bucket_name(info.topic, b) + ": copy without a source");
  std::string what = bucket_name(info.topic, b) + ": copy from " + req.source().id() + " (" + req.source().address() + ")";
  if (req.restart()) {
    bool had = false;
    RETURN_IF_ERROR(drop_local(t, b, &had));
  }
  // Created like any bucket of the topic (its backend and options), but not served: Put and Get
  // check the placement, which names another owner until the switch.
  ASSIGN_OR_RETURN(auto actors, core_->actors(info, {BucketId(b)}, {}));
  std::shared_ptr<runtime::BucketStorage> actor = actors[0];
  ASSIGN_OR_RETURN(uint64_t have, total_count(*actor));
  const uint64_t until = req.until();
  if (until != 0 && have > until)
    return FailedPrecondition(what + ": the local copy has " + std::to_string(have) + " records, more than the " +
                              std::to_string(until) + " asked for");
  runtime::Member source{NodeId(req.source().id()), req.source().address()};
  while (until == 0 || have < until) {
    v1::GetRequest g;
    g.set_topic(info.topic);
    auto* c = g.add_cursors();
    c->set_bucket(b);
    c->set_offset(have);
    uint64_t want = kCopyChunk;
    if (until != 0) want = std::min<uint64_t>(want, until - have);
    g.set_limit(static_cast<uint32_t>(want));
    v1::GetResponse resp;
    RETURN_IF_ERROR(call_peer(*peers_, source, &Stub::Get, g, &resp, kChunkTimeout).with_context(what));
    if (resp.buckets_size() == 0) break;  // the source has nothing more
    const auto& br = resp.buckets(0);
    if (resp.buckets_size() != 1 || br.bucket() != b || br.offset() != have)
      return Internal(what + ": the source answered for another bucket or offset");
    // Framing and records checked, not their bucket hash: a Kafka producer puts a record in the
    // partition it chose (docs/kafka.md, "Mapping"), so a bucket may hold records our hash
    // places elsewhere, and the copy keeps them where they are.
    ASSIGN_OR_RETURN(RecordBatch batch, from_wire(br.run(), what));
    if (batch.empty()) break;
    if (until != 0 && have + batch.size() > until) return Internal(what + ": the source sent more records than asked");
    auto p = std::make_shared<std::promise<Result<Offset>>>();
    auto f = p->get_future();
    size_t n = batch.size();
    actor->put(std::move(batch), [p](Result<Offset> r) { p->set_value(std::move(r)); });
    ASSIGN_OR_RETURN(Offset first, f.get());
    if (first.value() != have)
      return Internal(what + ": the copy's offsets are out of step (appended at " + std::to_string(first.value()) +
                      ", expected " + std::to_string(have) + ")");
    have += n;
  }
  if (until != 0 && have != until)
    return FailedPrecondition(what + ": the source has " + std::to_string(have) + " records, not the " +
                              std::to_string(until) + " fenced");
  // Durable before the switch makes it the only copy.
  auto p = std::make_shared<std::promise<Status>>();
  auto f = p->get_future();
  actor->flush([p](Status s) { p->set_value(std::move(s)); });
  RETURN_IF_ERROR(f.get().with_context(what + ": flush"));
  ASSIGN_OR_RETURN(uint64_t stored, total_count(*actor));
  if (stored != have)
    return Internal(what + ": the local copy counts " + std::to_string(stored) + " records after " +
                    std::to_string(have) + " were appended");
  return have;
}

Status Service::set_placement(TopicEntry& t, uint64_t epoch, std::vector<std::string> ids,
                              const std::map<uint32_t, uint64_t>& expect) {
  std::string what = "topic '" + t.info.topic + "' on node " + self_.id.str();
  if (ids.empty()) return InvalidArgument(what + ": a placement with no members");
  std::sort(ids.begin(), ids.end());
  if (std::adjacent_find(ids.begin(), ids.end()) != ids.end())
    return InvalidArgument(what + ": a placement lists a member twice");
  std::lock_guard<std::mutex> lock(t.switch_mu);
  auto cur = t.placement();
  if (epoch == cur->epoch && cur->ids() == ids) return Status::OK();  // a repeat
  if (epoch <= cur->epoch)
    return FailedPrecondition(what + ": placement epoch " + std::to_string(epoch) + " [" + join(ids) +
                              "] is not newer than the node's epoch " + std::to_string(cur->epoch) + " [" +
                              join(cur->ids()) + "]");
  auto next = std::make_shared<Placement>();
  next->epoch = epoch;
  for (const auto& id : ids) next->members.push_back({NodeId(id), ""});
  // An old owner switches only while its buckets hold exactly what was copied (fenced, so no put
  // lands after the check).
  std::vector<uint32_t> fenced;
  auto refuse = [&](Status s) {
    for (uint32_t b : fenced) s = also(std::move(s), lift_fence(t, b));
    return s;
  };
  for (const auto& [b, n] : expect) {
    if (Status s = check_bucket(t, b); !s.ok()) return refuse(s);
    auto have = fence(t, b, next->owner(t.info.topic, b).str());
    if (!have.ok()) return refuse(have.status().with_context(what + ": switch"));
    fenced.push_back(b);
    if (*have != n)
      return refuse(FailedPrecondition(bucket_name(t.info.topic, b) + " on node " + self_.id.str() + " holds " +
                                       std::to_string(*have) + " records, but " + std::to_string(n) +
                                       " were copied: the switch is refused"));
  }
  if (core_->has_data_dir()) {
    Status s = store_placement(core_->env, placement_path(core_->options.data_dir, t.info.topic), epoch, ids);
    if (!s.ok()) return refuse(s);
  }
  t.set_placement(std::move(next));
  return Status::OK();
}

Result<std::vector<uint32_t>> Service::drop_buckets(TopicEntry& t, std::vector<uint32_t> buckets, bool not_owned) {
  auto p = t.placement();
  if (buckets.empty() && not_owned)
    for (uint32_t b = 0; b < t.info.num_buckets; ++b)
      if (p->owner(t.info.topic, b) != self_.id) buckets.push_back(b);
  for (uint32_t b : buckets) {
    RETURN_IF_ERROR(check_bucket(t, b));
    if (p->owner(t.info.topic, b) == self_.id)
      return FailedPrecondition(bucket_name(t.info.topic, b) + " is owned by node " + self_.id.str() +
                                " (placement epoch " + std::to_string(p->epoch) + "): its copy is not deleted");
  }
  if (not_owned) {
    // The end of a rebalance: a fence left on a bucket this node still owns is stale (a
    // coordinator that died after fencing, and a plan that changed since).
    std::vector<uint32_t> stale;
    {
      std::shared_lock lock(t.fences.mu);
      for (const auto& [b, target] : t.fences.moving)
        if (p->owner(t.info.topic, b) == self_.id) stale.push_back(b);
    }
    for (uint32_t b : stale) RETURN_IF_ERROR(lift_fence(t, b));
  }
  std::vector<uint32_t> dropped;
  for (uint32_t b : buckets) {
    RETURN_IF_ERROR(lift_fence(t, b));
    bool had = false;
    RETURN_IF_ERROR(drop_local(t, b, &had));
    if (had) dropped.push_back(b);
  }
  return dropped;
}

grpc::ServerUnaryReactor* Service::Rebalance(grpc::CallbackServerContext* ctx, const v1::RebalanceRequest* req,
                                             v1::RebalanceResponse* resp) {
  return unary(kRebalance, ctx, [this, req, resp](Done done) {
    bool expected = false;
    if (!rebalancing_.compare_exchange_strong(expected, true))
      return done(FailedPrecondition("node " + self_.id.str() + " is already coordinating a rebalance"));
    asio::post(*movers_, [this, req, resp, done] {
      Status s = [&]() -> Status {
        ASSIGN_OR_RETURN(auto entry, directory_->find(req->topic(), /*forward=*/true));
        // Moving replicas is not written yet: refused before anything changes.
        if (entry->info.replication_factor > 1)
          return FailedPrecondition("topic '" + req->topic() + "' has replication_factor " +
                                    std::to_string(entry->info.replication_factor) +
                                    ": rebalancing a replicated topic is not supported yet");
        return net::rebalance(*req, resp, entry->info, [&entry] { return entry->placement(); }, *membership_, *peers_,
                              config_.peer_timeout);
      }();
      rebalancing_ = false;
      done(s);
    });
  });
}

grpc::ServerUnaryReactor* Service::FenceBucket(grpc::CallbackServerContext* ctx, const v1::FenceBucketRequest* req,
                                               v1::FenceBucketResponse* resp) {
  return unary(kFenceBucket, ctx, [this, req, resp](Done done) {
    post_admin([this, req, resp, done] {
      auto e = directory_->find(req->topic(), /*forward=*/false);
      if (!e.ok()) return done(e.status());
      if (Status s = check_bucket(**e, req->bucket()); !s.ok()) return done(s);
      if (req->lift()) return done(lift_fence(**e, req->bucket()));
      if (req->target().empty()) return done(InvalidArgument(bucket_name(req->topic(), req->bucket()) + ": a fence without a target"));
      auto n = fence(**e, req->bucket(), req->target());
      if (!n.ok()) return done(n.status());
      resp->set_records(*n);
      for (const auto& state : dedup_.export_bucket(req->topic(), req->bucket())) {
        auto* p = resp->add_producers();
        p->set_producer_id(state.producer_id);
        p->set_sequence(state.sequence);
        p->set_first_offset(state.first_offset);
        p->set_count(state.count);
        p->set_kafka_state(state.kafka_state);
      }
      done(Status::OK());
    });
  });
}

grpc::ServerUnaryReactor* Service::CopyBucket(grpc::CallbackServerContext* ctx, const v1::CopyBucketRequest* req,
                                              v1::CopyBucketResponse* resp) {
  return unary(kCopyBucket, ctx, [this, req, resp](Done done) {
    asio::post(*movers_, [this, req, resp, done] {
      auto e = directory_->find(req->topic(), /*forward=*/true);
      if (!e.ok()) return done(e.status());
      auto n = copy_bucket(**e, *req);
      if (!n.ok()) return done(n.status().with_context("node " + self_.id.str()));
      std::vector<PutDedup::ProducerState> states;
      for (const auto& p : req->producers())
        states.push_back({p.producer_id(), p.sequence(), p.first_offset(), p.count(), p.kafka_state()});
      dedup_.import_bucket(req->topic(), req->bucket(), states);
      resp->set_records(*n);
      done(Status::OK());
    });
  });
}

grpc::ServerUnaryReactor* Service::SetPlacement(grpc::CallbackServerContext* ctx, const v1::SetPlacementRequest* req,
                                                v1::SetPlacementResponse*) {
  return unary(kSetPlacement, ctx, [this, req](Done done) {
    post_admin([this, req, done] {
      auto e = directory_->find(req->topic(), /*forward=*/false);
      if (!e.ok()) return done(e.status());
      std::map<uint32_t, uint64_t> expect;
      for (const auto& c : req->expect()) expect[c.bucket()] = c.offset();
      done(set_placement(**e, req->epoch(), {req->members().begin(), req->members().end()}, expect));
    });
  });
}

grpc::ServerUnaryReactor* Service::DropBuckets(grpc::CallbackServerContext* ctx, const v1::DropBucketsRequest* req,
                                               v1::DropBucketsResponse* resp) {
  return unary(kDropBuckets, ctx, [this, req, resp](Done done) {
    post_admin([this, req, resp, done] {
      auto e = directory_->find(req->topic(), /*forward=*/false);
      if (!e.ok()) return done(e.status());
      auto dropped = drop_buckets(**e, {req->buckets().begin(), req->buckets().end()}, req->not_owned());
      if (!dropped.ok()) return done(dropped.status());
      for (uint32_t b : *dropped) resp->add_dropped(b);
      done(Status::OK());
    });
  });
}

}  // namespace persisting::net
