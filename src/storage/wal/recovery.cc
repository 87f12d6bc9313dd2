#include "storage/wal/recovery.h"

#include <algorithm>
#include <optional>

#include "core/status_macros.h"
#include "storage/wal/checkpoint.h"
#include "storage/wal/evidence.h"
#include "storage/wal/segment_reader.h"
#include "storage/wal/segment_writer.h"
#include "storage/wal/wal_format.h"

namespace persisting::wal {
namespace {

// Where the log stops being trustworthy.
struct Damage {
  size_t segment = 0;      // index into the segment list
  uint64_t position = 0;   // byte position; < kSegmentHeaderSize means the header itself
  bool incomplete = false; // the bytes ran out inside a frame
  std::string what;
};

Status truncate_file(Env* env, const std::string& path, uint64_t size) {
  ASSIGN_OR_RETURN(auto f, env->new_writable_file(path, /*truncate=*/false));
  RETURN_IF_ERROR(f->truncate(size));
  RETURN_IF_ERROR(f->sync());
  return f->close();
}

class Recovery {
 public:
  Recovery(Env* env, std::string dir, RecoveryPolicy policy, const ReplayFn& replay,
           RecoveryReport* report)
      : env_(env), dir_(std::move(dir)), policy_(policy), replay_(replay), rep_(*report) {}

  Result<RecoveredLog> run() {
    rep_ = RecoveryReport();
    rep_.policy = policy_;
    RETURN_IF_ERROR(env_->create_dirs(dir_));
    ASSIGN_OR_RETURN(ckpt_, read_checkpoint(env_, dir_));
    rep_.checkpoint = ckpt_;
    RETURN_IF_ERROR(list_segments());
    RETURN_IF_ERROR(delete_below_checkpoint());

    expected_ = segs_.empty() ? ckpt_ : segs_[0].first;
    std::optional<Damage> damage;
    if (!segs_.empty() && segs_[0].first > ckpt_) {
      expected_ = ckpt_;  // the good prefix is empty: it ends at the checkpoint
      damage = Damage{0, 0, false,
                      "the log starts at offset " + std::to_string(segs_[0].first.value()) +
                          " but the checkpoint is " + std::to_string(ckpt_.value()) + ": records missing"};
    }
    for (size_t i = 0; i < segs_.size() && !damage; ++i) {
      ASSIGN_OR_RETURN(damage, read_segment(i));
    }

    RecoveredLog out;
    out.last_segment_appendable = !segs_.empty();
    if (damage) RETURN_IF_ERROR(apply_policy(*damage, &out));

    out.checkpoint = ckpt_;
    out.next_offset = std::max(expected_, ckpt_);
    if (expected_ < ckpt_ && out.read_only.ok() && !segs_.empty()) {
      // The log ends below the checkpoint (its tail was lost): nothing in it is needed any more,
      // and the next segment must start at the checkpoint.
      for (const auto& s : segs_) RETURN_IF_ERROR(env_->remove_file(s.path));
      RETURN_IF_ERROR(env_->sync_dir(dir_));
      rep_.segments_deleted += segs_.size();
      note("the log ends at offset " + std::to_string(expected_.value()) + ", below the checkpoint " +
           std::to_string(ckpt_.value()) + ": removed its " + std::to_string(segs_.size()) + " segment(s)");
      segs_.clear();
      out.last_segment_appendable = false;
    }
    out.segments = segs_;
    rep_.next_offset = out.next_offset;
    return out;
  }

 private:
  void note(std::string line) { rep_.log.push_back("WAL '" + dir_ + "': " + std::move(line)); }

  Status list_segments() {
    ASSIGN_OR_RETURN(auto names, env_->get_children(dir_));
    bool removed = false;
    for (const auto& name : names) {
      if (name.ends_with(kTempSuffix)) {
        // A segment or checkpoint whose creation did not finish: never part of the log.
        RETURN_IF_ERROR(env_->remove_file(join_path(dir_, name)));
        note("removed unfinished file '" + name + "'");
        removed = true;
        continue;
      }
      if (auto first = parse_segment_file_name(name)) {
        segs_.push_back(RecoveredSegment{*first, join_path(dir_, name), 0});
      }
    }
    if (removed) RETURN_IF_ERROR(env_->sync_dir(dir_));
    std::sort(segs_.begin(), segs_.end(),
              [](const RecoveredSegment& a, const RecoveredSegment& b) { return a.first < b.first; });
    return Status::OK();
  }

