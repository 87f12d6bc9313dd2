// groups, groups reset, groups delete: consumer groups of a topic (docs/groups.md), as JSON.
#include <iostream>

#include "apps/persisting/commands.h"
#include "persisting/json.h"
#include "persisting/store.h"

namespace persisting::cli {
namespace {

List bucket_list(const std::vector<BucketId>& buckets) {
  List l;
  for (BucketId b : buckets) l.push_back(static_cast<int64_t>(b.value()));
  return l;
}

// {"group","generation","members":[{"id","buckets","static"}],
//  "buckets":[{"bucket","committed"|null,"end","lag"}],"lag":<sum>}
Value group_json(const GroupInfo& g) {
  List members;
  for (const auto& m : g.members)
    members.push_back(Object{{"id", m.id}, {"buckets", bucket_list(m.buckets)}, {"static", m.is_static}});
  List buckets;
  uint64_t lag = 0;
  for (const auto& b : g.buckets) {
    Object o{{"bucket", static_cast<int64_t>(b.bucket.value())}};
    o.set("committed", b.committed ? Value(static_cast<int64_t>(b.committed->value())) : Value());
    o.set("end", static_cast<int64_t>(b.end.value()));
    o.set("lag", static_cast<int64_t>(b.lag));
    buckets.push_back(std::move(o));
    lag += b.lag;
  }
  return Object{{"group", g.group},
                {"generation", static_cast<int64_t>(g.generation)},
                {"members", std::move(members)},
                {"buckets", std::move(buckets)},
                {"lag", static_cast<int64_t>(lag)}};
}

// earliest | latest | a decimal offset.
bool parse_reset(const std::string& to, GroupReset* out) {
  if (to == "earliest") {
    *out = {GroupReset::kEarliest};
    return true;
  }
  if (to == "latest") {
    *out = {GroupReset::kLatest};
    return true;
  }
  if (to.empty() || to.size() > 19 || to.find_first_not_of("0123456789") != std::string::npos) return false;
  *out = {GroupReset::kOffset, std::stoull(to)};
  return true;
}

}  // namespace

int run_groups(const Target& t, const std::string& topic) {
  return with_store(t, [&](Store& q) {
    auto groups = q.groups(topic);
    if (!groups.ok()) return fail(groups.status().to_string());
    List l;
    for (const auto& g : *groups) l.push_back(group_json(g));
    std::cout << to_json(Value(std::move(l))) << "\n";
    return 0;
  });
}

int run_groups_reset(const GroupResetArgs& a) {
  GroupReset to;
  if (!parse_reset(a.to, &to)) {
    std::cerr << "persisting: --to must be earliest, latest or an offset, got '" << a.to << "'\n";
    return 2;
  }
  return with_store(a.target, [&](Store& q) {
    if (Status s = q.reset_group(a.topic, a.group, to); !s.ok()) return fail(s.to_string());
    // The group as it is now.
    auto groups = q.groups(a.topic);
    if (!groups.ok()) return fail(groups.status().to_string());
    for (const auto& g : *groups)
      if (g.group == a.group) std::cout << to_json(group_json(g)) << "\n";
    return 0;
  });
}

int run_groups_delete(const Target& t, const std::string& topic, const std::string& group) {
  return with_store(t, [&](Store& q) {
    if (Status s = q.delete_group(topic, group); !s.ok()) return fail(s.to_string());
    std::cerr << "persisting: deleted group '" << group << "' of topic '" << topic << "'\n";
    return 0;
  });
}

}  // namespace persisting::cli
