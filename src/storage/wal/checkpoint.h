// The WAL checkpoint: a small file in the WAL directory recording the offset below which every
// record is held elsewhere (flushed to Lance). Written atomically (tmp + sync + rename + dir sync),
// so a reader sees the old or the new value, never a torn one. Layout: docs/wal-format.md.
#pragma once

#include <string>

#include "persisting/env.h"
#include "persisting/types.h"

namespace persisting::wal {

// The checkpoint of the WAL in dir: Offset(0) if there is no checkpoint file; Corruption if the
// file fails its checks (recovery then refuses to guess what is already flushed).
Result<Offset> read_checkpoint(Env* env, const std::string& dir);
// Durably records flushed as the checkpoint of the WAL in dir.
Status write_checkpoint(Env* env, const std::string& dir, Offset flushed);

}  // namespace persisting::wal
