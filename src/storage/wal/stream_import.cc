#include "storage/wal/stream_import.h"

#include "core/status_macros.h"
#include "storage/wal/evidence.h"
#include "storage/wal/wal_format.h"

namespace persisting::wal {
namespace {

constexpr uint64_t kImportBatchBytes = 4 << 20;  // appended in pieces of this size

}  // namespace

Result<StreamImport> import_stream_wal(Env* env, const std::string& old_dir, RecoveryPolicy policy, NodeLog* log,
                                       const std::string& stream) {
  StreamImport out;
  if (!env->file_exists(old_dir)) return out;
  out.found = true;
  const Offset end = log->stream_end(stream);
  out.first = end;
  Status gap;
  Offset next = end;
  ReplayFn replay = [&](Offset o, std::string_view rec) -> Status {
    if (o < end) return Status::OK();  // the owner or the node log holds it
    if (o != next) {
      return Corruption("importing WAL '" + old_dir + "' into stream '" + stream + "': it holds offset " +
                        std::to_string(o.value()) + " but the stream continues at " + std::to_string(next.value()) +
                        ": records missing");
    }
    out.records.add_encoded(rec);
    next = Offset(next.value() + 1);
    return Status::OK();
  };
  ASSIGN_OR_RETURN(RecoveredLog old, recover_log(env, old_dir, policy, replay, &out.report));
  if (!old.read_only.ok()) return old.read_only;
  if (old.next_offset > next) {
    // Its checkpoint says more is held elsewhere than the stream holds.
    return Corruption("importing WAL '" + old_dir + "' into stream '" + stream + "': it ends at offset " +
                      std::to_string(old.next_offset.value()) + " but the stream continues at " +
                      std::to_string(next.value()) + ": records missing");
  }
  // Append what the node log lacks, in pieces, and make it durable before the old files go.
  for (size_t i = 0; i < out.records.size();) {
    RecordBatch piece;
    uint64_t bytes = 0;
    const size_t start = i;
    while (i < out.records.size() && (i == start || bytes + out.records.encoded(i).size() <= kImportBatchBytes)) {
      bytes += out.records.encoded(i).size();
      ++i;
    }
    piece.append_range(out.records, start, i - start);
    ASSIGN_OR_RETURN(Offset first, log->append(stream, std::move(piece)));
    if (first.value() != end.value() + start) {
      return Internal("importing WAL '" + old_dir + "': the node log gave offset " + std::to_string(first.value()) +
                      ", expected " + std::to_string(end.value() + start));
    }
  }
  RETURN_IF_ERROR(log->sync());
  // The old log is in the node log now: delete it, keeping what an operator may want to see.
  ASSIGN_OR_RETURN(auto children, env->get_children(old_dir));
  bool kept = false;
  for (const auto& name : children) {
    if (name == kDamagedDir || name.ends_with(kDiscardedSuffix)) {
      kept = true;
      continue;
    }
    RETURN_IF_ERROR(env->remove_all(join_path(old_dir, name)));
  }
  if (!kept) RETURN_IF_ERROR(env->remove_all(old_dir));
  return out;
}

}  // namespace persisting::wal
