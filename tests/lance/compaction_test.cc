// Compaction and version cleanup of a Lance dataset (docs/compaction.md): small fragments merge
// with every row at the same position and unchanged, old versions and the files only they use
// go, pinned and recent versions stay, and a crash at any file-system step leaves the rows whole.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "lance_test_util.h"
#include "persisting/json.h"
#include "storage/lance/cleanup.h"
#include "storage/lance/compaction.h"
#include "storage/lance/dataset.h"
#include "storage/lance/manifest.h"
#include "util/fault_env.h"

namespace persisting::lance {
namespace {

using testing::TempDir;
using testing::count_files;
using persisting::testing::FaultEnv;

std::unique_ptr<LanceDataset> open(const std::string& path, Env* env = Env::Default()) {
  auto ds = LanceDataset::open_or_create(env, path);
  EXPECT_TRUE(ds.ok()) << ds.status().to_string();
  return ds.ok() ? std::move(ds).value() : nullptr;
}

// Every column type, nulls, JSON values and a field that appears later (a merge commit then;
// null in the rows before it). Fields in schema order, as a read returns them.
std::vector<Record> make_rows(int64_t from, int64_t n) {
  std::vector<Record> rows;
  for (int64_t i = from; i < from + n; ++i) {
    Value name = i % 3 == 0 ? Value(nullptr) : Value("row-" + std::to_string(i));
    Value tags = i % 5 == 0 ? Value(List{i, "t" + std::to_string(i), Object{{"k", i}}}) : Value(nullptr);
    Value late = i >= 30 ? Value("l" + std::to_string(i)) : Value(nullptr);
    rows.push_back(Record{{"id", i}, {"name", name}, {"score", i * 0.5}, {"ok", i % 2 == 0},
                          {"vec", F32Vector{float(i), float(-i)}}, {"raw", Bytes{std::string(1, char('a' + i % 26))}},
                          {"tags", tags}, {"late", late}});
  }
  return rows;
}

// Two fields, no schema change: one version per append.
std::vector<Record> simple_rows(int64_t from, int64_t n) {
  std::vector<Record> rows;
  for (int64_t i = from; i < from + n; ++i) rows.push_back(Record{{"id", i}, {"name", "r" + std::to_string(i)}});
  return rows;
}

// A record's fields sorted by name, as JSON (the schema orders fields by first non-null value).
std::string canonical(const Record& r) {
  std::map<std::string, std::string> fields;
  for (const auto& [name, value] : r) fields[std::string(name)] = to_json(value);
  std::string out;
  for (const auto& [name, json] : fields) out += name + "=" + json + ";";
  return out;
}

// Compares without printing thousands of values on a mismatch.
::testing::AssertionResult same_rows(const std::vector<Record>& got, const std::vector<Record>& want) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << got.size() << " rows, want " << want.size();
  for (size_t i = 0; i < got.size(); ++i) {
    if (canonical(got[i]) != canonical(want[i])) {
      return ::testing::AssertionFailure() << "row " << i << ": " << canonical(got[i]) << " want " << canonical(want[i]);
    }
  }
  return ::testing::AssertionSuccess();
}

std::vector<Record> read_all(LanceDataset& ds) {
  auto rows = ds.read(0, 1 << 20);
  EXPECT_TRUE(rows.ok()) << rows.status().to_string();
  return rows.ok() ? *rows : std::vector<Record>{};
}

pb::Transaction last_transaction(const std::string& path, const LanceDataset& ds) {
  pb::Transaction txn;
  auto mf = read_manifest_file(Env::Default(), ds.snapshot().manifest_path());
  EXPECT_TRUE(mf.ok());
  auto bytes = Env::Default()->read_file(path + "/_transactions/" + mf->manifest.transaction_file());
  EXPECT_TRUE(bytes.ok());
  EXPECT_TRUE(txn.ParseFromString(*bytes));
  return txn;
}

CompactionOptions target(uint64_t rows) {
  CompactionOptions o;
  o.target_rows = rows;
  return o;
}

TEST(LanceCompaction, MergesSmallFragmentsKeepingRowsAndPositions) {
  TempDir dir;
  const std::string path = dir.path() + "/t.lance";
  auto ds = open(path);
  for (int f = 0; f < 10; ++f) ASSERT_TRUE(ds->append(make_rows(f * 10, 10)).ok());
  ASSERT_EQ(*ds->remove_front_fragments([](const Snapshot&) { return size_t{1}; }), 10u);  // first offset 10
  const std::vector<Record> before = read_all(*ds);
  ASSERT_EQ(before.size(), 90u);
  const uint64_t version = ds->version();

  auto report = ds->compact(target(40));
  ASSERT_TRUE(report.ok()) << report.status().to_string();
  // 9 fragments of 10 rows: groups of 4, 4 (the last one stays alone, so as it is).
  EXPECT_EQ(report->fragments_removed, 8u);
  EXPECT_EQ(report->fragments_written, 2u);
  EXPECT_EQ(report->rows_rewritten, 80u);
  EXPECT_EQ(ds->version(), version + 1);
  EXPECT_EQ(ds->fragments().size(), 3u);
  EXPECT_EQ(ds->first_offset(), 10u);
  EXPECT_EQ(ds->count_rows(), 90u);
  EXPECT_TRUE(same_rows(read_all(*ds), before));
  // Rows at any position read the same, from a reopened handle too.
  auto again = open(path);
  EXPECT_TRUE(same_rows(*again->read(37, 11), std::vector<Record>(before.begin() + 37, before.begin() + 48)));
  EXPECT_TRUE(same_rows(read_all(*again), before));
  // A Rewrite of two groups; the old version still reads every row (time travel).
  pb::Transaction txn = last_transaction(path, *ds);
  ASSERT_TRUE(txn.has_rewrite());
  ASSERT_EQ(txn.rewrite().groups_size(), 2);
  EXPECT_EQ(txn.rewrite().groups(0).old_fragments_size(), 4);
  EXPECT_EQ(txn.rewrite().groups(0).new_fragments_size(), 1);
  EXPECT_EQ(txn.read_version(), version);
  ReadOptions old;
  old.version = version;
  EXPECT_TRUE(same_rows(*ds->read(0, 1000, old), before));
  // Nothing left to merge: nothing is committed. Appends go on after it.
  EXPECT_EQ(ds->compact(target(40))->fragments_removed, 0u);
  EXPECT_EQ(ds->version(), version + 1);
  ASSERT_TRUE(again->append(make_rows(100, 5)).ok());  // a stale handle: re-reads and retries
  ASSERT_TRUE(ds->refresh().ok());
  std::vector<Record> all = before;
  for (auto& r : make_rows(100, 5)) all.push_back(r);
  EXPECT_TRUE(same_rows(read_all(*ds), all));
}

TEST(LanceCompaction, AStaleCompactorPlansAgainOnTheLatestVersion) {
  TempDir dir;
  const std::string path = dir.path() + "/t.lance";
  auto a = open(path);
  auto b = open(path);
  for (int f = 0; f < 4; ++f) ASSERT_TRUE(a->append(make_rows(f * 10, 10)).ok());
  ASSERT_TRUE(b->refresh().ok());
  ASSERT_TRUE(a->append(make_rows(40, 10)).ok());  // b is stale now
  const size_t data_files = count_files(path + "/data");
  auto report = b->compact(target(1000));
  ASSERT_TRUE(report.ok()) << report.status().to_string();
  EXPECT_EQ(report->fragments_removed, 5u);  // the latest version's five fragments
  EXPECT_EQ(b->fragments().size(), 1u);
  EXPECT_TRUE(same_rows(read_all(*b), make_rows(0, 50)));
  // The lost attempt's file is gone: one file more than before, the merged one.
  EXPECT_EQ(count_files(path + "/data"), data_files + 1);
}

TEST(LanceCompaction, PlanLeavesFragmentsWithDeletionsOrIndicesAndBigOnes) {
  TempDir dir;
  const std::string path = dir.path() + "/t.lance";
  auto ds = open(path);
  for (int f = 0; f < 8; ++f) ASSERT_TRUE(ds->append(make_rows(f * 10, f == 5 ? 50 : 10)).ok());
  // Fragment 2 gets a deletion file (as LanceDB's delete writes one); the plan reads only the
  // manifest, so the file itself need not exist.
  testing::commit_edited_manifest(path, [](pb::Manifest* m) {
    pb::DeletionFile* d = m->mutable_fragments(2)->mutable_deletion_file();
    d->set_file_type(0);
    d->set_read_version(8);
    d->set_id(1);
    d->set_num_deleted_rows(1);
    m->set_reader_feature_flags(1);
    m->set_writer_feature_flags(1);
  });
  ASSERT_TRUE(ds->refresh().ok());
  // target 40: 0-1 merge, 2 has deletions, 3-4 merge, 5 (50 rows) is big, 6-7 merge.
  auto groups = plan_compaction(ds->snapshot(), target(40), {});
  ASSERT_EQ(groups.size(), 3u);
  EXPECT_EQ(groups[0].begin, 0u);
  EXPECT_EQ(groups[0].end, 2u);
  EXPECT_EQ(groups[1].begin, 3u);
  EXPECT_EQ(groups[1].end, 5u);
  EXPECT_EQ(groups[2].begin, 6u);
  EXPECT_EQ(groups[2].end, 8u);
  // Fragments an index covers stay as they are: 3 indexed leaves 4 alone.
  groups = plan_compaction(ds->snapshot(), target(40), {3});
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[1].begin, 6u);
  // Fewer candidates than min_fragments: nothing.
  CompactionOptions o = target(40);
  o.min_fragments = 7;
  EXPECT_TRUE(plan_compaction(ds->snapshot(), o, {}).empty());
  o.min_fragments = 6;
  EXPECT_EQ(plan_compaction(ds->snapshot(), o, {}).size(), 3u);
  // The data-file bytes bound splits groups too.
  o = target(1000);
  o.max_bytes = 1;
  EXPECT_TRUE(plan_compaction(ds->snapshot(), o, {}).empty());
}

