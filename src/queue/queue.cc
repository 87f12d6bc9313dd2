#include <future>

#include "core/hash.h"
#include "core/log.h"
#include "core/status_macros.h"
#include "core/upcast.h"
#include "groups/group_types.h"
#include "queue/fetch.h"
#include "queue/partitioning.h"
#include "queue/queue_core.h"
#include "queue/topic_settings.h"
#include "queue/topic_meta.h"

namespace persisting {

using detail::QueueCore;

Status validate_topic_name(const std::string& topic) { return groups::validate_name("topic", topic); }

namespace detail {

QueueCore::~QueueCore() {
  if (manager) log_if_error(options.logger.get(), LogLevel::kError, "closing the queue's buckets", manager->close_all());
  manager.reset();
  executor.reset();
  std::unique_lock<std::shared_mutex> lock(interest->mu);  // no floor reads the table after this
  interest->groups = nullptr;
}

Result<TopicInfo> QueueCore::lookup(const std::string& topic) {
  ASSIGN_OR_RETURN(TopicInfo info, lookup_any(topic));
  // Its files until a delete in progress has renamed them away.
  if (manager->is_deleted(topic, info.incarnation)) return NotFound(runtime::deleted_message(topic, info.incarnation));
  return info;
}

Result<TopicInfo> QueueCore::lookup_any(const std::string& topic) {
  RETURN_IF_ERROR(validate_topic_name(topic));
  {
    std::lock_guard<std::mutex> lock(mu);
    if (auto it = topics.find(topic); it != topics.end()) return it->second;
  }
  if (!has_data_dir()) return NotFound("topic '" + topic + "' does not exist in this in-memory queue");
  ASSIGN_OR_RETURN(TopicInfo info, queue::load_topic_meta(env, options.data_dir, topic));
  auto durable = BackendRegistry::global().is_durable(info.backend);
  if (!durable.ok())
    return durable.status().with_context("topic '" + topic + "'");
  info.durable = *durable;
  return info;
}

Result<TopicInfo> QueueCore::open_for_write(const WriterOptions& w, uint64_t incarnation) {
  RETURN_IF_ERROR(validate_topic_name(w.topic));
  if (w.num_buckets == 0 || w.num_buckets > 65536)
    return InvalidArgument("topic '" + w.topic + "': num_buckets must be in [1, 65536], got " +
                           std::to_string(w.num_buckets));
  if (w.batch_size == 0) return InvalidArgument("topic '" + w.topic + "': batch_size must be at least 1");
  if (w.bucket_column.empty()) return InvalidArgument("topic '" + w.topic + "': bucket_column is empty");
  RETURN_IF_ERROR(queue::check_replication_factor(w.topic, w.replication_factor));
  auto durable = BackendRegistry::global().is_durable(w.backend);
  if (!durable.ok()) return durable.status().with_context("topic '" + w.topic + "'");
  if (*durable && !has_data_dir())
    return InvalidArgument("topic '" + w.topic + "': backend '" + w.backend +
                           "' stores files and needs a data_dir");
  // A deleted incarnation handed over again (a peer that had not deleted its copy yet) is not
  // made anew.
  if (incarnation != 0 && manager->is_deleted(w.topic, incarnation))
    return NotFound(runtime::deleted_message(w.topic, incarnation));

  std::lock_guard<std::mutex> lock(mu);
  auto existing = topics.find(w.topic);
  Result<TopicInfo> stored = existing != topics.end()
                                 ? Result<TopicInfo>(existing->second)
                                 : (has_data_dir() ? queue::load_topic_meta(env, options.data_dir, w.topic)
                                                   : Result<TopicInfo>(NotFound("")));
  TopicInfo info;
  if (stored.ok() && manager->is_deleted(w.topic, stored->incarnation))  // a delete in progress
    return NotFound(runtime::deleted_message(w.topic, stored->incarnation));
  if (stored.ok()) {
    RETURN_IF_ERROR(queue::check_same_settings(*stored, w));
    if (incarnation != 0 && stored->incarnation != incarnation)
      return FailedPrecondition("topic '" + w.topic + "' exists here as incarnation " +
                                queue::incarnation_text(stored->incarnation) + ", not " +
                                queue::incarnation_text(incarnation) +
                                ": another life of the name (delete it first)");
    info = *stored;
  } else if (stored.status().code() == Code::kNotFound) {
    // A new topic: its options are checked before anything is written, so a put that fails
    // validation leaves nothing behind.
    RETURN_IF_ERROR(queue::check_retention(w.topic, w.backend, w.retention));
    info = queue::topic_settings(w);
    if (info.replication_factor == 0) info.replication_factor = 1;
    info.incarnation = incarnation != 0 ? incarnation : queue::new_incarnation();
    if (Status s = BackendRegistry::global().validate_options(info.backend, info.backend_options); !s.ok())
      return s.with_context("topic '" + w.topic + "'");
    if (has_data_dir()) RETURN_IF_ERROR(queue::create_topic_meta(env, options.data_dir, info));
  } else {
    return stored.status();
  }
  info.durable = *durable;
  topics[w.topic] = info;
  written_here.insert(w.topic);
  return info;
}

Result<TopicInfo> QueueCore::open_for_read(const std::string& topic) {
  ASSIGN_OR_RETURN(TopicInfo info, lookup(topic));
  std::lock_guard<std::mutex> lock(mu);
  if (manager->is_deleted(topic, info.incarnation))  // deleted since lookup
    return NotFound(runtime::deleted_message(topic, info.incarnation));
  if (!info.durable && !written_here.count(topic))
    return FailedPrecondition("topic '" + topic + "' uses the non-durable backend '" + info.backend +
                              "': its records lived only in the memory of the process that wrote "
                              "them and are gone. Write with a durable backend to read across "
                              "processes.");
  topics.emplace(topic, info);
  return info;
}

Result<std::vector<std::shared_ptr<runtime::BucketStorage>>> QueueCore::actors(
    const TopicInfo& info, const std::vector<BucketId>& buckets, const Options& session_options, Access access) {
  std::vector<std::shared_ptr<runtime::BucketStorage>> out;
  out.reserve(buckets.size());
  for (BucketId b : buckets) {
    runtime::BucketSpec spec;
    spec.topic = info.topic;
    spec.bucket = b;
    spec.backend = info.backend;
    spec.options = info.backend_options;
    for (const auto& [k, v] : session_options) spec.options[k] = v;
    spec.batch_size = info.batch_size;
    spec.read_only = access == Access::kRead;
    spec.incarnation = info.incarnation;
    spec.retention = retention_limits(info);
    if (has_data_dir()) {
      spec.bucket_dir = queue::bucket_dir(options.data_dir, info.topic, b);
      spec.data_dir = options.data_dir;
    }
    ASSIGN_OR_RETURN(auto actor, manager->get_or_create(spec));
    out.push_back(std::move(actor));
  }
  return out;
}

std::shared_ptr<RetentionLimits> QueueCore::retention_limits(const TopicInfo& info) {
  std::lock_guard<std::mutex> lock(mu);
  auto& limits = retention[info.topic];
  if (!limits) {
    limits = std::make_shared<RetentionLimits>(info.retention.records.value_or(0), info.retention.bytes.value_or(0),
                                               info.retention.ms.value_or(0));
    limits->set_interest(info.retention.policy == RetentionPolicy::kInterest);
    limits->set_interest_floor(interest_floor(interest, info.topic));
  }
  return limits;
}

Result<TopicInfo> QueueCore::alter_retention(const std::string& topic, const Retention& r,
                                             const std::vector<BucketId>* only) {
  std::lock_guard<std::mutex> one_at_a_time(delete_mu);  // not while the topic is being deleted
  ASSIGN_OR_RETURN(TopicInfo info, lookup(topic));
  RETURN_IF_ERROR(queue::check_retention(topic, info.backend, r));
  info.retention = r;
  if (has_data_dir()) RETURN_IF_ERROR(queue::store_topic_meta(env, options.data_dir, info));
  {
    std::lock_guard<std::mutex> lock(mu);
    if (auto it = topics.find(topic); it != topics.end()) it->second.retention = r;
  }
  auto limits = retention_limits(info);
  limits->set(r.records.value_or(0), r.bytes.value_or(0), r.ms.value_or(0));
  limits->set_interest(r.policy == RetentionPolicy::kInterest);
  if (!r.any() || !info.durable) return info;
  // Each bucket applies the new limits now: a flush with nothing buffered still enforces them.
  std::vector<BucketId> all;
  for (uint32_t b = 0; b < info.num_buckets; ++b) all.emplace_back(b);
  if (only) all = *only;
  if (all.empty()) return info;
  ASSIGN_OR_RETURN(auto bucket_actors, actors(info, all, {}, Access::kRead));
  RETURN_IF_ERROR(flush_actors(bucket_actors));
  return info;
}

Result<Object> QueueCore::stats(const TopicInfo& info, Access access) {
  std::vector<BucketId> all;
  for (uint32_t b = 0; b < info.num_buckets; ++b) all.emplace_back(b);
  ASSIGN_OR_RETURN(auto actors_, actors(info, all, {}, access));
  std::vector<Object> bucket_stats;
  for (const BucketStats& s : runtime::stats_of(actors_)) bucket_stats.push_back(s.to_object());
  return queue::topic_stats(info, std::move(bucket_stats));
}

Result<std::vector<Offset>> QueueCore::bucket_ends(const TopicInfo& info) {
  std::vector<BucketId> all;
  for (uint32_t b = 0; b < info.num_buckets; ++b) all.emplace_back(b);
  ASSIGN_OR_RETURN(auto actors_, actors(info, all, {}, Access::kRead));
  return queue::end_offsets(actors_);
}

Result<std::vector<TopicInfo>> QueueCore::list_topics() {
  std::vector<TopicInfo> out;
  std::set<std::string> names;
  {
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& [n, i] : topics) names.insert(n);
  }
  if (has_data_dir()) {
    ASSIGN_OR_RETURN(auto children, env->get_children(options.data_dir));
    for (const auto& c : children)
      if (validate_topic_name(c).ok() &&
          env->file_exists(queue::topic_meta_path(options.data_dir, c)))
        names.insert(c);
  }
  for (const auto& n : names) {
    ASSIGN_OR_RETURN(TopicInfo info, lookup(n));
    out.push_back(std::move(info));
  }
  return out;
}

Result<TopicInfo> QueueCore::delete_topic(const std::string& topic, std::optional<uint64_t> incarnation) {
  std::lock_guard<std::mutex> one_at_a_time(delete_mu);
  // lookup_any: a delete that failed after step 1 can be run again to finish.
  ASSIGN_OR_RETURN(TopicInfo info, lookup_any(topic));
  if (incarnation && *incarnation != info.incarnation)
    return NotFound("topic '" + topic + "' incarnation " + queue::incarnation_text(*incarnation) +
                    " does not exist (the topic now is incarnation " + queue::incarnation_text(info.incarnation) + ")");
  // 1. No handle of this incarnation reaches a backend any more, and none is made again; the
  //    backends are gone before their files go, so nothing writes into the directory after.
  manager->retire_topic(topic, info.incarnation);
  {
    std::lock_guard<std::mutex> lock(mu);
    topics.erase(topic);
    written_here.erase(topic);
    retention.erase(topic);  // a topic created again under the name starts with its own limits
  }
  // 2. The topic ends when its directory leaves its name (one rename, synced): a crash before
  //    leaves the whole topic, after it only a tombstone directory that open removes.
  if (has_data_dir()) {
    std::lock_guard<std::mutex> lock(mu);  // against a creation of the same name meanwhile
    topics.erase(topic);  // again: an open that read the map or the file before step 1
    written_here.erase(topic);
    const std::string meta = queue::topic_meta_path(options.data_dir, topic);
    Result<std::string> text = env->file_exists(meta) ? env->read_file(meta) : Result<std::string>(NotFound(meta));
    if (!text.ok() && text.status().code() != Code::kNotFound) return text.status();
    auto now = text.ok() ? queue::decode_topic_meta(*text, meta) : Result<TopicInfo>(text.status());
    if (!now.ok() && now.status().code() != Code::kNotFound) return now.status();
    if (now.ok() && now->incarnation == info.incarnation) {
      const std::string trash = queue::deleted_topic_dir(options.data_dir, info);
      if (env->file_exists(trash)) RETURN_IF_ERROR(env->remove_all(trash));
      RETURN_IF_ERROR(env->rename_file(queue::topic_dir(options.data_dir, topic), trash));
      RETURN_IF_ERROR(env->sync_dir(options.data_dir));
    }
  }
  // 3. What is left is no topic's: remove it (a failure leaves it to the next open).
  if (has_data_dir()) {
    const std::string trash = queue::deleted_topic_dir(options.data_dir, info);
    if (env->file_exists(trash))
      log_if_error(options.logger.get(), LogLevel::kWarning, "removing deleted topic files '" + trash + "'",
                   env->remove_all(trash));
  }
  groups->forget_topic(topic);
  std::vector<std::function<void(const std::string&)>> observers;
  {
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& [id, o] : deleted_observers) observers.push_back(o);
  }
  for (const auto& o : observers) o(topic);
  return info;
}

