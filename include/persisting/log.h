// The log seam: where the engine writes what an operator must see but no caller can be told (a
// background flush or sync that failed, damage recovery repaired, a peer that did not answer).
// QueueOptions::logger and persistingd's --log-level choose it; the default writes warnings and
// errors to stderr through spdlog. Tests pass their own Logger to see what was logged.
#pragma once

#include <memory>
#include <string_view>

#include "persisting/status.h"

namespace persisting {

enum class LogLevel { kDebug, kInfo, kWarning, kError, kOff };

class Logger {
 public:
  virtual ~Logger() = default;
  // Called from any thread; must not block for long.
  virtual void log(LogLevel level, std::string_view message) = 0;
  // Lines below this level are not even formatted.
  virtual LogLevel level() const = 0;
  bool enabled(LogLevel l) const { return l != LogLevel::kOff && l >= level(); }
};

// Lines at min_level and above to stderr ("persisting: <level>: <message>"), thread-safe.
std::shared_ptr<Logger> stderr_logger(LogLevel min_level = LogLevel::kWarning);

// "debug" | "info" | "warning" | "error" | "off"; anything else is InvalidArgument naming it.
Result<LogLevel> parse_log_level(std::string_view name);
const char* log_level_name(LogLevel level);

}  // namespace persisting
