#include "kafka/broker/group_coordinator.h"

#include <atomic>
#include <map>
#include <mutex>
#include <random>

namespace persisting::kafka {
using namespace coord;  // group_requests.h
namespace {

using TimePoint = KafkaGroup::TimePoint;

// Differs from one coordinator (broker run) to the next, so member ids of a run are never those
// of another.
std::string run_token() {
  std::random_device rd;
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", static_cast<unsigned>(rd()));
  return buf;
}

void run(KafkaGroup::Done& done) {
  for (auto& fn : done) fn();
  done.clear();
}

OffsetCommitResponse commit_refused(const OffsetCommitRequest& r, ErrorCode e, std::string message) {
  OffsetCommitResponse out;
  out.message = std::move(message);
  for (const auto& t : r.topics) {
    OffsetCommitResponse::Topic topic{t.name, {}};
    for (const auto& p : t.partitions) topic.partitions.push_back({p.partition, e});
    out.topics.push_back(std::move(topic));
  }
  return out;
}

}  // namespace

struct GroupCoordinator::Core : std::enable_shared_from_this<Core> {
  struct Entry {
    std::unique_ptr<KafkaGroup> group;
    uint64_t timer_seq = 0;  // the armed timer's number (a fired older one only ticks)
    Scheduler::TaskId timer = 0;
    std::optional<TimePoint> timer_at;
    TimePoint renewed{};  // the last renewal of the group's claims
  };

  Core(groups::Coordinator* table, Scheduler* s, PartitionCountFn partitions, TopicListFn topics,
       GroupCoordinatorOptions o)
      : scheduler(s),
        options(o),
        offsets(table, std::move(partitions), std::move(topics), o.claim_session_timeout, o.max_metadata_bytes),
        token(run_token()) {}

  Scheduler* scheduler;
  GroupCoordinatorOptions options;
  KafkaOffsets offsets;
  std::string token;
  std::atomic<uint64_t> next_member{0};
  mutable std::mutex mu;
  bool closed = false;
  std::map<std::string, Entry> groups;

  std::string new_member_id(const std::string& client_id) {
    return (client_id.empty() ? std::string("member") : client_id) + "-" + token + "-" + std::to_string(++next_member);
  }

  bool active(const std::string& id) const {
    std::lock_guard<std::mutex> lock(mu);
    auto it = groups.find(id);
    return it != groups.end() && it->second.group->has_members();
  }

  // Runs fn(KafkaGroup*) under the lock: nullptr when the group is unknown and !create, or when
  // the coordinator is closed (closed says which). Then arms the group's timer or forgets it,
  // and runs the completions after unlocking.
  template <typename Fn>
  void with_group(const std::string& id, bool create, Fn fn) {
    KafkaGroup::Done done;
    {
      std::lock_guard<std::mutex> lock(mu);
      auto it = groups.find(id);
      if (closed || (it == groups.end() && !create)) {
        fn(static_cast<KafkaGroup*>(nullptr), done);
      } else {
        if (it == groups.end()) {
          it = groups.emplace(id, Entry{}).first;
          it->second.group = std::make_unique<KafkaGroup>(
              id, options, [this](const std::string& client) { return new_member_id(client); });
          it->second.renewed = scheduler->now();
        }
        bool had_members = it->second.group->has_members();
        fn(it->second.group.get(), done);
        settle(it, had_members);
      }
    }
    run(done);
  }

  // Under mu, after any change to the group: arm its timer, or forget it when empty; release its
  // claims when it just lost its last member.
  void settle(std::map<std::string, Entry>::iterator it, bool had_members) {
    Entry& e = it->second;
    std::string id = it->first;
    if (had_members && !e.group->has_members()) release_later(id);
    if (e.group->empty()) {
      if (e.timer) scheduler->cancel(e.timer);
      groups.erase(it);
      return;
    }
    auto next = e.group->next_deadline();
    if (!next || (e.timer_at && *e.timer_at <= *next)) return;
    if (e.timer) scheduler->cancel(e.timer);
    uint64_t seq = ++e.timer_seq;
    std::weak_ptr<Core> weak = weak_from_this();
    e.timer_at = next;
    e.timer = scheduler->schedule_at(*next, [weak, id, seq] {
      if (auto core = weak.lock()) core->on_timer(id, seq);
    });
  }