uint64_t QueueCore::on_topic_deleted(std::function<void(const std::string&)> observer) {
  std::lock_guard<std::mutex> lock(mu);
  deleted_observers.emplace(next_observer, std::move(observer));
  return next_observer++;
}

void QueueCore::remove_observer(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu);
  deleted_observers.erase(id);
}

void QueueCore::remove_deleted_leftovers() {
  if (!has_data_dir()) return;
  auto children = env->get_children(options.data_dir);
  if (!children.ok()) {
    log_if_error(options.logger.get(), LogLevel::kWarning, "listing '" + options.data_dir + "' for deleted topics",
                 children.status());
    return;
  }
  const std::string prefix = queue::kDeletedPrefix;
  for (const auto& c : *children)
    if (c.rfind(prefix, 0) == 0)
      log_if_error(options.logger.get(), LogLevel::kWarning, "removing the files of a deleted topic '" + c + "'",
                   env->remove_all(join_path(options.data_dir, c)));
}

Status flush_actors(const std::vector<std::shared_ptr<runtime::BucketStorage>>& actors) {
  std::vector<std::future<Status>> futures;
  for (const auto& a : actors) {
    auto p = std::make_shared<std::promise<Status>>();
    futures.push_back(p->get_future());
    a->flush([p](Status s) { p->set_value(std::move(s)); });
  }
  Status first;
  for (auto& f : futures) {
    Status s = f.get();
    if (first.ok() && !s.ok()) first = s;
  }
  return first;
}


