// Retention over a bucket's Lance fragments (docs/retention.md): which whole fragments at the
// front of a dataset lie entirely past a topic's limits. The commit that removes them is
// lance::LanceDataset::remove_front_fragments; BufferedDataset decides when.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "storage/lance/snapshot.h"

namespace persisting {

// How many fragments, from the front of s, retention removes under these limits (0 = no limit):
// the oldest fragment goes while the fragments after it still hold at least max_records rows
// (or max_bytes bytes of data files). So at least the limit is always kept, the newest fragment
// never goes, and a fragment is removed only when all of its rows are past the limit. Data
// files whose size the manifest does not record (0) count as empty.
//
// Age (max_age_ms > 0): a fragment also goes when its newest record's append time is older than
// now_ms - max_age_ms (its times known: snapshot.h), the newest fragment again excepted. The
// limits combine: a fragment goes when any of them says so.
size_t retention_cut(const lance::Snapshot& s, uint64_t max_records, uint64_t max_bytes, uint64_t max_age_ms = 0,
                     int64_t now_ms = 0);

// Interest (retention_policy=interest): how many fragments, from the front of s, lie wholly
// below floor, the smallest offset every consumer group committed in the bucket (a fragment
// whose last offset is o goes when floor > o). The newest fragment never goes.
size_t interest_cut(const lance::Snapshot& s, uint64_t floor);

// When (wall ms) age retention will next have a fragment to remove under max_age_ms: the oldest
// fragment's newest time + max_age_ms + 1, if the dataset has two fragments or more and the
// oldest one's times are known; else nullopt.
std::optional<int64_t> next_age_expiry(const lance::Snapshot& s, uint64_t max_age_ms);

// The bytes of a fragment's data files, as its manifest entry records them.
uint64_t fragment_bytes(const lance::Snapshot& s, size_t fragment);

}  // namespace persisting
