#include "core/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <string>

namespace persisting {
namespace {

spdlog::level::level_enum to_spdlog(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug: return spdlog::level::debug;
    case LogLevel::kInfo: return spdlog::level::info;
    case LogLevel::kWarning: return spdlog::level::warn;
    case LogLevel::kError: return spdlog::level::err;
    case LogLevel::kOff: break;
  }
  return spdlog::level::off;
}

// One plain (uncoloured) stderr sink for the process, thread-safe, shared by every logger made
// here, so lines of several loggers never interleave mid-line.
std::shared_ptr<spdlog::sinks::stderr_sink_mt> stderr_sink() {
  static auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  return sink;
}

class StderrLogger final : public Logger {
 public:
  explicit StderrLogger(LogLevel min) : min_(min), l_("persisting", stderr_sink()) {
    l_.set_pattern("persisting: %l: %v");
    l_.set_level(to_spdlog(min));
  }
  void log(LogLevel level, std::string_view message) override {
    if (enabled(level)) l_.log(to_spdlog(level), "{}", message);
  }
  LogLevel level() const override { return min_; }

 private:
  LogLevel min_;
  spdlog::logger l_;
};

}  // namespace

std::shared_ptr<Logger> stderr_logger(LogLevel min_level) { return std::make_shared<StderrLogger>(min_level); }

Logger* default_logger() {
  static std::shared_ptr<Logger> l = stderr_logger(LogLevel::kWarning);
  return l.get();
}

void log_line(Logger* logger, LogLevel level, std::string_view message) {
  Logger* l = logger ? logger : default_logger();
  if (l->enabled(level)) l->log(level, message);
}

void log_if_error(Logger* logger, LogLevel level, std::string_view what, const Status& s) {
  if (s.ok()) return;
  Logger* l = logger ? logger : default_logger();
  if (l->enabled(level)) l->log(level, std::string(what) + ": " + s.to_string());
}

Result<LogLevel> parse_log_level(std::string_view name) {
  for (LogLevel l : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarning, LogLevel::kError, LogLevel::kOff})
    if (name == log_level_name(l)) return l;
  return InvalidArgument("log level '" + std::string(name) + "': expected debug, info, warning, error or off");
}

const char* log_level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarning: return "warning";
    case LogLevel::kError: return "error";
    case LogLevel::kOff: return "off";
  }
  return "off";
}

}  // namespace persisting
