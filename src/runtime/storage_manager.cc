#include "runtime/storage_manager.h"

#include <cstdio>
#include <future>

#include "core/log.h"

namespace persisting::runtime {

std::string deleted_message(const std::string& topic, uint64_t incarnation) {
  char inc[17];
  std::snprintf(inc, sizeof inc, "%016llx", static_cast<unsigned long long>(incarnation));
  return "topic '" + topic + "' (incarnation " + inc + ") was deleted";
}

StorageManager::StorageManager(Executor& executor, NodeId self, std::vector<Member> members, Env* env,
                               Logger* logger, Scheduler* scheduler, TailCache* tail_cache)
    : executor_(executor), self_(std::move(self)), members_(std::move(members)), env_(env),
      logger_(logger ? logger : default_logger()), scheduler_(scheduler ? scheduler : Scheduler::Default()),
      tail_cache_(tail_cache ? tail_cache : TailCache::Default()) {}

StorageManager::~StorageManager() { log_if_error(logger_, LogLevel::kError, "closing the buckets", close_all()); }

const Member& StorageManager::owner_of(const std::string& topic, BucketId bucket) const {
  return rendezvous_owner(members_, topic, bucket);
}

bool StorageManager::is_local(const std::string& topic, BucketId bucket) const {
  return owner_of(topic, bucket).id == self_;
}

Result<std::shared_ptr<BucketStorage>> StorageManager::get_or_create(const BucketSpec& spec) {
  const Member& owner = owner_of(spec.topic, spec.bucket);
  if (owner.id != self_)
    return FailedPrecondition("topic '" + spec.topic + "' bucket " +
                              std::to_string(spec.bucket.value()) + " is owned by node " +
                              owner.id.str() + ", not " + self_.str());
  std::lock_guard<std::mutex> lock(mu_);
  if (deleted_.count({spec.topic, spec.incarnation}))
    return NotFound(deleted_message(spec.topic, spec.incarnation));
  auto key = std::make_pair(spec.topic, spec.bucket.value());
  if (auto it = buckets_.find(key); it != buckets_.end()) return it->second;
  BackendContext ctx;
  ctx.topic = spec.topic;
  ctx.bucket = spec.bucket;
  ctx.bucket_dir = spec.bucket_dir;
  ctx.data_dir = spec.data_dir;
  ctx.incarnation = spec.incarnation;
  ctx.batch_size = spec.batch_size;
  ctx.env = env_;
  ctx.read_only = spec.read_only;
  ctx.logger = logger_;
  ctx.scheduler = scheduler_;
  ctx.tail_cache = tail_cache_;
  ctx.retention = spec.retention;
  auto backend = BackendRegistry::global().create(spec.backend, ctx, spec.options);
  if (!backend.ok())
    return backend.status().with_context("topic '" + spec.topic + "' bucket " +
                                         std::to_string(spec.bucket.value()));
  // The topic's buckets here share one signal (while any of them lives).
  std::shared_ptr<AppendSignal> signal = signals_[spec.topic].lock();
  if (!signal) {
    std::erase_if(signals_, [](const auto& kv) { return kv.second.expired(); });
    signal = std::make_shared<AppendSignal>(executor_);
    signals_[spec.topic] = signal;
  }
  auto actor = std::make_shared<BucketStorage>(executor_, spec.topic, spec.bucket,
                                               std::move(backend).value(), std::move(signal));
  buckets_.emplace(key, actor);
  return actor;
}

std::shared_ptr<BucketStorage> StorageManager::find(const std::string& topic, BucketId bucket) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = buckets_.find(std::make_pair(topic, bucket.value()));
  return it == buckets_.end() ? nullptr : it->second;
}

Status StorageManager::drop(const std::string& topic, BucketId bucket) {
  std::shared_ptr<BucketStorage> actor;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = buckets_.find(std::make_pair(topic, bucket.value()));
    if (it == buckets_.end()) return Status::OK();
    actor = std::move(it->second);
    buckets_.erase(it);
  }
  auto p = std::make_shared<std::promise<Status>>();
  auto f = p->get_future();
  actor->close([p](Status s) { p->set_value(std::move(s)); });
  return f.get();
}

void StorageManager::retire_topic(const std::string& topic, uint64_t incarnation) {
  std::vector<std::shared_ptr<BucketStorage>> actors;
  {
    std::lock_guard<std::mutex> lock(mu_);
    deleted_.insert({topic, incarnation});
    for (auto it = buckets_.lower_bound({topic, 0}); it != buckets_.end() && it->first.first == topic;) {
      actors.push_back(std::move(it->second));
      it = buckets_.erase(it);
    }
  }
  std::vector<std::future<void>> futures;
  for (auto& a : actors) {
    auto p = std::make_shared<std::promise<void>>();
    futures.push_back(p->get_future());
    a->retire(NotFound(deleted_message(topic, incarnation)), [p] { p->set_value(); });
  }
  for (auto& f : futures) f.get();
}

bool StorageManager::is_deleted(const std::string& topic, uint64_t incarnation) const {
  std::lock_guard<std::mutex> lock(mu_);
  return deleted_.count({topic, incarnation}) > 0;
}

std::vector<BucketRef> StorageManager::list_buckets() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<BucketRef> out;
  for (const auto& [key, actor] : buckets_) out.push_back({key.first, BucketId(key.second)});
  return out;
}

std::vector<BucketStats> StorageManager::stats() const {
  std::vector<std::shared_ptr<BucketStorage>> actors;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [key, actor] : buckets_) actors.push_back(actor);
  }
  return stats_of(actors);
}

Status StorageManager::close_all() {
  std::map<std::pair<std::string, uint32_t>, std::shared_ptr<BucketStorage>> actors;
  {
    std::lock_guard<std::mutex> lock(mu_);
    actors.swap(buckets_);
  }
  std::vector<std::future<Status>> futures;
  for (auto& [key, a] : actors) {
    auto p = std::make_shared<std::promise<Status>>();
    futures.push_back(p->get_future());
    a->close(flush_on_close_.load(), [p](Status s) { p->set_value(std::move(s)); });
  }
  Status first;
  for (auto& f : futures) {
    Status s = f.get();
    if (first.ok() && !s.ok()) first = s;
  }
  return first;
}

}  // namespace persisting::runtime