  // A segment is wholly below the checkpoint when the next one starts at or below it.
  Status delete_below_checkpoint() {
    size_t n = 0;
    while (n + 1 < segs_.size() && segs_[n + 1].first <= ckpt_) ++n;
    if (n == 0) return Status::OK();
    for (size_t i = 0; i < n; ++i) RETURN_IF_ERROR(env_->remove_file(segs_[i].path));
    RETURN_IF_ERROR(env_->sync_dir(dir_));
    segs_.erase(segs_.begin(), segs_.begin() + static_cast<ptrdiff_t>(n));
    rep_.segments_deleted += n;
    note("removed " + std::to_string(n) + " segment(s) wholly below the checkpoint");
    return Status::OK();
  }

  // What the bytes at `pos` of a recycled or zero-filled segment, where its records end, look
  // like: zeros (written ahead of the appends), the start of a frame of this log (its length in
  // bounds and its first offset the one expected: a torn frame), or anything else (old bytes).
  enum class Tail { kZeros, kTornFrame, kOther };
  Result<Tail> tail_at(const RandomAccessFile& file, uint64_t pos) const {
    std::string b;
    RETURN_IF_ERROR(file.read(pos, kFrameHeaderSize + 8, &b));
    if (b.size() < 4) {
      // The file ends within a frame's length field: only a write that grew the file leaves that.
      return b.find_first_not_of('\0') == std::string::npos ? Tail::kZeros : Tail::kTornFrame;
    }
    const uint32_t length = get_u32(b.data());
    if (length == 0) return Tail::kZeros;
    if (length < kBatchFixedSize || length > kMaxFramePayload) return Tail::kOther;
    if (b.size() < kFrameHeaderSize + 8) return Tail::kTornFrame;
    return get_u64(b.data() + kFrameHeaderSize) == expected_.value() ? Tail::kTornFrame : Tail::kOther;
  }

