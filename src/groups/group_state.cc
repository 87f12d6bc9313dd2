#include "groups/group_state.h"

#include <algorithm>
#include <deque>
#include <random>
#include <set>

#include "core/status_macros.h"

namespace persisting::groups {
namespace {

using TimePoint = std::chrono::steady_clock::time_point;

struct MemberState {
  std::string id;
  std::string instance_id;              // static members only
  std::vector<BucketId> static_buckets;  // empty: dynamic
  std::vector<BucketId> buckets;         // at the group's generation
  bool exclusive = false;                // JoinRequest::exclusive
  uint64_t seq = 0;                      // join order: dynamic shares go in this order
  std::chrono::milliseconds session_timeout{};
  TimePoint last_seen{};
};

std::string name_of(const std::string& topic, const std::string& group) {
  return "group '" + group + "' of topic '" + topic + "'";
}

std::string bucket_list(const std::vector<BucketId>& buckets) {
  std::string s;
  for (BucketId b : buckets) s += (s.empty() ? "" : ",") + std::to_string(b.value());
  return s;
}

// A token that differs between GroupTables (and so between node restarts), so a member id handed
// out before a restart never names a member after it.
std::string boot_token() {
  std::random_device rd;
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", static_cast<unsigned>(rd()));
  return buf;
}

}  // namespace

struct GroupTable::Group {
  std::mutex mu;
  std::string topic;
  std::string group;
  bool gone = false;  // removed from the table: callers look it up again
  uint32_t num_buckets = 0;
  uint64_t generation = 0;
  std::map<std::string, MemberState> members;  // by id
  Committed committed;
  bool stored = false;  // has a file in the store
  std::unique_ptr<FileLock> lock;  // held while the group has members (GroupStore::lock)
  uint64_t commits = 0;
  // Members replaced by a newer static member of the same instance: id -> the newer one's id.
  std::deque<std::pair<std::string, std::string>> replaced;

  std::string name() const { return name_of(topic, group); }

  // Static buckets stay; the rest, ascending, go round-robin to the dynamic members in join order.
  void assign() {
    std::set<BucketId> claimed;
    std::vector<MemberState*> dynamic;
    for (auto& [id, m] : members) {
      if (m.static_buckets.empty()) {
        m.buckets.clear();
        dynamic.push_back(&m);
      } else {
        m.buckets = m.static_buckets;
        claimed.insert(m.static_buckets.begin(), m.static_buckets.end());
      }
    }
    if (dynamic.empty()) return;
    std::sort(dynamic.begin(), dynamic.end(), [](auto* a, auto* b) { return a->seq < b->seq; });
    size_t k = 0;
    for (uint32_t b = 0; b < num_buckets; ++b)
      if (!claimed.count(BucketId(b))) dynamic[k++ % dynamic.size()]->buckets.push_back(BucketId(b));
  }

  void changed() {
    ++generation;
    assign();
    if (members.empty()) lock.reset();  // another process may run members now
  }

  // Drops members past their session timeout. True when any was dropped.
  bool expire(TimePoint now) {
    bool any = false;
    for (auto it = members.begin(); it != members.end();) {
      if (now - it->second.last_seen > it->second.session_timeout) {
        it = members.erase(it);
        any = true;
      } else {
        ++it;
      }
    }
    if (any) changed();
    return any;
  }

  Status unknown_member(const std::string& member_id) const {
    for (const auto& [old_id, by] : replaced)
      if (old_id == member_id)
        return FailedPrecondition("member " + member_id + " of " + name() + " is fenced: a newer reader of the same "
                                  "buckets replaced it (member " + by + ")");
    return NotFound("member " + member_id + " of " + name() + " is not in the group (session expired?); rejoin");
  }

  Assignment assignment_of(const MemberState& m) const { return {m.id, generation, m.buckets}; }

  std::string live_members() const {
    std::string s;
    for (const auto& [id, m] : members) s += (s.empty() ? "" : ", ") + id;
    return s;
  }

  bool empty() const { return members.empty() && committed.empty() && !stored; }

