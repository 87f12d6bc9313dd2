// net::Service: its ordinary handlers (topics, Put, Get, Flush, Stats, ClusterStatus) and the topic
// cache; producers' puts are deduplicated by PutDedup (put_dedup.h). The operator rebalance's handlers and steps are
// in rebalance_steps.cc, its coordinator in rebalance.cc; the consumer groups' in group_service.cc.
#include "net/service.h"

#include <asio/post.hpp>
#include <algorithm>
#include <cstdio>
#include <future>
#include <optional>

#include "backend/node_log_host.h"
#include "core/status_macros.h"
#include "net/grpc_status.h"
#include "net/elections.h"
#include "net/service_internal.h"
#include "net/wire.h"
#include "persisting/backend.h"
#include "persisting/json.h"
#include "queue/fetch.h"
#include "queue/topic_settings.h"
#include "queue/read_cursor.h"
#include "queue/topic_meta.h"
#include "runtime/bucket_storage.h"
#include "runtime/storage_manager.h"
#include "persisting/scheduler.h"

namespace persisting::net {
namespace {

// Producer deduplication entries in one Replicate answer (about 30 bytes each); the rest follow.
constexpr size_t kMaxProducerStates = 4096;

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// A Get that may be parked: cancelling the RPC (client gone, deadline) wakes its waiters.
class GetReactor : public grpc::ServerUnaryReactor {
 public:
  void arm(queue::Actors actors, uint64_t waiter) {
    std::lock_guard<std::mutex> lock(mu_);
    actors_ = std::move(actors);
    waiter_ = waiter;
    if (cancelled_) queue::cancel_fetch(actors_, waiter_);
  }
  // Also run on cancel (once): a read parked on a high watermark answers at once.
  void on_cancel(std::function<void()> hook) { hook_.set(std::move(hook)); }
  void OnCancel() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      cancelled_ = true;
      if (waiter_ != 0) queue::cancel_fetch(actors_, waiter_);
    }
    hook_.cancel();
  }
  void OnDone() override { delete this; }

 private:
  std::mutex mu_;
  bool cancelled_ = false;
  queue::Actors actors_;
  uint64_t waiter_ = 0;
  CancelHook hook_;
};

// A Get, fetched once or more: readers of a replicated bucket this node leads see its records
// up to the high watermark only. When every record found lies past it, the read waits (within
// its wait_ms) for the high watermark to pass the first cursor, then fetches again.
struct GetCall {
  queue::Actors actors;
  std::vector<uint64_t> offsets;
  std::vector<uint32_t> buckets;
  std::vector<bool> limited;      // a replicated bucket: up to the high watermark
  ReplicaTracker* tracker = nullptr;
  size_t limit = 0, budget = 0;
  uint64_t waiter = 0;
  std::chrono::steady_clock::time_point deadline;
  v1::GetResponse* resp = nullptr;
  std::function<void(Status)> done;
  std::atomic<bool> answered{false};

  // Whether this caller answers (the first one does).
  bool claim() { return !answered.exchange(true); }
};

void get_step(const std::shared_ptr<GetCall>& c, std::chrono::milliseconds wait);

// Every record found lies past a high watermark: waits for the first one that passes a cursor,
// the deadline (answers empty) or the cancel (the reactor's hook).
// The first to fire lets go of the other buckets' waits (an idle bucket would otherwise keep
// one per parked Get until its next record).
void park_on_high_watermark(const std::shared_ptr<GetCall>& c) {
  auto fired = std::make_shared<std::atomic<bool>>(false);
  const uint64_t id = queue::next_waiter_id();
  auto limited = std::make_shared<std::vector<uint32_t>>();
  for (size_t i = 0; i < c->buckets.size(); ++i)
    if (c->limited[i]) limited->push_back(c->buckets[i]);
  auto let_go = [c, limited, id] { c->tracker->cancel_waits(*limited, id); };
  for (size_t i = 0; i < c->buckets.size(); ++i) {
    if (!c->limited[i]) continue;
    c->tracker->wait_for(c->buckets[i], c->offsets[i] + 1, [c, fired, let_go](Status s) {
      if (fired->exchange(true)) return;
      let_go();
      if (!s.ok()) {  // no longer led here: answered empty, the reader asks again
        if (c->claim()) c->done(Status::OK());
        return;
      }
      get_step(c, std::chrono::milliseconds(0));
    }, /*acks=*/false, id);
  }
  // A wait that answered while the others were being registered let go of those before it;
  // these were registered after it.
  if (fired->load()) let_go();
  Scheduler::Default()->schedule_at(c->deadline, [c, fired, let_go] {
    if (fired->exchange(true)) return;
    let_go();
    if (c->claim()) c->done(Status::OK());
  });
}

void get_step(const std::shared_ptr<GetCall>& c, std::chrono::milliseconds wait) {
  queue::fetch(c->actors, c->offsets, c->limit, wait.count() > 0, wait, c->waiter,
               [c](Result<std::vector<RecordBatch>> raw) {
    if (!raw.ok()) {
      if (c->claim()) c->done(raw.status());
      return;
    }
    std::vector<size_t> sizes;
    size_t found = 0;
    bool held_back = false;
    for (size_t i = 0; i < raw->size(); ++i) {
      size_t n = (*raw)[i].size();
      if (c->limited[i]) {
        uint64_t hw = c->tracker->high_watermark(c->buckets[i]).value_or(0);
        size_t visible = hw > c->offsets[i] ? static_cast<size_t>(hw - c->offsets[i]) : 0;
        if (n > visible) {
          n = visible;
          held_back = true;
        }
      }
      sizes.push_back(n);
      found += n;
    }
    if (found == 0 && held_back && std::chrono::steady_clock::now() < c->deadline) return park_on_high_watermark(c);
    if (!c->claim()) return;
    std::vector<size_t> take = queue::fair_shares(sizes, c->limit, 0);
    size_t bytes = 0;
    for (size_t i = 0; i < raw->size(); ++i) {
      size_t n = take[i];
      const RecordBatch& b = (*raw)[i];
      // Stay under the response budget, but always send at least one record.
      while (n > 0 && bytes > 0 && bytes + b.ends()[n - 1] > c->budget) --n;
      if (n == 0) continue;
      auto* out = c->resp->add_buckets();
      out->set_bucket(c->buckets[i]);
      out->set_offset(c->offsets[i]);
      to_wire(b, 0, n, out->mutable_run());
      bytes += b.ends()[n - 1];
    }
    c->done(Status::OK());
  });
}

}  // namespace

