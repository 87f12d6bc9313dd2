#include "net/service.h"

#include <asio/post.hpp>
#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <future>

#include "net/grpc_status.h"
#include "net/wire.h"
#include "persisting/json.h"
#include "queue/routing.h"
#include "queue/topic_meta.h"
#include "runtime/bucket_storage.h"

namespace persisting::net {
namespace {

enum Method {
  kCreateTopic, kGetTopic, kListTopics, kGetBucket, kPut, kGet, kFlush, kStats, kClusterStatus,
  kRebalance, kFenceBucket, kCopyBucket, kSetPlacement, kDropBuckets, kMethods
};
const char* const kMethodNames[kMethods] = {"CreateTopic", "GetTopic", "ListTopics", "GetBucket", "Put",
                                            "Get", "Flush", "Stats", "ClusterStatus", "Rebalance",
                                            "FenceBucket", "CopyBucket", "SetPlacement", "DropBuckets"};

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

std::string bucket_name(const std::string& topic, uint32_t bucket) {
  return "topic '" + topic + "' bucket " + std::to_string(bucket);
}

// Deduplication keys: topic \0 bucket \0 producer_id (decimal).
std::string dedup_prefix(const std::string& topic, uint32_t bucket) {
  return topic + '\0' + std::to_string(bucket) + '\0';
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
  void OnCancel() override {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
    if (waiter_ != 0) queue::cancel_fetch(actors_, waiter_);
  }
  void OnDone() override { delete this; }

 private:
  std::mutex mu_;
  bool cancelled_ = false;
  queue::Actors actors_;
  uint64_t waiter_ = 0;
};

}  // namespace

// Where a topic's buckets live: rendezvous hashing over members (docs/wire-protocol.md,
// "Placement"). Immutable once published; a rebalance switch publishes a new one.
struct Service::Placement {
  uint64_t epoch = 1;
  std::vector<runtime::Member> members;  // ids only (addresses come from the membership)

  const NodeId& owner(const std::string& topic, uint32_t bucket) const {
    return runtime::rendezvous_owner(members, topic, BucketId(bucket)).id;
  }
  std::vector<std::string> ids() const {
    std::vector<std::string> out;
    for (const auto& m : members) out.push_back(m.id.str());
    std::sort(out.begin(), out.end());
    return out;
  }
};

struct Service::TopicEntry {
  TopicInfo info;
  std::mutex mu;
  std::vector<std::shared_ptr<runtime::BucketStorage>> actors;  // index = bucket; null until opened
  std::mutex switch_mu;  // serializes placement changes (file, then memory)

  // Rebalance fences: bucket -> the node it is moving to. A Put holds fence_mu shared from its
  // fence check until its runs are handed to the actors, and counts them in `inflight` until they
  // are answered; so a fence, set under the exclusive lock, then waiting for inflight to drain,
  // sees a final record count.
  std::shared_mutex fence_mu;
  std::map<uint32_t, std::string> moving;
  std::mutex fences_file_mu;  // serializes writes of fences.json
  std::mutex inflight_mu;
  std::condition_variable inflight_cv;
  std::map<uint32_t, int> inflight;

  std::shared_ptr<const Placement> placement() const {
    std::lock_guard<std::mutex> lock(placement_mu);
    return placement_;
  }
  void set_placement(std::shared_ptr<const Placement> p) {
    std::lock_guard<std::mutex> lock(placement_mu);
    placement_ = std::move(p);
  }
  void put_started(uint32_t bucket) {
    std::lock_guard<std::mutex> lock(inflight_mu);
    ++inflight[bucket];
  }
  void put_answered(uint32_t bucket) {
    std::lock_guard<std::mutex> lock(inflight_mu);
    if (--inflight[bucket] == 0) inflight_cv.notify_all();
  }

