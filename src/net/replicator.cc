#include "net/replicator.h"

#include <algorithm>
#include <atomic>

#include "backend/node_log_host.h"
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

constexpr uint32_t kMaxRecords = 10000;                     // per bucket and Replicate
constexpr uint32_t kWaitMs = 1000;                          // a parked Replicate
constexpr auto kCallTimeout = std::chrono::milliseconds(kWaitMs + 5000);  // a round unanswered
constexpr auto kScanPeriod = std::chrono::milliseconds(500);
constexpr uint64_t kLearnEvery = 10;                        // scans between asking for topics

using Clock = std::chrono::steady_clock;

}  // namespace

// The call that carries a link's rounds (ReplicateStream): one request written, its answer read,
// then the next round. answered(status) runs once per round: OK once the answer is read, or the
// call's end (its error; no round follows on this stream). Keeps itself alive until gRPC's
// OnDone, which waits (a hold) for a failed read or close().
class Replicator::Stream final : public grpc::ClientBidiReactor<v1::ReplicateRequest, v1::ReplicateResponse>,
                                 public std::enable_shared_from_this<Replicator::Stream> {
 public:
  Stream(std::function<void(Status)> answered, std::string where)
      : answered_(std::move(answered)), where_(std::move(where)) {}

  grpc::ClientContext ctx;  // TryCancel() ends the call (its open round answers the error)

  void start(v1::QueueService::Stub* stub) {
    self_ = shared_from_this();
    stub->async()->ReplicateStream(&ctx, this);
    AddHold();
    StartCall();
  }
  // Writes req (once the previous request's write is done) and reads its answer into resp; both
  // untouched until answered() runs.
  void round(const v1::ReplicateRequest* req, v1::ReplicateResponse* resp) {
    bool write_now;
    {
      std::lock_guard<std::mutex> lock(mu_);
      open_ = true;
      write_now = !writing_;
      if (write_now) writing_ = true;
      else queued_ = req;
    }
    if (write_now) StartWrite(req);
    StartRead(resp);
  }
  // Between rounds: ends the call (no answered() follows).
  void close() {
    ctx.TryCancel();
    release();
  }

  void OnWriteDone(bool) override {
    const v1::ReplicateRequest* next = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      writing_ = false;
      std::swap(next, queued_);
      if (next) writing_ = true;
    }
    if (next) StartWrite(next);  // fails at once, too, when the call has ended
  }
  void OnReadDone(bool ok) override {
    if (!ok) return release();  // the call ended: OnDone says why
    std::function<void(Status)> cb;
    {
      std::lock_guard<std::mutex> lock(mu_);
      open_ = false;
      cb = answered_;
    }
    cb(Status::OK());
  }
  void OnDone(const grpc::Status& s) override {
    std::shared_ptr<Stream> keep = std::move(self_);  // this lives until the end of this function
    std::function<void(Status)> cb;
    bool report;
    {
      std::lock_guard<std::mutex> lock(mu_);
      report = open_;
      open_ = false;
      cb.swap(answered_);  // no cycle through the link left behind
    }
    if (report && cb)
      cb(s.ok() ? Unavailable(where_ + ": the replication stream ended") : from_grpc(s, where_));
  }

 private:
  void release() {
    bool held;
    {
      std::lock_guard<std::mutex> lock(mu_);
      held = hold_;
      hold_ = false;
    }
    if (held) RemoveHold();
  }

  std::function<void(Status)> answered_;
  const std::string where_;
  std::shared_ptr<Stream> self_;
  std::mutex mu_;
  bool open_ = false;     // a round written, its answer not read
  bool writing_ = false;  // a StartWrite not done
  bool hold_ = true;
  const v1::ReplicateRequest* queued_ = nullptr;  // to write once the write in flight is done
};

// One followed bucket, in its leader's link.
struct Replicator::Follow {
  std::string key;  // "topic\nbucket"
  std::shared_ptr<TopicEntry> topic;
  uint32_t bucket = 0;
  std::shared_ptr<runtime::BucketStorage> actor;
  uint64_t epoch = 0;  // the leader epoch it follows
  uint64_t log_end = 0;
  uint64_t producers_session = 0;  // the leader's deduplication entries installed
  uint64_t producers_version = 0;
};