TEST(LanceCompaction, TieredPlanLeavesAFragmentBiggerThanTheRest) {
  TempDir dir;
  const std::string path = dir.path() + "/t.lance";
  auto ds = open(path);
  ASSERT_TRUE(ds->append(simple_rows(0, 90)).ok());  // a compacted one
  ASSERT_TRUE(ds->append(simple_rows(90, 40)).ok());
  for (int f = 0; f < 4; ++f) ASSERT_TRUE(ds->append(simple_rows(130 + f * 10, 10)).ok());
  CompactionOptions o = target(1000);
  o.tiered = true;
  // 90 > 40 + 4 x 10: the first stays; 40 <= 4 x 10: the second merges with the four.
  auto groups = plan_compaction(ds->snapshot(), o, {});
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].begin, 1u);
  EXPECT_EQ(groups[0].end, 6u);
  EXPECT_EQ(groups[0].rows, 80u);
  ASSERT_EQ(ds->compact(o)->fragments_removed, 5u);
  // 90 and 80: tiered leaves them (90 > 80); not tiered, the two merge.
  EXPECT_TRUE(plan_compaction(ds->snapshot(), o, {}).empty());
  EXPECT_EQ(plan_compaction(ds->snapshot(), target(1000), {}).size(), 1u);
  // A third of 10: 90 <= 80 + 10, all three merge.
  ASSERT_TRUE(ds->append(simple_rows(170, 10)).ok());
  groups = plan_compaction(ds->snapshot(), o, {});
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].rows, 180u);
  EXPECT_TRUE(same_rows(read_all(*ds), simple_rows(0, 180)));
}