struct Service::RpcMetrics {
  metrics::Histogram* latency;
  metrics::Counter* ok;
};

Service::Service(std::shared_ptr<detail::QueueCore> core, Membership* membership, Channels* peers,
                 metrics::Registry* registry, ServiceConfig config)
    : core_(std::move(core)),
      membership_(membership),
      peers_(peers),
      registry_(registry),
      config_(std::move(config)),
      admin_(std::make_unique<asio::thread_pool>(2)),
      movers_(std::make_unique<asio::thread_pool>(2)),
      group_pool_(std::make_unique<asio::thread_pool>(2)) {
  for (const auto& m : membership_->configured())
    if (m.id == core_->manager->self()) self_ = m;
  directory_ = std::make_unique<TopicDirectory>(core_, membership_, peers_, config_.peer_timeout, self_,
                                                config_.replication);
  group_router_ = make_group_router(this);
  core_->groups->set_copier([this](const std::string& topic, const std::string& group,
                                   const groups::Committed* offsets) {
    return copy_group_commits(topic, group, offsets);
  });
  for (int i = 0; i < kMethods; ++i) {
    metrics::Labels l{{"method", kMethodNames[i]}};
    auto m = std::make_unique<RpcMetrics>();
    m->latency = &registry_->histogram("persisting_rpc_duration_seconds", "RPC latency, by method", l);
    m->ok = &registry_->counter("persisting_rpc_requests_total", "RPCs answered, by method and status code",
                                {{"method", kMethodNames[i]}, {"code", "OK"}});
    rpc_metrics_.push_back(std::move(m));
  }
}

Service::~Service() { stop(); }

void Service::stop() {
  if (group_pool_) {
    group_pool_->join();
    group_pool_.reset();
    core_->groups->set_copier(nullptr);  // no group call runs any more (the Kafka listener stopped first)
  }
  if (movers_) {
    movers_->join();
    movers_.reset();
  }
  if (admin_) {
    admin_->join();
    admin_.reset();
  }
}

void Service::post_admin(std::function<void()> work) { asio::post(*admin_, std::move(work)); }

Status Service::authorize(grpc::CallbackServerContext* ctx) const {
  if (config_.token.empty()) return Status::OK();
  const auto& md = ctx->client_metadata();
  auto it = md.find("authorization");
  if (it == md.end())
    return Status(Code::kUnauthenticated, "node " + self_.id.str() + ": this node requires an access token");
  std::string got(it->second.data(), it->second.size());
  std::string want = "Bearer " + config_.token;
  // Compare in time independent of where the first difference is.
  unsigned char diff = got.size() != want.size();
  for (size_t i = 0; i < got.size() && i < want.size(); ++i) diff |= static_cast<unsigned char>(got[i] ^ want[i]);
  if (diff) return Status(Code::kUnauthenticated, "node " + self_.id.str() + ": wrong access token");
  return Status::OK();
}

std::function<void(const Status&)> Service::recorder(int method) {
  auto start = std::chrono::steady_clock::now();
  RpcMetrics* m = rpc_metrics_[method].get();
  metrics::Registry* reg = registry_;
  return [start, m, reg, method](const Status& s) {
    m->latency->observe(seconds_since(start));
    if (s.ok()) {
      m->ok->inc();
    } else {
      reg->counter("persisting_rpc_requests_total", "RPCs answered, by method and status code",
                   {{"method", kMethodNames[method]}, {"code", std::string(code_name(s.code()))}})
          .inc();
    }
  };
}

Service::Done Service::finisher(int method, grpc::ServerUnaryReactor* reactor) {
  return [reactor, record = recorder(method)](Status s) {
    record(s);
    reactor->Finish(to_grpc(s));
  };
}

grpc::ServerUnaryReactor* Service::unary(int method, grpc::CallbackServerContext* ctx,
                                         std::function<void(Done)> body) {
  auto* reactor = ctx->DefaultReactor();
  Done done = finisher(method, reactor);
  if (Status a = authorize(ctx); !a.ok()) {
    done(a);
    return reactor;
  }
  body(std::move(done));
  return reactor;
}

// ---- topics -------------------------------------------------------------------------------

void Service::describe(const TopicEntry& t, v1::TopicSpec* spec) const {
  to_wire(t.info, spec);
  // The retention limits now: AlterTopic changes them after the entry was made.
  auto limits = core_->retention_limits(t.info);
  Retention r;
  if (limits->records() > 0) r.records = limits->records();
  if (limits->bytes() > 0) r.bytes = limits->bytes();
  if (limits->ms() > 0) r.ms = limits->ms();
  if (limits->interest()) r.policy = RetentionPolicy::kInterest;
  if (r.any()) to_wire(r, spec->mutable_retention());
  else spec->clear_retention();
  auto p = t.placement();
  for (const auto& m : p->members) spec->add_placement(m.id.str());
  for (const auto& [id, zone] : p->zones()) (*spec->mutable_placement_zones())[id] = zone;
  spec->set_placement_epoch(p->epoch);
  if (kafka_topic_) spec->set_kafka(kafka_topic_(t.info.topic));
}

void Service::with_topic(const std::string& name, std::function<void(Result<std::shared_ptr<TopicEntry>>)> cb) {
  if (auto e = directory_->cached(name)) return cb(std::move(e));
  post_admin([this, name, cb = std::move(cb)] { cb(directory_->find(name, /*forward=*/true)); });
}

