#include <cerrno>
#include <cstdlib>

#include "persisting/options.h"

namespace persisting {

const std::string* OptionReader::take(const std::string& key) {
  auto it = options_.find(key);
  if (it == options_.end()) return nullptr;
  taken_.insert(key);
  return &it->second;
}

Status OptionReader::bad_value(const std::string& key, const std::string& value,
                               const std::string& want) const {
  return InvalidArgument(owner_ + ": option '" + key + "' has bad value '" + value + "': expected " +
                         want);
}

Result<std::string> OptionReader::get_string(const std::string& key, std::string def) {
  const std::string* v = take(key);
  return v ? *v : def;
}

Result<int64_t> OptionReader::get_int(const std::string& key, int64_t def, int64_t min, int64_t max) {
  const std::string* v = take(key);
  if (!v) return def;
  errno = 0;
  char* end = nullptr;
  long long n = std::strtoll(v->c_str(), &end, 10);
  std::string want = "an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
  if (v->empty() || *end != '\0' || errno == ERANGE || n < min || n > max)
    return bad_value(key, *v, want);
  return static_cast<int64_t>(n);
}

Result<double> OptionReader::get_double(const std::string& key, double def, double min, double max) {
  const std::string* v = take(key);
  if (!v) return def;
  char* end = nullptr;
  double d = std::strtod(v->c_str(), &end);
  if (v->empty() || *end != '\0' || !(d >= min && d <= max))
    return bad_value(key, *v, "a number in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  return d;
}

Result<bool> OptionReader::get_bool(const std::string& key, bool def) {
  const std::string* v = take(key);
  if (!v) return def;
  if (*v == "true" || *v == "1" || *v == "yes" || *v == "on") return true;
  if (*v == "false" || *v == "0" || *v == "no" || *v == "off") return false;
  return bad_value(key, *v, "true or false");
}

Result<uint64_t> OptionReader::get_bytes(const std::string& key, uint64_t def) {
  const std::string* v = take(key);
  if (!v) return def;
  char* end = nullptr;
  errno = 0;
  unsigned long long n = std::strtoull(v->c_str(), &end, 10);
  std::string want = "a byte size such as 1048576, 512K, 100M or 2G";
  // strtoull skips blanks and accepts a sign (" -1" would wrap to 2^64-1): demand a digit first.
  if (v->empty() || (*v)[0] < '0' || (*v)[0] > '9' || errno == ERANGE) return bad_value(key, *v, want);
  std::string suffix(end);
  uint64_t mult = 1;
  if (suffix == "K" || suffix == "k") mult = 1ULL << 10;
  else if (suffix == "M" || suffix == "m") mult = 1ULL << 20;
  else if (suffix == "G" || suffix == "g") mult = 1ULL << 30;
  else if (!suffix.empty()) return bad_value(key, *v, want);
  if (n > UINT64_MAX / mult) return bad_value(key, *v, want);
  return static_cast<uint64_t>(n) * mult;
}

Result<std::string> OptionReader::get_choice(const std::string& key, std::string def,
                                             const std::set<std::string>& choices) {
  const std::string* v = take(key);
  if (!v) return def;
  if (choices.count(*v)) return *v;
  std::string want = "one of";
  for (const auto& c : choices) want += " " + c;
  return bad_value(key, *v, want);
}

Status OptionReader::finish() const {
  std::string unknown;
  for (const auto& [k, v] : options_) {
    if (taken_.count(k)) continue;
    if (!unknown.empty()) unknown += ", ";
    unknown += "'" + k + "'";
  }
  if (unknown.empty()) return Status::OK();
  return InvalidArgument(owner_ + ": unknown option " + unknown);
}

Result<std::pair<std::string, std::string>> parse_option_assignment(const std::string& text) {
  auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    return InvalidArgument("option '" + text + "' is not of the form key=value");
  return std::make_pair(text.substr(0, eq), text.substr(eq + 1));
}

}  // namespace persisting