// The chain of calls to one leader node, for every bucket this node follows from it.
struct Replicator::Link {
  std::string key;  // "leader id\naddress"
  runtime::Member leader;
  std::map<std::string, std::shared_ptr<Follow>> follows;  // under Replicator::mu_
  uint64_t rounds = 0;
  std::mutex mu;  // guards stream, rearm and asked against stop()'s and the scan's cancel
  std::shared_ptr<Stream> stream;  // the call carrying the rounds; none once it ended
  bool rearm = false;  // the call was cancelled to call again (a bucket joined or went stale)
  std::optional<Clock::time_point> asked;  // when the round in flight was sent, until answered
  // The round in flight (one at a time): its buckets in the request's order, and per bucket
  // whether it leaves the link after this round and why.
  std::vector<std::shared_ptr<Follow>> round;
  struct Outcome {
    bool drop = false;
    Status why;
  };
  std::vector<Outcome> outcome;
  std::atomic<size_t> pending{0};  // appends of the round not finished, plus one
  // Two requests, in turns: a round's is built while the previous one's write may still be
  // finishing.
  v1::ReplicateRequest reqs[2];
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
    for (auto& [key, l] : links_) {
      std::lock_guard<std::mutex> ll(l->mu);
      if (l->stream) l->stream->ctx.TryCancel();
    }
  }
  cv_.notify_all();
  lock.unlock();
  if (scanner_) scanner_->stop();  // a scan going on finishes first; none starts after
  lock.lock();
  cv_.wait(lock, [this] { return links_.empty(); });
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
      follow(t, b);
    }
  }
  cancel_stale();  // links with buckets whose leader changed meanwhile
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
  const auto now = Clock::now();
  for (auto& [key, l] : links_) {
    {
      // A round unanswered for long (a frozen leader): the call ends, and the link with it.
      std::lock_guard<std::mutex> ll(l->mu);
      if (l->stream && l->asked && now - *l->asked > kCallTimeout) {
        l->stream->ctx.TryCancel();
        continue;
      }
    }
    for (const auto& [fkey, f] : l->follows)
      if (directory_->leader(*f->topic, f->bucket).epoch != f->epoch) {
        rearm(*l);
        break;
      }
  }
}

void Replicator::rearm(Link& l) {
  std::lock_guard<std::mutex> ll(l.mu);
  if (!l.stream) return;
  l.rearm = true;
  l.stream->ctx.TryCancel();
}

bool Replicator::following(const std::string& key) const {
  for (const auto& [lkey, l] : links_)
    if (l->follows.count(key)) return true;
  return false;
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

void Replicator::follow(const std::shared_ptr<TopicEntry>& t, uint32_t bucket) {
  std::string key = t->info.topic + "\n" + std::to_string(bucket);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || following(key)) return;
  }
  auto f = std::make_shared<Follow>();
  f->key = key;
  f->topic = t;
  f->bucket = bucket;
  std::string what = "replication of " + bucket_name(t->info.topic, bucket);
  const Leadership lead = directory_->leader(*t, bucket);
  if (lead.leader == directory_->self().id) return;
  auto leader = directory_->owner(*t, bucket);
  if (!leader.ok()) return;  // the leader is not known now: the next scan tries again
  f->epoch = lead.epoch;
  // A newer epoch than the copy was checked against: its divergent tail goes first.
  if (Status s = cut_divergent_tail(*t, bucket, lead.epoch); !s.ok())
    return log_if_error(logger_, LogLevel::kWarning, what, s);
  // The local copy: created like any bucket of the topic, served by no one (the node does not
  // own it).
  auto actors = core_->actors(t->info, {BucketId(bucket)}, {});
  if (!actors.ok()) return log_if_error(logger_, LogLevel::kWarning, what, actors.status());
  f->actor = (*actors)[0];
  auto have = total_count(*f->actor);
  if (!have.ok()) return log_if_error(logger_, LogLevel::kWarning, what, have.status());
  f->log_end = *have;
  std::shared_ptr<Link> fresh;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || following(key)) return;
    std::string lkey = leader->id.str() + "\n" + leader->address;
    std::shared_ptr<Link>& l = links_[lkey];
    if (!l) {
      l = fresh = std::make_shared<Link>();
      l->key = lkey;
      l->leader = *leader;
    }
    l->follows[key] = f;
    if (!fresh) rearm(*l);  // a parked call would hold the new bucket back up to its wait
  }
  if (fresh) next(fresh);
}