grpc::ServerUnaryReactor* Service::CreateTopic(grpc::CallbackServerContext* ctx, const v1::CreateTopicRequest* req,
                                               v1::CreateTopicResponse* resp) {
  return unary(kCreateTopic, ctx, [this, req, resp](Done done) {
    post_admin([this, req, resp, done] {
      std::vector<std::string> ids(req->spec().placement().begin(), req->spec().placement().end());
      Zones zones(req->spec().placement_zones().begin(), req->spec().placement_zones().end());
      auto e = directory_->remember(from_wire(req->spec()), std::move(ids), req->spec().placement_epoch(),
                                    req->spec().kafka(), std::move(zones));
      if (!e.ok()) return done(e.status().with_context("node " + self_.id.str()));
      if (!req->local_only()) {
        for (const auto& m : membership_->configured()) {
          if (m.id == self_.id) continue;
          grpc::ClientContext pctx;
          peers_->prepare(&pctx, config_.peer_timeout);
          v1::CreateTopicRequest fwd;
          describe(**e, fwd.mutable_spec());
          fwd.set_local_only(true);
          v1::CreateTopicResponse presp;
          Status s = from_grpc(peers_->stub(m.address)->CreateTopic(&pctx, fwd, &presp),
                               "node " + m.id.str() + " at " + m.address);
          if (s.code() == Code::kUnavailable || s.code() == Code::kDeadlineExceeded)
            resp->add_unreached_members(m.id.str());  // it learns the topic on first use
          else if (!s.ok())
            return done(s);
        }
      }
      describe(**e, resp->mutable_topic());
      done(Status::OK());
    });
  });
}

grpc::ServerUnaryReactor* Service::GetTopic(grpc::CallbackServerContext* ctx, const v1::GetTopicRequest* req,
                                            v1::GetTopicResponse* resp) {
  return unary(kGetTopic, ctx, [this, req, resp](Done done) {
    post_admin([this, req, resp, done] {
      auto e = directory_->find(req->topic(), !req->local_only());
      if (!e.ok()) return done(e.status());
      describe(**e, resp->mutable_topic());
      done(Status::OK());
    });
  });
}

grpc::ServerUnaryReactor* Service::DeleteTopic(grpc::CallbackServerContext* ctx, const v1::DeleteTopicRequest* req,
                                               v1::DeleteTopicResponse* resp) {
  return unary(kDeleteTopic, ctx, [this, req, resp](Done done) {
    post_admin([this, req, resp, done] {
      if (!req->local_only()) return done(delete_everywhere(*req, resp));
      std::optional<uint64_t> incarnation;
      if (req->has_incarnation()) incarnation = req->incarnation();
      auto deleted = core_->delete_topic(req->topic(), incarnation);
      if (!deleted.ok()) return done(deleted.status().with_context("node " + self_.id.str()));
      to_wire(*deleted, resp->mutable_topic());
      resp->add_deleted_on(self_.id.str());
      done(Status::OK());
    });
  });
}

Status Service::delete_topic_everywhere(const std::string& topic) {
  v1::DeleteTopicRequest req;
  req.set_topic(topic);
  v1::DeleteTopicResponse resp;
  return delete_everywhere(req, &resp);
}

Status Service::delete_everywhere(const v1::DeleteTopicRequest& req, v1::DeleteTopicResponse* resp) {
  const std::string& name = req.topic();
  RETURN_IF_ERROR(validate_topic_name(name));
  std::optional<uint64_t> incarnation;
  if (req.has_incarnation()) incarnation = req.incarnation();
  // This node's copy first: it says which incarnation the others are to delete.
  auto here = core_->delete_topic(name, incarnation);
  if (here.ok()) {
    incarnation = here->incarnation;
    to_wire(*here, resp->mutable_topic());
    resp->add_deleted_on(self_.id.str());
  } else if (here.status().code() != Code::kNotFound) {
    return here.status().with_context("node " + self_.id.str());
  }
  auto send = [&](const runtime::Member& m) {
    grpc::ClientContext pctx;
    peers_->prepare(&pctx, config_.peer_timeout);
    v1::DeleteTopicRequest fwd;
    fwd.set_topic(name);
    fwd.set_local_only(true);
    if (incarnation) fwd.set_incarnation(*incarnation);
    v1::DeleteTopicResponse presp;
    Status s = from_grpc(peers_->stub(m.address)->DeleteTopic(&pctx, fwd, &presp),
                         "node " + m.id.str() + " at " + m.address);
    if (s.ok()) {
      resp->add_deleted_on(m.id.str());
      if (!resp->has_topic()) *resp->mutable_topic() = presp.topic();
    }
    return s;
  };
  auto done_on = [&] { return std::vector<std::string>(resp->deleted_on().begin(), resp->deleted_on().end()); };
  return change_on_members(name, "topic '" + name + "' was deleted", "delete", req.has_incarnation(),
                           here.ok() ? Status::OK() : here.status(), send, done_on);
}

Status Service::change_on_members(const std::string& topic, const std::string& what, const std::string& again,
                                  bool named_incarnation, const Status& here,
                                  const std::function<Status(const runtime::Member&)>& send,
                                  const std::function<std::vector<std::string>()>& done_on) {
  std::string asked = self_.id.str(), unreached;
  Status unreached_error;
  for (const auto& m : membership_->configured()) {
    if (m.id == self_.id) continue;
    asked += ", " + m.id.str();
    Status s = send(m);
    if (s.ok() || s.code() == Code::kNotFound) continue;  // done there, or it has no copy (of this incarnation)
    if (s.code() != Code::kUnavailable && s.code() != Code::kDeadlineExceeded) return s;
    unreached += (unreached.empty() ? "" : ", ") + m.id.str();
    if (unreached_error.ok()) unreached_error = s;
  }
  const std::vector<std::string> done = done_on();
  if (!unreached.empty()) {
    std::string list;
    for (const auto& id : done) list += (list.empty() ? "" : ", ") + id;
    return Unavailable(what + " on " + (list.empty() ? "no node" : list) + " but not on " + unreached + " (" +
                       unreached_error.message() + "): " + again + " it again once they are back");
  }
  if (done.empty())  // no member had it: here failed with NotFound
    return named_incarnation ? here : NotFound("topic '" + topic + "' does not exist (asked nodes " + asked + ")");
  return Status::OK();
}

