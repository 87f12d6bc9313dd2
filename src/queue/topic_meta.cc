#include "queue/topic_meta.h"

#include <chrono>
#include <cstdio>
#include <mutex>
#include <random>

#include <nlohmann/json.hpp>

#include "core/cleanup.h"
#include "core/status_macros.h"

namespace persisting::queue {

using nlohmann::json;

std::string topic_dir(const std::string& data_dir, const std::string& topic) {
  return join_path(data_dir, topic);
}

std::string bucket_dir(const std::string& data_dir, const std::string& topic, BucketId bucket) {
  return join_path(topic_dir(data_dir, topic), "bucket_" + std::to_string(bucket.value()));
}

std::string topic_meta_path(const std::string& data_dir, const std::string& topic) {
  return join_path(topic_dir(data_dir, topic), "topic.json");
}

std::string deleted_topic_dir(const std::string& data_dir, const TopicInfo& info) {
  return join_path(data_dir, kDeletedPrefix + info.topic + "." + incarnation_text(info.incarnation));
}

uint64_t new_incarnation() {
  static std::mutex mu;
  static std::mt19937_64 gen([] {
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32) ^ rd() ^
           static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  }());
  std::lock_guard<std::mutex> lock(mu);
  uint64_t v;
  do v = gen();
  while (v == 0);
  return v;
}

std::string incarnation_text(uint64_t incarnation) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(incarnation));
  return buf;
}

std::string encode_topic_meta(const TopicInfo& info) {
  json j;
  j["format"] = kTopicMetaFormat;
  j["topic"] = info.topic;
  j["bucket_column"] = info.bucket_column;
  j["num_buckets"] = info.num_buckets;
  j["batch_size"] = info.batch_size;
  j["backend"] = info.backend;
  j["options"] = json::object();
  for (const auto& [k, v] : info.backend_options) j["options"][k] = v;
  if (info.incarnation != 0) j["incarnation"] = incarnation_text(info.incarnation);
  if (info.retention.any()) {
    json r = json::object();
    if (info.retention.records) r["records"] = *info.retention.records;
    if (info.retention.bytes) r["bytes"] = *info.retention.bytes;
    if (info.retention.ms) r["ms"] = *info.retention.ms;
    // Only when not the default, so a topic with the limits alone keeps the file it had.
    if (info.retention.policy != RetentionPolicy::kLimits) r["policy"] = retention_policy_name(info.retention.policy);
    j["retention"] = r;
  }
  // Only when not 1, so a topic without replication keeps the topic.json it always had.
  if (info.replication_factor != 1) j["replication_factor"] = info.replication_factor;
  return j.dump(2) + "\n";
}

Result<TopicInfo> decode_topic_meta(std::string_view text, const std::string& path) {
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  auto bad = [&](const std::string& what) { return Corruption("topic metadata '" + path + "': " + what); };
  if (j.is_discarded() || !j.is_object()) return bad("not a JSON object");
  if (!j.contains("format") || !j["format"].is_number_integer()) return bad("missing \"format\"");
  int format = j["format"].get<int>();
  if (format > kTopicMetaFormat)
    return NotSupported("topic metadata '" + path + "' has format " + std::to_string(format) +
                        "; this build reads format " + std::to_string(kTopicMetaFormat));
  TopicInfo info;
  auto str = [&](const char* key, std::string* out) -> bool {
    if (!j.contains(key) || !j[key].is_string()) return false;
    *out = j[key].get<std::string>();
    return true;
  };
  auto u32 = [&](const char* key, uint32_t* out) -> bool {
    if (!j.contains(key) || !j[key].is_number_unsigned()) return false;
    auto v = j[key].get<uint64_t>();
    if (v == 0 || v > UINT32_MAX) return false;
    *out = static_cast<uint32_t>(v);
    return true;
  };
  if (!str("topic", &info.topic)) return bad("missing or bad \"topic\"");
  if (!str("bucket_column", &info.bucket_column)) return bad("missing or bad \"bucket_column\"");
  if (!str("backend", &info.backend)) return bad("missing or bad \"backend\"");
  if (!u32("num_buckets", &info.num_buckets)) return bad("missing or bad \"num_buckets\"");
  if (!u32("batch_size", &info.batch_size)) return bad("missing or bad \"batch_size\"");
  if (j.contains("options")) {
    if (!j["options"].is_object()) return bad("\"options\" is not an object");
    for (auto& [k, v] : j["options"].items()) {
      if (!v.is_string()) return bad("option '" + k + "' is not a string");
      info.backend_options[k] = v.get<std::string>();
    }
  }
  if (j.contains("retention")) {
    const auto& r = j["retention"];
    if (!r.is_object()) return bad("\"retention\" is not an object");
    for (const char* key : {"records", "bytes", "ms"}) {
      if (!r.contains(key)) continue;
      if (!r[key].is_number_unsigned() || r[key].get<uint64_t>() == 0)
        return bad("retention \"" + std::string(key) + "\" is not a positive integer");
      const std::string k(key);
      (k == "records" ? info.retention.records : k == "bytes" ? info.retention.bytes : info.retention.ms) =
          r[key].get<uint64_t>();
    }
    if (r.contains("policy")) {
      auto p = r["policy"].is_string() ? parse_retention_policy(r["policy"].get<std::string>(), "retention \"policy\"")
                                       : Result<RetentionPolicy>(InvalidArgument("retention \"policy\" is not a string"));
      if (!p.ok()) return bad(p.status().message());
      info.retention.policy = *p;
    }
  }
  if (j.contains("replication_factor")) {
    const auto& rf = j["replication_factor"];
    if (!rf.is_number_unsigned() || !valid_replication_factor(rf.get<uint64_t>()))
      return bad("\"replication_factor\" is not 1, 3 or 5");
    info.replication_factor = rf.get<uint32_t>();
  }
  if (j.contains("incarnation")) {
    const auto& inc = j["incarnation"];
    std::string text = inc.is_string() ? inc.get<std::string>() : "";
    bool hex = text.size() == 16;
    for (char c : text) hex = hex && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
    if (!hex) return bad("\"incarnation\" is not 16 lowercase hex digits");
    info.incarnation = std::stoull(text, nullptr, 16);
  }
  return info;
}

