// The project's log for what an operator must see but no caller can return: a background
// failure, or damage recovery repaired at the cost of records. Lines go to stderr through spdlog
// (logger "persisting"), so the CLI's stdout stays pure data. Keeps spdlog out of the header.
#pragma once

#include <string_view>

namespace persisting {

void log_warning(std::string_view message);

}  // namespace persisting
