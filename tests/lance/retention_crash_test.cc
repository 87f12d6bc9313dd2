// A crash at every file-system step of a retention commit (LanceDataset::remove_front_fragments,
// docs/retention.md "One Lance commit"): the dataset reopens with either the old fragments and
// the old first offset or the new ones, never a mix; every row left reads back at its offset;
// and a later retention finishes the job. With and without a power loss after the crash.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "lance_test_util.h"
#include "storage/lance/dataset.h"
#include "storage/lance/snapshot.h"
#include "util/fault_env.h"

namespace persisting::lance {
namespace {

using persisting::testing::FaultEnv;
using testing::TempDir;

constexpr int kFragments = 5;
constexpr int kRowsPerFragment = 10;
constexpr size_t kRemoved = 2;  // fragments the retention commit removes

std::vector<Record> rows(int64_t from, int64_t n) {
  std::vector<Record> out;
  for (int64_t i = from; i < from + n; ++i) out.push_back(Record{{"id", i}, {"name", "r" + std::to_string(i)}});
  return out;
}

std::vector<uint64_t> fragment_ids(const LanceDataset& ds) {
  std::vector<uint64_t> ids;
  for (const FragmentInfo& f : ds.fragments()) ids.push_back(f.id);
  return ids;
}

// What a crash may leave: the state before the commit or the one after it.
struct State {
  std::vector<uint64_t> ids;
  uint64_t first_offset = 0;
};

// The dataset at `path` is exactly one of the two states, and our reader agrees with it: the
// manifest read afresh (load_snapshot) names the same fragments and first offset, and the rows
// read are the records put at offsets first .. end.
::testing::AssertionResult old_or_new(const std::string& path, const State& before, const State& after) {
  auto ds = LanceDataset::open_or_create(Env::Default(), path);
  if (!ds.ok()) return ::testing::AssertionFailure() << "reopen: " << ds.status().to_string();
  const std::vector<uint64_t> ids = fragment_ids(**ds);
  const uint64_t first = (*ds)->first_offset();
  const bool is_before = ids == before.ids && first == before.first_offset;
  const bool is_after = ids == after.ids && first == after.first_offset;
  if (!is_before && !is_after) {
    auto out = ::testing::AssertionFailure() << "a mix: first offset " << first << ", fragments";
    for (uint64_t id : ids) out << " " << id;
    return out;
  }
  auto snap = load_snapshot(Env::Default(), path, std::nullopt);
  if (!snap.ok()) return ::testing::AssertionFailure() << "load_snapshot: " << snap.status().to_string();
  if (snap->first_offset != first || snap->fragment_starts.size() != ids.size() + 1) {
    return ::testing::AssertionFailure() << "the manifest says first offset " << snap->first_offset << " and "
                                         << snap->fragment_starts.size() - 1 << " fragments";
  }
  const uint64_t total = uint64_t{kFragments} * kRowsPerFragment;
  if ((*ds)->count_rows() != total - first) {
    return ::testing::AssertionFailure() << (*ds)->count_rows() << " rows, want " << total - first;
  }
  auto got = (*ds)->read(0, 1 << 20);
  if (!got.ok()) return ::testing::AssertionFailure() << "read: " << got.status().to_string();
  if (*got != rows(static_cast<int64_t>(first), static_cast<int64_t>(total - first))) {
    return ::testing::AssertionFailure() << "rows differ from offsets " << first << " .. " << total;
  }
  // A read from the middle: row r is offset first + r.
  auto tail = (*ds)->read(3, 4);
  if (!tail.ok() || *tail != rows(static_cast<int64_t>(first) + 3, 4)) {
    return ::testing::AssertionFailure() << "a read at row 3 is not offset " << first + 3;
  }
  return ::testing::AssertionSuccess() << (is_before ? "old" : "new");
}

void crash_at_every_step(bool power_loss) {
  int steps_seen = 0, old_seen = 0, new_seen = 0;
  bool done = false;
  for (int step = 0; step < 100 && !done; ++step) {
    TempDir dir;
    const std::string path = dir.path() + "/t.lance";
    FaultEnv env(Env::Default());
    State before, after;
    {
      auto ds = LanceDataset::open_or_create(&env, path);
      ASSERT_TRUE(ds.ok()) << ds.status().to_string();
      for (int f = 0; f < kFragments; ++f) {
        ASSERT_TRUE((*ds)->append(rows(f * kRowsPerFragment, kRowsPerFragment)).ok());
      }
      before = {fragment_ids(**ds), (*ds)->first_offset()};
      after = {std::vector<uint64_t>(before.ids.begin() + kRemoved, before.ids.end()), kRemoved * kRowsPerFragment};
      env.stop_after(step);
      auto removed = (*ds)->remove_front_fragments([](const Snapshot&) { return kRemoved; });
      done = removed.ok() && !env.stopped();
      if (done) {
        EXPECT_EQ(*removed, kRemoved * kRowsPerFragment);
      }
      if (power_loss) {
        env.clear();
        ASSERT_TRUE(env.drop_unsynced().ok()) << "step " << step;
      }
    }
    env.clear();
    auto state = old_or_new(path, before, after);
    ASSERT_TRUE(state) << "step " << step;
    // A completed commit (acknowledged) is never undone, even by a power loss.
    if (done) {
      EXPECT_STREQ(state.message(), "new") << "step " << step;
    }
    (std::string(state.message()) == "old" ? old_seen : new_seen)++;
    // A later retention over the reopened dataset finishes the job and appends follow on.
    auto ds = LanceDataset::open_or_create(Env::Default(), path);
    ASSERT_TRUE(ds.ok());
    const size_t left = (*ds)->first_offset() == 0 ? kRemoved : 0;
    auto again = (*ds)->remove_front_fragments([&](const Snapshot&) { return left; });
    ASSERT_TRUE(again.ok()) << "step " << step << ": " << again.status().to_string();
    ASSERT_TRUE((*ds)->append(rows(kFragments * kRowsPerFragment, 5)).ok()) << "step " << step;
    EXPECT_EQ((*ds)->first_offset(), after.first_offset) << "step " << step;
    auto all = (*ds)->read(0, 1 << 20);
    ASSERT_TRUE(all.ok());
    const int64_t first = static_cast<int64_t>(after.first_offset);
    EXPECT_EQ(*all, rows(first, kFragments * kRowsPerFragment + 5 - first)) << "step " << step;
    ++steps_seen;
  }
  EXPECT_TRUE(done) << "the commit never completed within the step budget";
  EXPECT_GT(steps_seen, 3);  // the commit has several steps: transaction, manifest, link, hint
  EXPECT_GT(old_seen, 0);
  EXPECT_GT(new_seen, 0);
}

TEST(LanceRetentionCrash, CrashAtEveryStepLeavesOldOrNewNeverAMix) { crash_at_every_step(false); }

TEST(LanceRetentionCrash, PowerLossAtEveryStepLeavesOldOrNewNeverAMix) { crash_at_every_step(true); }

}  // namespace
}  // namespace persisting::lance