Result<std::shared_ptr<QueueCore>> make_queue_core(QueueOptions options, NodeId self,
                                                  std::vector<runtime::Member> members) {
  auto core = std::make_shared<QueueCore>();
  core->env = options.env ? options.env : Env::Default();
  if (!options.data_dir.empty()) RETURN_IF_ERROR(core->env->create_dirs(options.data_dir));
  core->options = std::move(options);
  core->executor = std::make_unique<runtime::Executor>(core->options.threads);
  if (!core->options.logger) core->options.logger = stderr_logger(LogLevel::kWarning);
  core->manager = std::make_unique<runtime::StorageManager>(*core->executor, std::move(self), std::move(members),
                                                            core->env, core->options.logger.get(),
                                                            core->options.scheduler, core->options.tail_cache);
  core->manager->set_flush_on_close(core->options.flush_on_close);
  core->groups = std::make_unique<groups::GroupTable>(
      core->has_data_dir() ? std::make_unique<groups::GroupStore>(core->env, core->options.data_dir) : nullptr);
  core->interest->groups = core->groups.get();
  core->remove_deleted_leftovers();
  return core;
}

}  // namespace detail

Result<std::unique_ptr<Queue>> Queue::open(QueueOptions options) {
  NodeId self("local");
  ASSIGN_OR_RETURN(auto core, detail::make_queue_core(std::move(options), self, {{self, ""}}));
  return std::unique_ptr<Queue>(new Queue(std::move(core)));
}