  GroupSummary summary() const {
    GroupSummary out;
    out.group = group;
    out.generation = generation;
    for (const auto& [id, m] : members) out.members.push_back({id, m.buckets, !m.static_buckets.empty()});
    out.committed = committed;
    return out;
  }
};

GroupTable::GroupTable(std::unique_ptr<GroupStore> store, Clock clock)
    : store_(std::move(store)), clock_(std::move(clock)), token_(boot_token()) {}
GroupTable::~GroupTable() = default;

Result<std::shared_ptr<GroupTable::Group>> GroupTable::find(const std::string& topic, const std::string& group,
                                                            bool create) {
  RETURN_IF_ERROR(validate_name("topic", topic));
  RETURN_IF_ERROR(validate_group_name(group));
  std::lock_guard<std::mutex> lock(mu_);
  auto key = std::make_pair(topic, group);
  if (auto it = groups_.find(key); it != groups_.end()) return it->second;
  auto g = std::make_shared<Group>();
  g->topic = topic;
  g->group = group;
  if (store_) {
    auto loaded = store_->load(topic, group);
    if (loaded.ok()) {
      g->committed = std::move(*loaded);
      g->stored = true;
    } else if (loaded.status().code() != Code::kNotFound) {
      return loaded.status();
    }
  }
  if (!g->stored && !create) {
    // No commits yet, but members in another process make it exist all the same.
    if (store_) {
      auto other = store_->lock(topic, group, /*create=*/false);
      if (!other.ok() && other.status().code() == Code::kFailedPrecondition) return other.status();
    }
    return NotFound(name_of(topic, group) + " does not exist");
  }
  groups_[key] = g;
  return g;
}

Status GroupTable::refresh(Group& g) {
  if (!store_) return Status::OK();
  auto loaded = store_->load(g.topic, g.group);
  if (loaded.ok()) {
    g.committed = std::move(*loaded);
    g.stored = true;
  } else if (loaded.status().code() == Code::kNotFound) {
    g.committed.clear();
    g.stored = false;
  } else {
    return loaded.status();
  }
  return Status::OK();
}

void GroupTable::forget_if_empty(const std::string& topic, const std::string& group) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = groups_.find({topic, group});
  if (it == groups_.end()) return;
  std::lock_guard<std::mutex> glock(it->second->mu);
  if (!it->second->empty()) return;
  it->second->gone = true;
  groups_.erase(it);
}

// Runs fn on the group under its lock, after dropping its expired members; looks the group up
// again when it was removed meanwhile.
template <typename Fn>
auto GroupTable::with_group(const std::string& topic, const std::string& group, bool create, Fn fn)
    -> decltype(fn(std::declval<Group&>())) {
  for (int attempt = 0;; ++attempt) {
    auto g = find(topic, group, create);
    if (!g.ok()) return g.status();
    std::unique_lock<std::mutex> lock((*g)->mu);
    if ((*g)->gone && attempt < 3) continue;
    (*g)->expire(clock_());
    // Without members here another process may have committed, reset or deleted: read again.
    if (!(*g)->lock) {
      Status st = refresh(**g);
      if (!st.ok()) return st;
      if (!create && (*g)->empty()) {  // deleted by another process since it was cached
        lock.unlock();
        forget_if_empty(topic, group);
        return NotFound(name_of(topic, group) + " does not exist");
      }
    }
    auto out = fn(**g);
    bool forget = (*g)->empty();
    lock.unlock();
    if (forget) forget_if_empty(topic, group);
    return out;
  }
}

