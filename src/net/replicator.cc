#include "net/replicator.h"

#include <algorithm>

#include "core/log.h"
#include "core/status_macros.h"
#include "net/grpc_status.h"
#include "net/rebalance.h"
#include "queue/topic_meta.h"
#include "runtime/storage_manager.h"
#include "net/service_internal.h"
#include "net/wire.h"

namespace persisting::net {
namespace {

constexpr uint32_t kMaxRecords = 10000;                     // per Replicate
constexpr uint32_t kWaitMs = 1000;                          // a parked Replicate
constexpr auto kCallTimeout = std::chrono::milliseconds(kWaitMs + 5000);
constexpr auto kScanPeriod = std::chrono::milliseconds(500);
constexpr uint64_t kLearnEvery = 10;                        // scans between asking for topics

}  // namespace

struct Replicator::Chain {
  std::string key;
  std::shared_ptr<TopicEntry> topic;
  uint32_t bucket = 0;
  std::shared_ptr<runtime::BucketStorage> actor;
  runtime::Member leader;
  uint64_t epoch = 0;  // the leader epoch this chain follows
  uint64_t log_end = 0;
  uint64_t producers_session = 0;  // the leader's deduplication entries this chain installed
  uint64_t producers_version = 0;
  std::mutex mu;  // guards ctx against stop()'s cancel
  std::unique_ptr<grpc::ClientContext> ctx;
  v1::ReplicateRequest req;
  v1::ReplicateResponse resp;
};

Replicator::Replicator(TopicDirectory* directory, std::shared_ptr<detail::QueueCore> core, Channels* peers,
                       Logger* logger, PutDedup* dedup, Membership* membership, std::chrono::milliseconds peer_timeout,
                       bool allow_unclean_election)
    : directory_(directory), core_(core), peers_(peers), logger_(logger), dedup_(dedup), membership_(membership),
      peer_timeout_(peer_timeout) {
  if (membership_ && membership_->elections())
    elector_ = std::make_unique<Elector>(directory_, std::move(core), membership_, membership_->elections(), logger_,
                                         allow_unclean_election);
}

Replicator::~Replicator() { stop(); }

void Replicator::start() {
  // A task on the process pool, not a thread of its own: a node's threads stay a fixed set.
  scanner_ = std::make_unique<BackgroundTask>(Scheduler::Default(), [this] {
    scan();
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) scanner_->run_after(kScanPeriod);
  });
  scanner_->run_now();
  // A leader key gone or new (a lease expired, an election won): scan now, not at the next
  // period, so a candidate campaigns and followers adopt the new epoch at once.
  if (elector_)
    membership_->elections()->on_leaders_changed([this] {
      std::lock_guard<std::mutex> lock(mu_);
      if (!stopping_) scanner_->run_now();
    });
}

void Replicator::stop() {
  if (elector_) membership_->elections()->on_leaders_changed(nullptr);  // no call after this
  std::unique_lock<std::mutex> lock(mu_);
  if (!stopping_) {
    stopping_ = true;
    for (auto& [key, c] : chains_) {
      std::lock_guard<std::mutex> cl(c->mu);
      if (c->ctx) c->ctx->TryCancel();
    }
  }
  cv_.notify_all();
  lock.unlock();
  if (scanner_) scanner_->stop();  // a scan going on finishes first; none starts after
  lock.lock();
  cv_.wait(lock, [this] { return chains_.empty(); });
}

void Replicator::scan() {
  bool first = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    first = !loaded_;
    loaded_ = true;
  }
  if (first) {  // the replicated topics on this node's disk, before anyone asks for them
    auto local = directory_->local_topics();
    if (local.ok())
      for (const auto& info : *local)
        if (info.replication_factor > 1) log_if_error(logger_, LogLevel::kWarning, "replication: loading topic '" + info.topic + "'",
                                                      directory_->find(info.topic, false).status());
  }
  // Not at once: a call to a member that is not up yet would hold its channel in gRPC's
  // reconnect backoff, and the topic creations forwarded to it meanwhile would fail.
  if (++scans_ % kLearnEvery == 0) learn_topics();
  for (const auto& t : directory_->all()) {
    if (t->info.replication_factor <= 1) continue;
    if (!t->confirmed) confirm(*t);
    if (!t->confirmed) continue;  // no member answered yet: the next scan asks again
    if (t->tracker) t->tracker->tick();  // the buckets it leads: followers lagging too long leave
    for (uint32_t b = 0; b < t->info.num_buckets; ++b) {
      std::vector<NodeId> replicas = directory_->replicas(*t, b);
      if (std::find(replicas.begin(), replicas.end(), directory_->self().id) == replicas.end()) continue;
      if (elector_) elector_->step(*t, b);
      if (directory_->leader(*t, b).leader == directory_->self().id) continue;
      start_chain(t, b);
    }
  }
  cancel_stale();  // chains of buckets whose leader changed meanwhile
}