Queue::Queue(std::shared_ptr<QueueCore> core) : core_(std::move(core)) {}
Queue::~Queue() {
  if (core_->manager)
    log_if_error(core_->options.logger.get(), LogLevel::kError, "closing the queue's buckets", core_->manager->close_all());
}

const std::string& Queue::data_dir() const { return core_->options.data_dir; }

Result<std::unique_ptr<QueueWriter>> Queue::writer(const WriterOptions& options) {
  // Replicas need as many nodes; this queue is one. A topic a cluster made keeps its factor here.
  if (options.replication_factor > 1) {
    RETURN_IF_ERROR(queue::check_replication_factor(options.topic, options.replication_factor));
    auto existing = core_->lookup(options.topic);
    if (existing.status().code() == Code::kNotFound)
      return InvalidArgument("topic '" + options.topic + "': replication_factor " +
                             std::to_string(options.replication_factor) + " needs at least " +
                             std::to_string(options.replication_factor) +
                             " nodes, and an embedded queue is one: create the topic through a cluster "
                             "(Client, persisting put --server)");
  }
  ASSIGN_OR_RETURN(TopicInfo info, core_->open_for_write(options));
  std::vector<BucketId> all;
  for (uint32_t b = 0; b < info.num_buckets; ++b) all.emplace_back(b);
  auto state = std::make_unique<detail::WriterState>();
  ASSIGN_OR_RETURN(auto actors, core_->actors(info, all, options.backend_options));
  state->actors = std::make_shared<const queue::Actors>(std::move(actors));
  state->core = core_;
  state->info = std::move(info);
  return std::unique_ptr<QueueWriter>(new QueueWriter(std::move(state)));
}

