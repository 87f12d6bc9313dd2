// A replicated topic's bucket 0 as the nodes show it in cluster status (the replication and
// failover tests).
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "net/node_process.h"
#include "persisting/client.h"
#include "persisting/json.h"

namespace persisting::testing {

// Bucket 0 of a replicated topic as one node sees it in cluster status: its leader and epoch by
// that node's record, and, when the node leads it (leads), each replica's log end, the in-sync
// set and the high watermark.
struct View {
  std::string leader;
  int64_t epoch = -1;
  std::vector<std::string> replicas;
  bool leads = false;
  std::map<std::string, int64_t> log_ends;
  std::set<std::string> in_sync;
  int64_t high_watermark = -1;
  int64_t end_of(const std::string& id) const {
    auto it = log_ends.find(id);
    return it == log_ends.end() ? -1 : it->second;
  }
};

// nullopt when the node does not answer.
inline std::optional<View> view_of(Cluster& cluster, int node, const std::string& topic) {
  auto c = Client::connect({.server = cluster.address(node), .rpc_timeout = std::chrono::seconds(3)});
  if (!c.ok()) return std::nullopt;
  auto st = (*c)->cluster_status(topic);
  if (!st.ok()) return std::nullopt;
  for (const auto& b : st->find("buckets")->as_list()) {
    const Object& o = b.as_object();
    if (o.find("bucket")->as_int() != 0) continue;
    View v;
    v.leader = o.find("leader")->as_string();
    v.epoch = o.find("epoch")->as_int();
    for (const auto& r : o.find("replicas")->as_list()) v.replicas.push_back(r.as_string());
    if (const Value* ends = o.find("log_ends")) {
      v.leads = true;
      for (const auto& [id, e] : ends->as_object()) v.log_ends[id] = e.as_int();
      for (const auto& r : o.find("in_sync")->as_list()) v.in_sync.insert(r.as_string());
      v.high_watermark = o.find("high_watermark")->as_int();
    }
    return v;
  }
  return std::nullopt;
}

// nullopt through a node that does not lead bucket 0 (or does not answer).
inline std::optional<View> led_by(Cluster& cluster, int node, const std::string& topic) {
  auto v = view_of(cluster, node, topic);
  if (v && v->leads) return v;
  return std::nullopt;
}

// The index of the node leading bucket 0, -1 when none answers as its leader.
inline int leader_index(Cluster& cluster, int nodes, const std::string& topic) {
  for (int i = 0; i < nodes; ++i)
    if (led_by(cluster, i, topic)) return i;
  return -1;
}

// Polls (bounded: 30 s) until node leads bucket 0 and pred holds; the last view seen.
template <typename Pred>
std::optional<View> wait_led(Cluster& cluster, int node, const std::string& topic, Pred pred) {
  std::optional<View> v;
  for (int i = 0; i < 300; ++i) {
    v = led_by(cluster, node, topic);
    if (v && pred(*v)) return v;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return v;
}

}  // namespace persisting::testing
