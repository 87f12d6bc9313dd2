// Compaction (docs/compaction.md): which runs of small fragments of a Lance dataset are merged,
// each into one new fragment holding the same rows in the same order, so no row's position (a
// bucket's offset) changes. LanceDataset::compact writes and commits them (a Rewrite
// transaction, as LanceDB's own compaction).
//
// A fragment may be rewritten only when
//   * it has fewer rows than target_rows (a "small" fragment);
//   * it has no deletion file: rows LanceDB deleted are gaps that keep their offsets, and a
//     rewrite would have to carry the deletion file over (LanceDB's compaction drops the rows,
//     which would renumber every later row);
//   * no index LanceDB built covers it (IndexMetadata.fragment_bitmap): the index keeps pointing
//     at the fragments it was built on, so it stays valid; new fragments are "unindexed", which
//     LanceDB searches by scan, as after an append;
//   * every field of the schema is of a type Persisting reads and writes (else nothing is
//     compacted: a rewrite would lose the columns it cannot copy).
// A group is a run of adjacent such fragments whose rows stay within target_rows and whose data
// files within max_bytes (the memory a rewrite takes), trimmed by the tiered rule below when set;
// only groups of two fragments or more are rewritten, and only when they hold min_fragments
// fragments or more in all.
#pragma once

#include <cstdint>
#include <set>
#include <vector>

#include "persisting/status.h"
#include "storage/lance/snapshot.h"

namespace persisting::lance {

struct CompactionOptions {
  uint64_t target_rows = uint64_t{1} << 20;   // LanceDB's default target_rows_per_fragment
  uint64_t max_bytes = uint64_t{64} << 20;    // data-file bytes read into memory per group
  uint64_t min_fragments = 2;                 // fragments in all groups before anything is done
  // Size-tiered (compaction after flushes): a fragment at the front of a group that holds more
  // rows than the rest of the group together stays out of it, so each rewrite at least doubles
  // the fragment a row is in and a row is rewritten about log2(target_rows / flush rows) times,
  // instead of once per compaction (an ever-growing first fragment merged with each few new
  // ones). Off: every run of small fragments merges (persisting compact).
  bool tiered = false;
};

// Fragments [begin, end) of a snapshot's fragment list (positions, not ids).
struct CompactionGroup {
  size_t begin = 0;
  size_t end = 0;
  uint64_t rows = 0;
};

// The fragment ids an index of this version covers. An index section that cannot be read counts
// as covering every fragment (nothing is compacted).
Result<std::set<uint64_t>> indexed_fragments(const Snapshot& s);

// The groups to rewrite, in fragment order; empty when there is nothing to do.
std::vector<CompactionGroup> plan_compaction(const Snapshot& s, const CompactionOptions& options,
                                             const std::set<uint64_t>& indexed);

Status check_compaction_options(const CompactionOptions& options);

}  // namespace persisting::lance