void Replicator::learn_topics() {
  if (!membership_) return;
  for (const auto& m : membership_->configured()) {
    if (m.id == directory_->self().id || !membership_->down_reason(m.id).empty()) continue;
    v1::ListTopicsRequest q;
    q.set_local_only(true);
    v1::ListTopicsResponse r;
    Status s = call_peer(*peers_, m, &Stub::ListTopics, q, &r, peer_timeout_);
    if (!s.ok()) {
      log_if_error(logger_, LogLevel::kDebug, "replication: the topics of node " + m.id.str(), s);
      continue;
    }
    for (const auto& spec : r.topics()) {
      if (spec.replication_factor() <= 1 || directory_->cached(spec.topic())) continue;
      // On this disk: loaded by the first scan (or deleted here since the peer listed it).
      if (core_->lookup(spec.topic()).status().code() != Code::kNotFound) continue;
      auto e = directory_->find(spec.topic(), /*forward=*/true);
      if (e.ok())
        log_line(logger_, LogLevel::kInfo, "replication: learned topic '" + spec.topic() + "' from node " +
                 m.id.str() + " (this node's disk does not have it): its copies are fetched from their leaders");
      else
        log_if_error(logger_, LogLevel::kWarning, "replication: learning topic '" + spec.topic() + "'", e.status());
    }
  }
}

void Replicator::cancel_stale() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [key, c] : chains_) {
    if (directory_->leader(*c->topic, c->bucket).epoch == c->epoch) continue;
    std::lock_guard<std::mutex> cl(c->mu);
    if (c->ctx) c->ctx->TryCancel();
  }
}

void Replicator::confirm(TopicEntry& t) {
  if (!membership_) {
    t.confirmed = true;
    return;
  }
  bool others = false, reached = false;
  for (const auto& m : membership_->configured()) {
    if (m.id == directory_->self().id) continue;
    others = true;
    v1::BucketLeaderRequest q;
    q.set_topic(t.info.topic);
    q.set_incarnation(t.info.incarnation);
    v1::BucketLeaderResponse r;
    Status s = call_peer(*peers_, m, &Stub::BucketLeader, q, &r, peer_timeout_);
    if (s.code() == Code::kNotFound) {  // it has no copy of the topic: nothing newer there
      reached = true;
      continue;
    }
    if (!s.ok()) continue;
    reached = true;
    for (const auto& st : r.buckets()) {
      if (st.epochs().empty()) continue;
      std::vector<LeaderEpoch> epochs;
      for (const auto& e : st.epochs()) epochs.push_back({e.epoch(), e.leader(), e.start()});
      bool changed = false;
      Status a = directory_->adopt(t, st.bucket(), std::move(epochs), &changed);
      log_if_error(logger_, LogLevel::kWarning, "leader epochs of " + bucket_name(t.info.topic, st.bucket()) +
                   " from node " + m.id.str(), a);
      if (changed)
        log_line(logger_, LogLevel::kInfo, bucket_name(t.info.topic, st.bucket()) + ": leader " +
                 st.epochs().rbegin()->leader() + " at epoch " + std::to_string(st.epochs().rbegin()->epoch()) +
                 " (learned from node " + m.id.str() + ")");
    }
  }
  if (!others || reached) t.confirmed = true;
}

