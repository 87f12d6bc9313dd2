#include "backend/wal_damage_record.h"

#include <chrono>
#include <ctime>

#include "core/log.h"
#include "core/status_macros.h"
#include "persisting/json.h"
#include "storage/wal/evidence.h"

namespace persisting {
namespace {

std::string utc_now() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

bool same_damage(const Value& a, const Object& b) {
  if (!a.is_object()) return false;
  for (const char* key : {"file", "byte", "first_offset_lost", "evidence", "policy", "stream"}) {
    const Value* x = a.as_object().find(key);
    const Value* y = b.find(key);
    if ((x == nullptr) != (y == nullptr) || (x != nullptr && to_json(*x) != to_json(*y))) return false;
  }
  return true;
}

// The events in the record; an absent file is an empty list.
Result<List> read_record(Env* env, const std::string& path) {
  if (!env->file_exists(path)) return List();
  ASSIGN_OR_RETURN(std::string text, env->read_file(path));
  auto parsed = parse_json(text);
  if (!parsed.ok() || !parsed->is_list()) return Corruption("WAL recovery record '" + path + "' is not a JSON list");
  return parsed->as_list();
}

}  // namespace

std::string wal_damage_record_path(const std::string& wal_dir) {
  return join_path(join_path(wal_dir, wal::kDamagedDir), "recovery.json");
}

Status report_wal_damage(Env* env, Logger* logger, const std::string& wal_dir, const std::string& what,
                         const wal::RecoveryReport& r, uint64_t first_lost, const std::string& stream) {
  const std::string path = wal_damage_record_path(wal_dir);
  const std::string policy(wal::recovery_policy_name(r.policy));
  log_warning(logger, what + ": WAL recovery (policy " + policy + ") found damage in segment '" +
              r.damaged_segment + "' at byte " + std::to_string(r.damage_byte) + " (" + r.damage_reason +
              ") and gave up the acknowledged records at offsets " + std::to_string(first_lost) +
              " and later: " + std::string(wal::recovery_outcome_name(r.outcome)) +
              ". The damaged segment, as found, is kept as '" + r.evidence + "'. The bucket's stats show this "
              "(\"recovery\") until '" + path + "' is deleted.");
  Object event;
  event.set("time", utc_now());
  event.set("policy", policy);
  event.set("outcome", std::string(wal::recovery_outcome_name(r.outcome)));
  event.set("file", r.damaged_segment);
  event.set("byte", static_cast<int64_t>(r.damage_byte));
  event.set("reason", r.damage_reason);
  event.set("first_offset_lost", static_cast<int64_t>(first_lost));
  event.set("bytes_truncated", static_cast<int64_t>(r.bytes_truncated));
  event.set("segments_discarded", static_cast<int64_t>(r.segments_discarded));
  event.set("evidence", r.evidence);
  if (!stream.empty()) event.set("stream", stream);
  ASSIGN_OR_RETURN(List events, read_record(env, path));
  if (!events.empty() && same_damage(events.back(), event)) return Status::OK();
  events.emplace_back(std::move(event));
  return env->write_file_atomic(path, to_json(Value(std::move(events))) + "\n");
}

void add_wal_damage_stats(Env* env, const std::string& wal_dir, Object* stats, const std::string& stream) {
  const std::string path = wal_damage_record_path(wal_dir);
  auto events = read_record(env, path);
  if (!events.ok()) {
    stats->set("recovery", Object{{"error", events.status().to_string()}});
    return;
  }
  const Value* last = nullptr;
  int64_t count = 0;
  for (const auto& e : *events) {
    const Value* s = e.is_object() ? e.as_object().find("stream") : nullptr;
    if (!stream.empty() && (s == nullptr || !s->is_string() || s->as_string() != stream)) continue;
    last = &e;
    ++count;
  }
  if (last == nullptr) return;
  stats->set("recovery", *last);
  stats->set("recovery_events", count);
}

}  // namespace persisting