grpc::ServerUnaryReactor* Service::GetBucket(grpc::CallbackServerContext* ctx, const v1::GetBucketRequest* req,
                                             v1::GetBucketResponse* resp) {
  return unary(kGetBucket, ctx, [this, req, resp](Done done) {
    with_topic(req->topic(), [this, req, resp, done](Result<std::shared_ptr<TopicEntry>> e) {
      if (!e.ok()) return done(e.status());
      if (Status s = check_bucket(**e, req->bucket()); !s.ok()) return done(s);
      auto o = directory_->owner(**e, req->bucket());
      if (!o.ok()) return done(o.status());
      if (std::string why = membership_->down_reason(o->id); !why.empty()) {
        // A replicated bucket under etcd elections: an in-sync replica takes over (docs/cluster.md,
        // "Failover with etcd"), so the client sends its put again (settling) until then.
        const bool electing = (*e)->info.replication_factor > 1 && membership_->elections() != nullptr;
        return done(Unavailable(bucket_name(req->topic(), req->bucket()) + ": owner " + o->id.str() + " (" +
                                o->address + ") unavailable: " + why +
                                (electing ? "; another replica is taking over: retry shortly" : "")));
      }
      v1::Member* m = o->id == self_.id ? resp->mutable_ready()->mutable_owner()
                                        : resp->mutable_redirect()->mutable_owner();
      m->set_id(o->id.str());
      m->set_address(o->address);
      done(Status::OK());
    });
  });
}

// ---- put / get ----------------------------------------------------------------------------

grpc::ServerUnaryReactor* Service::Put(grpc::CallbackServerContext* ctx, const v1::PutRequest* req,
                                       v1::PutResponse* resp) {
  return unary(kPut, ctx, [this, req, resp](Done done) {
    with_topic(req->topic(), [this, req, resp, done](Result<std::shared_ptr<TopicEntry>> e) {
      if (!e.ok()) return done(e.status());
      TopicEntry& t = **e;
      const TopicInfo& info = t.info;
      if (req->has_incarnation() && req->incarnation() != info.incarnation)
        return done(NotFound(runtime::deleted_message(info.topic, req->incarnation())));
      const int n = req->buckets_size();
      if (n == 0) return done(InvalidArgument("topic '" + info.topic + "': a put that names no bucket"));
      struct Part {
        std::shared_ptr<runtime::BucketStorage> actor;
        RecordBatch batch;
      };
      // Check every run before applying any: a refused put changes nothing. The fence lock is
      // held until the runs are handed to their actors (see Fences in fences.h).
      std::shared_lock fence_lock(t.fences.mu);
      // A replicated topic's put waits for the in-sync replicas unless it asks for the leader only.
      const bool acks_all = t.tracker && req->acks() != v1::ACKS_LEADER;
      std::vector<Part> parts(n);
      for (int i = 0; i < n; ++i) {
        const auto& br = req->buckets(i);
        const uint32_t bucket = br.bucket();
        for (int j = 0; j < i; ++j)
          if (req->buckets(j).bucket() == bucket)
            return done(InvalidArgument(bucket_name(info.topic, bucket) + " appears twice in one put"));
        auto actor = directory_->local_bucket(t, bucket);
        if (!actor.ok()) return done(actor.status());
        if (t.tracker) {
          if (Status s = directory_->check_confirmed(t, bucket); !s.ok()) return done(s);
          // With etcd: only while this node holds the bucket's leader key under a valid lease.
          if (Status s = directory_->check_leads(t, bucket); !s.ok()) return done(s);
        }
        if (auto m = t.fences.moving.find(bucket); m != t.fences.moving.end())
          return done(Unavailable(bucket_name(info.topic, bucket) + " is moving to " + m->second +
                                  " (a rebalance is in progress; reads go on): retry shortly"));
        auto batch = from_wire(br.run(), bucket_name(info.topic, bucket), info, bucket);
        if (!batch.ok()) return done(batch.status());
        if (t.tracker) {
          if (Status s = ensure_in_sync_set(t, bucket, **actor); !s.ok()) return done(s);
          if (acks_all)
            if (Status s = t.tracker->check_acks_all(bucket); !s.ok()) return done(s);
        }
        parts[i] = Part{std::move(actor).value(), std::move(batch).value()};
      }
      for (int i = 0; i < n; ++i) {
        auto* a = resp->add_buckets();
        a->set_bucket(req->buckets(i).bucket());
        a->set_count(static_cast<uint32_t>(parts[i].batch.size()));
      }
      // Counted as in flight from here (under the fence lock), so a fence waits for them.
      for (int i = 0; i < n; ++i) t.fences.put_started(req->buckets(i).bucket());
      TopicEntry* tp = &t;  // topic entries live as long as the service
      auto shared_parts = std::make_shared<std::vector<Part>>(std::move(parts));
      auto apply_all = [this, req, resp, done, tp, shared_parts, n, acks_all]() {
        struct Gather {
          std::mutex mu;
          int left;
          Status first;
        };
        auto g = std::make_shared<Gather>();
        g->left = n;
        const TopicInfo& info = tp->info;
        // The parts share one group commit of the data dir's node log (one fdatasync under
        // wal_sync_mode=always, not one per bucket): it starts once every bucket has its part.
        std::shared_ptr<void> plug = n > 1 ? NodeLogHost::plug(core_->env, core_->options.data_dir) : nullptr;
        for (int i = 0; i < n; ++i) {
          const auto& br = req->buckets(i);
          const uint32_t bucket = br.bucket();
          std::string key;
          if (req->producer_id() != 0)
            key = PutDedup::key(info.topic, br.bucket(), req->producer_id());
          std::string what = bucket_name(info.topic, br.bucket()) + ": producer " + std::to_string(req->producer_id());
          const uint64_t count = (*shared_parts)[i].batch.size();
          auto finish = [g, resp, done, i](Result<Offset> r, bool duplicate) {
            bool last;
            {
              std::lock_guard<std::mutex> lock(g->mu);
              if (r.ok()) {
                auto* a = resp->mutable_buckets(i);
                a->set_first_offset(r->value());
                a->set_duplicate(duplicate);
              } else if (g->first.ok()) {
                g->first = r.status();
              }
              last = --g->left == 0;
            }
            if (last) done(g->first);
          };
          dedup_.apply(key, br.sequence(), what, std::move((*shared_parts)[i].actor), std::move((*shared_parts)[i].batch),
                [this, tp, bucket, count, acks_all, finish](Result<Offset> r, bool duplicate) {
            tp->fences.put_answered(bucket);
            if (r.ok() && tp->tracker) {
              // The leader has the records durably; under acks=all every in-sync replica must
              // too (a duplicate as well: its first put may not be replicated yet).
              const uint64_t end = r->value() + count;
              tp->tracker->leader_appended(bucket, end);
              // No acknowledgment once this node's etcd lease may have expired (fencing).
              if (acks_all)
                return tp->tracker->wait_for(bucket, end, [this, tp, bucket, finish, r, duplicate](Status s) {
                  if (s.ok()) s = directory_->check_leads(*tp, bucket);
                  if (!s.ok()) return finish(s, false);
                  finish(r, duplicate);
                }, /*acks=*/true);
              if (Status s = directory_->check_leads(*tp, bucket); !s.ok()) return finish(s, false);
            }
            finish(std::move(r), duplicate);
          }, plug);
        }
      };
      // A put of several buckets (or one whose client numbers its records) is first checked by
      // every bucket's backend (types against its schema, ...): a run one bucket refuses fails
      // the whole request before any bucket appends.
      bool numbered = false;
      for (int i = 0; i < n; ++i) numbered = numbered || req->buckets(i).record_numbers_size() > 0;
      bool any_checks = false;  // buckets whose backend accepts everything need no check round
      for (const auto& p : *shared_parts) any_checks = any_checks || p.actor->checks_batches();
      if ((n < 2 && !numbered) || !any_checks) return apply_all();  // the fence lock still held
      // The check round answers later, on the actors' threads: the runs are counted in flight
      // already (put_started), so a fence set meanwhile waits for them.
      fence_lock.unlock();
      struct Check {
        std::mutex mu;
        int left;
        Status first;
        std::vector<std::vector<uint64_t>> numbers;
      };
      auto c = std::make_shared<Check>();
      c->left = 0;
      for (const auto& p : *shared_parts) c->left += p.actor->checks_batches() ? 1 : 0;
      c->numbers.resize(n);
      for (int i = 0; i < n; ++i) {
        const auto& br = req->buckets(i);
        auto& nums = c->numbers[i];
        if (static_cast<size_t>(br.record_numbers_size()) == (*shared_parts)[i].batch.size()) {
          nums.assign(br.record_numbers().begin(), br.record_numbers().end());
        } else {
          for (size_t k = 0; k < (*shared_parts)[i].batch.size(); ++k) nums.push_back(k);
        }
      }
      for (int i = 0; i < n; ++i) {
        const uint32_t bucket = req->buckets(i).bucket();
        if (!(*shared_parts)[i].actor->checks_batches()) continue;
        (*shared_parts)[i].actor->check(&(*shared_parts)[i].batch, &c->numbers[i],
                                        [c, bucket, tp, req, done, apply_all, n](Status st) {
          bool last;
          {
            std::lock_guard<std::mutex> lock(c->mu);
            if (!st.ok() && c->first.ok())
              c->first = Status(st.code(), bucket_name(tp->info.topic, bucket) + ": " + st.message() +
                                               "; nothing of the request was written");
            last = --c->left == 0;
          }
          if (!last) return;
          if (c->first.ok()) return apply_all();
          for (int j = 0; j < n; ++j) tp->fences.put_answered(req->buckets(j).bucket());
          done(c->first);
        });
      }
    });
  });
}

