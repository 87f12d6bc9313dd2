// Where things are in a backup directory (docs/backup.md, "Layout"): the data dir's own layout
// for one topic, so each bucket is a Lance dataset LanceDB opens where it lies.
#pragma once

#include <cstdint>
#include <string>

namespace persisting::backup {

// "<topic>/bucket_<b>/data.lance": a bucket's dataset, relative to the backup (and data) dir.
std::string dataset_rel(const std::string& topic, uint32_t bucket);
// "<topic>/topic.json"
std::string topic_meta_rel(const std::string& topic);
// "<topic>/groups/<group>.offsets"
std::string group_rel(const std::string& topic, const std::string& group);
// "2026-12-05T15:40:29Z"
std::string utc_now_text();

}  // namespace persisting::backup