TEST(LanceCompaction, BadOptionsAreRefusedAndChangeNothing) {
  TempDir dir;
  const std::string path = dir.path() + "/t.lance";
  auto ds = open(path);
  for (int f = 0; f < 3; ++f) ASSERT_TRUE(ds->append(make_rows(f * 10, 10)).ok());
  auto r = ds->compact(target(1));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("target rows"), std::string::npos) << r.status().to_string();
  CleanupOptions c;
  c.older_than = std::chrono::seconds(-1);
  auto cr = ds->cleanup_old_versions(c);
  ASSERT_FALSE(cr.ok());
  EXPECT_EQ(cr.status().code(), Code::kInvalidArgument);
  EXPECT_NE(cr.status().message().find("must not be negative"), std::string::npos) << cr.status().to_string();
  EXPECT_EQ(ds->version(), 3u);
  auto versions = ds->versions();
  EXPECT_EQ(versions->size(), 3u);
}

// The manifest timestamp of the latest version, in seconds.
int64_t latest_timestamp(const LanceDataset& ds) { return ds.snapshot().file.manifest.timestamp().seconds(); }

TEST(LanceCleanup, RemovesOldVersionsAndTheFilesOnlyTheyUse) {
  TempDir dir;
  const std::string path = dir.path() + "/t.lance";
  auto ds = open(path);
  for (int f = 0; f < 6; ++f) ASSERT_TRUE(ds->append(simple_rows(f * 10, 10)).ok());
  ASSERT_EQ(ds->compact(target(1000))->fragments_removed, 6u);
  EXPECT_EQ(count_files(path + "/data"), 7u);
  EXPECT_EQ(count_files(path + "/_transactions"), 7u);
  // Within the retention, nothing goes.
  CleanupOptions hour;
  hour.now_seconds = latest_timestamp(*ds) + 10;
  auto kept = ds->cleanup_old_versions(hour);
  ASSERT_TRUE(kept.ok()) << kept.status().to_string();
  EXPECT_EQ(kept->versions_removed, 0u);
  EXPECT_EQ(ds->versions()->size(), 7u);
  // Past it: only the latest version stays, with its one data file and transaction.
  CleanupOptions past = hour;
  past.now_seconds = latest_timestamp(*ds) + 3600;
  auto done = ds->cleanup_old_versions(past);
  ASSERT_TRUE(done.ok()) << done.status().to_string();
  EXPECT_EQ(done->versions_removed, 6u);
  EXPECT_EQ(done->files_removed, 6u + 6u);  // six data files, six transactions
  EXPECT_GT(done->bytes_removed, 0u);
  EXPECT_EQ(ds->versions()->size(), 1u);
  EXPECT_EQ(count_files(path + "/data"), 1u);
  EXPECT_EQ(count_files(path + "/_transactions"), 1u);
  EXPECT_TRUE(same_rows(read_all(*open(path)), simple_rows(0, 60)));
  // A second run has nothing to do; appends go on.
  EXPECT_EQ(ds->cleanup_old_versions(past)->versions_removed, 0u);
  ASSERT_TRUE(ds->append(simple_rows(60, 3)).ok());
  EXPECT_TRUE(same_rows(read_all(*ds), simple_rows(0, 63)));
  // Time travel to a removed version is NotFound.
  ReadOptions old;
  old.version = 2;
  auto gone = ds->read(0, 10, old);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.status().code(), Code::kNotFound);
}

