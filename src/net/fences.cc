// Rebalance fences and fences.json (format 1; see fences.h and docs/wire-protocol.md, "Rebalance").
#include "net/fences.h"

#include "core/status_macros.h"
#include "persisting/json.h"
#include "queue/topic_meta.h"

namespace persisting::net {

void Fences::put_started(uint32_t bucket) {
  std::lock_guard<std::mutex> lock(inflight_mu_);
  ++inflight_[bucket];
}

void Fences::put_answered(uint32_t bucket) {
  std::lock_guard<std::mutex> lock(inflight_mu_);
  if (--inflight_[bucket] == 0) inflight_cv_.notify_all();
}

bool Fences::drained(uint32_t bucket, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(inflight_mu_);
  return inflight_cv_.wait_for(lock, timeout, [&] {
    auto it = inflight_.find(bucket);
    return it == inflight_.end() || it->second <= 0;
  });
}

std::string fences_path(const std::string& data_dir, const std::string& topic) {
  return queue::topic_dir(data_dir, topic) + "/fences.json";
}

Result<std::map<uint32_t, std::string>> load_fences(Env* env, const std::string& path) {
  std::map<uint32_t, std::string> out;
  if (!env->file_exists(path)) return out;
  ASSIGN_OR_RETURN(std::string text, env->read_file(path));
  auto bad = [&](const std::string& why) { return Corruption("fence file '" + path + "': " + why); };
  auto v = parse_json(text);
  if (!v.ok() || !v->is_object()) return bad("not a JSON object");
  const Value* format = v->as_object().find("format");
  if (!format || !format->is_int() || format->as_int() != 1) return bad("format is not 1");
  const Value* fences = v->as_object().find("fences");
  if (!fences || !fences->is_object()) return bad("no \"fences\" object");
  for (const auto& [k, target] : fences->as_object()) {
    if (!target.is_string() || k.empty() || k.find_first_not_of("0123456789") != std::string::npos || k.size() > 9)
      return bad("bad entry '" + k + "'");
    out[static_cast<uint32_t>(std::stoul(k))] = target.as_string();
  }
  return out;
}

Status store_fences(Env* env, const std::string& path, const std::map<uint32_t, std::string>& fences) {
  if (fences.empty()) return env->file_exists(path) ? env->remove_file(path) : Status::OK();
  Object o;
  for (const auto& [b, target] : fences) o.set(std::to_string(b), target);
  return env->write_file_atomic(path, to_json(Value(Object{{"format", int64_t(1)}, {"fences", Value(std::move(o))}})) + "\n");
}

}  // namespace persisting::net