Status Replicator::cut_divergent_tail(TopicEntry& t, uint32_t bucket, uint64_t epoch) {
  std::optional<uint64_t> point;
  {
    std::lock_guard<std::mutex> lock(t.leaders_mu);
    auto it = t.leaders.find(bucket);
    if (it == t.leaders.end() || it->second.local_epoch >= epoch) return Status::OK();
    point = it->second.divergence_point();
  }
  if (point) {
    ASSIGN_OR_RETURN(auto actors, core_->actors(t.info, {BucketId(bucket)}, {}));
    ASSIGN_OR_RETURN(uint64_t have, total_count(*actors[0]));
    actors.clear();
    if (have > *point) {
      // No backend truncates a tail yet: the whole copy goes, and is fetched again from 0.
      log_line(logger_, LogLevel::kWarning,
               bucket_name(t.info.topic, bucket) + ": the local copy has " + std::to_string(have) +
                   " records, past " + std::to_string(*point) + " where leader epoch " + std::to_string(epoch) +
                   " stops agreeing with it: deleting it to fetch it again from the leader");
      {
        std::lock_guard<std::mutex> lock(t.mu);
        t.actors[bucket].reset();
      }
      RETURN_IF_ERROR(core_->manager->drop(t.info.topic, BucketId(bucket)));
      dedup_->forget_bucket(t.info.topic, bucket);  // they may name records cut
      if (core_->has_data_dir()) {
        std::string dir = queue::bucket_dir(core_->options.data_dir, t.info.topic, BucketId(bucket));
        if (core_->env->file_exists(dir)) RETURN_IF_ERROR(core_->env->remove_all(dir));
      }
    }
  }
  return directory_->set_local_epoch(t, bucket, epoch);
}

void Replicator::start_chain(const std::shared_ptr<TopicEntry>& t, uint32_t bucket) {
  std::string key = t->info.topic + "\n" + std::to_string(bucket);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || chains_.count(key)) return;
  }
  auto c = std::make_shared<Chain>();
  c->key = key;
  c->topic = t;
  c->bucket = bucket;
  std::string what = "replication of " + bucket_name(t->info.topic, bucket);
  const Leadership lead = directory_->leader(*t, bucket);
  if (lead.leader == directory_->self().id) return;
  auto leader = directory_->owner(*t, bucket);
  if (!leader.ok()) return;  // the leader is not known now: the next scan tries again
  c->leader = *leader;
  c->epoch = lead.epoch;
  // A newer epoch than the copy was checked against: its divergent tail goes first.
  if (Status s = cut_divergent_tail(*t, bucket, lead.epoch); !s.ok())
    return log_if_error(logger_, LogLevel::kWarning, what, s);
  // The local copy: created like any bucket of the topic, served by no one (the node does not
  // own it).
  auto actors = core_->actors(t->info, {BucketId(bucket)}, {});
  if (!actors.ok()) return log_if_error(logger_, LogLevel::kWarning, what, actors.status());
  c->actor = (*actors)[0];
  auto have = total_count(*c->actor);
  if (!have.ok()) return log_if_error(logger_, LogLevel::kWarning, what, have.status());
  c->log_end = *have;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || chains_.count(key)) return;
    chains_[key] = c;
  }
  next(c);
}

void Replicator::next(const std::shared_ptr<Chain>& c) {
  if (directory_->cached(c->topic->info.topic) != c->topic) return end(c, Status::OK());  // deleted since
  if (directory_->leader(*c->topic, c->bucket).epoch != c->epoch) return end(c, Status::OK());  // a new epoch
  {
    // Under mu_ (then c->mu, stop()'s order): either stop() sees this context and cancels it, or
    // this sees stopping_.
    std::unique_lock<std::mutex> lock(mu_);
    if (stopping_) {
      lock.unlock();
      return end(c, Status::OK());
    }
    std::lock_guard<std::mutex> cl(c->mu);
    c->ctx = std::make_unique<grpc::ClientContext>();
    peers_->prepare(c->ctx.get(), kCallTimeout);
  }
  c->req.Clear();
  c->resp.Clear();
  c->req.set_topic(c->topic->info.topic);
  c->req.set_bucket(c->bucket);
  c->req.set_follower(directory_->self().id.str());
  c->req.set_log_end(c->log_end);
  c->req.set_max_records(kMaxRecords);
  c->req.set_wait_ms(kWaitMs);
  c->req.set_incarnation(c->topic->info.incarnation);
  c->req.set_leader_epoch(c->epoch);
  c->req.set_producers_session(c->producers_session);
  c->req.set_producers_version(c->producers_version);
  std::string where = "leader " + c->leader.id.str() + " at " + c->leader.address;
  peers_->stub(c->leader.address)
      ->async()
      ->Replicate(c->ctx.get(), &c->req, &c->resp, [this, c, where](grpc::Status s) { on_answer(c, from_grpc(s, where)); });
}

