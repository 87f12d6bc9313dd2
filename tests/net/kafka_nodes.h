// Test helpers for the Kafka listener over replicated topics (tests/net): three persistingd
// processes with Kafka listeners naming each other, and kcat reading a partition back.
#pragma once

#include <sstream>
#include <string>
#include <vector>

#include "net/node_process.h"
#include "persisting/json.h"
#include "util/run_process.h"

namespace persisting::testing {

// Three nodes, each with a Kafka listener naming the others'.
struct KafkaNodes {
  explicit KafkaNodes(std::vector<std::string> args) : nodes(3, std::move(args)) {
    std::string members;
    for (int i = 0; i < 3; ++i) {
      ports.push_back(free_port());
      members += (i ? "," : "") + nodes.id(i) + "=" + kafka(i);
    }
    for (int i = 0; i < 3; ++i) nodes.set_node_args(i, {"--kafka-listen", kafka(i), "--kafka-members", members});
  }
  std::string kafka(int i) const { return "127.0.0.1:" + std::to_string(ports[i]); }
  Cluster nodes;
  std::vector<int> ports;
};

// JSON values {"id": i, "k": 0} for i in [from, to), one a line.
inline std::string id_values(int from, int to) {
  std::string out;
  for (int i = from; i < to; ++i) out += "{\"id\":" + std::to_string(i) + ",\"k\":0}\n";
  return out;
}

// kcat reads partition 0 of topic from the beginning to its end (as the broker says it): the
// "id" of each value that is such a JSON object.
inline std::vector<int64_t> consume_ids(const std::string& broker, const std::string& topic) {
  auto r = run_process({"/usr/bin/timeout", "30", "kcat", "-b", broker, "-C", "-t", topic, "-p", "0", "-o",
                        "beginning", "-e", "-q", "-f", "%s\\n"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<int64_t> ids;
  std::istringstream lines(r.out);
  std::string line;
  while (std::getline(lines, line)) {
    auto v = parse_json(line);
    if (v.ok() && v->is_object() && v->as_object().find("id")) ids.push_back(v->as_object().find("id")->as_int());
  }
  return ids;
}

}  // namespace persisting::testing