Result<Assignment> GroupTable::join(const JoinRequest& r) {
  if (r.num_buckets == 0) return InvalidArgument(name_of(r.topic, r.group) + ": join with num_buckets 0");
  if (r.session_timeout.count() <= 0)
    return InvalidArgument(name_of(r.topic, r.group) + ": session_timeout must be positive, got " +
                           std::to_string(r.session_timeout.count()) + " ms");
  std::set<BucketId> mine;
  for (BucketId b : r.static_buckets) {
    if (b.value() >= r.num_buckets)
      return InvalidArgument(name_of(r.topic, r.group) + ": bucket " + std::to_string(b.value()) +
                             " is out of range (the topic has " + std::to_string(r.num_buckets) + ")");
    if (!mine.insert(b).second)
      return InvalidArgument(name_of(r.topic, r.group) + ": bucket " + std::to_string(b.value()) + " is listed twice");
  }
  if (r.static_buckets.empty() != r.instance_id.empty())
    return InvalidArgument(name_of(r.topic, r.group) + ": a static member needs both buckets and an instance id");
  uint64_t seq;
  {
    std::lock_guard<std::mutex> lock(mu_);
    seq = ++next_member_;
  }
  return with_group(r.topic, r.group, /*create=*/true, [&](Group& g) -> Result<Assignment> {
    std::string replaced_id;
    for (const auto& [id, m] : g.members) {
      if (!r.instance_id.empty() && m.instance_id == r.instance_id) {
        replaced_id = id;
        continue;
      }
      if (m.exclusive)
        return FailedPrecondition(g.name() + " is held exclusively by member " + id + " (" + m.instance_id +
                                  "); join again once it has left");
      if (r.exclusive)
        return FailedPrecondition(g.name() + " cannot be joined exclusively" +
                                  (r.instance_id.empty() ? std::string() : " by " + r.instance_id) +
                                  ": it has live members (" + g.live_members() + ")");
      for (BucketId b : m.static_buckets)
        if (mine.count(b))
          return FailedPrecondition(g.name() + ": bucket " + std::to_string(b.value()) +
                                    " is already held by static member " + id + " (" + m.instance_id +
                                    "); static members may not share buckets");
    }
    // The first member in this process: no other process may run members of the group now.
    if (store_ && !g.lock) {
      ASSIGN_OR_RETURN(g.lock, store_->lock(r.topic, r.group));
      if (Status st = refresh(g); !st.ok()) {
        g.lock.reset();
        return st;
      }
    }
    MemberState m;
    m.seq = seq;
    char num[24];
    std::snprintf(num, sizeof num, "%08llu", static_cast<unsigned long long>(seq));
    m.id = (r.instance_id.empty() ? std::string("m") : r.instance_id + "#") + num + "-" + token_;
    m.instance_id = r.instance_id;
    m.static_buckets.assign(mine.begin(), mine.end());
    m.session_timeout = r.session_timeout;
    m.exclusive = r.exclusive;
    m.last_seen = clock_();
    if (!replaced_id.empty()) {
      g.members.erase(replaced_id);
      g.replaced.emplace_back(replaced_id, m.id);
      if (g.replaced.size() > 64) g.replaced.pop_front();
    }
    g.num_buckets = r.num_buckets;
    std::string id = m.id;
    g.members.emplace(id, std::move(m));
    g.changed();
    return g.assignment_of(g.members.at(id));
  });
}

Result<Assignment> GroupTable::heartbeat(const std::string& topic, const std::string& group,
                                         const std::string& member_id, uint64_t generation) {
  return with_group(topic, group, /*create=*/false, [&](Group& g) -> Result<Assignment> {
    auto it = g.members.find(member_id);
    if (it == g.members.end()) return g.unknown_member(member_id);
    it->second.last_seen = clock_();
    return g.assignment_of(it->second);
  });
}

Status GroupTable::leave(const std::string& topic, const std::string& group, const std::string& member_id) {
  return with_group(topic, group, /*create=*/false, [&](Group& g) -> Status {
    auto it = g.members.find(member_id);
    if (it == g.members.end()) return g.unknown_member(member_id);
    g.members.erase(it);
    g.changed();
    return Status::OK();
  });
}

Status GroupTable::commit(const std::string& topic, const std::string& group, const std::string& member_id,
                          uint64_t generation, const Commits& offsets) {
  return with_group(topic, group, /*create=*/false, [&](Group& g) -> Status {
    auto it = g.members.find(member_id);
    if (it == g.members.end()) return g.unknown_member(member_id);
    it->second.last_seen = clock_();
    if (generation != g.generation)
      return FailedPrecondition("commit of member " + member_id + " to " + g.name() + " is fenced: generation " +
                                std::to_string(generation) + " is " +
                                (generation < g.generation ? "older than" : "not") + " the group's " +
                                std::to_string(g.generation) + " (its assignment changed; nothing was committed)");
    const auto& owned = it->second.buckets;
    Committed next = g.committed;
    for (const auto& [b, o] : offsets) {
      if (!std::binary_search(owned.begin(), owned.end(), b))
        return FailedPrecondition("commit of member " + member_id + " to " + g.name() + ": bucket " +
                                  std::to_string(b.value()) + " is not assigned to it at generation " +
                                  std::to_string(g.generation) + " (it owns " + bucket_list(owned) +
                                  "); nothing was committed");
      next[b] = o;
    }
    if (next == g.committed && (g.stored || !store_)) {
      ++g.commits;
      // Copied all the same: a replica that missed an earlier copy has them from now on.
      return copy(topic, group, &g.committed);
    }
    if (store_) {
      RETURN_IF_ERROR(store_->save(topic, group, next));
      g.stored = true;
    }
    g.committed = std::move(next);
    ++g.commits;
    return copy(topic, group, &g.committed);
  });
}

Result<Committed> GroupTable::committed(const std::string& topic, const std::string& group) {
  auto r = with_group(topic, group, /*create=*/false, [&](Group& g) -> Result<Committed> { return g.committed; });
  if (!r.ok() && r.status().code() == Code::kNotFound) return Committed();
  return r;
}

