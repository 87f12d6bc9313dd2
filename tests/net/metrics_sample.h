// Reading one sample of a node's /metrics in the cluster tests.
#pragma once

#include <httplib.h>

#include <sstream>
#include <string>

namespace persisting::testing {

// The value of the sample whose line starts with `series` ("name" or "name{labels}"); -1 when
// absent or unreachable.
inline double sample(int port, const std::string& series) {
  httplib::Client http("127.0.0.1", port);
  http.set_connection_timeout(3, 0);
  http.set_read_timeout(3, 0);
  auto r = http.Get("/metrics");
  if (!r || r->status != 200) return -1;
  std::istringstream lines(r->body);
  std::string line;
  while (std::getline(lines, line))
    if (line.compare(0, series.size(), series) == 0 && line.size() > series.size() && line[series.size()] == ' ')
      return std::stod(line.substr(series.size() + 1));
  return -1;
}

}  // namespace persisting::testing
