#include "backend/node_log_host.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <set>
#include <thread>

#include "backend/buffered_dataset.h"
#include "backend/wal_damage_record.h"
#include "core/log.h"
#include "core/side_by_side.h"
#include "core/status_macros.h"
#include "persisting/json.h"
#include "storage/wal/wal_format.h"

namespace persisting {
namespace {

constexpr char kLockFile[] = "LOCK";
constexpr char kOwnStream[] = "bucket";

std::string hex16(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string log_dir_of(const BackendContext& ctx) {
  return ctx.data_dir.empty() ? join_path(ctx.bucket_dir, "log") : join_path(ctx.data_dir, ".wal");
}

// The registry: one host per (Env, log dir), alive while some bucket holds it.
std::mutex registry_mu;
std::map<std::pair<Env*, std::string>, std::weak_ptr<NodeLogHost>>& registry() {
  static auto* r = new std::map<std::pair<Env*, std::string>, std::weak_ptr<NodeLogHost>>();
  return *r;
}

// The keys claim_in_process handed out and not released yet.
std::mutex claims_mu;
std::set<std::pair<Env*, std::string>>& claims() {
  static auto* c = new std::set<std::pair<Env*, std::string>>();
  return *c;
}

class InProcessClaim final : public FileLock {
 public:
  explicit InProcessClaim(std::pair<Env*, std::string> key) : key_(std::move(key)) {}
  ~InProcessClaim() override {
    std::lock_guard l(claims_mu);
    claims().erase(key_);
  }

 private:
  std::pair<Env*, std::string> key_;
};

Result<std::unique_ptr<FileLock>> claim_once(Env* env, const std::string& key) {
  std::lock_guard l(claims_mu);
  if (!claims().insert({env, key}).second)
    return FailedPrecondition("'" + key + "' is claimed by another open in this process");
  return std::unique_ptr<FileLock>(new InProcessClaim({env, key}));
}

// try_once again (backing off up to 200 ms) for up to patience while it says FailedPrecondition.
Result<std::unique_ptr<FileLock>> with_patience(const std::function<Result<std::unique_ptr<FileLock>>()>& try_once,
                                                std::chrono::milliseconds patience) {
  const auto deadline = std::chrono::steady_clock::now() + patience;
  auto pause = std::chrono::milliseconds(5);
  for (;;) {
    auto lock = try_once();
    if (lock.ok() || lock.status().code() != Code::kFailedPrecondition ||
        std::chrono::steady_clock::now() >= deadline)
      return lock;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(200));
  }
}

}  // namespace

Result<std::unique_ptr<FileLock>> lock_with_patience(Env* env, const std::string& path,
                                                     std::chrono::milliseconds patience) {
  return with_patience([&] { return env->lock_file(path); }, patience);
}

Result<std::unique_ptr<FileLock>> claim_in_process(Env* env, const std::string& key,
                                                   std::chrono::milliseconds patience) {
  return with_patience([&] { return claim_once(env, key); }, patience);
}

bool wal_dir_has_segments(Env* env, const std::string& dir, bool with_records_only) {
  if (!env->file_exists(dir)) return false;
  auto names = env->get_children(dir);
  if (!names.ok()) return true;  // the open that follows says what is wrong
  for (const auto& name : *names) {
    if (!wal::parse_segment_file_name(name)) continue;
    if (!with_records_only) return true;
    auto size = env->file_size(join_path(dir, name));
    if (!size.ok() || *size > wal::kSegmentHeaderSize) return true;
  }
  return false;
}

std::string NodeLogHost::stream_name(const BackendContext& ctx) {
  if (ctx.data_dir.empty()) return kOwnStream;
  return ctx.topic + "/bucket_" + std::to_string(ctx.bucket.value()) + "#" + hex16(ctx.incarnation);
}

std::shared_ptr<NodeLogHost> NodeLogHost::get(const BackendContext& ctx) {
  const std::string dir = log_dir_of(ctx);
  std::lock_guard l(registry_mu);
  auto& slot = registry()[{ctx.env, dir}];
  if (auto h = slot.lock()) return h;
  std::shared_ptr<NodeLogHost> h(new NodeLogHost(ctx.env, dir, ctx.data_dir, ctx.logger,
                                                 ctx.scheduler ? ctx.scheduler : Scheduler::Default(),
                                                 ctx.tail_cache ? ctx.tail_cache : TailCache::Default()));
  slot = h;
  return h;
}

std::shared_ptr<void> NodeLogHost::plug(Env* env, const std::string& data_dir) {
  std::shared_ptr<NodeLogHost> host;
  {
    std::lock_guard l(registry_mu);
    auto it = registry().find({env, join_path(data_dir, ".wal")});
    if (it == registry().end()) return nullptr;
    host = it->second.lock();
  }
  if (!host) return nullptr;
  struct Hold {
    std::shared_ptr<NodeLogHost> host;
    std::unique_ptr<wal::NodeLog::Plug> plug;
    ~Hold() {
      plug.reset();     // starts the group commit of what queued meanwhile
      host->release();  // the log may close now
    }
  };
  wal::NodeLog* log;
  {
    std::lock_guard l(host->mu_);
    if (!host->log_) return nullptr;
    log = host->log_.get();
    ++host->users_;
  }
  auto hold = std::make_shared<Hold>();
  hold->host = std::move(host);
  hold->plug = std::make_unique<wal::NodeLog::Plug>(log);
  return hold;
}

NodeLogHost::NodeLogHost(Env* env, std::string dir, std::string data_dir, Logger* logger, Scheduler* scheduler,
                         TailCache* tail_cache)
    : env_(env), dir_(std::move(dir)), data_dir_(std::move(data_dir)),
      logger_(logger ? logger : default_logger()), scheduler_(scheduler), tail_cache_(tail_cache),
      bg_(logger_, "node log '" + dir_ + "'"), recovery_(scheduler_, [this] { flush_held_back(); }) {}

NodeLogHost::~NodeLogHost() {
  recovery_.stop();
  {
    std::lock_guard l(mu_);
    close_locked();
  }
  std::lock_guard l(registry_mu);
  auto it = registry().find({env_, dir_});
  if (it != registry().end() && it->second.expired()) registry().erase(it);
}

Status NodeLogHost::open_locked(const Settings& settings, std::chrono::milliseconds patience) {
  RETURN_IF_ERROR(env_->create_dirs(dir_));
  const std::string lock_path = join_path(dir_, kLockFile);
  auto lock = lock_with_patience(env_, lock_path, patience);
  if (!lock.ok()) {
    if (lock.status().code() != Code::kFailedPrecondition) return lock.status();
    return FailedPrecondition("the log '" + dir_ + "' is written by another process (it holds '" + lock_path +
                              "'); this one only reads");
  }
  lock_ = std::move(lock).value();
  wal::NodeLogOptions o = log_options(settings);
  o.on_hold_back = [this](const std::string& stream) {
    {
      // Not mu_: the log asks from its group-commit thread, which close (under mu_) waits for.
      std::lock_guard l(held_mu_);
      held_back_.push_back(stream);
    }
    recovery_.run_now();
  };
  auto log = wal::NodeLog::open(dir_, o, &report_);
  if (!log.ok()) {
    lock_.reset();
    return log.status();
  }
  log_ = std::move(log).value();
  warn_if_lost();
  return Status::OK();
}

wal::NodeLogOptions NodeLogHost::log_options(const Settings& settings) {
  wal::NodeLogOptions o;
  o.wal.env = env_;
  o.wal.recovery_policy = settings.recovery_policy;
  o.wal.recycle_segments = settings.recycle;
  o.wal.prefill_bytes = settings.prefill;
  o.wal.scheduler = scheduler_;
  // Segments of a quarter of the limit (at least 4 KiB, at most 64 MiB): a checkpoint frees the
  // log a segment at a time.
  o.wal.max_segment_size = std::clamp<uint64_t>(settings.max_size / 4, 4 << 10, 64 << 20);
  o.wal.on_background = [this](std::string_view task, const Status& s) { bg_.report(task, s); };
  o.max_size = settings.max_size;
  o.max_size_per_stream = settings.max_size_per_bucket;
  o.max_size_cap = settings.max_size_cap;
  // A full log makes puts wait for the flushes that free it (backpressure), as long as none fails.
  o.stall = settings.full_log_stall;
  o.group_wait = settings.group_wait;
  // A put whose append (or last plug) starts a group writes and syncs it on its own thread (an
  // actor's, on the pool): no hand-off to the group-commit task and back per round trip.
  o.caller_commits = true;
  return o;
}

void NodeLogHost::warn_if_lost() {
  if (report_.wal.records_lost)
    log_warning(logger_, "node log '" + dir_ + "': recovery (policy " +
                             std::string(wal::recovery_policy_name(report_.wal.policy)) + ") gave up entries from " +
                             std::to_string(report_.wal.first_offset_lost.value()) +
                             " on; each bucket says which of its records at its next open");
}

std::string NodeLogHost::files_signature() const {
  std::string sig;
  auto names = env_->get_children(dir_);
  if (!names.ok()) return sig;
  std::sort(names->begin(), names->end());
  for (const auto& name : *names) {
    auto size = env_->file_size(join_path(dir_, name));
    sig += name + '=' + (size.ok() ? std::to_string(*size) : std::string("?")) + '\n';
  }
  return sig;
}

Result<std::shared_ptr<const NodeLogHost::Unowned>> NodeLogHost::read_unowned(const Settings& settings) {
  std::lock_guard l(mu_);
  if (log_) return FailedPrecondition("node log '" + dir_ + "' is open in this process");
  const auto now = std::chrono::steady_clock::now();
  if (unowned_read_ && now < next_read_look_) return unowned_read_;
  next_read_look_ = now + kUnownedLookInterval;
  const std::string lock_path = join_path(dir_, kLockFile);
  auto lock = env_->lock_file(lock_path);
  if (!lock.ok()) {
    if (lock.status().code() != Code::kFailedPrecondition) return lock.status();
    return FailedPrecondition("the log '" + dir_ + "' is written by another process (it holds '" + lock_path + "')");
  }
  // Unchanged since the last read (nobody wrote it since): those records still stand.
  std::string sig = files_signature();
  if (unowned_read_ && sig == unowned_sig_) return unowned_read_;
  // Recovered as a writer would (under the lock, so no writer meanwhile; a torn tail is cut
  // and what was found is synced), then closed: no segment freed, no checkpoint, no flush.
  wal::NodeLogOptions o = log_options(settings);
  o.caller_commits = false;
  auto log = wal::NodeLog::open(dir_, o, &report_);
  if (!log.ok()) return log.status();
  warn_if_lost();
  auto read = std::make_shared<Unowned>();
  read->generation = ++read_generation_;
  for (const auto& stream : (*log)->unattached_streams()) read->streams[stream] = (*log)->take_parked(stream);
  bg_.report("node log close", (*log)->close());
  log->reset();
  if (report_.wal.records_lost) {
    // Recorded now, under the lock, for every stream: a cut the open made (point_in_time) is not
    // met again by the next writer.
    std::lock_guard d(damage_mu_);
    for (const auto& [stream, runs] : read->streams) {
      if (runs.empty()) continue;
      const uint64_t end = runs.back().first.value() + runs.back().second.size();
      Status s = report_wal_damage(env_, logger_, dir_, "stream '" + stream + "' of node log '" + dir_ + "'",
                                   report_.wal, end, stream);
      bg_.report("recovery report of stream '" + stream + "'", s);
    }
  }
  unowned_sig_ = files_signature();  // the open may have cut a torn tail or started a segment
  unowned_read_ = std::move(read);
  return unowned_read_;
}

bool NodeLogHost::open_here() const {
  std::lock_guard l(mu_);
  return log_ != nullptr;
}

void NodeLogHost::close_locked() {
  if (log_) bg_.report("node log close", log_->close());
  log_.reset();
  lock_.reset();
}

Result<wal::NodeLog*> NodeLogHost::acquire(const Settings& settings, std::chrono::milliseconds patience) {
  std::lock_guard l(mu_);
  if (!log_) RETURN_IF_ERROR(open_locked(settings, patience));
  ++users_;
  return log_.get();
}

void NodeLogHost::release() {
  std::lock_guard l(mu_);
  if (users_ > 0 && --users_ == 0) close_locked();
}

bool NodeLogHost::may_hold_records() const { return wal_dir_has_segments(env_, dir_, /*with_records_only=*/true); }

bool NodeLogHost::may_hold_unowned(const std::string& stream) {
  std::lock_guard l(mu_);
  if (log_) return log_->holds_unattached(stream);
  const auto now = std::chrono::steady_clock::now();
  if (now < next_unowned_look_) return unowned_;
  next_unowned_look_ = now + kUnownedLookInterval;
  unowned_ = may_hold_records() && env_->lock_file(join_path(dir_, kLockFile)).ok();  // taken and let go
  return unowned_;
}

Status NodeLogHost::flush_unattached() {
  wal::NodeLog* log;
  {
    std::lock_guard l(mu_);
    if (!log_) return FailedPrecondition("node log '" + dir_ + "' is not open in this process");
    log = log_.get();
  }
  Status first;
  std::lock_guard a(attach_mu_);
  // Each stream is its own bucket's dataset: their flushes run side by side on the pool, so
  // their fsyncs overlap (a recovery of 1,000 buckets is 1,000 small Lance commits).
  const std::vector<std::string> streams = log->unattached_streams();
  std::vector<std::function<Status()>> jobs;
  for (const auto& stream : streams) jobs.push_back([this, log, &stream] { return flush_stream(log, stream); });
  const std::vector<Status> results = run_side_by_side(std::move(jobs));
  for (size_t i = 0; i < streams.size(); ++i) {
    bg_.report("recovery of stream '" + streams[i] + "'", results[i]);
    if (first.ok() && !results[i].ok()) first = results[i];
  }
  return first;
}

Status NodeLogHost::note_damage(const std::string& stream, const std::string& bucket, uint64_t end) {
  const wal::RecoveryReport r = recovery();
  if (!r.records_lost) return Status::OK();
  std::lock_guard d(damage_mu_);  // one writer of damaged/recovery.json at a time
  return report_wal_damage(env_, logger_, dir_, "bucket '" + bucket + "' (stream '" + stream + "' of node log '" + dir_ + "')",
                           r, end, stream);
}

wal::RecoveryReport NodeLogHost::recovery() const {
  std::lock_guard l(mu_);
  return report_.wal;
}

void NodeLogHost::flush_held_back() {
  std::vector<std::string> streams;
  {
    std::lock_guard l(held_mu_);
    streams.swap(held_back_);
  }
  wal::NodeLog* log;
  {
    std::lock_guard l(mu_);
    if (!log_) return;
    log = log_.get();
    ++users_;  // the log stays open while this runs
  }
  {
    // Under attach_mu_ no stream attaches meanwhile: the unattached ones, read once, stay so
    // (but for those flushed here). A stream asked for twice is flushed once.
    std::lock_guard a(attach_mu_);
    const auto unattached = log->unattached_streams();  // sorted
    std::sort(streams.begin(), streams.end());
    streams.erase(std::unique(streams.begin(), streams.end()), streams.end());
    for (const auto& stream : streams) {
      if (!std::binary_search(unattached.begin(), unattached.end(), stream)) continue;
      Status s = flush_stream(log, stream);
      if (!s.ok()) log->note_flush_failure(stream, s);
      bg_.report("flush of recovered stream '" + stream + "'", s);
    }
  }
  release();
}

Status NodeLogHost::flush_stream(wal::NodeLog* log, const std::string& stream) {
  BackendContext ctx;
  ctx.env = env_;
  ctx.logger = logger_;
  ctx.scheduler = scheduler_;
  ctx.tail_cache = tail_cache_;
  if (data_dir_.empty()) {
    if (stream != kOwnStream) {
      log->forget(stream);
      return Status::OK();
    }
    ctx.bucket_dir = std::string(dir_.substr(0, dir_.rfind('/')));
  } else {
    // <topic>/bucket_<b>#<incarnation>: flushed only into that incarnation of the topic.
    const size_t slash = stream.find('/'), hash = stream.rfind('#');
    if (slash == std::string::npos || hash == std::string::npos || hash < slash) {
      log->forget(stream);
      return Status::OK();
    }
    const std::string topic = stream.substr(0, slash), incarnation = stream.substr(hash + 1);
    const std::string topic_dir = join_path(data_dir_, topic);
    bool current = false;
    if (auto text = env_->read_file(join_path(topic_dir, "topic.json")); text.ok()) {
      auto meta = parse_json(*text);
      if (meta.ok() && meta->is_object()) {
        const Value* inc = meta->as_object().find("incarnation");
        const std::string have = inc && inc->is_string() ? inc->as_string() : hex16(0);
        current = have == incarnation;
      }
    }
    if (!current) {
      log_warning(logger_, "node log '" + dir_ + "': dropping the records of stream '" + stream +
                               "': its topic is gone (deleted, or created again since)");
      log->forget(stream);
      return Status::OK();
    }
    ctx.topic = topic;
    ctx.bucket_dir = join_path(topic_dir, stream.substr(slash + 1, hash - slash - 1));
  }
  Options none;
  OptionReader reader(none, "recovery of stream '" + stream + "'");
  ASSIGN_OR_RETURN(auto data, BufferedDataset::open(ctx, reader));
  std::vector<RecordBatch> batches;
  ASSIGN_OR_RETURN(Offset end, log->attach_batches(stream, Offset(data->persisted()), &batches, {}));
  Status s;
  for (const auto& b : batches) {
    if (s.ok()) s = data->check_types(b);
    if (s.ok()) data->buffer(b);
  }
  if (s.ok()) s = note_damage(stream, ctx.bucket_dir, data->total());
  if (s.ok()) s = data->flush();
  const uint64_t persisted = data->persisted();
  if (s.ok()) s = log->checkpoint(stream, Offset(persisted));
  // What did not reach Lance stays in the log for the next attach.
  RecordBatch rest;
  if (persisted < end.value()) {
    for (const auto& b : batches) rest.append(b);
    if (rest.size() > end.value() - persisted) rest.drop_front(rest.size() - (end.value() - persisted));
  }
  log->detach(stream, Offset(persisted), std::move(rest));
  return s.with_context("flushing the records the log holds for stream '" + stream + "'");
}

}  // namespace persisting