  // Replays segment i. Returns the damage that stopped it, if any.
  Result<std::optional<Damage>> read_segment(size_t i) {
    RecoveredSegment& s = segs_[i];
    const bool last = i + 1 == segs_.size();
    // Where the next segment takes over (none for the last one).
    const bool has_cap = !last;
    const Offset cap = last ? Offset(UINT64_MAX) : segs_[i + 1].first;
    ASSIGN_OR_RETURN(auto file, env_->new_random_access_file(s.path));
    s.size = file->size();
    SegmentReader reader(file.get(), s.path);
    Result<Offset> header = reader.read_header();
    if (!header.ok()) {
      if (header.status().code() != Code::kCorruption) return header.status();
      // A header cut short can only be a segment whose creation never completed.
      const bool incomplete = s.size < kSegmentHeaderSize;
      return std::optional<Damage>(Damage{i, 0, incomplete, header.status().message()});
    }
    if (*header != s.first || *header != expected_) {
      return std::optional<Damage>(
          Damage{i, 0, false,
                 "header holds first offset " + std::to_string(header->value()) + ", expected " +
                     std::to_string(expected_.value())});
    }
    ++rep_.segments_read;
    s.recycled = reader.recycled();
    SegmentReader::Item item;
    while (true) {
      if (has_cap && expected_ == cap) {
        // A later segment took over from here (see the writer's fault handling): the rest of
        // this one was never acknowledged.
        rep_.bytes_superseded += s.size - reader.position();
        return std::optional<Damage>();
      }
      RETURN_IF_ERROR(reader.next(&item));
      std::optional<Result<BatchView>> batch;
      if (item.kind == SegmentReader::Kind::kFrame) batch = decode_batch(item.payload);
      if (reader.recycled() && item.kind != SegmentReader::Kind::kEnd) {
        // In a recycled or zero-filled file the records are followed by what the file held
        // before (old frames, whole, their offsets below this segment's first, or cut by the new
        // ones) or by zeros. In the last segment, anything that is not a frame continuing the
        // log, with no such frame after it, is where the log ends: not damage, and left in
        // place for the appends; a torn frame of this log there is a torn tail (every policy:
        // over zeros, a torn frame and a complete one with a bad CRC look alike). In an earlier
        // segment, an old frame or zeros end its records (then the next one must start there).
        const bool old_frame = batch && batch->ok() && (*batch)->first < s.first;
        const bool bad = item.kind != SegmentReader::Kind::kFrame || !batch->ok();
        Tail tail = Tail::kOther;
        if (bad) {
          ASSIGN_OR_RETURN(tail, tail_at(*file, item.position));
        }
        if (old_frame || (bad && (!has_cap || tail == Tail::kZeros))) {
          bool follows = false;
          if (!has_cap) {
            ASSIGN_OR_RETURN(follows, reader.valid_frame_follows(item.position, expected_));
          }
          if (!follows && !old_frame && !has_cap && tail == Tail::kTornFrame) {
            return std::optional<Damage>(Damage{i, item.position, /*incomplete=*/true,
                                                "torn frame: " + (item.reason.empty() ? batch->status().message()
                                                                                      : item.reason)});
          }
          if (!follows) {
            rep_.bytes_recycled += s.size - item.position;
            s.size = item.position;
            item.kind = SegmentReader::Kind::kEnd;
          }
        }
      }
      if (item.kind == SegmentReader::Kind::kEnd) {
        if (!has_cap) return std::optional<Damage>();
        return std::optional<Damage>(
            Damage{i, item.position, false,
                   "segment ends at offset " + std::to_string(expected_.value()) +
                       " but the next segment starts at " + std::to_string(cap.value()) +
                       ": records missing"});
      }
      if (item.kind != SegmentReader::Kind::kFrame) {
        return std::optional<Damage>(
            Damage{i, item.position, item.kind == SegmentReader::Kind::kIncomplete, item.reason});
      }
      if (!batch->ok()) return std::optional<Damage>(Damage{i, item.position, false, batch->status().message()});
      const BatchView& view = **batch;
      if (view.first != expected_) {
        return std::optional<Damage>(
            Damage{i, item.position, false,
                   "frame holds offsets from " + std::to_string(view.first.value()) + ", expected " +
                       std::to_string(expected_.value()) + " (gap or duplicate)"});
      }
      const uint64_t limit = has_cap ? cap.value() - expected_.value() : UINT64_MAX;
      RETURN_IF_ERROR(for_each_record(view, limit, [&](Offset o, std::string_view rec) -> Status {
        if (o < ckpt_) {
          ++rep_.records_skipped;
          return Status::OK();
        }
        ++rep_.records_replayed;
        return replay_(o, rec);
      }));
      expected_ = Offset(expected_.value() + std::min<uint64_t>(limit, view.count));
    }
  }

