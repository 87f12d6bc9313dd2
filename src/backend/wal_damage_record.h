// The record of WAL recoveries that gave up acknowledged records (damage before the tail; a torn
// tail does not count). Each such recovery is logged as a warning (the bucket's Logger) and appended to
// <bucket_dir>/wal/damaged/recovery.json (a JSON list of events), next to the kept copies of the
// damaged segments (storage/wal/evidence.h); for the node log, <data_dir>/.wal/damaged/. The
// bucket's stats show the latest event as "recovery" (and "recovery_events", their number) for as
// long as that file exists: an operator clears it by deleting the file. docs/wal-format.md,
// "Recovery reports". Each function takes the WAL's directory.
#pragma once

#include <cstdint>
#include <string>

#include "persisting/env.h"
#include "persisting/log.h"
#include "persisting/value.h"
#include "storage/wal/recovery.h"

namespace persisting {

std::string wal_damage_record_path(const std::string& wal_dir);

// Logs the warning and appends the event (unless the record's last event is the same damage,
// as a WAL opened read-only meets it again at every open). first_lost: the first offset no
// longer held anywhere (the report's, or the dataset's end if Lance holds more). what names the
// log in the warning ("bucket '<dir>'"). stream (non-empty for the node log, shared by many
// buckets): the event is that stream's; first_lost is then where its recovered records end.
Status report_wal_damage(Env* env, Logger* logger, const std::string& wal_dir, const std::string& what,
                         const wal::RecoveryReport& report, uint64_t first_lost, const std::string& stream = "");

// Sets "recovery" and "recovery_events" in *stats when the record exists (read at each call, so
// a cleared record disappears at once and a reading process sees the writer's).
// stream: only that stream's events count (the node log's record holds every stream's).
void add_wal_damage_stats(Env* env, const std::string& wal_dir, Object* stats, const std::string& stream = "");

}  // namespace persisting