TEST(LanceCleanup, AVersionIsKeptUntilItsSuccessorIsOldEnough) {
  TempDir dir;
  const std::string path = dir.path() + "/t.lance";
  auto ds = open(path);
  for (int f = 0; f < 3; ++f) ASSERT_TRUE(ds->append(simple_rows(f * 10, 10)).ok());
  // Version 3 was committed at t: with a 60 s retention, a cleanup before t + 60 keeps version
  // 2 (its successor is younger than 60 s); at t + 60 only version 3 is left.
  const int64_t t = latest_timestamp(*ds);
  CleanupOptions o;
  o.older_than = std::chrono::seconds(60);
  o.now_seconds = t + 59;
  auto r = ds->cleanup_old_versions(o);
  ASSERT_TRUE(r.ok());
  auto versions = ds->versions();
  ASSERT_GE(versions->size(), 2u);
  EXPECT_EQ((*versions)[versions->size() - 2].version, 2u);
  o.now_seconds = t + 60;
  EXPECT_TRUE(ds->cleanup_old_versions(o).ok());
  EXPECT_EQ(ds->versions()->size(), 1u);
  EXPECT_TRUE(same_rows(read_all(*ds), simple_rows(0, 30)));
}

TEST(LanceCleanup, NeverRemovesAVersionAReaderHolds) {
  TempDir dir;
  const std::string path = dir.path() + "/t.lance";
  auto writer = open(path);
  for (int f = 0; f < 5; ++f) ASSERT_TRUE(writer->append(simple_rows(f * 10, 10)).ok());
  auto reader = open(path);  // holds version 5
  const uint64_t held = reader->version();
  ASSERT_EQ(held, 5u);
  ASSERT_EQ(writer->compact(target(1000))->fragments_removed, 5u);  // version 6
  ASSERT_TRUE(writer->append(simple_rows(50, 10)).ok());              // version 7
  CleanupOptions now;
  now.older_than = std::chrono::seconds(0);
  auto r = writer->cleanup_old_versions(now);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  // 1-4 and 6 went; the reader's version 5 stays, with the files of its five fragments.
  EXPECT_EQ(r->versions_removed, 5u);
  EXPECT_EQ(r->files_removed, 5u);  // only transactions: every data file is still used
  auto versions = writer->versions();
  ASSERT_EQ(versions->size(), 2u);
  EXPECT_EQ((*versions)[0].version, held);
  // The reader reads every row of its version (none of it read before the cleanup).
  EXPECT_TRUE(same_rows(read_all(*reader), simple_rows(0, 50)));
  // Once it moves on, the next cleanup takes version 5 and the five small files.
  ASSERT_TRUE(reader->refresh().ok());
  r = writer->cleanup_old_versions(now);
  EXPECT_EQ(r->versions_removed, 1u);
  EXPECT_EQ(r->files_removed, 5u + 1u);
  EXPECT_EQ(count_files(path + "/data"), 2u);
  EXPECT_TRUE(same_rows(read_all(*reader), simple_rows(0, 60)));
  // A time-travel read pins the version it loads only while it reads: nothing else is pinned.
  EXPECT_EQ(pinned_versions(path), (std::set<uint64_t>{writer->version()}));
}

