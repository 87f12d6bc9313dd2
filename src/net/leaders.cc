// leaders.json (format 1; see leaders.h and docs/wire-protocol.md, "Leader epochs").
#include "net/leaders.h"

#include "core/status_macros.h"
#include "persisting/json.h"
#include "queue/topic_meta.h"

namespace persisting::net {

std::optional<uint64_t> BucketLeaders::divergence_point() const {
  for (const auto& e : epochs)
    if (e.epoch > local_epoch) return e.start;
  return std::nullopt;
}

std::string leaders_path(const std::string& data_dir, const std::string& topic) {
  return queue::topic_dir(data_dir, topic) + "/leaders.json";
}

Result<std::map<uint32_t, BucketLeaders>> load_leaders(Env* env, const std::string& path) {
  std::map<uint32_t, BucketLeaders> out;
  if (!env->file_exists(path)) return out;
  ASSIGN_OR_RETURN(std::string text, env->read_file(path));
  auto bad = [&](const std::string& why) { return Corruption("leaders file '" + path + "': " + why); };
  auto v = parse_json(text);
  if (!v.ok() || !v->is_object()) return bad("not a JSON object");
  const Object& o = v->as_object();
  const Value* format = o.find("format");
  if (!format || !format->is_int() || format->as_int() != 1) return bad("format is not 1");
  const Value* buckets = o.find("buckets");
  if (!buckets || !buckets->is_object()) return bad("no \"buckets\" object");
  for (const auto& [key, b] : buckets->as_object()) {
    char* end = nullptr;
    unsigned long n = std::strtoul(key.c_str(), &end, 10);
    if (key.empty() || *end != '\0' || n > UINT32_MAX) return bad("bucket '" + key + "' is not a number");
    if (!b.is_object()) return bad("bucket " + key + " is not an object");
    BucketLeaders bl;
    const Value* epochs = b.as_object().find("epochs");
    if (!epochs || !epochs->is_list()) return bad("bucket " + key + ": no \"epochs\" list");
    for (const auto& e : epochs->as_list()) {
      if (!e.is_object()) return bad("bucket " + key + ": an epoch is not an object");
      const Value* ep = e.as_object().find("epoch");
      const Value* leader = e.as_object().find("leader");
      const Value* start = e.as_object().find("start");
      if (!ep || !ep->is_int() || ep->as_int() < 1 || !leader || !leader->is_string() || !start ||
          !start->is_int() || start->as_int() < 0)
        return bad("bucket " + key + ": an epoch without a valid epoch, leader or start");
      LeaderEpoch le{static_cast<uint64_t>(ep->as_int()), leader->as_string(), static_cast<uint64_t>(start->as_int())};
      if (!bl.epochs.empty() && le.epoch <= bl.epochs.back().epoch)
        return bad("bucket " + key + ": epochs are not ascending");
      bl.epochs.push_back(std::move(le));
    }
    const Value* local = b.as_object().find("local_epoch");
    if (local && local->is_int() && local->as_int() >= 0) bl.local_epoch = static_cast<uint64_t>(local->as_int());
    out[static_cast<uint32_t>(n)] = std::move(bl);
  }
  return out;
}

Status store_leaders(Env* env, const std::string& path, const std::map<uint32_t, BucketLeaders>& leaders) {
  Object buckets;
  for (const auto& [b, bl] : leaders) {
    List epochs;
    for (const auto& e : bl.epochs)
      epochs.emplace_back(Object{{"epoch", static_cast<int64_t>(e.epoch)},
                                 {"leader", e.leader},
                                 {"start", static_cast<int64_t>(e.start)}});
    buckets.set(std::to_string(b), Object{{"epochs", Value(std::move(epochs))},
                                          {"local_epoch", static_cast<int64_t>(bl.local_epoch)}});
  }
  Object o{{"format", int64_t{1}}, {"buckets", Value(std::move(buckets))}};
  return env->write_file_atomic(path, to_json(Value(std::move(o))) + "\n");
}

}  // namespace persisting::net
