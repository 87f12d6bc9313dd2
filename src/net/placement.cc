// Topic placements and placement.json (format 2; see placement.h and docs/wire-protocol.md, "Placement").
#include "net/placement.h"

#include <algorithm>

#include "core/status_macros.h"
#include "persisting/json.h"
#include "queue/topic_meta.h"

namespace persisting::net {

std::vector<std::string> Placement::ids() const {
  std::vector<std::string> out;
  for (const auto& m : members) out.push_back(m.id.str());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<NodeId> Placement::replicas(const std::string& topic, uint32_t bucket, uint32_t factor) const {
  size_t n = std::clamp<size_t>(factor, 1, members.size());
  std::vector<NodeId> out;
  for (const runtime::Member* m : runtime::rendezvous_replicas(members, topic, BucketId(bucket), n)) out.push_back(m->id);
  return out;
}

Zones Placement::zones() const {
  Zones out;
  for (const auto& m : members)
    if (!m.zone.empty()) out[m.id.str()] = m.zone;
  return out;
}

std::string placement_path(const std::string& data_dir, const std::string& topic) {
  return queue::topic_dir(data_dir, topic) + "/placement.json";
}

Result<StoredPlacement> load_placement(Env* env, const std::string& path) {
  if (!env->file_exists(path)) return NotFound("no placement file '" + path + "'");
  ASSIGN_OR_RETURN(std::string text, env->read_file(path));
  auto bad = [&](const std::string& why) { return Corruption("placement file '" + path + "': " + why); };
  auto v = parse_json(text);
  if (!v.ok() || !v->is_object()) return bad("not a JSON object");
  const Object& o = v->as_object();
  const Value* format = o.find("format");
  int64_t f = format && format->is_int() ? format->as_int() : 1;
  if (f < 1 || f > kPlacementFormat)
    return bad("format " + std::to_string(f) + " is not one this version reads (1.." +
               std::to_string(kPlacementFormat) + ")");
  StoredPlacement p;
  if (f >= 2) {
    const Value* epoch = o.find("epoch");
    if (!epoch || !epoch->is_int() || epoch->as_int() < 1) return bad("no valid \"epoch\"");
    p.epoch = static_cast<uint64_t>(epoch->as_int());
  }
  const Value* m = o.find("members");
  if (!m || !m->is_list()) return bad("no \"members\" list");
  for (const auto& id : m->as_list()) {
    if (!id.is_string()) return bad("a member id is not a string");
    p.ids.push_back(id.as_string());
  }
  if (p.ids.empty()) return bad("\"members\" is empty");
  if (const Value* z = o.find("zones")) {
    if (!z->is_object()) return bad("\"zones\" is not an object");
    for (const auto& [id, zone] : z->as_object()) {
      if (!zone.is_string()) return bad("the zone of " + id + " is not a string");
      p.zones[id] = zone.as_string();
    }
  }
  return p;
}

Status store_placement(Env* env, const std::string& path, uint64_t epoch, const std::vector<std::string>& ids,
                       const Zones& zones) {
  List l;
  for (const auto& id : ids) l.emplace_back(id);
  Object o{{"format", kPlacementFormat}, {"epoch", static_cast<int64_t>(epoch)}, {"members", Value(std::move(l))}};
  if (!zones.empty()) {  // only then: a placement without zones keeps the file it always had
    Object z;
    for (const auto& [id, zone] : zones) z.set(id, zone);
    o.set("zones", std::move(z));
  }
  std::string text = to_json(Value(std::move(o))) + "\n";
  return env->write_file_atomic(path, text);  // temp file, fsync, rename, directory fsync
}

}  // namespace persisting::net