  Status apply_policy(const Damage& d, RecoveredLog* out) {
    RecoveredSegment& s = segs_[d.segment];
    const bool last = d.segment + 1 == segs_.size();
    const std::string where =
        "WAL segment '" + s.path + "' at byte " + std::to_string(d.position) + ": " + d.what;
    if (last && d.incomplete && d.position == 0 && s.first == expected_) {
      // The last segment holds less than a header, so no record: a segment whose creation never
      // completed, or a fence the writer put down after a failure. Its name still matters (it
      // caps the segment before it), so replace it, atomically, with a proper empty segment.
      ASSIGN_OR_RETURN(auto seg, SegmentWriter::create(env_, dir_, s.first, {}));
      RETURN_IF_ERROR(seg->close());
      rep_.bytes_truncated += s.size;
      note("replaced '" + s.path + "', which holds less than a segment header, by an empty segment: " + d.what);
      s.size = kSegmentHeaderSize;
      rep_.outcome = RecoveryOutcome::kTornTailTruncated;
      return Status::OK();
    }
    bool tail = false;
    if (last && d.position >= kSegmentHeaderSize) {
      ASSIGN_OR_RETURN(auto file, env_->new_random_access_file(s.path));
      SegmentReader reader(file.get(), s.path);
      ASSIGN_OR_RETURN(bool follows, reader.valid_frame_follows(d.position, expected_));
      tail = !follows;
    }
    if (tail && (d.incomplete || policy_ != RecoveryPolicy::kAbsolute)) {
      RETURN_IF_ERROR(truncate_file(env_, s.path, d.position));
      rep_.bytes_truncated += s.size - d.position;
      note("truncated the damaged tail of '" + s.path + "' (" + std::to_string(s.size - d.position) +
           " bytes from byte " + std::to_string(d.position) + "): " + d.what);
      s.size = d.position;
      rep_.outcome = RecoveryOutcome::kTornTailTruncated;
      return Status::OK();
    }
    if (policy_ == RecoveryPolicy::kAbsolute)
      return Corruption(where + " (recovery policy absolute refuses to open)");
    // Acknowledged records are given up from here on: keep the segment as found first.
    rep_.records_lost = true;
    rep_.damaged_segment = s.path;
    rep_.damage_byte = d.position;
    rep_.damage_reason = d.what;
    rep_.first_offset_lost = expected_;
    ASSIGN_OR_RETURN(rep_.evidence, keep_evidence(env_, dir_, s.path));
    note("kept a copy of the damaged segment as '" + rep_.evidence + "'");
    switch (policy_) {
      case RecoveryPolicy::kAbsolute:
        break;  // handled above
      case RecoveryPolicy::kTolerateTail:
        rep_.outcome = RecoveryOutcome::kCorruptionReadOnly;
        rep_.corruption = Corruption(where);
        out->read_only = Corruption(where + "; the WAL was opened read-only (recovery policy tolerate_tail)");
        out->last_segment_appendable = false;
        note("corruption before the tail, replayed the records before it and opened read-only: " + where);
        return Status::OK();
      case RecoveryPolicy::kPointInTime:
        break;
    }
    // point_in_time: keep the log up to the damage, set the rest aside.
    size_t keep = d.segment + 1;
    if (d.position >= kSegmentHeaderSize) {
      if (d.position < s.size) {
        RETURN_IF_ERROR(truncate_file(env_, s.path, d.position));
        rep_.bytes_truncated += s.size - d.position;
        s.size = d.position;
      }
    } else {
      keep = d.segment;  // the header itself is damaged: set the whole segment aside
    }
    for (size_t j = keep; j < segs_.size(); ++j) {
      RETURN_IF_ERROR(env_->rename_file(segs_[j].path, segs_[j].path + std::string(kDiscardedSuffix)));
      ++rep_.segments_discarded;
    }
    RETURN_IF_ERROR(env_->sync_dir(dir_));
    segs_.resize(keep);
    rep_.outcome = RecoveryOutcome::kPointInTimeTruncated;
    rep_.corruption = Corruption(where);
    out->last_segment_appendable = keep > 0 && keep == d.segment + 1;
    note("point_in_time recovery stopped at offset " + std::to_string(expected_.value()) + ": " + where);
    return Status::OK();
  }

  Env* env_;
  std::string dir_;
  RecoveryPolicy policy_;
  const ReplayFn& replay_;
  RecoveryReport& rep_;
  Offset ckpt_;
  Offset expected_;
  std::vector<RecoveredSegment> segs_;
};

}  // namespace

std::string_view recovery_outcome_name(RecoveryOutcome o) {
  switch (o) {
    case RecoveryOutcome::kClean: return "clean";
    case RecoveryOutcome::kTornTailTruncated: return "torn tail truncated";
    case RecoveryOutcome::kCorruptionReadOnly: return "corruption, opened read-only";
    case RecoveryOutcome::kPointInTimeTruncated: return "point-in-time truncated";
  }
  return "?";
}

Result<RecoveredLog> recover_log(Env* env, const std::string& dir, RecoveryPolicy policy,
                                 const ReplayFn& replay, RecoveryReport* report) {
  RecoveryReport local;
  Recovery r(env, dir, policy, replay, report != nullptr ? report : &local);
  return r.run();
}

}  // namespace persisting::wal