grpc::ServerUnaryReactor* Service::Get(grpc::CallbackServerContext* ctx, const v1::GetRequest* req,
                                       v1::GetResponse* resp) {
  auto* reactor = new GetReactor();
  Done done = finisher(kGet, reactor);
  if (Status a = authorize(ctx); !a.ok()) {
    done(a);
    return reactor;
  }
  with_topic(req->topic(), [this, req, resp, done, reactor](Result<std::shared_ptr<TopicEntry>> e) {
    if (!e.ok()) return done(e.status());
    TopicEntry& t = **e;
    if (req->has_incarnation() && req->incarnation() != t.info.incarnation)
      return done(NotFound(runtime::deleted_message(t.info.topic, req->incarnation())));
    if (req->limit() == 0 || req->limit() > config_.max_get_limit)
      return done(InvalidArgument("topic '" + t.info.topic + "': get limit " + std::to_string(req->limit()) +
                                  " is not in [1, " + std::to_string(config_.max_get_limit) + "]"));
    auto call = std::make_shared<GetCall>();
    for (const auto& c : req->cursors()) {
      for (uint32_t seen : call->buckets)
        if (seen == c.bucket()) return done(InvalidArgument(bucket_name(t.info.topic, seen) + " is listed twice"));
      auto a = directory_->local_bucket(t, c.bucket());
      if (!a.ok()) return done(a.status());
      if (t.tracker) {
        if (Status s = directory_->check_confirmed(t, c.bucket()); !s.ok()) return done(s);
        if (Status s = ensure_in_sync_set(t, c.bucket(), **a); !s.ok()) return done(s);
      }
      call->actors.push_back(std::move(a).value());
      call->offsets.push_back(c.offset());
      call->buckets.push_back(c.bucket());
      call->limited.push_back(t.tracker != nullptr);
    }
    uint32_t wait_ms = std::min(req->wait_ms(), config_.max_wait_ms);
    call->tracker = t.tracker.get();
    call->waiter = queue::next_waiter_id();
    call->limit = req->limit();
    call->budget = config_.max_response_bytes;
    call->deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
    call->resp = resp;
    call->done = done;
    reactor->arm(call->actors, call->waiter);
    if (t.tracker)
      reactor->on_cancel([call] {
        if (call->claim()) call->done(Status::OK());
      });
    get_step(call, std::chrono::milliseconds(wait_ms));
  });
  return reactor;
}

// ---- replication: a follower pulls from the leader -----------------------------------------