void Replicator::next(const std::shared_ptr<Link>& l) {
  // Buckets whose topic was deleted since, or that have a new epoch, leave the link (the next
  // scan adds them to their leader's).
  std::vector<std::shared_ptr<Follow>> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [key, f] : l->follows) all.push_back(f);
  }
  std::vector<std::string> stale;
  for (const auto& f : all)
    if (directory_->cached(f->topic->info.topic) != f->topic ||
        directory_->leader(*f->topic, f->bucket).epoch != f->epoch)
      stale.push_back(f->key);
  l->round.clear();
  std::shared_ptr<Stream> stream, fresh;
  std::string where = "leader " + l->leader.id.str() + " at " + l->leader.address;
  {
    // Under mu_ (then l->mu, stop()'s order): either stop() sees this stream and cancels it, or
    // this sees stopping_.
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& key : stale) l->follows.erase(key);
    std::lock_guard<std::mutex> ll(l->mu);
    if (stopping_ || l->follows.empty()) {
      stream.swap(l->stream);
      links_.erase(l->key);
      cv_.notify_all();
    } else {
      for (const auto& [key, f] : l->follows) l->round.push_back(f);
      if (!l->stream) {  // the first round, or the last call ended (cancelled to call again, failed)
        l->stream = fresh = std::make_shared<Stream>(
            [this, l](Status s) { on_answer(l, s); }, where);
        l->rearm = false;
        peers_->prepare_stream(&fresh->ctx);
      }
      stream = l->stream;
      l->asked = Clock::now();
    }
  }
  if (l->round.empty()) {  // the link ended
    if (stream) stream->close();
    return;
  }
  // Each round starts at another bucket: the answer's byte budget is not always spent on the
  // same ones.
  std::rotate(l->round.begin(), l->round.begin() + static_cast<ptrdiff_t>(l->rounds++ % l->round.size()),
              l->round.end());
  v1::ReplicateRequest& req = l->reqs[l->rounds % 2];
  req.Clear();
  l->resp.Clear();
  req.set_follower(directory_->self().id.str());
  req.set_max_records(kMaxRecords);
  req.set_wait_ms(kWaitMs);
  for (const auto& f : l->round) {
    auto* rb = req.add_buckets();
    rb->set_topic(f->topic->info.topic);
    rb->set_incarnation(f->topic->info.incarnation);
    rb->set_bucket(f->bucket);
    rb->set_leader_epoch(f->epoch);
    rb->set_log_end(f->log_end);
    rb->set_producers_session(f->producers_session);
    rb->set_producers_version(f->producers_version);
  }
  if (fresh) fresh->start(peers_->stub(l->leader.address).get());
  stream->round(&req, &l->resp);
}

