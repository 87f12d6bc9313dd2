#include "kafka/broker/kafka_offsets.h"

#include <algorithm>

#include "core/log.h"

namespace persisting::kafka {
using namespace coord;  // group_requests.h

ErrorCode error_for(const Status& status) {
  switch (status.code()) {
    case Code::kOk:
      return ErrorCode::NONE;
    case Code::kFailedPrecondition:  // held by our readers, or by another process
      return ErrorCode::INCONSISTENT_GROUP_PROTOCOL;
    case Code::kInvalidArgument:
      return ErrorCode::INVALID_GROUP_ID;
    case Code::kIOError:
    case Code::kUnavailable:
    case Code::kDeadlineExceeded:
      return ErrorCode::COORDINATOR_NOT_AVAILABLE;  // retriable, as Kafka answers its storage failures
    default:
      return ErrorCode::UNKNOWN_SERVER_ERROR;
  }
}

KafkaOffsets::KafkaOffsets(groups::Coordinator* table, PartitionCountFn partitions, TopicListFn topics,
                           std::chrono::milliseconds claim_session_timeout, size_t max_metadata_bytes)
    : table_(table),
      partitions_(std::move(partitions)),
      topics_(std::move(topics)),
      claim_session_timeout_(claim_session_timeout),
      max_metadata_bytes_(max_metadata_bytes) {}

KafkaOffsets::~KafkaOffsets() {
  std::map<std::string, std::shared_ptr<Claims>> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    all.swap(groups_);
  }
  for (auto& [group, claims] : all) {
    std::lock_guard<std::mutex> lock(claims->mu);
    leave_all(group, *claims);
  }
}

std::shared_ptr<KafkaOffsets::Claims> KafkaOffsets::claims_of(const std::string& group) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& c = groups_[group];
  if (!c) c = std::make_shared<Claims>();
  return c;
}

ErrorCode KafkaOffsets::commit_topic(Claims& claims, const std::string& group, const std::string& topic,
                                     uint32_t num_buckets, const groups::Commits& offsets, std::string* message) {
  Status last;
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto it = claims.by_topic.find(topic);
    if (it == claims.by_topic.end()) {
      groups::JoinRequest join;
      join.topic = topic;
      join.group = group;
      join.num_buckets = num_buckets;
      join.instance_id = kKafkaClaimInstance;
      for (uint32_t b = 0; b < num_buckets; ++b) join.static_buckets.emplace_back(b);
      join.session_timeout = claim_session_timeout_;
      join.exclusive = true;
      auto joined = table_->join(join);
      if (!joined.ok()) {
        *message = "Kafka group '" + group + "' cannot commit to topic '" + topic + "': " + joined.status().to_string();
        return error_for(joined.status());
      }
      it = claims.by_topic.emplace(topic, Claim{joined->member_id, joined->generation}).first;
    }
    last = table_->commit(topic, group, it->second.member_id, it->second.generation, offsets);
    if (last.ok()) return ErrorCode::NONE;
    // The claim expired or was fenced meanwhile: take it again, once.
    if (last.code() != Code::kNotFound && !groups::is_fenced(last)) break;
    Status left = table_->leave(topic, group, it->second.member_id);
    if (!left.ok() && left.code() != Code::kNotFound)  // NotFound: it expired already
      log_warning("Kafka group '" + group + "' could not leave topic '" + topic + "': " + left.to_string());
    claims.by_topic.erase(it);
  }
  *message = "Kafka group '" + group + "' commit to topic '" + topic + "': " + last.to_string();
  return error_for(last);
}

OffsetCommitResponse KafkaOffsets::commit(const OffsetCommitRequest& r) {
  OffsetCommitResponse out;
  auto note = [&](const std::string& m) {
    if (out.message.empty()) out.message = m;
  };
  auto claims = claims_of(r.group_id);
  std::lock_guard<std::mutex> lock(claims->mu);
  for (const auto& t : r.topics) {
    OffsetCommitResponse::Topic topic{t.name, {}};
    auto count = partitions_(t.name);
    if (!count.ok()) note("Kafka group '" + r.group_id + "': " + count.status().to_string());
    std::map<uint32_t, uint64_t> valid;  // last one wins when a partition is listed twice
    for (const auto& p : t.partitions) {
      ErrorCode e = ErrorCode::NONE;
      if (!count.ok()) {
        e = count.status().code() == Code::kNotFound ? ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
                                                     : error_for(count.status());
      } else if (p.partition < 0 || static_cast<uint32_t>(p.partition) >= *count) {
        e = ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
        note("topic '" + t.name + "' has no partition " + std::to_string(p.partition) + " (it has " +
             std::to_string(*count) + ")");
      } else if (p.offset < 0) {
        e = ErrorCode::OFFSET_OUT_OF_RANGE;
        note("commit of offset " + std::to_string(p.offset) + " to partition " + std::to_string(p.partition) +
             " of topic '" + t.name + "': offsets are >= 0");
      } else if (p.metadata && p.metadata->size() > max_metadata_bytes_) {
        e = ErrorCode::OFFSET_METADATA_TOO_LARGE;
        note("commit metadata of " + std::to_string(p.metadata->size()) + " bytes (at most " +
             std::to_string(max_metadata_bytes_) + ")");
      } else {
        valid[static_cast<uint32_t>(p.partition)] = static_cast<uint64_t>(p.offset);
      }
      topic.partitions.push_back({p.partition, e});
    }
    if (!valid.empty()) {
      groups::Commits offsets;
      for (const auto& [b, o] : valid) offsets.emplace_back(BucketId(b), Offset(o));
      std::string message;
      ErrorCode e = commit_topic(*claims, r.group_id, t.name, *count, offsets, &message);
      if (e != ErrorCode::NONE) {
        note(message);
        for (auto& p : topic.partitions)
          if (p.error == ErrorCode::NONE) p.error = e;
      }
    }
    out.topics.push_back(std::move(topic));
  }
  return out;
}

