// The engine's side of the log seam (include/persisting/log.h): the process default logger, for
// code that has none given, and short helpers. Keeps spdlog out of every header.
#pragma once

#include <string_view>

#include "persisting/log.h"

namespace persisting {

// stderr at warning and above; what components use when no Logger was given.
Logger* default_logger();

// logger (or the default when null) at the level, if enabled.
void log_line(Logger* logger, LogLevel level, std::string_view message);
inline void log_warning(Logger* logger, std::string_view message) { log_line(logger, LogLevel::kWarning, message); }
inline void log_warning(std::string_view message) { log_line(nullptr, LogLevel::kWarning, message); }

// A Status that has nowhere to go (a destructor's close, a best-effort cleanup): logged at level
// with what was being done, unless it is OK.
void log_if_error(Logger* logger, LogLevel level, std::string_view what, const Status& s);

}  // namespace persisting
