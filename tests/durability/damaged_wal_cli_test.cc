// A damaged WAL as an operator meets it through the `persisting` binary: a bucket's writer is
// killed before its flush, bytes in the middle of the node log's segment are flipped, and `get` and
// `stats` must say loudly what recovery dropped, keep the damaged segment aside and keep saying
// so until the operator clears it (docs/wal-format.md, "Recovery reports").
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "persisting/json.h"
#include "persisting/queue.h"
#include "util/run_process.h"
#include "util/temp_dir.h"

using namespace persisting;
using namespace persisting::testing;
namespace fs = std::filesystem;

namespace {

ProcessResult cli(std::vector<std::string> args) {
  args.insert(args.begin(), PERSISTING_BIN);
  return run_process(args);
}

// Puts `n` records into topic "t" (one bucket, persisting backend) in batches of 10, then dies
// without closing anything: the records are acknowledged (synced in the WAL), none is flushed.
void write_and_die(const std::string& dir, int n) {
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto q = Queue::open({.data_dir = dir});
    if (!q.ok()) std::_Exit(10);
    WriterOptions wo;
    wo.topic = "t";
    wo.bucket_column = "id";
    wo.num_buckets = 1;
    wo.backend = "persisting";
    wo.backend_options = {{"flush_threshold", "1000000"}};
    auto w = (*q)->writer(wo);
    if (!w.ok()) std::_Exit(11);
    for (int i = 0; i < n; i += 10) {
      std::vector<Record> batch;
      for (int j = i; j < i + 10 && j < n; ++j) batch.push_back(Record{{"id", "k"}, {"n", j}});
      if (!(*w)->put(batch).ok()) std::_Exit(12);
    }
    std::_Exit(0);  // as SIGKILL: no flush, no close
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
}

std::vector<fs::path> wal_segments(const fs::path& wal_dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(wal_dir))
    if (e.is_regular_file() && e.path().extension() == ".wal") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

void flip_bytes(const fs::path& p, uint64_t at, int count) {
  std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
  for (int i = 0; i < count; ++i) {
    f.seekg(static_cast<std::streamoff>(at + i));
    char c = 0;
    f.read(&c, 1);
    f.seekp(static_cast<std::streamoff>(at + i));
    c = static_cast<char>(c ^ 0x5a);
    f.write(&c, 1);
  }
}

size_t count_lines(const std::string& s) { return static_cast<size_t>(std::count(s.begin(), s.end(), '\n')); }

}  // namespace

TEST(DamagedWalCli, Defect7_RecoveryThatDropsRecordsIsLoudKeepsEvidenceAndStaysInStats) {
  TempDir dir;
  write_and_die(dir.path(), 1000);
  // The data dir's node log, which the bucket's records are in (one stream of it).
  const fs::path wal_dir = fs::path(dir.path()) / ".wal";
  auto segs = wal_segments(wal_dir);
  ASSERT_EQ(segs.size(), 1u);
  const fs::path seg = segs[0];
  const std::string seg_name = seg.filename().string();
  const std::string original = [&] {
    std::ifstream f(seg, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }();
  // The segment is zero-filled ahead of its appends (docs/wal-format.md, "Zero-filling"), and the
  // writer died before cutting the zeros off: the records end at its last byte that is not zero.
  const uint64_t records_end = original.find_last_not_of('\0') + 1;
  ASSERT_GT(records_end, 1000u);
  flip_bytes(seg, records_end * 3 / 10, 4);

  auto get = cli({"get", "--data-dir", dir.path(), "--topic", "t", "--from-beginning"});
  EXPECT_EQ(get.exit_code, 0) << get.err;
  const size_t got = count_lines(get.out);
  EXPECT_GT(got, 0u);
  EXPECT_LT(got, 1000u);  // the records after the damage are lost
  // Loud: a warning naming the segment, the offsets lost and the policy.
  EXPECT_NE(get.err.find("warning"), std::string::npos) << get.err;
  EXPECT_NE(get.err.find(seg_name), std::string::npos) << get.err;
  EXPECT_NE(get.err.find("offsets " + std::to_string(got) + " and later"), std::string::npos) << get.err;
  EXPECT_NE(get.err.find("tolerate_tail"), std::string::npos) << get.err;

  // The damaged segment is kept aside, byte for byte.
  const fs::path damaged_dir = wal_dir / "damaged";
  ASSERT_TRUE(fs::is_directory(damaged_dir));
  std::vector<fs::path> evidence;
  for (const auto& e : fs::directory_iterator(damaged_dir))
    if (e.path().filename().string().starts_with(seg_name + ".")) evidence.push_back(e.path());
  ASSERT_EQ(evidence.size(), 1u);
  EXPECT_EQ(fs::file_size(evidence[0]), original.size());

  // stats keeps the outcome, in this process and the next ones, until the operator clears it.
  for (int run = 0; run < 2; ++run) {
    auto stats = cli({"stats", "--data-dir", dir.path(), "--topic", "t"});
    ASSERT_EQ(stats.exit_code, 0) << stats.err;
    auto parsed = parse_json(stats.out);
    ASSERT_TRUE(parsed.ok()) << stats.out;
    const Value* buckets = parsed->as_object().find("buckets");
    ASSERT_NE(buckets, nullptr) << stats.out;
    ASSERT_TRUE(buckets->is_list());
    const Value* rec = buckets->as_list().at(0).as_object().find("recovery");
    ASSERT_NE(rec, nullptr) << stats.out;
    const Value* policy = rec->as_object().find("policy");
    ASSERT_NE(policy, nullptr) << stats.out;
    EXPECT_EQ(policy->as_string(), "tolerate_tail");
    EXPECT_NE(to_json(*rec).find(seg_name), std::string::npos) << stats.out;
    EXPECT_NE(to_json(*rec).find(evidence[0].filename().string()), std::string::npos) << stats.out;
    const Value* lost = rec->as_object().find("first_offset_lost");
    ASSERT_NE(lost, nullptr) << stats.out;
    EXPECT_EQ(lost->as_int(), static_cast<int64_t>(got));
  }
  // Every later open meets the same damage: one copy of the segment, one event.
  std::vector<fs::path> kept;
  for (const auto& e : fs::directory_iterator(damaged_dir)) kept.push_back(e.path());
  EXPECT_EQ(kept.size(), 2u);  // the copy and recovery.json

  // The operator clears the record by deleting the file; stats no longer shows it.
  ASSERT_TRUE(fs::remove(damaged_dir / "recovery.json"));
  EXPECT_TRUE(fs::exists(evidence[0]));
  // (still damaged, so the next open records the damage again: delete the segment too, as an
  // operator does once the readable prefix is flushed and the evidence kept)
  fs::remove(seg);
  auto stats = cli({"stats", "--data-dir", dir.path(), "--topic", "t"});
  ASSERT_EQ(stats.exit_code, 0) << stats.err;
  EXPECT_EQ(stats.out.find("\"recovery\""), std::string::npos) << stats.out;
}