void Replicator::on_answer(const std::shared_ptr<Chain>& c, const Status& s) {
  TopicEntry& t = *c->topic;
  // Another epoch on one side (FAILED_PRECONDITION): this node compares its records with the
  // other members' at the next scan.
  if (s.code() == Code::kFailedPrecondition) t.confirmed = false;
  if (!s.ok()) return end(c, s);
  std::string what = "replication of " + bucket_name(t.info.topic, c->bucket);
  if (c->resp.leader_epoch() != c->epoch) {
    t.confirmed = false;
    return end(c, FailedPrecondition(what + ": the leader answered at epoch " +
                                     std::to_string(c->resp.leader_epoch()) + ", not " + std::to_string(c->epoch)));
  }
  if (c->resp.offset() != c->log_end) return end(c, Internal(what + ": the leader answered another offset"));
  auto batch = from_wire(c->resp.run(), what);
  if (!batch.ok()) return end(c, batch.status());
  {
    std::lock_guard<std::mutex> lock(t.leaders_mu);
    t.followed[c->bucket] = {c->epoch, c->resp.in_sync(), c->resp.high_watermark()};
  }
  if (batch->size() == 0) return appended(c);  // nothing new within the wait
  {
    // Still this epoch's follower: an election of this node waits for this append to finish.
    std::lock_guard<std::mutex> lock(t.leaders_mu);
    auto it = t.leaders.find(c->bucket);
    uint64_t now = it == t.leaders.end() ? 0 : it->second.epoch();
    if (now != c->epoch || t.taking_over[c->bucket]) return end(c, Status::OK());
    t.appending[c->bucket] = true;
  }
  size_t n = batch->size();
  c->actor->put(std::move(batch).value(), [this, c, n, what](Result<Offset> r) {
    {
      std::lock_guard<std::mutex> lock(c->topic->leaders_mu);
      c->topic->appending[c->bucket] = false;
    }
    c->topic->leaders_cv.notify_all();
    if (!r.ok()) return end(c, r.status());
    if (r->value() != c->log_end)  // someone else appended to the copy: it is not the leader's log
      return end(c, Internal(what + ": the local copy took the records at offset " + std::to_string(r->value()) +
                             ", not " + std::to_string(c->log_end)));
    c->log_end += n;
    appended(c);
  });
}

void Replicator::appended(const std::shared_ptr<Chain>& c) {
  // The leader sent only entries whose records end at or before what this answer shipped.
  // One past that (never from a sound leader) is left, and asked for again.
  std::vector<PutDedup::ProducerState> states;
  bool all = true;
  states.reserve(c->resp.producers_size());
  for (const auto& p : c->resp.producers()) {
    if (p.first_offset() + p.count() > c->log_end) {
      all = false;
      continue;
    }
    states.push_back({p.producer_id(), p.sequence(), p.first_offset(), p.count()});
  }
  if (!states.empty()) dedup_->import_bucket(c->topic->info.topic, c->bucket, states);
  if (all) {
    c->producers_session = c->resp.producers_session();
    c->producers_version = c->resp.producers_version();
  }
  next(c);
}

void Replicator::end(const std::shared_ptr<Chain>& c, const Status& why) {
  std::lock_guard<std::mutex> lock(mu_);
  // A failure while running is worth a line (a stop's cancel is not); the next scan restarts it.
  if (!stopping_ && !why.ok())
    log_if_error(logger_, LogLevel::kDebug, "replication of " + bucket_name(c->topic->info.topic, c->bucket), why);
  chains_.erase(c->key);
  cv_.notify_all();
}

}  // namespace persisting::net
