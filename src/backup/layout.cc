#include "backup/layout.h"

#include <chrono>
#include <ctime>

namespace persisting::backup {

std::string dataset_rel(const std::string& topic, uint32_t bucket) {
  return topic + "/bucket_" + std::to_string(bucket) + "/data.lance";
}

std::string topic_meta_rel(const std::string& topic) { return topic + "/topic.json"; }

std::string group_rel(const std::string& topic, const std::string& group) {
  return topic + "/groups/" + group + ".offsets";
}

std::string utc_now_text() {
  std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace persisting::backup
