#include "core/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace persisting {
namespace {

spdlog::logger& logger() {
  // Plain (uncoloured) stderr sink, thread-safe; made once, on first use.
  static std::shared_ptr<spdlog::logger> l = [] {
    auto made = spdlog::stderr_logger_mt("persisting");
    made->set_pattern("persisting: %l: %v");
    return made;
  }();
  return *l;
}

}  // namespace

void log_warning(std::string_view message) { logger().warn("{}", message); }

}  // namespace persisting