Result<TopicInfo> load_topic_meta(Env* env, const std::string& data_dir, const std::string& topic) {
  std::string path = topic_meta_path(data_dir, topic);
  if (!env->file_exists(path))
    return NotFound("topic '" + topic + "' does not exist in '" + data_dir + "'");
  ASSIGN_OR_RETURN(std::string text, env->read_file(path));
  ASSIGN_OR_RETURN(TopicInfo info, decode_topic_meta(text, path));
  if (info.topic != topic)
    return Corruption("topic metadata '" + path + "' names topic '" + info.topic + "'");
  return info;
}

Status store_topic_meta(Env* env, const std::string& data_dir, const TopicInfo& info) {
  RETURN_IF_ERROR(env->create_dirs(topic_dir(data_dir, info.topic)));
  RETURN_IF_ERROR(env->write_file_atomic(topic_meta_path(data_dir, info.topic), encode_topic_meta(info)));
  return env->sync_dir(data_dir);
}

Status create_topic_meta(Env* env, const std::string& data_dir, const TopicInfo& info) {
  const std::string dir = topic_dir(data_dir, info.topic);
  const bool existed = env->file_exists(dir);
  Status s = store_topic_meta(env, data_dir, info);
  if (!s.ok() && !existed) return with_cleanup(s, "removing the new topic dir '" + dir + "'", env->remove_all(dir));
  return s;
}

std::string retention_text(const Retention& r) {
  if (!r.any()) return "none";
  std::string out;
  if (r.records) out += "records=" + std::to_string(*r.records);
  if (r.bytes) out += std::string(out.empty() ? "" : ",") + "bytes=" + std::to_string(*r.bytes);
  if (r.ms) out += std::string(out.empty() ? "" : ",") + "ms=" + std::to_string(*r.ms);
  if (r.policy != RetentionPolicy::kLimits)
    out += std::string(out.empty() ? "" : ",") + "policy=" + retention_policy_name(r.policy);
  return out;
}

std::string retention_policy_name(RetentionPolicy p) { return p == RetentionPolicy::kInterest ? "interest" : "limits"; }

Result<RetentionPolicy> parse_retention_policy(std::string_view text, const std::string& what) {
  if (text == "limits") return RetentionPolicy::kLimits;
  if (text == "interest") return RetentionPolicy::kInterest;
  return InvalidArgument(what + " must be 'limits' or 'interest', got '" + std::string(text) + "'");
}

Status check_retention(const std::string& topic, const std::string& backend, const Retention& r) {
  if (r.records && *r.records == 0)
    return InvalidArgument("topic '" + topic + "': retention_records must be positive (leave it unset for no limit)");
  if (r.bytes && *r.bytes == 0)
    return InvalidArgument("topic '" + topic + "': retention_bytes must be positive (leave it unset for no limit)");
  if (r.ms && (*r.ms == 0 || *r.ms > static_cast<uint64_t>(INT64_MAX)))
    return InvalidArgument("topic '" + topic + "': retention_ms must be a positive number of milliseconds (leave it "
                           "unset for no limit)");
  if (r.any() && backend != "lance" && backend != "persisting")
    return InvalidArgument("topic '" + topic + "': retention needs a backend that stores Lance fragments (lance, "
                           "persisting); this topic's backend is '" + backend + "'");
  return Status::OK();
}

bool valid_replication_factor(uint64_t rf) { return rf == 1 || rf == 3 || rf == 5; }

Status check_replication_factor(const std::string& topic, uint32_t rf) {
  if (rf == 0 || valid_replication_factor(rf)) return Status::OK();
  return InvalidArgument("topic '" + topic + "': replication_factor must be 1, 3 or 5, got " + std::to_string(rf));
}

Status check_same_settings(const TopicInfo& stored, const WriterOptions& wanted) {
  std::string diffs;
  auto diff = [&](const std::string& what, const std::string& have, const std::string& want) {
    if (have == want) return;
    diffs += (diffs.empty() ? "" : "; ") + what + " is " + have + ", not " + want;
  };
  diff("num_buckets", std::to_string(stored.num_buckets), std::to_string(wanted.num_buckets));
  diff("bucket_column", "'" + stored.bucket_column + "'", "'" + wanted.bucket_column + "'");
  diff("backend", "'" + stored.backend + "'", "'" + wanted.backend + "'");
  if (wanted.replication_factor != 0)
    diff("replication_factor", std::to_string(stored.replication_factor), std::to_string(wanted.replication_factor));
  if (wanted.retention.any() && !(wanted.retention == stored.retention))
    diffs += std::string(diffs.empty() ? "" : "; ") + "retention is " + retention_text(stored.retention) + ", not " +
             retention_text(wanted.retention) + " (change it with alter_topic / `persisting topics alter`)";
  if (diffs.empty()) return Status::OK();
  return FailedPrecondition("topic '" + stored.topic + "' already exists with other settings: " + diffs);
}

}  // namespace persisting::queue