  void on_timer(const std::string& id, uint64_t seq) {
    KafkaGroup::Done done;
    {
      std::lock_guard<std::mutex> lock(mu);
      auto it = groups.find(id);
      if (closed || it == groups.end()) return;
      if (it->second.timer_seq == seq) {
        it->second.timer = 0;
        it->second.timer_at.reset();
      }
      bool had_members = it->second.group->has_members();
      it->second.group->tick(scheduler->now(), done);
      settle(it, had_members);
    }
    run(done);
  }

  void release_later(const std::string& id) {
    std::weak_ptr<Core> weak = weak_from_this();
    scheduler->schedule_after(Scheduler::Clock::duration::zero(), [weak, id] {
      if (auto core = weak.lock()) core->offsets.release(id, [&] { return core->active(id); });
    });
  }

  void renew_later(const std::string& id) {
    std::weak_ptr<Core> weak = weak_from_this();
    scheduler->schedule_after(Scheduler::Clock::duration::zero(), [weak, id] {
      if (auto core = weak.lock()) core->offsets.renew(id);
    });
  }

  void shutdown() {
    KafkaGroup::Done done;
    {
      std::lock_guard<std::mutex> lock(mu);
      closed = true;
      for (auto& [id, e] : groups) {
        if (e.timer) scheduler->cancel(e.timer);
        e.group->shutdown(done);
      }
      groups.clear();
    }
    run(done);
  }
};

namespace {

std::string unavailable(const std::string& group_id) {
  return "Kafka group '" + group_id + "': the coordinator is shutting down";
}

}  // namespace

GroupCoordinator::GroupCoordinator(groups::Coordinator* table, Scheduler* scheduler, PartitionCountFn partitions,
                                   TopicListFn topics, GroupCoordinatorOptions options)
    : core_(std::make_shared<Core>(table, scheduler, std::move(partitions), std::move(topics), options)) {}

GroupCoordinator::~GroupCoordinator() { core_->shutdown(); }

void GroupCoordinator::join_group(JoinGroupRequest request, JoinGroupCallback done) {
  if (Status s = groups::validate_group_name(request.group_id); !s.ok()) {
    JoinGroupResponse r;
    r.error = ErrorCode::INVALID_GROUP_ID;
    r.message = s.to_string();
    return done(std::move(r));
  }
  std::string id = request.group_id;
  auto now = core_->scheduler->now();
  core_->with_group(id, /*create=*/true, [&](KafkaGroup* g, KafkaGroup::Done& out) {
    if (!g) {
      JoinGroupResponse r;
      r.error = ErrorCode::COORDINATOR_NOT_AVAILABLE;
      r.message = unavailable(id);
      out.push_back([done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
      return;
    }
    g->join(std::move(request), std::move(done), now, out);
  });
}

void GroupCoordinator::sync_group(SyncGroupRequest request, SyncGroupCallback done) {
  std::string id = request.group_id;
  auto now = core_->scheduler->now();
  core_->with_group(id, /*create=*/false, [&](KafkaGroup* g, KafkaGroup::Done& out) {
    if (!g) {
      SyncGroupResponse r;
      r.error = core_->closed ? ErrorCode::COORDINATOR_NOT_AVAILABLE : ErrorCode::UNKNOWN_MEMBER_ID;
      r.message = core_->closed ? unavailable(id) : "Kafka group '" + id + "' has no members; join first";
      out.push_back([done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
      return;
    }
    g->sync(std::move(request), std::move(done), now, out);
  });
}

void GroupCoordinator::heartbeat(HeartbeatRequest request, HeartbeatCallback done) {
  std::string id = request.group_id;
  auto now = core_->scheduler->now();
  HeartbeatResponse r;
  bool renew = false;
  core_->with_group(id, /*create=*/false, [&](KafkaGroup* g, KafkaGroup::Done&) {
    if (!g) {
      r.error = core_->closed ? ErrorCode::COORDINATOR_NOT_AVAILABLE : ErrorCode::UNKNOWN_MEMBER_ID;
      r.message = core_->closed ? unavailable(id) : "Kafka group '" + id + "' has no members; join first";
      return;
    }
    r = g->heartbeat(request, now);
    auto& e = core_->groups.at(id);
    if (r.error != ErrorCode::UNKNOWN_MEMBER_ID && now - e.renewed >= core_->options.claim_session_timeout / 3) {
      e.renewed = now;
      renew = true;
    }
  });
  if (renew) core_->renew_later(id);
  done(std::move(r));
}

void GroupCoordinator::leave_group(LeaveGroupRequest request, LeaveGroupCallback done) {
  std::string id = request.group_id;
  auto now = core_->scheduler->now();
  LeaveGroupResponse r;
  core_->with_group(id, /*create=*/false, [&](KafkaGroup* g, KafkaGroup::Done& out) {
    if (g) {
      r = g->leave(request, now, out);
      return;
    }
    r.error = core_->closed ? ErrorCode::COORDINATOR_NOT_AVAILABLE : ErrorCode::UNKNOWN_MEMBER_ID;
    r.message = core_->closed ? unavailable(id) : "Kafka group '" + id + "' has no members";
    for (const auto& m : request.members) r.members.push_back({m.member_id, m.group_instance_id, r.error});
  });
  done(std::move(r));
}

void GroupCoordinator::offset_commit(OffsetCommitRequest request, OffsetCommitCallback done) {
  if (Status s = groups::validate_group_name(request.group_id); !s.ok())
    return done(commit_refused(request, ErrorCode::INVALID_GROUP_ID, s.to_string()));
  std::string id = request.group_id;
  auto now = core_->scheduler->now();
  ErrorCode error = ErrorCode::NONE;
  std::string message;
  core_->with_group(id, /*create=*/false, [&](KafkaGroup* g, KafkaGroup::Done&) {
    if (g) {
      error = g->check_commit(request.generation_id, request.member_id, request.group_instance_id, now, &message);
    } else if (core_->closed) {
      error = ErrorCode::COORDINATOR_NOT_AVAILABLE;
      message = unavailable(id);
    } else if (request.generation_id >= 0 || !request.member_id.empty()) {
      error = ErrorCode::UNKNOWN_MEMBER_ID;
      message = "Kafka group '" + id + "' has no members: commit with generation -1 and no member id, or join first";
    }
  });
  if (error != ErrorCode::NONE) return done(commit_refused(request, error, std::move(message)));
  std::weak_ptr<Core> weak = core_;
  core_->scheduler->schedule_after(
      Scheduler::Clock::duration::zero(), [weak, id, request = std::move(request), done = std::move(done)]() mutable {
        auto core = weak.lock();
        if (!core) return done(commit_refused(request, ErrorCode::COORDINATOR_NOT_AVAILABLE, unavailable(id)));
        OffsetCommitResponse r = core->offsets.commit(request);
        // A commit without membership (or one that raced the group's last leave) holds no claim.
        core->offsets.release(id, [&] { return core->active(id); });
        done(std::move(r));
      });
}

void GroupCoordinator::offset_fetch(OffsetFetchRequest request, OffsetFetchCallback done) {
  std::weak_ptr<Core> weak = core_;
  core_->scheduler->schedule_after(Scheduler::Clock::duration::zero(),
                                   [weak, request = std::move(request), done = std::move(done)]() mutable {
                                     auto core = weak.lock();
                                     if (!core) {
                                       OffsetFetchResponse r;
                                       r.error = ErrorCode::COORDINATOR_NOT_AVAILABLE;
                                       r.message = unavailable(request.group_id);
                                       return done(std::move(r));
                                     }
                                     done(core->offsets.fetch(request));
                                   });
}

std::optional<KafkaGroupDescription> GroupCoordinator::describe(const std::string& group_id) const {
  std::lock_guard<std::mutex> lock(core_->mu);
  auto it = core_->groups.find(group_id);
  if (it == core_->groups.end()) return std::nullopt;
  return it->second.group->describe();
}

std::vector<std::string> GroupCoordinator::claimed_topics(const std::string& group_id) const {
  return core_->offsets.claimed(group_id);
}

}  // namespace persisting::kafka
