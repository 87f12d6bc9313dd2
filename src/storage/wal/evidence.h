// Evidence: before recovery gives up acknowledged records (damage before the tail, under
// tolerate_tail or point_in_time), it copies the damaged segment, as found, into
// <wal dir>/damaged/<segment name>.<UTC time>, so what a later repair changes can still be
// inspected. A segment whose identical copy is already there is not copied again (a WAL opened
// read-only meets the same damage at every open). docs/wal-format.md, "Recovery reports".
#pragma once

#include <string>

#include "persisting/env.h"

namespace persisting::wal {

inline constexpr char kDamagedDir[] = "damaged";

// Returns the path of the copy of `segment_path` (new, or an identical one kept before).
Result<std::string> keep_evidence(Env* env, const std::string& wal_dir, const std::string& segment_path);

}  // namespace persisting::wal