 private:
  mutable std::mutex placement_mu;
  std::shared_ptr<const Placement> placement_;
};

struct Service::DedupEntry {
  uint64_t sequence = 0;
  bool pending = true;
  uint64_t first_offset = 0;
  uint32_t count = 0;
  std::vector<std::function<void(Result<Offset>)>> waiters;  // repeats that arrived while pending
  std::chrono::steady_clock::time_point last_used;
};

namespace {
// Past this many (producer, bucket) entries, entries idle for kDedupIdle are dropped: a retry
// comes within the client's deadlines (seconds), so only long-gone producers are forgotten.
constexpr size_t kDedupSweepAt = 100000;
constexpr auto kDedupIdle = std::chrono::minutes(10);
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
      movers_(std::make_unique<asio::thread_pool>(2)) {
  for (const auto& m : membership_->configured())
    if (m.id == core_->manager->self()) self_ = m;
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

Service::Done Service::finisher(int method, grpc::ServerUnaryReactor* reactor) {
  auto start = std::chrono::steady_clock::now();
  RpcMetrics* m = rpc_metrics_[method].get();
  metrics::Registry* reg = registry_;
  return [reactor, start, m, reg, method](Status s) {
    m->latency->observe(seconds_since(start));
    if (s.ok()) {
      m->ok->inc();
    } else {
      reg->counter("persisting_rpc_requests_total", "RPCs answered, by method and status code",
                   {{"method", kMethodNames[method]}, {"code", std::string(code_name(s.code()))}})
          .inc();
    }
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

std::shared_ptr<Service::TopicEntry> Service::cached_topic(const std::string& name) {
  std::shared_lock lock(topics_mu_);
  auto it = topics_.find(name);
  return it == topics_.end() ? nullptr : it->second;
}

namespace {

// <data_dir>/<topic>/placement.json (docs/wire-protocol.md, "Placement"), format 2:
//   {"format":2,"epoch":2,"members":["n1","n2","n3"]}
// written when the node first learns the topic and replaced (atomically, synced) by a rebalance
// switch. Format 1, {"format":1,"members":[...]}, written before rebalancing existed, reads as
// epoch 1. A higher format is refused.
constexpr int64_t kPlacementFormat = 2;

std::string placement_path(const std::string& data_dir, const std::string& topic) {
  return queue::topic_dir(data_dir, topic) + "/placement.json";
}

struct StoredPlacement {
  uint64_t epoch = 1;
  std::vector<std::string> ids;
};

// NotFound when the file does not exist.
Result<StoredPlacement> load_placement(Env* env, const std::string& path) {
  if (!env->file_exists(path)) return NotFound("no placement file '" + path + "'");
  ASSIGN_OR_RETURN(std::string text, env->read_file(path));
  auto bad = [&](const std::string& why) { return Corruption("placement file '" + path + "': " + why); };
  auto v = parse_json(text);
  if (!v.ok() || !v->is_object()) return bad("not a JSON object");
  const Object& o = v->as_object();
  const Value* format = o.find("format");
  int64_t f = format && format->is_int() ? format->as_int() : 1;
  if (f < 1 || f > kPlacementFormat)
    return bad("format " + std::to_string(f) + " is not one this version reads (1.." +
               std::to_string(kPlacementFormat) + ")");
  StoredPlacement p;
  if (f >= 2) {
    const Value* epoch = o.find("epoch");
    if (!epoch || !epoch->is_int() || epoch->as_int() < 1) return bad("no valid \"epoch\"");
    p.epoch = static_cast<uint64_t>(epoch->as_int());
  }
  const Value* m = o.find("members");
  if (!m || !m->is_list()) return bad("no \"members\" list");
  for (const auto& id : m->as_list()) {
    if (!id.is_string()) return bad("a member id is not a string");
    p.ids.push_back(id.as_string());
  }
  if (p.ids.empty()) return bad("\"members\" is empty");
  return p;
}

Status store_placement(Env* env, const std::string& path, uint64_t epoch, const std::vector<std::string>& ids) {
  List l;
  for (const auto& id : ids) l.emplace_back(id);
  std::string text = to_json(Value(Object{{"format", kPlacementFormat},
                                          {"epoch", static_cast<int64_t>(epoch)},
                                          {"members", Value(std::move(l))}})) + "\n";
  return env->write_file_atomic(path, text);  // temp file, fsync, rename, directory fsync
}

// <data_dir>/<topic>/fences.json, format 1: {"format":1,"fences":{"3":"n3"}}: the buckets this
// node refuses puts to because a rebalance is moving them (to the node named). Present only while
// there are fences; written before a fence is reported set, so a restart keeps it.
std::string fences_path(const std::string& data_dir, const std::string& topic) {
  return queue::topic_dir(data_dir, topic) + "/fences.json";
}

Result<std::map<uint32_t, std::string>> load_fences(Env* env, const std::string& path) {
  std::map<uint32_t, std::string> out;
  if (!env->file_exists(path)) return out;
  ASSIGN_OR_RETURN(std::string text, env->read_file(path));
  auto bad = [&](const std::string& why) { return Corruption("fence file '" + path + "': " + why); };
  auto v = parse_json(text);
  if (!v.ok() || !v->is_object()) return bad("not a JSON object");
  const Value* format = v->as_object().find("format");
  if (!format || !format->is_int() || format->as_int() != 1) return bad("format is not 1");
  const Value* fences = v->as_object().find("fences");
  if (!fences || !fences->is_object()) return bad("no \"fences\" object");
  for (const auto& [k, target] : fences->as_object()) {
    if (!target.is_string() || k.empty() || k.find_first_not_of("0123456789") != std::string::npos || k.size() > 9)
      return bad("bad entry '" + k + "'");
    out[static_cast<uint32_t>(std::stoul(k))] = target.as_string();
  }
  return out;
}

Status store_fences(Env* env, const std::string& path, const std::map<uint32_t, std::string>& fences) {
  if (fences.empty()) return env->file_exists(path) ? env->remove_file(path) : Status::OK();
  Object o;
  for (const auto& [b, target] : fences) o.set(std::to_string(b), target);
  return env->write_file_atomic(path, to_json(Value(Object{{"format", int64_t(1)}, {"fences", Value(std::move(o))}})) + "\n");
}

}  // namespace

Result<std::shared_ptr<Service::TopicEntry>> Service::remember(const TopicInfo& info, std::vector<std::string> ids,
                                                              uint64_t epoch) {
  ASSIGN_OR_RETURN(TopicInfo stored, core_->open_for_write(queue::writer_options(info)));
  std::unique_lock lock(topics_mu_);
  auto& e = topics_[stored.topic];
  if (!e) {
    // The placement stored with the topic wins: its buckets' data lives where it says.
    std::string path = core_->has_data_dir() ? placement_path(core_->options.data_dir, stored.topic) : "";
    bool on_disk = false;
    if (!path.empty()) {
      auto p = load_placement(core_->env, path);
      if (p.ok()) {
        ids = std::move(p->ids);
        epoch = p->epoch;
        on_disk = true;
      } else if (p.status().code() != Code::kNotFound) {
        topics_.erase(stored.topic);
        return p.status();
      }
    }
    if (ids.empty()) {
      for (const auto& m : membership_->configured()) ids.push_back(m.id.str());
      epoch = 1;
    }
    epoch = std::max<uint64_t>(epoch, 1);
    if (!path.empty() && !on_disk) {
      if (Status s = store_placement(core_->env, path, epoch, ids); !s.ok()) {
        topics_.erase(stored.topic);
        return s;
      }
    }
    auto entry = std::make_shared<TopicEntry>();
    entry->info = stored;
    entry->actors.resize(stored.num_buckets);
    if (core_->has_data_dir()) {
      auto fences = load_fences(core_->env, fences_path(core_->options.data_dir, stored.topic));
      if (!fences.ok()) {
        topics_.erase(stored.topic);
        return fences.status();
      }
      entry->moving = std::move(fences).value();
    }
    auto placement = std::make_shared<Placement>();
    placement->epoch = epoch;
    for (const auto& id : ids) placement->members.push_back({NodeId(id), ""});
    entry->set_placement(std::move(placement));
    e = std::move(entry);
  }
  return e;
}

void Service::describe(const TopicEntry& t, v1::TopicSpec* spec) const {
  to_wire(t.info, spec);
  auto p = t.placement();
  for (const auto& m : p->members) spec->add_placement(m.id.str());
  spec->set_placement_epoch(p->epoch);
}

Result<runtime::Member> Service::owner(const TopicEntry& t, uint32_t bucket) const {
  const NodeId id = t.placement()->owner(t.info.topic, bucket);
  if (id == self_.id) return self_;
  auto m = membership_->member(id);
  if (!m.ok())
    return Unavailable(bucket_name(t.info.topic, bucket) + ": owner " + id.str() + " unavailable: " +
                       m.status().message());
  return m;
}

Result<std::shared_ptr<Service::TopicEntry>> Service::topic(const std::string& name, bool forward) {
  if (auto e = cached_topic(name)) return e;
  auto info = core_->lookup(name);
  if (info.ok()) return remember(*info, {}, 0);
  if (info.status().code() != Code::kNotFound || !forward) return info.status();
  std::string asked = self_.id.str();
  for (const auto& m : membership_->configured()) {
    if (m.id == self_.id) continue;
    asked += ", " + m.id.str();
    grpc::ClientContext ctx;
    peers_->prepare(&ctx, config_.peer_timeout);
    v1::GetTopicRequest req;
    req.set_topic(name);
    req.set_local_only(true);
    v1::GetTopicResponse resp;
    auto s = peers_->stub(m.address)->GetTopic(&ctx, req, &resp);
    if (s.ok()) {
      std::vector<std::string> ids(resp.topic().placement().begin(), resp.topic().placement().end());
      return remember(from_wire(resp.topic()), std::move(ids), resp.topic().placement_epoch());
    }
  }
  return NotFound("topic '" + name + "' does not exist (asked nodes " + asked + ")");
}

void Service::with_topic(const std::string& name, std::function<void(Result<std::shared_ptr<TopicEntry>>)> cb) {
  if (auto e = cached_topic(name)) return cb(std::move(e));
  post_admin([this, name, cb = std::move(cb)] { cb(topic(name, /*forward=*/true)); });
}

Status Service::check_bucket(const TopicEntry& t, uint32_t bucket) const {
  if (bucket >= t.info.num_buckets)
    return InvalidArgument(bucket_name(t.info.topic, bucket) + " is out of range: the topic has buckets [0, " +
                           std::to_string(t.info.num_buckets) + ")");
  return Status::OK();
}

Result<std::shared_ptr<runtime::BucketStorage>> Service::local_bucket(TopicEntry& t, uint32_t bucket) {
  RETURN_IF_ERROR(check_bucket(t, bucket));
  const NodeId owner_id = t.placement()->owner(t.info.topic, bucket);
  if (owner_id != self_.id)
    return FailedPrecondition(bucket_name(t.info.topic, bucket) + " is owned by node " + owner_id.str() + ", not " +
                              self_.id.str() + ": ask GetBucket for the owner");
  std::lock_guard<std::mutex> lock(t.mu);
  auto& a = t.actors[bucket];
  if (!a) {
    ASSIGN_OR_RETURN(auto actors, core_->actors(t.info, {BucketId(bucket)}, {}));
    a = actors[0];
  }
  return a;
}

grpc::ServerUnaryReactor* Service::CreateTopic(grpc::CallbackServerContext* ctx, const v1::CreateTopicRequest* req,
                                               v1::CreateTopicResponse* resp) {
  return unary(kCreateTopic, ctx, [this, req, resp](Done done) {
    post_admin([this, req, resp, done] {
      std::vector<std::string> ids(req->spec().placement().begin(), req->spec().placement().end());
      auto e = remember(from_wire(req->spec()), std::move(ids), req->spec().placement_epoch());
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
      auto e = topic(req->topic(), !req->local_only());
      if (!e.ok()) return done(e.status());
      describe(**e, resp->mutable_topic());
      done(Status::OK());
    });
  });
}

grpc::ServerUnaryReactor* Service::ListTopics(grpc::CallbackServerContext* ctx, const v1::ListTopicsRequest*,
                                              v1::ListTopicsResponse* resp) {
  return unary(kListTopics, ctx, [this, resp](Done done) {
    post_admin([this, resp, done] {
      auto topics = core_->list_topics();
      if (!topics.ok()) return done(topics.status());
      for (const auto& t : *topics) to_wire(t, resp->add_topics());
      done(Status::OK());
    });
  });
}

grpc::ServerUnaryReactor* Service::GetBucket(grpc::CallbackServerContext* ctx, const v1::GetBucketRequest* req,
                                             v1::GetBucketResponse* resp) {
  return unary(kGetBucket, ctx, [this, req, resp](Done done) {
    with_topic(req->topic(), [this, req, resp, done](Result<std::shared_ptr<TopicEntry>> e) {
      if (!e.ok()) return done(e.status());
      if (Status s = check_bucket(**e, req->bucket()); !s.ok()) return done(s);
      auto o = owner(**e, req->bucket());
      if (!o.ok()) return done(o.status());
      if (membership_->known_down(o->id))
        return done(Unavailable(bucket_name(req->topic(), req->bucket()) + ": owner " + o->id.str() + " (" +
                                o->address + ") unavailable: its membership lease has expired"));
      v1::Member* m = o->id == self_.id ? resp->mutable_ready()->mutable_owner()
                                        : resp->mutable_redirect()->mutable_owner();
      m->set_id(o->id.str());
      m->set_address(o->address);
      done(Status::OK());
    });
  });
}

// ---- put / get ----------------------------------------------------------------------------

void Service::put_applied(const std::string& key, Result<Offset> r, uint32_t count) {
  std::vector<std::function<void(Result<Offset>)>> waiters;
  {
    std::lock_guard<std::mutex> lock(dedup_mu_);
    auto it = dedup_.find(key);
    if (it == dedup_.end()) return;
    waiters.swap(it->second->waiters);
    if (r.ok()) {
      it->second->pending = false;
      it->second->first_offset = r->value();
      it->second->count = count;
    } else {
      dedup_.erase(it);  // nothing was written: a retry applies it afresh
    }
  }
  for (auto& w : waiters) w(r);
}

void Service::apply(const std::string& key, uint64_t sequence, const std::string& what,
                    std::shared_ptr<runtime::BucketStorage> actor, RecordBatch batch, Applied cb) {
  if (!key.empty()) {
    std::lock_guard<std::mutex> lock(dedup_mu_);
    auto& d = dedup_[key];
    if (d && sequence == d->sequence) {
      if (d->pending) {
        d->waiters.push_back([cb](Result<Offset> r) { cb(std::move(r), true); });
      } else {
        cb(Offset(d->first_offset), true);
      }
      return;
    }
    if (d && sequence < d->sequence)
      return cb(FailedPrecondition(what + ": sequence " + std::to_string(sequence) + " is older than the producer's last put (" +
                                   std::to_string(d->sequence) + "): a stale retry, not applied"),
                false);
    d = std::make_unique<DedupEntry>();
    d->sequence = sequence;
    d->last_used = std::chrono::steady_clock::now();
    if (dedup_.size() > kDedupSweepAt && d->last_used - last_dedup_sweep_ > std::chrono::minutes(1)) {
      last_dedup_sweep_ = d->last_used;
      auto cutoff = d->last_used - kDedupIdle;
      for (auto it = dedup_.begin(); it != dedup_.end();)
        it = (!it->second->pending && it->second->last_used < cutoff) ? dedup_.erase(it) : std::next(it);
    }
  }
  uint32_t count = static_cast<uint32_t>(batch.size());
  actor->put(std::move(batch), [this, key, count, cb](Result<Offset> r) {
    if (!key.empty()) put_applied(key, r, count);
    cb(std::move(r), false);
  });
}

grpc::ServerUnaryReactor* Service::Put(grpc::CallbackServerContext* ctx, const v1::PutRequest* req,
                                       v1::PutResponse* resp) {
  return unary(kPut, ctx, [this, req, resp](Done done) {
    with_topic(req->topic(), [this, req, resp, done](Result<std::shared_ptr<TopicEntry>> e) {
      if (!e.ok()) return done(e.status());
      TopicEntry& t = **e;
      const TopicInfo& info = t.info;
      const int n = req->buckets_size();
      if (n == 0) return done(InvalidArgument("topic '" + info.topic + "': a put that names no bucket"));
      struct Part {
        std::shared_ptr<runtime::BucketStorage> actor;
        RecordBatch batch;
      };
      // Check every run before applying any: a refused put changes nothing. The fence lock is
      // held until the runs are handed to their actors (see TopicEntry::fence_mu).
      std::shared_lock fence_lock(t.fence_mu);
      std::vector<Part> parts(n);
      for (int i = 0; i < n; ++i) {
        const auto& br = req->buckets(i);
        const uint32_t bucket = br.bucket();
        for (int j = 0; j < i; ++j)
          if (req->buckets(j).bucket() == bucket)
            return done(InvalidArgument(bucket_name(info.topic, bucket) + " appears twice in one put"));
        auto actor = local_bucket(t, bucket);
        if (!actor.ok()) return done(actor.status());
        if (auto m = t.moving.find(bucket); m != t.moving.end())
          return done(Unavailable(bucket_name(info.topic, bucket) + " is moving to " + m->second +
                                  " (a rebalance is in progress; reads go on): retry shortly"));
        auto batch = from_wire(br.run(), bucket_name(info.topic, bucket), [&info, bucket](const Record& r) {
          auto b = queue::bucket_of(info, r);
          if (!b.ok()) return b.status();
          if (*b != bucket) return InvalidArgument("belongs to bucket " + std::to_string(*b) + ", not this one");
          return Status::OK();
        });
        if (!batch.ok()) return done(batch.status());
        parts[i] = Part{std::move(actor).value(), std::move(batch).value()};
      }
      struct Gather {
        std::mutex mu;
        int left;
        Status first;
      };
      auto g = std::make_shared<Gather>();
      g->left = n;
      for (int i = 0; i < n; ++i) {
        auto* a = resp->add_buckets();
        a->set_bucket(req->buckets(i).bucket());
        a->set_count(static_cast<uint32_t>(parts[i].batch.size()));
      }
      TopicEntry* tp = &t;  // topic entries live as long as the service
      for (int i = 0; i < n; ++i) {
        const auto& br = req->buckets(i);
        const uint32_t bucket = br.bucket();
        t.put_started(bucket);
        std::string key;
        if (req->producer_id() != 0)
          key = dedup_prefix(info.topic, br.bucket()) + std::to_string(req->producer_id());
        std::string what = bucket_name(info.topic, br.bucket()) + ": producer " + std::to_string(req->producer_id());
        apply(key, br.sequence(), what, std::move(parts[i].actor), std::move(parts[i].batch),
              [g, resp, done, i, tp, bucket](Result<Offset> r, bool duplicate) {
          tp->put_answered(bucket);
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
    if (req->limit() == 0 || req->limit() > config_.max_get_limit)
      return done(InvalidArgument("topic '" + t.info.topic + "': get limit " + std::to_string(req->limit()) +
                                  " is not in [1, " + std::to_string(config_.max_get_limit) + "]"));
    queue::Actors actors;
    std::vector<uint64_t> offsets;
    std::vector<uint32_t> buckets;
    for (const auto& c : req->cursors()) {
      for (uint32_t seen : buckets)
        if (seen == c.bucket()) return done(InvalidArgument(bucket_name(t.info.topic, seen) + " is listed twice"));
      auto a = local_bucket(t, c.bucket());
      if (!a.ok()) return done(a.status());
      actors.push_back(std::move(a).value());
      offsets.push_back(c.offset());
      buckets.push_back(c.bucket());
    }
    uint32_t wait_ms = std::min(req->wait_ms(), config_.max_wait_ms);
    uint64_t waiter = queue::next_waiter_id();
    reactor->arm(actors, waiter);
    size_t limit = req->limit();
    size_t budget = config_.max_response_bytes;
    queue::fetch(actors, offsets, limit, wait_ms > 0, std::chrono::milliseconds(wait_ms), waiter,
                 [resp, done, limit, budget, buckets, offsets](Result<std::vector<RecordBatch>> raw) {
      if (!raw.ok()) return done(raw.status());
      std::vector<size_t> take = queue::fair_shares(*raw, limit, 0);
      size_t bytes = 0;
      for (size_t i = 0; i < raw->size(); ++i) {
        size_t n = take[i];
        const RecordBatch& b = (*raw)[i];
        // Stay under the response budget, but always send at least one record.
        while (n > 0 && bytes > 0 && bytes + b.ends()[n - 1] > budget) --n;
        if (n == 0) continue;
        auto* out = resp->add_buckets();
        out->set_bucket(buckets[i]);
        out->set_offset(offsets[i]);
        to_wire(b, 0, n, out->mutable_run());
        bytes += b.ends()[n - 1];
      }
      done(Status::OK());
    });
  });
  return reactor;
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
      auto e = topic(req->topic(), true);
      if (!e.ok()) return done(e.status());
      std::vector<uint32_t> buckets(req->buckets().begin(), req->buckets().end());
      if (buckets.empty())
        for (uint32_t b = 0; b < (*e)->info.num_buckets; ++b)
          if ((*e)->placement()->owner(req->topic(), b) == self_.id)
            buckets.push_back(b);
      std::vector<std::future<Object>> futures;
      for (uint32_t b : buckets) {
        auto a = local_bucket(**e, b);
        if (!a.ok()) return done(a.status());
        auto p = std::make_shared<std::promise<Object>>();
        futures.push_back(p->get_future());
        (*a)->stats([p](Object o) { p->set_value(std::move(o)); });
      }
      for (auto& f : futures) {
        Object o = f.get();
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
        m->set_alive(s.alive);
        m->set_detail(s.detail);
      }
      if (!req->topic().empty()) {
        auto e = topic(req->topic(), true);
        if (!e.ok()) return done(e.status());
        auto p = (*e)->placement();
        for (uint32_t b = 0; b < (*e)->info.num_buckets; ++b) {
          auto* o = resp->add_ownership();
          o->set_bucket(b);
          o->set_owner(p->owner(req->topic(), b).str());
        }
        resp->set_placement_epoch(p->epoch);
        for (const auto& m : p->members) resp->add_placement(m.id.str());
      }
      done(Status::OK());
    });
  });
}


// ---- rebalance ----------------------------------------------------------------------------
//
// The coordinator (the node the Rebalance RPC reaches) drives the other steps through RPCs to
// every member, itself included (docs/wire-protocol.md, "Rebalance"):
//   check: every configured member answers; the placement in force is the highest epoch any
//          member holds; plan = the buckets whose owner differs under the configured members.
//   copy:  the new owner pulls [0, n) from the old owner (no fence yet: puts go on).
//   fence: the old owner refuses puts to the bucket; the new owner copies the rest, flushes, and
//          the counts must match.
//   switch: SetPlacement(epoch + 1) on the old owners, then the new owners, then the others.
//   delete: every member deletes its copies of buckets it does not own.
// Before the switch, any failure undoes the moves (fences lifted, copies deleted): the old
// owners keep their buckets.

namespace {

using Stub = v1::QueueService::Stub;

constexpr auto kFenceDrainTimeout = std::chrono::seconds(30);
constexpr auto kCopyTimeout = std::chrono::hours(1);     // one CopyBucket call (a whole bucket)
constexpr auto kChunkTimeout = std::chrono::seconds(60);  // one Get of a copy
constexpr uint32_t kCopyChunk = 10000;                     // records per Get of a copy (bytes: the source's limit)

template <typename Req, typename Resp>
Status call_peer(Channels& peers, const runtime::Member& m,
                 grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Resp*), const Req& req, Resp* resp,
                 std::chrono::milliseconds timeout) {
  grpc::ClientContext ctx;
  peers.prepare(&ctx, timeout);
  return from_grpc(((*peers.stub(m.address)).*method)(&ctx, req, resp), "node " + m.id.str() + " at " + m.address);
}

Result<uint64_t> total_count(runtime::BucketStorage& actor) {
  auto p = std::make_shared<std::promise<Object>>();
  auto f = p->get_future();
  actor.stats([p](Object o) { p->set_value(std::move(o)); });
  Object o = f.get();
  const Value* n = o.find("total_count");
  if (o.find("closed")) return Unavailable("topic '" + actor.topic() + "' bucket " +
                                           std::to_string(actor.bucket().value()) + " is closed");
  if (!n || !n->is_int()) return Internal("topic '" + actor.topic() + "' bucket " +
                                          std::to_string(actor.bucket().value()) + ": the backend reports no total_count");
  return static_cast<uint64_t>(n->as_int());
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace

Result<uint64_t> Service::fence(TopicEntry& t, uint32_t bucket, const std::string& target) {
  ASSIGN_OR_RETURN(auto actor, local_bucket(t, bucket));  // refuses a bucket this node does not own
  {
    std::unique_lock lock(t.fence_mu);
    t.moving[bucket] = target;
  }
  if (Status s = save_fences(t); !s.ok()) {
    (void)lift_fence(t, bucket);
    return s.with_context(bucket_name(t.info.topic, bucket) + ": storing the fence");
  }
  // Puts that passed the fence check before it was set may still be unanswered: wait for them,
  // so that the count below is final.
  bool drained;
  {
    std::unique_lock<std::mutex> lock(t.inflight_mu);
    drained = t.inflight_cv.wait_for(lock, kFenceDrainTimeout, [&] {
      auto it = t.inflight.find(bucket);
      return it == t.inflight.end() || it->second <= 0;
    });
  }
  if (!drained) {
    (void)lift_fence(t, bucket);
    return Unavailable(bucket_name(t.info.topic, bucket) + ": puts in flight were not answered within 30 s; fence lifted");
  }
  auto n = total_count(*actor);
  if (!n.ok()) (void)lift_fence(t, bucket);
  return n;
}

void Service::export_producers(const std::string& topic, uint32_t bucket,
                               google::protobuf::RepeatedPtrField<v1::ProducerState>* out) {
  const std::string prefix = dedup_prefix(topic, bucket);
  std::lock_guard<std::mutex> lock(dedup_mu_);
  for (auto it = dedup_.lower_bound(prefix); it != dedup_.end() && it->first.compare(0, prefix.size(), prefix) == 0;
       ++it) {
    if (it->second->pending) continue;  // none once the fence has drained the bucket's puts
    auto* p = out->Add();
    p->set_producer_id(std::stoull(it->first.substr(prefix.size())));
    p->set_sequence(it->second->sequence);
    p->set_first_offset(it->second->first_offset);
    p->set_count(it->second->count);
  }
}

void Service::import_producers(const std::string& topic, uint32_t bucket,
                               const google::protobuf::RepeatedPtrField<v1::ProducerState>& in) {
  const std::string prefix = dedup_prefix(topic, bucket);
  auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(dedup_mu_);
  for (const auto& p : in) {
    if (p.producer_id() == 0) continue;
    auto& d = dedup_[prefix + std::to_string(p.producer_id())];
    if (d && d->sequence >= p.sequence()) continue;
    d = std::make_unique<DedupEntry>();
    d->sequence = p.sequence();
    d->pending = false;
    d->first_offset = p.first_offset();
    d->count = p.count();
    d->last_used = now;
  }
}

Status Service::lift_fence(TopicEntry& t, uint32_t bucket) {
  {
    std::unique_lock lock(t.fence_mu);
    if (t.moving.erase(bucket) == 0) return Status::OK();
  }
  return save_fences(t);
}

Status Service::save_fences(TopicEntry& t) {
  if (!core_->has_data_dir()) return Status::OK();
  std::lock_guard<std::mutex> file_lock(t.fences_file_mu);
  std::map<uint32_t, std::string> snapshot;
  {
    std::shared_lock lock(t.fence_mu);
    snapshot = t.moving;
  }
  return store_fences(core_->env, fences_path(core_->options.data_dir, t.info.topic), snapshot);
}

Status Service::drop_local(TopicEntry& t, uint32_t bucket, bool* had) {
  {
    std::lock_guard<std::mutex> lock(t.mu);
    t.actors[bucket].reset();
  }
  *had = core_->manager->find(t.info.topic, BucketId(bucket)) != nullptr;
  // A close error (a failed flush) does not matter for a copy that is being deleted.
  (void)core_->manager->drop(t.info.topic, BucketId(bucket));
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
    ASSIGN_OR_RETURN(RecordBatch batch, from_wire(br.run(), what, [&info, b](const Record& r) {
      auto rb = queue::bucket_of(info, r);
      if (!rb.ok()) return rb.status();
      if (*rb != b) return InvalidArgument("belongs to bucket " + std::to_string(*rb) + ", not this one");
      return Status::OK();
    }));
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
  auto refuse = [&](const Status& s) {
    for (uint32_t b : fenced) (void)lift_fence(t, b);
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
      std::shared_lock lock(t.fence_mu);
      for (const auto& [b, target] : t.moving)
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

Status Service::rebalance(const v1::RebalanceRequest& req, v1::RebalanceResponse* resp) {
  const std::string& name = req.topic();
  const std::string where = "rebalance of topic '" + name + "'";
  ASSIGN_OR_RETURN(auto entry, topic(name, /*forward=*/true));
  const uint32_t num_buckets = entry->info.num_buckets;
  const auto timeout = config_.peer_timeout;

  // Every configured member (the new placement) must answer.
  std::vector<runtime::Member> configured = membership_->configured();
  for (const auto& s : membership_->states(*peers_))
    if (!s.alive)
      return Unavailable(where + ": member " + s.member.id.str() + " (" + s.member.address + ") is down" +
                         (s.detail.empty() ? "" : " (" + s.detail + ")") + "; nothing was changed");

  // The placement in force: the highest epoch any member holds.
  struct Known {
    runtime::Member member;
    bool knows = false;
    uint64_t epoch = 0;
    std::vector<std::string> ids;
  };
  std::vector<Known> known;
  for (const auto& m : configured) {
    v1::GetTopicRequest g;
    g.set_topic(name);
    g.set_local_only(true);
    v1::GetTopicResponse r;
    Status s = call_peer(*peers_, m, &Stub::GetTopic, g, &r, timeout);
    Known k{m};
    if (s.ok()) {
      k.knows = true;
      k.epoch = std::max<uint64_t>(r.topic().placement_epoch(), 1);
      k.ids.assign(r.topic().placement().begin(), r.topic().placement().end());
      std::sort(k.ids.begin(), k.ids.end());
    } else if (s.code() == Code::kUnavailable || s.code() == Code::kDeadlineExceeded) {
      return Unavailable(where + ": member " + m.id.str() + " (" + m.address + ") is down (" + s.message() +
                         "); nothing was changed");
    } else if (s.code() != Code::kNotFound) {
      return s.with_context(where + ": asking " + m.id.str() + " for the topic's placement; nothing was changed");
    }
    known.push_back(std::move(k));
  }
  Placement current = *entry->placement();
  for (const auto& k : known)
    if (k.knows && k.epoch > current.epoch) {
      current.epoch = k.epoch;
      current.members.clear();
      for (const auto& id : k.ids) current.members.push_back({NodeId(id), ""});
    }
  for (const auto& k : known)
    if (k.knows && k.epoch == current.epoch && k.ids != current.ids())
      return FailedPrecondition(where + ": nodes disagree on placement epoch " + std::to_string(current.epoch) + " ([" +
                                join(k.ids) + "] on " + k.member.id.str() + ", [" + join(current.ids()) +
                                "] elsewhere); nothing was changed");

  Placement next;
  next.epoch = current.epoch + 1;
  for (const auto& m : configured) next.members.push_back({m.id, ""});
  for (const auto& id : current.ids()) resp->add_previous_members(id);
  resp->set_previous_epoch(current.epoch);
  for (const auto& id : next.ids()) resp->add_members(id);
  resp->set_epoch(current.epoch);

  struct Move {
    uint32_t bucket;
    runtime::Member from, to;
    uint64_t records = 0;
  };
  auto member_of = [&](const NodeId& id) -> const runtime::Member* {
    for (const auto& m : configured)
      if (m.id == id) return &m;
    return nullptr;
  };
  std::vector<Move> moves;
  for (uint32_t b = 0; b < num_buckets; ++b) {
    NodeId from = current.owner(name, b), to = next.owner(name, b);
    if (from == to) continue;
    const runtime::Member* f = member_of(from);
    if (!f)
      return FailedPrecondition(where + ": bucket " + std::to_string(b) + " lives on node " + from.str() +
                                ", which is not a configured member; add it back before moving its buckets; "
                                "nothing was changed");
    moves.push_back({b, *f, *member_of(to)});
  }
  auto report = [&] {
    for (const auto& mv : moves) {
      auto* o = resp->add_moves();
      o->set_bucket(mv.bucket);
      o->set_from(mv.from.id.str());
      o->set_to(mv.to.id.str());
      o->set_records(mv.records);
    }
  };

  if (req.dry_run()) {
    for (auto& mv : moves) {
      v1::StatsRequest sr;
      sr.set_topic(name);
      sr.add_buckets(mv.bucket);
      v1::StatsResponse st;
      RETURN_IF_ERROR(call_peer(*peers_, mv.from, &Stub::Stats, sr, &st, timeout).with_context(where));
      if (st.bucket_stats_json_size() == 1)
        if (auto v = parse_json(st.bucket_stats_json(0)); v.ok() && v->is_object())
          if (const Value* n = v->as_object().find("total_count"); n && n->is_int())
            mv.records = static_cast<uint64_t>(n->as_int());
    }
    report();
    return Status::OK();
  }

  // Every member learns the topic and the placement in force.
  for (const auto& k : known) {
    if (!k.knows) {
      v1::CreateTopicRequest c;
      to_wire(entry->info, c.mutable_spec());
      for (const auto& id : current.ids()) c.mutable_spec()->add_placement(id);
      c.mutable_spec()->set_placement_epoch(current.epoch);
      c.set_local_only(true);
      v1::CreateTopicResponse cr;
      RETURN_IF_ERROR(call_peer(*peers_, k.member, &Stub::CreateTopic, c, &cr, timeout)
                          .with_context(where + ": teaching the topic"));
    } else if (k.epoch < current.epoch) {
      v1::SetPlacementRequest sp;
      sp.set_topic(name);
      sp.set_epoch(current.epoch);
      for (const auto& id : current.ids()) sp.add_members(id);
      v1::SetPlacementResponse spr;
      RETURN_IF_ERROR(call_peer(*peers_, k.member, &Stub::SetPlacement, sp, &spr, timeout)
                          .with_context(where + ": bringing the placement up to epoch " + std::to_string(current.epoch)));
    }
  }

  auto undo = [&](const Status& why, const std::vector<size_t>& fenced) {
    for (size_t i : fenced) {
      v1::FenceBucketRequest l;
      l.set_topic(name);
      l.set_bucket(moves[i].bucket);
      l.set_lift(true);
      v1::FenceBucketResponse lr;
      (void)call_peer(*peers_, moves[i].from, &Stub::FenceBucket, l, &lr, timeout);
    }
    for (const auto& mv : moves) {
      v1::DropBucketsRequest d;
      d.set_topic(name);
      d.add_buckets(mv.bucket);
      v1::DropBucketsResponse dr;
      (void)call_peer(*peers_, mv.to, &Stub::DropBuckets, d, &dr, timeout);
    }
    return Status(why.code(), where + " failed before the switch; the old owners keep their buckets, fences are "
                              "lifted and copies deleted: " + why.message());
  };

  std::vector<size_t> fenced;
  if (!moves.empty()) {
    // Copy what is there (puts go on), then fence and copy the rest.
    for (const auto& mv : moves) {
      v1::CopyBucketRequest c;
      c.set_topic(name);
      c.set_bucket(mv.bucket);
      c.mutable_source()->set_id(mv.from.id.str());
      c.mutable_source()->set_address(mv.from.address);
      c.set_restart(true);
      v1::CopyBucketResponse cr;
      Status s = call_peer(*peers_, mv.to, &Stub::CopyBucket, c, &cr, kCopyTimeout);
      if (!s.ok()) return undo(s, fenced);
    }
    for (size_t i = 0; i < moves.size(); ++i) {
      Move& mv = moves[i];
      v1::FenceBucketRequest fr;
      fr.set_topic(name);
      fr.set_bucket(mv.bucket);
      fr.set_target(mv.to.id.str());
      v1::FenceBucketResponse fresp;
      Status s = call_peer(*peers_, mv.from, &Stub::FenceBucket, fr, &fresp, kFenceDrainTimeout + timeout);
      fenced.push_back(i);  // lifting an unset fence is harmless
      if (!s.ok()) return undo(s, fenced);
      mv.records = fresp.records();
      v1::CopyBucketRequest c;
      c.set_topic(name);
      c.set_bucket(mv.bucket);
      c.mutable_source()->set_id(mv.from.id.str());
      c.mutable_source()->set_address(mv.from.address);
      c.set_until(mv.records);
      *c.mutable_producers() = fresp.producers();
      v1::CopyBucketResponse cr;
      s = call_peer(*peers_, mv.to, &Stub::CopyBucket, c, &cr, kCopyTimeout);
      if (!s.ok()) return undo(s, fenced);
      if (cr.records() != mv.records)
        return undo(Corruption("bucket " + std::to_string(mv.bucket) + ": the copy on " + mv.to.id.str() + " has " +
                               std::to_string(cr.records()) + " records, the original on " + mv.from.id.str() +
                               " " + std::to_string(mv.records)),
                    fenced);
    }
    // Nothing may have reached an old owner since its fence (a restart lifts fences): check
    // every count again before anything switches.
    for (size_t i = 0; i < moves.size(); ++i) {
      const Move& mv = moves[i];
      v1::FenceBucketRequest fr;
      fr.set_topic(name);
      fr.set_bucket(mv.bucket);
      fr.set_target(mv.to.id.str());
      v1::FenceBucketResponse fresp;
      Status s = call_peer(*peers_, mv.from, &Stub::FenceBucket, fr, &fresp, kFenceDrainTimeout + timeout);
      if (!s.ok()) return undo(s, fenced);
      if (fresp.records() != mv.records)
        return undo(FailedPrecondition("bucket " + std::to_string(mv.bucket) + " on " + mv.from.id.str() + " holds " +
                                       std::to_string(fresp.records()) + " records, " + std::to_string(mv.records) +
                                       " were copied (was its fence lost in a restart?)"),
                    fenced);
    }
    report();
    if (req.rehearse()) {
      Status s = undo(Status::OK(), fenced);
      (void)s;
      return Status::OK();
    }
  } else if (req.rehearse()) {
    return Status::OK();
  }

  // Switch: the old owners first (fenced already, from now on they redirect), then the new
  // owners, then the rest. Until the first member has switched, a failure is undone.
  if (!moves.empty() || current.ids() != next.ids()) {
    std::vector<runtime::Member> order;
    auto add = [&](const runtime::Member& m) {
      for (const auto& o : order)
        if (o.id == m.id) return;
      order.push_back(m);
    };
    for (const auto& mv : moves) add(mv.from);
    for (const auto& mv : moves) add(mv.to);
    for (const auto& m : configured) add(m);
    std::vector<std::string> switched;
    for (const auto& m : order) {
      v1::SetPlacementRequest sp;
      sp.set_topic(name);
      sp.set_epoch(next.epoch);
      for (const auto& id : next.ids()) sp.add_members(id);
      for (const auto& mv : moves)
        if (mv.from.id == m.id) {
          auto* c = sp.add_expect();
          c->set_bucket(mv.bucket);
          c->set_offset(mv.records);
        }
      v1::SetPlacementResponse spr;
      Status s = call_peer(*peers_, m, &Stub::SetPlacement, sp, &spr, kFenceDrainTimeout + timeout);
      if (s.ok()) {
        switched.push_back(m.id.str());
        continue;
      }
      bool refused = s.code() != Code::kUnavailable && s.code() != Code::kDeadlineExceeded;
      if (switched.empty() && refused) return undo(s, fenced);
      return Status(s.code(), where + ": the switch to placement epoch " + std::to_string(next.epoch) +
                                  (switched.empty() ? std::string(" may not have reached any member")
                                                    : " reached " + join(switched)) +
                                  " but not " + m.id.str() + " (" + s.message() +
                                  "); the copies are kept and the old owners stay fenced: run the rebalance "
                                  "again to finish the switch");
    }
    resp->set_epoch(next.epoch);
  }

  // Delete: every member drops its copies of buckets it does not own (the old owners' copies,
  // and leftovers of interrupted rebalances).
  std::vector<std::string> failures;
  for (const auto& m : configured) {
    v1::DropBucketsRequest d;
    d.set_topic(name);
    d.set_not_owned(true);
    v1::DropBucketsResponse dr;
    Status s = call_peer(*peers_, m, &Stub::DropBuckets, d, &dr, timeout);
    if (!s.ok()) {
      failures.push_back(s.message());
      continue;
    }
    for (uint32_t b : dr.dropped()) resp->add_dropped(m.id.str() + ":" + std::to_string(b));
  }
  if (!failures.empty())
    return Status(Code::kUnavailable, where + ": the buckets moved (placement epoch " + std::to_string(resp->epoch()) +
                                          "), but deleting old copies failed: " + join(failures) +
                                          "; run the rebalance again to delete them");
  return Status::OK();
}

grpc::ServerUnaryReactor* Service::Rebalance(grpc::CallbackServerContext* ctx, const v1::RebalanceRequest* req,
                                             v1::RebalanceResponse* resp) {
  return unary(kRebalance, ctx, [this, req, resp](Done done) {
    bool expected = false;
    if (!rebalancing_.compare_exchange_strong(expected, true))
      return done(FailedPrecondition("node " + self_.id.str() + " is already coordinating a rebalance"));
    asio::post(*movers_, [this, req, resp, done] {
      Status s = rebalance(*req, resp);
      rebalancing_ = false;
      done(s);
    });
  });
}

grpc::ServerUnaryReactor* Service::FenceBucket(grpc::CallbackServerContext* ctx, const v1::FenceBucketRequest* req,
                                               v1::FenceBucketResponse* resp) {
  return unary(kFenceBucket, ctx, [this, req, resp](Done done) {
    post_admin([this, req, resp, done] {
      auto e = topic(req->topic(), /*forward=*/false);
      if (!e.ok()) return done(e.status());
      if (Status s = check_bucket(**e, req->bucket()); !s.ok()) return done(s);
      if (req->lift()) return done(lift_fence(**e, req->bucket()));
      if (req->target().empty()) return done(InvalidArgument(bucket_name(req->topic(), req->bucket()) + ": a fence without a target"));
      auto n = fence(**e, req->bucket(), req->target());
      if (!n.ok()) return done(n.status());
      resp->set_records(*n);
      export_producers(req->topic(), req->bucket(), resp->mutable_producers());
      done(Status::OK());
    });
  });
}

grpc::ServerUnaryReactor* Service::CopyBucket(grpc::CallbackServerContext* ctx, const v1::CopyBucketRequest* req,
                                              v1::CopyBucketResponse* resp) {
  return unary(kCopyBucket, ctx, [this, req, resp](Done done) {
    asio::post(*movers_, [this, req, resp, done] {
      auto e = topic(req->topic(), /*forward=*/true);
      if (!e.ok()) return done(e.status());
      auto n = copy_bucket(**e, *req);
      if (!n.ok()) return done(n.status().with_context("node " + self_.id.str()));
      import_producers(req->topic(), req->bucket(), req->producers());
      resp->set_records(*n);
      done(Status::OK());
    });
  });
}

grpc::ServerUnaryReactor* Service::SetPlacement(grpc::CallbackServerContext* ctx, const v1::SetPlacementRequest* req,
                                                v1::SetPlacementResponse*) {
  return unary(kSetPlacement, ctx, [this, req](Done done) {
    post_admin([this, req, done] {
      auto e = topic(req->topic(), /*forward=*/false);
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
      auto e = topic(req->topic(), /*forward=*/false);
      if (!e.ok()) return done(e.status());
      auto dropped = drop_buckets(**e, {req->buckets().begin(), req->buckets().end()}, req->not_owned());
      if (!dropped.ok()) return done(dropped.status());
      for (uint32_t b : *dropped) resp->add_dropped(b);
      done(Status::OK());
    });
  });
}

}  // namespace persisting::net