Result<std::unique_ptr<TopicWriter>> Queue::open_writer(const WriterOptions& options) {
  return upcast<TopicWriter>(writer(options));
}

Result<std::unique_ptr<TopicReader>> Queue::open_reader(const ReaderOptions& options) {
  return upcast<TopicReader>(reader(options));
}

Result<std::unique_ptr<QueueReader>> Queue::reader(const ReaderOptions& options) {
  ASSIGN_OR_RETURN(TopicInfo info, core_->open_for_read(options.topic));
  ASSIGN_OR_RETURN(std::vector<BucketId> buckets, queue::reader_buckets(info, options));
  auto state = std::make_unique<detail::ReaderState>();
  state->core = core_;
  state->info = std::move(info);
  if (!options.group.empty()) {
    // A group reader: its buckets (static: the ones it names; dynamic: its share) and their
    // start offsets come from the group (docs/groups.md).
    bool is_static = !options.buckets.empty() || options.rank.has_value();
    ASSIGN_OR_RETURN(groups::MemberOptions member,
                     groups::member_options(options, state->info.num_buckets,
                                            is_static ? buckets : std::vector<BucketId>()));
    state->start = options.start;
    state->member = std::make_unique<groups::Member>(*core_->groups, std::move(member));
    RETURN_IF_ERROR(state->member->join());
    Status s = state->apply(*state->member->take_change());
    if (!s.ok()) {
      // Leave at once rather than hold buckets until the session times out; s says what failed.
      if (Status left = state->member->close({}); !left.ok())
        log_warning("leaving " + options.group + " after a failed open: " + left.to_string());
      return s;
    }
    return std::unique_ptr<QueueReader>(new QueueReader(std::move(state)));
  }
  // Readers and stats take nothing a writer in another process needs (docs/cli.md).
  ASSIGN_OR_RETURN(auto actors, core_->actors(state->info, buckets, {}, QueueCore::Access::kRead));
  state->actors = std::make_shared<const queue::Actors>(std::move(actors));
  state->cursor.init(std::move(buckets));
  if (state->info.durable) {
    // A plain reader starts at each bucket's first available offset (0 unless retention
    // removed records: docs/retention.md).
    ASSIGN_OR_RETURN(std::vector<queue::Bounds> bounds, queue::bucket_bounds(*state->actors));
    for (const auto& b : bounds) state->firsts.push_back(b.first.value());
    state->cursor.offsets = state->firsts;
  }
  return std::unique_ptr<QueueReader>(new QueueReader(std::move(state)));
}

