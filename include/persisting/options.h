// Backend options: a string map, validated by the backend that receives it.
// OptionReader takes keys out one by one with typed parsing; finish() reports any key nobody
// took, so an unknown or misspelt option is an error rather than silently ignored.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "persisting/status.h"

namespace persisting {

using Options = std::map<std::string, std::string>;

class OptionReader {
 public:
  // owner names the thing being configured in messages ("backend 'memory'").
  OptionReader(const Options& options, std::string owner)
      : options_(options), owner_(std::move(owner)) {}

  Result<std::string> get_string(const std::string& key, std::string def);
  Result<int64_t> get_int(const std::string& key, int64_t def, int64_t min, int64_t max);
  Result<double> get_double(const std::string& key, double def, double min, double max);
  Result<bool> get_bool(const std::string& key, bool def);  // true/false/1/0/yes/no/on/off
  // Byte sizes: plain integers or with a K/M/G suffix (powers of 1024): "100M".
  Result<uint64_t> get_bytes(const std::string& key, uint64_t def);
  // The value must be one of choices.
  Result<std::string> get_choice(const std::string& key, std::string def,
                                 const std::set<std::string>& choices);
  // Error naming every key that no get_* call took.
  Status finish() const;

 private:
  const std::string* take(const std::string& key);
  Status bad_value(const std::string& key, const std::string& value, const std::string& want) const;

  const Options& options_;
  std::string owner_;
  std::set<std::string> taken_;
};

// Parses "k=v" into (k, v); an error names the text when there is no '=' or k is empty.
Result<std::pair<std::string, std::string>> parse_option_assignment(const std::string& text);

}  // namespace persisting