Result<GroupSummary> GroupTable::describe(const std::string& topic, const std::string& group) {
  return with_group(topic, group, /*create=*/false, [&](Group& g) -> Result<GroupSummary> { return g.summary(); });
}

Result<std::vector<GroupSummary>> GroupTable::list(const std::string& topic) {
  RETURN_IF_ERROR(validate_name("topic", topic));
  std::set<std::string> names;
  if (store_) {
    ASSIGN_OR_RETURN(auto stored, store_->list(topic));
    names.insert(stored.begin(), stored.end());
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [key, g] : groups_)
      if (key.first == topic) names.insert(key.second);
  }
  std::vector<GroupSummary> out;
  for (const auto& n : names) {
    auto s = describe(topic, n);
    if (s.ok()) {
      out.push_back(std::move(*s));
    } else if (s.status().code() != Code::kNotFound) {  // gone meanwhile: not listed
      return s.status();
    }
  }
  return out;
}

Status GroupTable::reset(const std::string& topic, const std::string& group, const Committed& offsets) {
  return with_group(topic, group, /*create=*/false, [&](Group& g) -> Status {
    if (!g.members.empty())
      return FailedPrecondition("cannot reset " + g.name() + ": it has live members (" + g.live_members() +
                                "); stop them or wait for their session timeout");
    std::unique_ptr<FileLock> lock;  // refused while another process runs members
    if (store_) {
      ASSIGN_OR_RETURN(lock, store_->lock(topic, group));
    }
    if (store_) {
      RETURN_IF_ERROR(store_->save(topic, group, offsets));
      g.stored = true;
    }
    g.committed = offsets;
    return copy(topic, group, &g.committed);
  });
}

Status GroupTable::remove(const std::string& topic, const std::string& group) {
  return with_group(topic, group, /*create=*/false, [&](Group& g) -> Status {
    if (!g.members.empty())
      return FailedPrecondition("cannot delete " + g.name() + ": it has live members (" + g.live_members() +
                                "); stop them or wait for their session timeout");
    std::unique_ptr<FileLock> lock;  // refused while another process runs members
    if (store_) {
      ASSIGN_OR_RETURN(lock, store_->lock(topic, group));
    }
    RETURN_IF_ERROR(drop_commits(topic, group, g));
    g.replaced.clear();
    return copy(topic, group, nullptr);  // now empty: with_group forgets it
  });
}

Status GroupTable::copy(const std::string& topic, const std::string& group, const Committed* offsets) const {
  return copier_ ? copier_(topic, group, offsets) : Status::OK();
}

Status GroupTable::install(const std::string& topic, const std::string& group, const Committed* offsets) {
  return with_group(topic, group, /*create=*/true, [&](Group& g) -> Status {
    if (offsets) {
      if (store_) {
        RETURN_IF_ERROR(store_->save(topic, group, *offsets));
        g.stored = true;
      }
      g.committed = *offsets;
      return Status::OK();
    }
    return drop_commits(topic, group, g);
  });
}

Status GroupTable::drop_commits(const std::string& topic, const std::string& group, Group& g) {
  if (store_ && g.stored) {
    Status s = store_->remove(topic, group);
    if (!s.ok() && s.code() != Code::kNotFound) return s;
  }
  g.stored = false;
  g.committed.clear();
  return Status::OK();
}

void GroupTable::forget_topic(const std::string& topic) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = groups_.lower_bound({topic, ""}); it != groups_.end() && it->first.first == topic;) {
    {
      std::lock_guard<std::mutex> glock(it->second->mu);
      it->second->gone = true;
      it->second->members.clear();
      it->second->committed.clear();
      it->second->lock.reset();
    }
    it = groups_.erase(it);
  }
}

size_t GroupTable::expire() {
  std::vector<std::shared_ptr<Group>> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [key, g] : groups_) all.push_back(g);
  }
  size_t dropped = 0;
  auto now = clock_();
  for (auto& g : all) {
    bool forget;
    {
      std::lock_guard<std::mutex> lock(g->mu);
      size_t before = g->members.size();
      g->expire(now);
      dropped += before - g->members.size();
      forget = g->empty() && !g->gone;
    }
    if (forget) forget_if_empty(g->topic, g->group);
  }
  return dropped;
}

uint64_t GroupTable::commits_accepted(const std::string& topic, const std::string& group) {
  auto r = with_group(topic, group, /*create=*/false, [&](Group& g) -> Result<uint64_t> { return g.commits; });
  return r.ok() ? *r : 0;
}

}  // namespace persisting::groups
