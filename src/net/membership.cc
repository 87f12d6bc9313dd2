#include "net/membership.h"

#include <algorithm>
#include <set>

#include "net/channels.h"

namespace persisting::net {
namespace {

class StaticMembership : public Membership {
 public:
  StaticMembership(NodeId self, std::vector<runtime::Member> members, std::map<std::string, std::string> kafka)
      : self_(std::move(self)), members_(std::move(members)), kafka_(std::move(kafka)) {}
  std::string kind() const override { return "static"; }
  std::map<std::string, std::string> kafka_addresses() const override { return kafka_; }
  std::vector<runtime::Member> configured() const override { return members_; }
  Result<runtime::Member> member(const NodeId& id) const override {
    for (const auto& m : members_)
      if (m.id == id) return m;
    return NotFound("node " + id.str() + " is not in the static member list");
  }
  std::vector<MemberState> states(Channels& channels) override {
    std::vector<MemberState> out;
    for (const auto& m : members_) {
      MemberState s{m, true, ""};
      if (m.id != self_) {
        // A real answer within a second: a frozen node (SIGSTOP) still accepts connections.
        Status probe = channels.probe(m.address, std::chrono::milliseconds(1000));
        if (!probe.ok()) {
          s.alive = false;
          s.detail = probe.message();
        }
      }
      out.push_back(std::move(s));
    }
    return out;
  }

 private:
  NodeId self_;
  std::vector<runtime::Member> members_;
  std::map<std::string, std::string> kafka_;  // id -> Kafka listener host:port
};

}  // namespace

bool valid_id(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

Result<std::vector<runtime::Member>> parse_members(const std::string& spec) {
  std::vector<runtime::Member> out;
  std::set<std::string> ids, addresses;
  size_t pos = 0;
  while (pos <= spec.size()) {
    size_t comma = spec.find(',', pos);
    std::string item = spec.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    pos = comma == std::string::npos ? spec.size() + 1 : comma + 1;
    if (item.empty()) continue;
    size_t eq = item.find('=');
    if (eq == std::string::npos)
      return InvalidArgument("member '" + item + "' is not id=host:port");
    std::string id = item.substr(0, eq), addr = item.substr(eq + 1), zone;
    if (!valid_id(id)) return InvalidArgument("member id '" + id + "' must be 1-64 characters from [A-Za-z0-9_-]");
    if (size_t at = addr.find('@'); at != std::string::npos) {
      zone = addr.substr(at + 1);
      addr.resize(at);
      if (!valid_id(zone))
        return InvalidArgument("member " + id + ": zone '" + zone + "' must be 1-64 characters from [A-Za-z0-9_-]");
    }
    if (addr.find(':') == std::string::npos) return InvalidArgument("member " + id + ": address '" + addr + "' is not host:port");
    if (!ids.insert(id).second) return InvalidArgument("member id '" + id + "' is listed twice");
    if (!addresses.insert(addr).second) return InvalidArgument("member address '" + addr + "' is listed twice");
    out.push_back({NodeId(id), addr, zone});
  }
  if (out.empty()) return InvalidArgument("the member list is empty");
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return out;
}

Result<std::unique_ptr<Membership>> static_membership(const NodeId& self, std::vector<runtime::Member> members,
                                                      std::vector<runtime::Member> kafka) {
  bool found = std::any_of(members.begin(), members.end(), [&](const auto& m) { return m.id == self; });
  if (!found) return InvalidArgument("node id '" + self.str() + "' is not in the member list");
  std::map<std::string, std::string> addresses;
  for (auto& k : kafka) {
    bool member = std::any_of(members.begin(), members.end(), [&](const auto& m) { return m.id == k.id; });
    if (!member)
      return InvalidArgument("--kafka-members names node " + k.id.str() + ", which is not in the member list");
    addresses[k.id.str()] = std::move(k.address);
  }
  return std::unique_ptr<Membership>(new StaticMembership(self, std::move(members), std::move(addresses)));
}

}  // namespace persisting::net
