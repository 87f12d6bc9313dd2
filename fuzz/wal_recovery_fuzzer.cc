// libFuzzer target for WAL recovery: builds a WAL directory from the input, recovers it under the
// policy the input picks, and checks what comes back. Recovery must never crash, never hand out
// offsets out of order, and leave a log that, once appended to, recovers cleanly. A bucket WAL is
// driven through recover_log and SegmentWriter; a node log (bit 6) through NodeLog itself, whose
// frames hold stream entries: open, attach every stream, append, reopen.
//
// Input layout (all of it optional; short inputs just make short files):
//   byte 0  bits 0-1 policy (0 tolerate_tail, 1 absolute, 2 point_in_time, 3 -> 0)
//           bit 2    generate each segment's header (the part's first byte adds to the first offset)
//           bit 3    recompute the CRC of every frame the part's length fields describe
//           bit 4    write a checkpoint file; its offset is the next byte
//           bit 5    generated headers say "recycled" (old bytes may follow the records)
//           bit 6    recover it as a node log (storage/wal/node_log.h)
//   byte 1  number of segments, 1 + (byte % 3)
//   then each segment but the last as u16 little-endian length + bytes; the last takes the rest.
// Bits 2 and 3 let the fuzzer get past the CRCs and into the batch and offset logic.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "persisting/env.h"
#include "storage/wal/node_log.h"
#include "storage/wal/recovery.h"
#include "storage/wal/segment_writer.h"
#include "storage/wal/wal_format.h"

using namespace persisting;
using namespace persisting::wal;

namespace {

// Scratch dirs of earlier runs whose process is gone (an abort skips the atexit cleanup: a
// crash found, a timeout, a kill). Their names carry the pid: wal-fuzz-<pid>-XXXXXX.
void remove_stale_scratch_dirs(const std::filesystem::path& base) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(base, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("wal-fuzz-", 0) != 0) continue;
    const long pid = std::strtol(name.c_str() + 9, nullptr, 10);
    if (pid <= 0 || ::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;
    std::filesystem::remove_all(e.path(), ec);
  }
}

const std::string& scratch_dir() {
  static const std::string dir = [] {
    std::filesystem::path base = ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : std::filesystem::temp_directory_path();
    remove_stale_scratch_dirs(base);
    std::string tmpl = (base / ("wal-fuzz-" + std::to_string(::getpid()) + "-XXXXXX")).string();
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    static std::string root = tmpl;
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(root, ec);
    });
    return tmpl + "/wal";
  }();
  return dir;
}

// What recovery said so far in this run, printed when an invariant breaks.
std::vector<std::string> g_trace;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant broken: %s\n", what);
    for (const auto& line : g_trace) std::fprintf(stderr, "  %s\n", line.c_str());
    std::abort();
  }
}

void trace(const char* step, const RecoveryReport& rep) {
  g_trace.push_back(std::string(step) + ": outcome " + std::string(recovery_outcome_name(rep.outcome)) +
                    ", replayed " + std::to_string(rep.records_replayed) + ", next offset " +
                    std::to_string(rep.next_offset.value()) + ", checkpoint " + std::to_string(rep.checkpoint.value()));
  for (const auto& l : rep.log) g_trace.push_back("  " + l);
}

void fix_crcs(std::string* seg) {
  size_t p = kSegmentHeaderSize;
  while (p + kFrameHeaderSize <= seg->size()) {
    const uint32_t len = get_u32(seg->data() + p);
    if (len > kMaxFramePayload || p + kFrameHeaderSize + len > seg->size()) break;
    const uint32_t crc = frame_crc(len, std::string_view(seg->data() + p + kFrameHeaderSize, len));
    std::string c;
    put_u32(&c, crc);
    seg->replace(p + 4, 4, c);
    p += kFrameHeaderSize + len;
  }
}

void write_file(const std::string& path, const std::string& bytes) {
  auto f = Env::Default()->new_writable_file(path, true);
  check(f.ok(), "create file");
  check((*f)->append(bytes).ok() && (*f)->close().ok(), "write file");
}

struct Replay {
  uint64_t count = 0;
  uint64_t next = 0;
  bool started = false;
  ReplayFn fn() {
    return [this](Offset o, std::string_view) {
      check(!started || o.value() == next, "replayed offsets are consecutive");
      started = true;
      next = o.value() + 1;
      ++count;
      return Status::OK();
    };
  }
};