namespace {

// A unary Replicate: its parked round answers at once when the call is cancelled.
class ReplicateReactor : public grpc::ServerUnaryReactor {
 public:
  CancelHook hook;
  void OnCancel() override { hook.cancel(); }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerUnaryReactor* Service::Replicate(grpc::CallbackServerContext* ctx, const v1::ReplicateRequest* req,
                                             v1::ReplicateResponse* resp) {
  auto* reactor = new ReplicateReactor();
  Done done = finisher(kReplicate, reactor);
  if (Status a = authorize(ctx); !a.ok()) {
    done(a);
    return reactor;
  }
  replicate(req, resp, &reactor->hook, std::move(done));
  return reactor;
}

void Service::replicate(const v1::ReplicateRequest* req, v1::ReplicateResponse* resp, CancelHook* on_cancel,
                        Done done) {
  // The topics' entries: at once when cached (the usual case: this node leads their buckets),
  // else looked up on the admin pool (it may ask other members).
  bool cached = true;
  for (const auto& rb : req->buckets())
    if (!directory_->cached(rb.topic())) cached = false;
  auto body = [this, req, resp, done, on_cancel, cached] {
    std::map<std::string, Result<std::shared_ptr<TopicEntry>>> topics;
    auto topic = [&](const std::string& name) -> Result<std::shared_ptr<TopicEntry>> {
      auto it = topics.find(name);
      if (it == topics.end()) {
        Result<std::shared_ptr<TopicEntry>> e = cached ? Result<std::shared_ptr<TopicEntry>>(directory_->cached(name))
                                                       : directory_->find(name, /*forward=*/true);
        if (e.ok() && !*e) e = NotFound("topic '" + name + "' is not known here");
        it = topics.emplace(name, std::move(e)).first;
      }
      return it->second;
    };
    const NodeId follower(req->follower());
    bool at_once = false;  // answer without parking
    // Each bucket on its own: one refused (another epoch, not led here) is answered with its
    // error, the others as usual.
    auto serves = [&](TopicEntry& t, int i) -> Result<std::shared_ptr<runtime::BucketStorage>> {
      const auto& rb = req->buckets(i);
      const uint32_t b = rb.bucket();
      RETURN_IF_ERROR(check_bucket(t, b));
      if (rb.incarnation() != t.info.incarnation) return NotFound(runtime::deleted_message(t.info.topic, rb.incarnation()));
      if (t.info.replication_factor <= 1)
        return FailedPrecondition("topic '" + t.info.topic + "' is not replicated (replication_factor 1)");
      std::vector<NodeId> replicas = directory_->replicas(t, b);
      const Leadership lead = directory_->leader(t, b);
      if (lead.leader != self_.id)
        return FailedPrecondition(bucket_name(t.info.topic, b) + " is led by " + lead.leader.str() + " at epoch " +
                                  std::to_string(lead.epoch) + ", not " + self_.id.str());
      if (follower == self_.id || std::find(replicas.begin(), replicas.end(), follower) == replicas.end())
        return InvalidArgument(bucket_name(t.info.topic, b) + ": node '" + req->follower() +
                               "' is not one of its followers");
      // Leader epochs (docs/cluster.md, "Manual failover"): both sides must be at the same one.
      // A follower that knows a newer epoch tells this node its record is stale: it compares its
      // records with the other members again (and serves no put meanwhile).
      if (rb.leader_epoch() != lead.epoch) {
        if (rb.leader_epoch() > lead.epoch) t.confirmed = false;
        return FailedPrecondition(bucket_name(t.info.topic, b) + ": follower " + req->follower() +
                                  " is at leader epoch " + std::to_string(rb.leader_epoch()) + ", leader " +
                                  self_.id.str() + " at epoch " + std::to_string(lead.epoch));
      }
      ASSIGN_OR_RETURN(auto actor, directory_->local_bucket(t, b));
      RETURN_IF_ERROR(ensure_in_sync_set(t, b, *actor));
      // The follower's log end, reported after its own durable append: it may complete acks=all
      // puts and move the high watermark.
      const bool was_in_sync = t.tracker->in_sync(b, follower);
      RETURN_IF_ERROR(t.tracker->follower_fetched(b, follower, rb.log_end()));
      // A follower that joins the in-sync set with this call hears so at once, not a parked wait
      // later: should this leader be lost meanwhile, what it last heard decides whether it may
      // be elected cleanly (src/net/elect.cc).
      if (!was_in_sync && t.tracker->in_sync(b, follower)) at_once = true;
      resp->mutable_buckets(i)->set_leader_epoch(lead.epoch);
      return actor;
    };
    // The buckets answered (indexes into the request), their actors and entries.
    std::vector<int> live;
    queue::Actors actors;
    std::vector<uint64_t> from;
    std::vector<TopicEntry*> entries;  // topic entries live as long as the service
    std::vector<uint32_t> ids;         // their bucket numbers
    std::vector<ReplicaTracker*> trackers;  // their topics' in-sync sets (as long as the entries)
    for (int i = 0; i < req->buckets_size(); ++i) resp->add_buckets();
    for (int i = 0; i < req->buckets_size(); ++i) {
      const auto& rb = req->buckets(i);
      auto* out = resp->mutable_buckets(i);
      auto e = topic(rb.topic());
      Result<std::shared_ptr<runtime::BucketStorage>> actor =
          e.ok() ? serves(**e, i) : Result<std::shared_ptr<runtime::BucketStorage>>(e.status());
      if (!actor.ok()) {
        out->set_error_code(static_cast<uint32_t>(actor.status().code()));
        out->set_error(actor.status().message());
        at_once = true;  // the follower drops it and goes on with the others now
        continue;
      }
      // Producer entries the follower can install now (their records are there): answered at
      // once, so that it does not learn them a parked call later.
      if (!at_once && !dedup_.changes_since(rb.topic(), rb.bucket(), rb.producers_session(), rb.producers_version(),
                                            rb.log_end(), 1).states.empty())
        at_once = true;
      out->set_offset(rb.log_end());
      live.push_back(i);
      actors.push_back(std::move(actor).value());
      from.push_back(rb.log_end());
      entries.push_back(e->get());
      ids.push_back(rb.bucket());
      trackers.push_back((*e)->tracker.get());
    }
    if (registry_)
      registry_->gauge("persisting_replicate_buckets", "Buckets in the follower's last Replicate call to this node",
                       {{"follower", req->follower()}})
          .set(static_cast<double>(req->buckets_size()));
    if (live.empty()) return done(Status::OK());
    size_t limit = std::clamp<uint32_t>(req->max_records(), 1, config_.max_get_limit);
    // Parked at most a third of replica_lag_max_ms: a caught-up follower asks again (and stays
    // in sync) well within it.
    uint32_t wait_ms = at_once ? 0
                               : std::min<uint32_t>({req->wait_ms(), config_.max_wait_ms,
                                                     static_cast<uint32_t>(config_.replication.lag_max.count() / 3)});
    auto answer = [this, req, resp, done, live = std::move(live), from, entries = std::move(entries),
                   follower](Result<std::vector<RecordBatch>> raw) {
      if (!raw.ok()) return done(raw.status());
      size_t budget = config_.max_response_bytes;  // over every bucket's run
      bool shipped = false;
      for (size_t k = 0; k < live.size(); ++k) {
        const auto& rb = req->buckets(live[k]);
        auto* out = resp->mutable_buckets(live[k]);
        TopicEntry* tp = entries[k];
        const uint32_t b = rb.bucket();
        const RecordBatch& batch = (*raw)[k];
        size_t n = batch.size();
        while (n > 0 && batch.ends()[n - 1] > budget) --n;  // under the budget
        if (n == 0 && batch.size() > 0 && !shipped) n = 1;    // at least one record per answer
        if (n > 0) {
          budget -= std::min(budget, static_cast<size_t>(batch.ends()[n - 1]));
          shipped = true;
          to_wire(batch, 0, n, out->mutable_run());
        }
        // The leader holds what it read (also records appended without a Put: Kafka produces).
        tp->tracker->leader_appended(b, from[k] + batch.size());
        out->set_leader_end(from[k] + batch.size());
        // The producers' entries whose records the follower has once it appended these (taken
        // after the read: a put applied meanwhile goes with the next answer).
        PutDedup::Changes ch = dedup_.changes_since(tp->info.topic, b, rb.producers_session(), rb.producers_version(),
                                                    from[k] + n, kMaxProducerStates);
        for (const auto& st : ch.states) {
          auto* p = out->add_producers();
          p->set_producer_id(st.producer_id);
          p->set_sequence(st.sequence);
          p->set_first_offset(st.first_offset);
          p->set_count(st.count);
          p->set_kafka_state(st.kafka_state);
        }
        out->set_producers_session(ch.session);
        out->set_producers_version(ch.through);
        out->set_high_watermark(tp->tracker->high_watermark(b).value_or(0));
        out->set_in_sync(tp->tracker->in_sync(b, follower));
      }
      done(Status::OK());
    };
    // Reads the buckets in `which` (the others answer empty runs), then answers.
    auto read = [actors, from, limit, answer](const std::vector<bool>& which) {
      queue::Actors sub;
      std::vector<uint64_t> offsets;
      for (size_t k = 0; k < which.size(); ++k)
        if (which[k]) {
          sub.push_back(actors[k]);
          offsets.push_back(from[k]);
        }
      queue::fetch(std::move(sub), offsets, limit, false, std::chrono::milliseconds(0), 0,
                   [which, answer](Result<std::vector<RecordBatch>> raw) {
        if (!raw.ok()) return answer(std::move(raw));
        std::vector<RecordBatch> all(which.size());
        for (size_t k = 0, j = 0; k < which.size(); ++k)
          if (which[k]) all[k] = std::move((*raw)[j++]);
        answer(std::move(all));
      });
    };
    // The buckets with records past the follower's end, as their in-sync sets know (every
    // append to a bucket this node leads tells its set): only those are read. None: every one.
    auto known = [from, ids, trackers]() {
      std::vector<bool> which(ids.size());
      bool any = false;
      for (size_t k = 0; k < ids.size(); ++k) {
        which[k] = trackers[k]->leader_end(ids[k]).value_or(0) > from[k];
        any = any || which[k];
      }
      if (!any) which.assign(ids.size(), true);
      return std::make_pair(which, any);
    };
    auto [which, any] = known();
    if (any || wait_ms == 0) return read(which);
    // Parked (in the sets, not in the buckets' actors: a call lists every bucket a follower
    // follows from this node, most of them idle): woken by the first bucket whose leader end
    // passes the follower's, which reads every bucket known to have records then; at the end of
    // the wait, or when the call is cancelled, every bucket is read.
    // The end of the wait is a task on the process pool, cancelled when records come first: a
    // call answered early leaves no task behind whose run, a wait later, would wake a pool thread
    // for nothing (there is one such call per replication round, hundreds a second).
    struct Park {
      std::atomic<bool> fired{false};
      std::mutex mu;
      std::optional<Scheduler::TaskId> timer;  // under mu
    };
    auto park = std::make_shared<Park>();
    const uint64_t id = queue::next_waiter_id();
    // Each topic's set once (trackers has one entry per bucket).
    std::vector<ReplicaTracker*> sets = trackers;
    std::sort(sets.begin(), sets.end());
    sets.erase(std::unique(sets.begin(), sets.end()), sets.end());
    // Shared by every bucket's waiter, the hook and the timer: each holds a pointer, not a copy
    // of what it captures (vectors as long as the call's bucket list, so a copy per bucket made
    // a round's cost grow with the square of the buckets a follower follows).
    auto fire = std::make_shared<const std::function<void(bool)>>([park, id, sets, known, read](bool all) {
      if (park->fired.exchange(true)) return;
      if (!all) {
        std::optional<Scheduler::TaskId> timer;
        {
          std::lock_guard<std::mutex> lock(park->mu);
          timer.swap(park->timer);
        }
        if (timer) Scheduler::Default()->cancel(*timer);
      }
      for (ReplicaTracker* t : sets) t->cancel_records(id);
      auto [which, any] = known();
      read(all ? std::vector<bool>(which.size(), true) : which);
    });
    // Before any waiter can answer the round: once answered, gRPC may delete the reactor (this
    // body may run on the admin pool, after the handler returned), or the stream's next round may
    // set its hook, so nothing below touches it.
    on_cancel->set([fire] { (*fire)(true); });
    for (size_t k = 0; k < ids.size() && !park->fired.load(); ++k)
      trackers[k]->wait_records(ids[k], from[k], id, [fire] { (*fire)(false); });
    if (park->fired.load()) {
      for (ReplicaTracker* t : sets) t->cancel_records(id);  // registered after it fired
      return;
    }
    Scheduler::TaskId timer = Scheduler::Default()->schedule_at(
        std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms), [fire] { (*fire)(true); });
    {
      std::lock_guard<std::mutex> lock(park->mu);
      if (!park->fired.load()) park->timer = timer;
    }
    if (park->fired.load()) Scheduler::Default()->cancel(timer);  // fired meanwhile: no task left
  };
  if (cached)
    body();
  else
    post_admin(std::move(body));
}

Status Service::ensure_in_sync_set(TopicEntry& t, uint32_t bucket, runtime::BucketStorage& actor) {
  if (!t.tracker || t.tracker->has(bucket)) return Status::OK();
  // Once per bucket and leadership: the leader's record count (asks the actor, blocks).
  ASSIGN_OR_RETURN(uint64_t end, total_count(actor));
  // The leader first (after an election it need not be the first replica).
  std::vector<NodeId> replicas = directory_->replicas(t, bucket);
  const NodeId lead = directory_->leader(t, bucket).leader;
  std::stable_partition(replicas.begin(), replicas.end(), [&](const NodeId& r) { return r == lead; });
  t.tracker->create(bucket, std::move(replicas), end);
  return Status::OK();
}

// ---- admin --------------------------------------------------------------------------------

grpc::ServerUnaryReactor* Service::Flush(grpc::CallbackServerContext* ctx, const v1::FlushRequest* req,
                                         v1::FlushResponse*) {
  return unary(kFlush, ctx, [this, req](Done done) {
    post_admin([this, req, done] {
      std::vector<std::shared_ptr<runtime::BucketStorage>> actors;
      for (const auto& ref : core_->manager->list_buckets())
        if (req->topic().empty() || ref.topic == req->topic())
          if (auto a = core_->manager->find(ref.topic, ref.bucket)) actors.push_back(std::move(a));
      done(detail::flush_actors(actors));
    });
  });
}

grpc::ServerUnaryReactor* Service::Stats(grpc::CallbackServerContext* ctx, const v1::StatsRequest* req,
                                         v1::StatsResponse* resp) {
  return unary(kStats, ctx, [this, req, resp](Done done) {
    post_admin([this, req, resp, done] {
      auto e = directory_->find(req->topic(), true);
      if (!e.ok()) return done(e.status());
      std::vector<uint32_t> buckets(req->buckets().begin(), req->buckets().end());
      if (buckets.empty())
        for (uint32_t b = 0; b < (*e)->info.num_buckets; ++b)
          if (directory_->leader(**e, b).leader == self_.id)
            buckets.push_back(b);
      std::vector<std::shared_ptr<runtime::BucketStorage>> actors;
      for (uint32_t b : buckets) {
        auto a = directory_->local_bucket(**e, b);
        if (!a.ok()) return done(a.status());
        actors.push_back(std::move(a).value());
      }
      for (const BucketStats& s : runtime::stats_of(actors)) {
        Object o = s.to_object();
        o.set("node", self_.id.str());
        resp->add_bucket_stats_json(to_json(Value(std::move(o))));
      }
      done(Status::OK());
    });
  });
}

grpc::ServerUnaryReactor* Service::ClusterStatus(grpc::CallbackServerContext* ctx, const v1::ClusterStatusRequest* req,
                                                 v1::ClusterStatusResponse* resp) {
  return unary(kClusterStatus, ctx, [this, req, resp](Done done) {
    post_admin([this, req, resp, done] {
      resp->set_self(self_.id.str());
      resp->set_membership(membership_->kind());
      for (const auto& s : membership_->states(*peers_)) {
        auto* m = resp->add_members();
        m->mutable_member()->set_id(s.member.id.str());
        m->mutable_member()->set_address(s.member.address);
        m->mutable_member()->set_zone(s.member.zone);
        m->set_alive(s.alive);
        m->set_detail(s.detail);
      }
      if (!req->topic().empty()) {
        auto e = directory_->find(req->topic(), true);
        if (!e.ok()) return done(e.status());
        auto p = (*e)->placement();
        for (uint32_t b = 0; b < (*e)->info.num_buckets; ++b) {
          auto* o = resp->add_ownership();
          o->set_bucket(b);
          o->set_owner(p->owner(req->topic(), b).str());
          std::vector<NodeId> replicas = directory_->replicas(**e, b);
          for (const NodeId& r : replicas) o->add_replicas(r.str());
          const Leadership lead = directory_->leader(**e, b);
          o->set_leader(lead.leader.str());
          o->set_leader_epoch(lead.epoch);
          if (replicas.size() > 1 && lead.leader == self_.id && (*e)->confirmed) {
            // This node leads the bucket: its own count and what each follower last reported.
            auto actor = directory_->local_bucket(**e, b);
            if (!actor.ok()) return done(actor.status());
            if (Status s = ensure_in_sync_set(**e, b, **actor); !s.ok()) return done(s);
            auto end = total_count(**actor);
            if (!end.ok()) return done(end.status());
            (*e)->tracker->leader_appended(b, *end);
            if (auto snap = (*e)->tracker->snapshot(b)) {
              for (const auto& r : snap->replicas) {
                (*o->mutable_log_ends())[r.id.str()] = r.log_end;
                if (r.in_sync) o->add_in_sync(r.id.str());
              }
              o->set_high_watermark(snap->high_watermark);
              o->set_min_insync(snap->min_insync);
            }
          }
        }
        resp->set_placement_epoch(p->epoch);
        for (const auto& m : p->members) resp->add_placement(m.id.str());
        resp->set_replication_factor((*e)->info.replication_factor);
        for (const auto& [id, zone] : p->zones()) (*resp->mutable_placement_zones())[id] = zone;
      }
      done(Status::OK());
    });
  });
}

}  // namespace persisting::net
