#include "storage/wal/wal_options.h"

#include <string>

namespace persisting::wal {

Result<SyncMode> parse_sync_mode(std::string_view name) {
  if (name == "always") return SyncMode::kAlways;
  if (name == "interval") return SyncMode::kInterval;
  if (name == "os") return SyncMode::kOs;
  return InvalidArgument("wal_sync_mode '" + std::string(name) + "': expected always, interval or os");
}

std::string_view sync_mode_name(SyncMode m) {
  switch (m) {
    case SyncMode::kAlways: return "always";
    case SyncMode::kInterval: return "interval";
    case SyncMode::kOs: return "os";
  }
  return "?";
}

Result<RecoveryPolicy> parse_recovery_policy(std::string_view name) {
  if (name == "tolerate_tail") return RecoveryPolicy::kTolerateTail;
  if (name == "absolute") return RecoveryPolicy::kAbsolute;
  if (name == "point_in_time") return RecoveryPolicy::kPointInTime;
  return InvalidArgument("WAL recovery policy '" + std::string(name) +
                         "': expected tolerate_tail, absolute or point_in_time");
}

std::string_view recovery_policy_name(RecoveryPolicy p) {
  switch (p) {
    case RecoveryPolicy::kTolerateTail: return "tolerate_tail";
    case RecoveryPolicy::kAbsolute: return "absolute";
    case RecoveryPolicy::kPointInTime: return "point_in_time";
  }
  return "?";
}

}  // namespace persisting::wal