// The node log: open under the policy, attach every stream from offset 0 (each stream's records
// come back at consecutive offsets, or the attach says Corruption), append one entry, reopen:
// clean, with exactly that entry more.
int fuzz_node_log(const std::string& dir, RecoveryPolicy policy) {
  NodeLogOptions o;
  o.wal.recovery_policy = policy;
  NodeLogReport rep;
  auto log = NodeLog::open(dir, o, &rep);
  trace("node log recovery", rep.wal);
  if (!log.ok()) {
    const Code c = log.status().code();
    check(c == Code::kCorruption || c == Code::kNotSupported, "the node log fails only with Corruption or NotSupported");
    // Besides absolute, only an entry that does not decode in a frame whose CRC matches.
    check(c != Code::kCorruption || policy == RecoveryPolicy::kAbsolute ||
              log.status().message().find(": entry ") != std::string::npos,
          "only absolute refuses a damaged node log");
    return 0;
  }
  const std::string mine = "fuzz\n";  // no stream named so unless the input made one
  uint64_t records = 0;
  const std::vector<std::string> names = (*log)->unattached_streams();
  for (const auto& name : names) {
    uint64_t next = 0;
    bool started = false;
    auto end = (*log)->attach(name, Offset(0), [&](Offset off, std::string_view) {
      check(!started || off.value() == next, "a stream's records come back at consecutive offsets");
      started = true;
      next = off.value() + 1;
      ++records;
      return Status::OK();
    }, {});
    if (!end.ok()) {
      check(end.status().code() == Code::kCorruption, "an attach fails only with Corruption");
      continue;
    }
    check(!started || end->value() == next, "a stream continues where its replay ended");
  }
  if (!(*log)->health().ok()) {
    check(policy == RecoveryPolicy::kTolerateTail, "only tolerate_tail opens read-only");
    return 0;
  }
  if (std::find(names.begin(), names.end(), mine) != names.end()) return 0;  // the input's own
  check((*log)->attach(mine, Offset(0), nullptr, {}).ok(), "attach a new stream");
  RecordBatch b;
  b.add_encoded("fuzz");
  auto first = (*log)->append(mine, b);
  check(first.ok(), "append to the recovered node log");
  check((*log)->close().ok(), "close the node log");
  log = Status(Code::kInternal, "closed");
  NodeLogReport rep2;
  auto again = NodeLog::open(dir, o, &rep2);
  trace("node log recovery again", rep2.wal);
  check(again.ok(), "recover the node log again after the append");
  check(rep2.wal.outcome == RecoveryOutcome::kClean, "the repaired node log recovers cleanly");
  check(rep2.entries == rep.entries + 1 && rep2.records == rep.records + 1,
        "the same entries come back, plus the new one");
  (void)records;
  return 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  std::string in(reinterpret_cast<const char*>(data), size);
  const uint8_t flags = data[0];
  const RecoveryPolicy policy = static_cast<RecoveryPolicy>((flags & 3) == 3 ? 0 : (flags & 3));
  const bool gen_header = flags & 4, gen_crc = flags & 8, with_checkpoint = flags & 16, recycled = flags & 32;
  const bool node_log = flags & 64;
  const int segments = 1 + data[1] % 3;
  size_t p = 2;
  uint64_t checkpoint = 0;
  if (with_checkpoint && p < size) checkpoint = data[p++];

  const std::string& dir = scratch_dir();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  if (with_checkpoint) write_file(join_path(dir, "CHECKPOINT"), encode_checkpoint(Offset(checkpoint)));
  uint64_t first = 0;
  for (int i = 0; i < segments && p <= size; ++i) {
    size_t len = size - p;
    if (i + 1 < segments) {
      if (p + 2 > size) break;
      len = std::min<size_t>(data[p] | (data[p + 1] << 8), size - p - 2);
      p += 2;
    }
    std::string part = in.substr(p, len);
    p += len;
    std::string seg;
    if (gen_header) {
      if (!part.empty()) first += static_cast<uint8_t>(part[0]);
      seg = encode_segment_header(Offset(first), recycled ? kSegmentFlagRecycled : 0) +
            (part.empty() ? "" : part.substr(1));
    } else {
      seg = part;
      first = seg.size() >= 24 ? get_u64(seg.data() + 16) : static_cast<uint64_t>(i);
    }
    if (gen_crc) fix_crcs(&seg);
    write_file(join_path(dir, segment_file_name(Offset(first))), seg);
  }

  g_trace.clear();
  if (node_log) return fuzz_node_log(dir, policy);
  Env* env = Env::Default();
  Replay r1;
  RecoveryReport rep;
  g_trace.clear();
  auto log = recover_log(env, dir, policy, r1.fn(), &rep);
  trace("first recovery", rep);
  if (!log.ok()) {
    const Code c = log.status().code();
    check(c == Code::kCorruption || c == Code::kNotSupported, "recovery fails only with Corruption or NotSupported");
    check(c != Code::kCorruption || policy == RecoveryPolicy::kAbsolute, "only absolute refuses a damaged log");
    return 0;
  }
  check(!r1.started || r1.next - r1.count >= rep.checkpoint.value(), "nothing below the checkpoint is replayed");
  check(log->next_offset.value() >= rep.checkpoint.value(), "the log never ends below the checkpoint");
  if (!log->read_only.ok()) {
    check(policy == RecoveryPolicy::kTolerateTail, "only tolerate_tail opens read-only");
    check(rep.outcome == RecoveryOutcome::kCorruptionReadOnly, "read-only is reported");
    return 0;
  }
  const uint64_t next = log->next_offset.value();
  check(!r1.started || r1.next == next, "appends continue where the replay ended");

  // Append one record the way the writer does, then recover again: the repaired log must come
  // back cleanly with exactly one more record.
  const std::string rec = "fuzz";
  const uint32_t ends[] = {static_cast<uint32_t>(rec.size())};
  std::string frame;
  append_batch_frame(Offset(next), rec, ends, &frame);
  // Zero-filled ahead of the appends, as the writer does by default (small chunks here).
  Prefill prefill;
  prefill.chunk = 4096;
  prefill.limit = 1 << 20;
  if (log->last_segment_appendable) {
    const RecoveredSegment& last = log->segments.back();
    auto f = SegmentWriter::reopen(env, last.path, last.first, last.size, last.recycled, prefill);
    check(f.ok() && (*f)->append(frame).ok() && (*f)->close().ok(), "append to the recovered segment");
  } else {
    auto f = SegmentWriter::create(env, dir, Offset(next), frame, prefill);
    check(f.ok() && (*f)->close().ok(), "create a segment after recovery");
  }
  Replay r2;
  RecoveryReport rep2;
  auto log2 = recover_log(env, dir, policy, r2.fn(), &rep2);
  trace("second recovery", rep2);
  check(log2.ok(), "recover again after the append");
  check(rep2.outcome == RecoveryOutcome::kClean, "the repaired log recovers cleanly");
  check(r2.next == next + 1 && r2.count == r1.count + 1, "the same records come back, plus the new one");
  return 0;
}