TEST(LanceCleanup, KeepsVersionsLanceDbTagged) {
  TempDir dir;
  const std::string path = dir.path() + "/t.lance";
  auto ds = open(path);
  for (int f = 0; f < 4; ++f) ASSERT_TRUE(ds->append(simple_rows(f * 10, 10)).ok());
  ASSERT_EQ(ds->compact(target(1000))->fragments_removed, 4u);
  // LanceDB's tags: _refs/tags/<name>.json naming a version.
  std::filesystem::create_directories(path + "/_refs/tags");
  ASSERT_TRUE(Env::Default()->write_file_atomic(path + "/_refs/tags/v2.json", "{\"version\": 2, \"manifest_size\": 1}").ok());
  CleanupOptions now;
  now.older_than = std::chrono::seconds(0);
  auto r = ds->cleanup_old_versions(now);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->versions_removed, 3u);  // 1, 3, 4
  ReadOptions tagged;
  tagged.version = 2;
  EXPECT_TRUE(same_rows(*ds->read(0, 100, tagged), simple_rows(0, 20)));
  // A tag file without a version stops the cleanup before anything goes.
  ASSERT_TRUE(ds->append(simple_rows(40, 1)).ok());
  ASSERT_TRUE(Env::Default()->write_file_atomic(path + "/_refs/tags/bad.json", "{}").ok());
  auto bad = ds->cleanup_old_versions(now);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kCorruption);
  EXPECT_EQ(ds->versions()->size(), 3u);
}

// A crash at every file-system step of a compaction (and of the cleanup after it): the dataset
// opens and reads the same rows, and a later compaction and cleanup finish the job.
TEST(LanceCompaction, CrashAtEveryStepLeavesTheSameRows) {
  int steps_seen = 0;
  for (int step = 0; step < 200; ++step) {
    TempDir dir;
    const std::string path = dir.path() + "/t.lance";
    FaultEnv env(Env::Default());
    std::vector<Record> before;
    bool done = false;
    {
      auto ds = open(path, &env);
      ASSERT_TRUE(ds);
      for (int f = 0; f < 4; ++f) ASSERT_TRUE(ds->append(make_rows(f * 10, 10)).ok());
      before = read_all(*ds);
      env.stop_after(step);
      auto r = ds->compact(target(1000));
      CleanupOptions now;
      now.older_than = std::chrono::seconds(0);
      auto c = r.ok() ? ds->cleanup_old_versions(now) : Result<CleanupReport>(r.status());
      done = c.ok() && !env.stopped();
    }
    env.clear();
    auto ds = open(path);
    ASSERT_TRUE(ds) << "step " << step;
    EXPECT_TRUE(same_rows(read_all(*ds), before)) << "step " << step;
    auto r = ds->compact(target(1000));
    ASSERT_TRUE(r.ok()) << "step " << step << ": " << r.status().to_string();
    CleanupOptions now;
    now.older_than = std::chrono::seconds(0);
    auto c = ds->cleanup_old_versions(now);
    ASSERT_TRUE(c.ok()) << "step " << step << ": " << c.status().to_string();
    EXPECT_EQ(ds->fragments().size(), 1u) << "step " << step;
    EXPECT_TRUE(same_rows(read_all(*ds), before)) << "step " << step;
    // Only the latest version's files are left, plus any orphan of the crashed commit attempt.
    EXPECT_EQ(ds->versions()->size(), 1u) << "step " << step;
    ++steps_seen;
    if (done) break;
  }
  EXPECT_GT(steps_seen, 10);
}

}  // namespace
}  // namespace persisting::lance