void Replicator::on_answer(const std::shared_ptr<Link>& l, const Status& s) {
  {
    std::lock_guard<std::mutex> ll(l->mu);
    l->asked.reset();
  }
  if (!s.ok()) {
    bool again;
    {
      std::lock_guard<std::mutex> ll(l->mu);
      again = l->rearm;
      l->stream.reset();  // it ended: the next round starts another call
    }
    if (again) return next(l);  // cancelled to call again (stopping: next ends the link)
    // Another epoch on one side (FAILED_PRECONDITION): this node compares its records with the
    // other members' at the next scan.
    if (s.code() == Code::kFailedPrecondition)
      for (const auto& f : l->round) f->topic->confirmed = false;
    return end(l, s);
  }
  if (l->resp.buckets_size() != static_cast<int>(l->round.size()))
    return end(l, Internal("replication from leader " + l->leader.id.str() + ": " +
                           std::to_string(l->resp.buckets_size()) + " buckets answered, " +
                           std::to_string(l->round.size()) + " asked"));
  l->outcome.assign(l->round.size(), {});
  // Every bucket's run shares one group commit of the node log (one write, and one fdatasync
  // under wal_sync_mode=always), as a put's parts do: it starts once every run is queued.
  std::shared_ptr<void> plug;
  if (l->round.size() > 1) plug = NodeLogHost::plug(core_->env, core_->options.data_dir);
  l->pending = 1;  // the loop's own share: appended() runs once the loop and every append are done
  for (size_t i = 0; i < l->round.size(); ++i) {
    const std::shared_ptr<Follow>& f = l->round[i];
    const auto& rb = l->resp.buckets(static_cast<int>(i));
    TopicEntry& t = *f->topic;
    Link::Outcome& out = l->outcome[i];
    auto what = [&] { return "replication of " + bucket_name(t.info.topic, f->bucket); };
    if (rb.error_code() != 0) {  // refused: it leaves the link, the others go on
      out = {true, Status(static_cast<Code>(rb.error_code()), rb.error())};
      if (out.why.code() == Code::kFailedPrecondition) t.confirmed = false;
      continue;
    }
    if (rb.leader_epoch() != f->epoch) {
      t.confirmed = false;
      out = {true, FailedPrecondition(what() + ": the leader answered at epoch " + std::to_string(rb.leader_epoch()) +
                                      ", not " + std::to_string(f->epoch))};
      continue;
    }
    if (rb.offset() != f->log_end) {
      out = {true, Internal(what() + ": the leader answered another offset")};
      continue;
    }
    {
      std::lock_guard<std::mutex> lock(t.leaders_mu);
      t.followed[f->bucket] = {f->epoch, rb.in_sync(), rb.high_watermark()};
    }
    if (rb.run().ends_size() == 0) continue;  // nothing new within the wait
    auto batch = from_wire(rb.run(), what());
    if (!batch.ok()) {
      out = {true, batch.status()};
      continue;
    }
    if (batch->size() == 0) continue;
    {
      // Still this epoch's follower: an election of this node waits for this append to finish.
      std::lock_guard<std::mutex> lock(t.leaders_mu);
      auto it = t.leaders.find(f->bucket);
      uint64_t now = it == t.leaders.end() ? 0 : it->second.epoch();
      if (now != f->epoch || t.taking_over[f->bucket]) {
        out = {true, Status::OK()};
        continue;
      }
      t.appending[f->bucket] = true;
    }
    size_t n = batch->size();
    ++l->pending;
    f->actor->put(std::move(batch).value(), [this, l, i, n](Result<Offset> r) {
      const std::shared_ptr<Follow>& f = l->round[i];
      {
        std::lock_guard<std::mutex> lock(f->topic->leaders_mu);
        f->topic->appending[f->bucket] = false;
      }
      f->topic->leaders_cv.notify_all();
      if (!r.ok()) {
        l->outcome[i] = {true, r.status()};
      } else if (r->value() != f->log_end) {  // someone else appended to the copy: not the leader's log
        l->outcome[i] = {true, Internal("replication of " + bucket_name(f->topic->info.topic, f->bucket) +
                                        ": the local copy took the records at offset " + std::to_string(r->value()) +
                                        ", not " + std::to_string(f->log_end))};
      } else {
        f->log_end += n;
      }
      if (--l->pending == 0) appended(l);
    }, plug);
  }
  plug.reset();  // the group commit of every run starts
  if (--l->pending == 0) appended(l);
}

void Replicator::appended(const std::shared_ptr<Link>& l) {
  std::vector<std::string> dropped;
  for (size_t i = 0; i < l->round.size(); ++i) {
    const std::shared_ptr<Follow>& f = l->round[i];
    const Link::Outcome& out = l->outcome[i];
    if (out.drop) {
      dropped.push_back(f->key);
      std::lock_guard<std::mutex> lock(mu_);
      // A failure while running is worth a line (a stop's cancel is not); the next scan adds
      // the bucket again.
      if (!stopping_ && !out.why.ok())
        log_if_error(logger_, LogLevel::kDebug, "replication of " + bucket_name(f->topic->info.topic, f->bucket),
                     out.why);
      continue;
    }
    // The leader sent only entries whose records end at or before what this answer shipped.
    // One past that (never from a sound leader) is left, and asked for again.
    const auto& rb = l->resp.buckets(static_cast<int>(i));
    std::vector<PutDedup::ProducerState> states;
    bool all = true;
    states.reserve(rb.producers_size());
    for (const auto& p : rb.producers()) {
      if (p.first_offset() + p.count() > f->log_end) {
        all = false;
        continue;
      }
      states.push_back({p.producer_id(), p.sequence(), p.first_offset(), p.count(), p.kafka_state()});
    }
    if (!states.empty()) dedup_->import_bucket(f->topic->info.topic, f->bucket, states);
    if (all) {
      f->producers_session = rb.producers_session();
      f->producers_version = rb.producers_version();
    }
  }
  if (!dropped.empty()) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& key : dropped) l->follows.erase(key);
  }
  next(l);
}

void Replicator::end(const std::shared_ptr<Link>& l, const Status& why) {
  std::shared_ptr<Stream> stream;
  {
    std::lock_guard<std::mutex> ll(l->mu);
    stream.swap(l->stream);
  }
  if (stream) stream->close();  // still open after a malformed answer
  std::lock_guard<std::mutex> lock(mu_);
  // A failure while running is worth a line (a stop's cancel is not); the next scan adds its
  // buckets again.
  if (!stopping_ && !why.ok())
    log_if_error(logger_, LogLevel::kDebug, "replication from leader " + l->leader.id.str(), why);
  links_.erase(l->key);
  cv_.notify_all();
}

}  // namespace persisting::net