OffsetFetchResponse KafkaOffsets::fetch(const OffsetFetchRequest& r) {
  OffsetFetchResponse out;
  if (Status s = groups::validate_group_name(r.group_id); !s.ok()) {
    out.error = ErrorCode::INVALID_GROUP_ID;
    out.message = s.to_string();
    return out;
  }
  std::vector<OffsetFetchRequest::Topic> wanted;
  if (r.topics) {
    wanted = *r.topics;
  } else if (topics_) {
    for (const auto& t : topics_()) wanted.push_back({t, {}});  // partitions: the committed ones
  }
  for (const auto& t : wanted) {
    OffsetFetchResponse::Topic topic{t.name, {}};
    auto committed = table_->committed(t.name, r.group_id);
    if (!committed.ok() && committed.status().code() != Code::kInvalidArgument) {  // a bad topic name: never committed
      ErrorCode e = error_for(committed.status());
      if (out.message.empty()) out.message = committed.status().to_string();
      for (int32_t p : t.partitions) topic.partitions.push_back({p, -1, "", e});
      out.topics.push_back(std::move(topic));
      continue;
    }
    groups::Committed none;
    const groups::Committed& c = committed.ok() ? *committed : none;
    if (r.topics) {
      for (int32_t p : t.partitions) {
        auto it = p < 0 ? c.end() : c.find(BucketId(static_cast<uint32_t>(p)));
        topic.partitions.push_back({p, it == c.end() ? -1 : static_cast<int64_t>(it->second.value()), "",
                                    ErrorCode::NONE});
      }
    } else {
      if (c.empty()) continue;
      for (const auto& [b, o] : c)
        topic.partitions.push_back({static_cast<int32_t>(b.value()), static_cast<int64_t>(o.value()), "",
                                    ErrorCode::NONE});
    }
    out.topics.push_back(std::move(topic));
  }
  return out;
}

void KafkaOffsets::renew(const std::string& group) {
  auto claims = claims_of(group);
  std::lock_guard<std::mutex> lock(claims->mu);
  for (auto it = claims->by_topic.begin(); it != claims->by_topic.end();) {
    auto h = table_->heartbeat(it->first, group, it->second.member_id, it->second.generation);
    if (!h.ok()) {
      it = claims->by_topic.erase(it);
    } else {
      it->second.generation = h->generation;
      ++it;
    }
  }
}

void KafkaOffsets::leave_all(const std::string& group, Claims& claims) {
  for (const auto& [topic, claim] : claims.by_topic) {
    Status left = table_->leave(topic, group, claim.member_id);
    if (!left.ok() && left.code() != Code::kNotFound)  // NotFound: it expired already
      log_warning("Kafka group '" + group + "' could not leave topic '" + topic + "': " + left.to_string());
  }
  claims.by_topic.clear();
}

void KafkaOffsets::release(const std::string& group, const std::function<bool()>& still_needed) {
  auto claims = claims_of(group);
  {
    std::lock_guard<std::mutex> lock(claims->mu);
    if (still_needed()) return;
    leave_all(group, *claims);
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto it = groups_.find(group);
  // Forget the entry when nobody else holds it (claims_of hands it out under mu_ only).
  if (it != groups_.end() && it->second == claims && claims.use_count() == 2) groups_.erase(it);
}

std::vector<std::string> KafkaOffsets::claimed(const std::string& group) {
  auto claims = claims_of(group);
  std::lock_guard<std::mutex> lock(claims->mu);
  std::vector<std::string> out;
  for (const auto& [topic, claim] : claims->by_topic) out.push_back(topic);
  return out;
}

}  // namespace persisting::kafka
