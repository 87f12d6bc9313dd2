#include "groups/group_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/crc32c.h"
#include "util/fault_env.h"
#include "util/temp_dir.h"

namespace persisting::groups {
namespace {

Committed offsets(std::initializer_list<std::pair<uint32_t, uint64_t>> l) {
  Committed c;
  for (auto [b, o] : l) c[BucketId(b)] = Offset(o);
  return c;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void spit(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

TEST(GroupStore, SavesLoadsListsAndRemoves) {
  testing::TempDir dir;
  GroupStore store(Env::Default(), dir.path());
  EXPECT_EQ(store.load("t", "g").status().code(), Code::kNotFound);
  EXPECT_TRUE(store.list("t")->empty());
  ASSERT_TRUE(store.save("t", "g", offsets({{0, 5}, {3, 18446744073709551615ull}})).ok());
  ASSERT_TRUE(store.save("t", "a", offsets({})).ok());
  EXPECT_EQ(*store.load("t", "g"), offsets({{0, 5}, {3, 18446744073709551615ull}}));
  EXPECT_TRUE(store.load("t", "a")->empty());
  EXPECT_EQ(*store.list("t"), (std::vector<std::string>{"a", "g"}));
  EXPECT_EQ(store.path("t", "g"), dir.path() + "/t/groups/g.offsets");
  ASSERT_TRUE(store.save("t", "g", offsets({{1, 2}})).ok());
  EXPECT_EQ(*store.load("t", "g"), offsets({{1, 2}}));  // replaced whole, not merged
  ASSERT_TRUE(store.remove("t", "g").ok());
  EXPECT_EQ(store.load("t", "g").status().code(), Code::kNotFound);
  EXPECT_EQ(store.remove("t", "g").code(), Code::kNotFound);
  EXPECT_EQ(*store.list("t"), std::vector<std::string>{"a"});
}

// body + its CRC-32C trailer, as docs/groups-format.md specifies.
std::string framed(const std::string& body) {
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08x", crc32c(body));
  return body + "crc32c " + hex + "\n";
}

TEST(GroupStore, TheFileIsTheDocumentedText) {
  EXPECT_EQ(GroupStore::encode("events", "billing", offsets({{0, 17}, {5, 3}})),
            framed("persisting-group-offsets 1\ntopic events\ngroup billing\n0 17\n5 3\n"));
  auto d = GroupStore::decode(framed("persisting-group-offsets 1\ntopic events\ngroup billing\n2 9\n"), "events",
                              "billing", "f");
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  EXPECT_EQ(*d, offsets({{2, 9}}));
}

TEST(GroupStore, ADamagedFileIsAnErrorNamingItNeverEmpty) {
  testing::TempDir dir;
  GroupStore store(Env::Default(), dir.path());
  ASSERT_TRUE(store.save("t", "g", offsets({{0, 5}, {1, 6}})).ok());
  std::string path = store.path("t", "g");
  std::string good = slurp(path);

  auto expect_corrupt = [&](const std::string& data, const std::string& why) {
    spit(path, data);
    auto r = store.load("t", "g");
    ASSERT_FALSE(r.ok()) << why;
    EXPECT_EQ(r.status().code(), Code::kCorruption) << why;
    EXPECT_NE(r.status().message().find(path), std::string::npos) << r.status().to_string();
  };
  std::string flipped = good;
  flipped[good.find("0 5") + 2] = '7';  // 5 -> 7: the checksum no longer matches
  expect_corrupt(flipped, "a changed offset");
  expect_corrupt(good.substr(0, good.size() - 3), "a cut trailer");
  expect_corrupt(good.substr(0, good.find("1 6")), "cut after a line");
  expect_corrupt("", "empty");
  // Well-formed and checksummed, but for another group (a file copied by hand).
  expect_corrupt(GroupStore::encode("t", "other", offsets({{0, 1}})), "another group's file");
  expect_corrupt(GroupStore::encode("t", "g", offsets({})).replace(0, 10, "persistinX"), "bad magic");
  // Shape and order are checked too, behind a valid checksum.
  const std::string header = "persisting-group-offsets 1\ntopic t\ngroup g\n";
  expect_corrupt(framed(header + "1 2\n0 3\n"), "buckets out of order");
  expect_corrupt(framed(header + "1 2\n1 3\n"), "a bucket twice");
  expect_corrupt(framed(header + "1 x\n"), "not a number");
  expect_corrupt(framed(header + "4294967296 1\n"), "a bucket past 32 bits");
  expect_corrupt(framed(header + "1 18446744073709551616\n"), "an offset past 64 bits");
  expect_corrupt(framed("persisting-group-offsets 1\ntopic t\n"), "no group line");
}

TEST(GroupStore, AFailedSaveKeepsTheOldOffsets) {
  testing::TempDir dir;
  testing::FaultEnv env(Env::Default());
  GroupStore store(&env, dir.path());
  ASSERT_TRUE(store.save("t", "g", offsets({{0, 1}})).ok());
  for (auto fault : {testing::FaultEnv::WriteFault::kNoSpace, testing::FaultEnv::WriteFault::kShortWrite,
                     testing::FaultEnv::WriteFault::kIOError}) {
    env.fail_writes(fault);
    Status s = store.save("t", "g", offsets({{0, 2}}));
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.message().find("group 'g'"), std::string::npos) << s.to_string();
    env.clear();
    EXPECT_EQ(*store.load("t", "g"), offsets({{0, 1}}));
  }
  env.fail_syncs(1);
  EXPECT_FALSE(store.save("t", "g", offsets({{0, 3}})).ok());
  env.clear();
  EXPECT_EQ(*store.load("t", "g"), offsets({{0, 1}}));
}

TEST(GroupStore, ACrashAtAnyStepOfASaveLeavesTheOldOrTheNewOffsets) {
  bool saw_old = false, saw_new = false;
  for (int ops = 0; ops < 20; ++ops) {
    testing::TempDir dir;
    testing::FaultEnv env(Env::Default());
    GroupStore store(&env, dir.path());
    ASSERT_TRUE(store.save("t", "g", offsets({{0, 1}, {1, 1}})).ok());
    env.stop_after(ops);
    Status s = store.save("t", "g", offsets({{0, 2}, {1, 9}}));
    env.clear();
    ASSERT_TRUE(env.drop_unsynced().ok());  // and the power went too
    auto r = GroupStore(Env::Default(), dir.path()).load("t", "g");
    ASSERT_TRUE(r.ok()) << "crash after " << ops << " steps: " << r.status().to_string();
    if (s.ok()) {
      EXPECT_EQ(*r, offsets({{0, 2}, {1, 9}})) << ops;
    }
    if (*r == offsets({{0, 1}, {1, 1}})) {
      saw_old = true;
    } else if (*r == offsets({{0, 2}, {1, 9}})) {
      saw_new = true;
    } else {
      ADD_FAILURE() << "crash after " << ops << " steps left a mix";
    }
    if (s.ok()) break;
  }
  EXPECT_TRUE(saw_old);
  EXPECT_TRUE(saw_new);
}

}  // namespace
}  // namespace persisting::groups