Result<std::vector<TopicInfo>> Queue::topics() { return core_->list_topics(); }

Result<TopicInfo> Queue::topic(const std::string& name) { return core_->lookup(name); }

Result<Object> Queue::stats(const std::string& topic) {
  ASSIGN_OR_RETURN(TopicInfo info, core_->open_for_read(topic));
  return core_->stats(info, QueueCore::Access::kRead);
}

Result<std::vector<GroupInfo>> Queue::groups(const std::string& topic) {
  ASSIGN_OR_RETURN(TopicInfo info, core_->open_for_read(topic));
  ASSIGN_OR_RETURN(std::vector<groups::GroupSummary> summaries, core_->groups->list(topic));
  std::vector<GroupInfo> out;
  if (summaries.empty()) return out;
  ASSIGN_OR_RETURN(std::vector<Offset> ends, core_->bucket_ends(info));
  for (const auto& s : summaries) out.push_back(groups::group_info(s, ends));
  return out;
}

Status Queue::reset_group(const std::string& topic, const std::string& group, GroupReset to) {
  RETURN_IF_ERROR(groups::validate_group_name(group));
  if (to.kind != GroupReset::kEarliest && to.kind != GroupReset::kLatest && to.kind != GroupReset::kOffset)
    return InvalidArgument("reset of group '" + group + "': unknown kind " + std::to_string(static_cast<int>(to.kind)));
  ASSIGN_OR_RETURN(TopicInfo info, core_->open_for_read(topic));
  RETURN_IF_ERROR(core_->groups->describe(topic, group).status());  // unknown: NotFound before any work
  ASSIGN_OR_RETURN(std::vector<Offset> ends, core_->bucket_ends(info));
  return core_->groups->reset(topic, group, groups::reset_offsets(to, ends));
}

Status Queue::delete_group(const std::string& topic, const std::string& group) {
  RETURN_IF_ERROR(groups::validate_group_name(group));
  RETURN_IF_ERROR(core_->open_for_read(topic).status());
  return core_->groups->remove(topic, group);
}

Status Queue::delete_topic(const std::string& topic) { return core_->delete_topic(topic).status(); }

Status Queue::alter_topic(const std::string& topic, const Retention& retention) {
  return core_->alter_retention(topic, retention).status();
}

Status Queue::flush() {
  std::vector<std::shared_ptr<runtime::BucketStorage>> actors;
  for (const auto& ref : core_->manager->list_buckets())
    if (auto actor = core_->manager->find(ref.topic, ref.bucket)) actors.push_back(std::move(actor));
  return detail::flush_actors(actors);
}

}  // namespace persisting
