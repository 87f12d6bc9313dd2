// Bad input to backup and restore gets a clear error and changes nothing (docs/backup.md).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "persisting/backup.h"
#include "backup_util.h"
#include "util/fault_env.h"
#include "util/open_queue.h"
#include "util/temp_dir.h"

using namespace persisting;
using namespace persisting::testing;
namespace fs = std::filesystem;

namespace {

Env* env() { return Env::Default(); }

// A data dir with topic "events" (2 buckets, 200 records flushed) and a backup of it.
class BackupInput : public ::testing::Test {
 protected:
  void SetUp() override {
    auto q = open_queue(data_.path());
    ASSERT_TRUE(q);
    auto w = q->writer(durable_topic("events", 2));
    ASSERT_TRUE(w.ok()) << w.status().to_string();
    ASSERT_TRUE((*w)->put(batch_of(0, 0, 200)).ok());
    ASSERT_TRUE((*w)->flush().ok());
    auto r = backup::backup_topic(env(), data_.path(), "events", bak_.path());
    ASSERT_TRUE(r.ok()) << r.status().to_string();
  }
  std::string bak(const std::string& rel = "") const { return rel.empty() ? bak_.path() : bak_.path() + "/" + rel; }
  TempDir data_, bak_, target_, other_;
};

TEST_F(BackupInput, UnknownTopicIsNotFoundAndWritesNothing) {
  const std::string dir = other_.path() + "/new";
  auto r = backup::backup_topic(env(), data_.path(), "nope", dir);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_NE(r.status().message().find("topic 'nope' does not exist"), std::string::npos) << r.status().to_string();
  EXPECT_FALSE(fs::exists(dir));
  auto bad = backup::backup_topic(env(), data_.path(), "../escape", dir);
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  EXPECT_FALSE(fs::exists(dir));
}

TEST_F(BackupInput, RefusesADirectoryThatHoldsSomethingElse) {
  { std::ofstream(other_.path() + "/notes.txt") << "mine"; }
  auto r = backup::backup_topic(env(), data_.path(), "events", other_.path());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("holds no backup.json"), std::string::npos) << r.status().to_string();
  EXPECT_EQ(files_under(other_.path()), std::vector<std::string>{"notes.txt"});

  // A backup of another topic (or another incarnation of this one) is not built on either.
  {
    auto q = open_queue(data_.path());
    auto w = q->writer(durable_topic("orders", 1));
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->put(batch_of(0, 0, 10)).ok());
  }
  const auto before = files_under(bak());
  auto o = backup::backup_topic(env(), data_.path(), "orders", bak());
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(o.status().message().find("holds a backup of topic 'events'"), std::string::npos) << o.status().to_string();
  EXPECT_EQ(files_under(bak()), before);
}

TEST_F(BackupInput, MemoryTopicHasNothingToBackUp) {
  {
    auto q = open_queue(data_.path());
    auto w = q->writer({.topic = "mem", .backend = "memory"});
    ASSERT_TRUE(w.ok()) << w.status().to_string();
  }
  const std::string dir = other_.path() + "/m";
  auto r = backup::backup_topic(env(), data_.path(), "mem", dir);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("backend 'memory'"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir));
}

TEST_F(BackupInput, RestoreRefusesAnExistingTopicAndChangesNothing) {
  const auto before = files_under(data_.path() + "/events");
  const std::string meta = slurp(data_.path() + "/events/topic.json");
  auto r = backup::restore_topic(env(), bak(), data_.path());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kAlreadyExists);
  EXPECT_NE(r.status().message().find("topic 'events' already exists"), std::string::npos) << r.status().to_string();
  EXPECT_EQ(files_under(data_.path() + "/events"), before);
  EXPECT_EQ(slurp(data_.path() + "/events/topic.json"), meta);
  for (const auto& e : fs::directory_iterator(data_.path()))
    EXPECT_EQ(e.path().filename().string().rfind(".restore.", 0), std::string::npos) << e.path();
  // A bad new name is refused before anything is written.
  auto bad = backup::restore_topic(env(), bak(), target_.path(), {.topic = "a/b"});
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(files_under(target_.path()).empty());
}

TEST_F(BackupInput, MissingOrGarbledBackupIsAnErrorAndRestoresNothing) {
  auto missing = backup::restore_topic(env(), other_.path() + "/nowhere", target_.path());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_NE(missing.status().message().find("backup.json is missing"), std::string::npos);

  const std::string manifest = slurp(bak("backup.json"));
  for (const std::string& garbled :
       {std::string("{not json"), manifest.substr(0, manifest.size() / 2), std::string("{\"format\":1}"),
        std::string("[]")}) {
    { std::ofstream(bak("backup.json"), std::ios::trunc) << garbled; }
    auto v = backup::verify_backup(env(), bak());
    ASSERT_FALSE(v.ok()) << garbled;
    EXPECT_EQ(v.status().code(), Code::kCorruption) << v.status().to_string();
    EXPECT_NE(v.status().message().find("backup.json"), std::string::npos);
    auto r = backup::restore_topic(env(), bak(), target_.path());
    EXPECT_EQ(r.status().code(), Code::kCorruption);
    EXPECT_TRUE(files_under(target_.path()).empty());
  }
  // A path escaping the backup is refused as damage, never followed.
  std::string escaping = manifest;
  auto at = escaping.find("events/topic.json");
  ASSERT_NE(at, std::string::npos);
  escaping.replace(at, std::string("events/topic.json").size(), "events/../../etc/passwd");
  { std::ofstream(bak("backup.json"), std::ios::trunc) << escaping; }
  auto e = backup::verify_backup(env(), bak());
  EXPECT_EQ(e.status().code(), Code::kCorruption);
  // A newer format is NotSupported.
  std::string newer = manifest;
  newer.replace(newer.find("\"format\": 1"), 11, "\"format\": 9");
  { std::ofstream(bak("backup.json"), std::ios::trunc) << newer; }
  EXPECT_EQ(backup::verify_backup(env(), bak()).status().code(), Code::kNotSupported);
}

TEST_F(BackupInput, FailedRestoreLeavesNoTopicBehind) {
  FaultEnv faults(env());
  faults.fail_writes(FaultEnv::WriteFault::kNoSpace);
  auto r = backup::restore_topic(&faults, bak(), target_.path());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kIOError) << r.status().to_string();
  EXPECT_TRUE(files_under(target_.path()).empty());
  EXPECT_TRUE(fs::is_empty(target_.path()));
  faults.clear();
  auto ok = backup::restore_topic(&faults, bak(), target_.path());
  ASSERT_TRUE(ok.ok()) << ok.status().to_string();
}

TEST_F(BackupInput, FailedBackupKeepsThePreviousOneValid) {
  {
    auto q = open_queue(data_.path());
    auto w = q->writer(durable_topic("events", 2));
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->put(batch_of(1, 0, 200)).ok());
    ASSERT_TRUE((*w)->flush().ok());
  }
  FaultEnv faults(env());
  faults.fail_writes(FaultEnv::WriteFault::kNoSpace);
  auto r = backup::backup_topic(&faults, data_.path(), "events", bak());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kIOError);
  faults.clear();
  auto v = backup::verify_backup(env(), bak());
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  EXPECT_TRUE(v->ok()) << v->problems.front().path << ": " << v->problems.front().what;
}

}  // namespace

namespace {

// A crash at every step of an incremental backup (FaultEnv::stop_after): the directory always
// holds a backup that verifies, the old one or the new one.
TEST_F(BackupInput, CrashAtEveryStepOfABackupLeavesAValidBackup) {
  {
    auto q = open_queue(data_.path());
    auto w = q->writer(durable_topic("events", 2));
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->put(batch_of(1, 0, 200)).ok());
    ASSERT_TRUE((*w)->flush().ok());
  }
  const std::string work = other_.path() + "/work";
  bool done = false;
  for (int ops = 0; ops < 500 && !done; ++ops) {
    fs::remove_all(work);
    fs::copy(bak(), work, fs::copy_options::recursive);
    FaultEnv faults(env());
    faults.stop_after(ops);
    auto r = backup::backup_topic(&faults, data_.path(), "events", work);
    done = r.ok();
    auto v = backup::verify_backup(env(), work);
    ASSERT_TRUE(v.ok()) << "crash after " << ops << " changes: " << v.status().to_string();
    EXPECT_TRUE(v->ok()) << "crash after " << ops << " changes: " << v->problems.front().path << ": "
                         << v->problems.front().what;
  }
  EXPECT_TRUE(done);
}

// A crash at every step of a restore: either the topic is there whole or it is not there at all
// (and a restore run again afterwards succeeds).
TEST_F(BackupInput, CrashAtEveryStepOfARestoreLeavesNoHalfTopic) {
  bool done = false;
  for (int ops = 0; ops < 500 && !done; ++ops) {
    const std::string dir = other_.path() + "/d" + std::to_string(ops);
    FaultEnv faults(env());
    faults.stop_after(ops);
    auto r = backup::restore_topic(&faults, bak(), dir);
    done = r.ok();
    // The rename into place is the commit point; only the data dir's sync comes after it.
    if (!done && fs::exists(dir + "/events")) {
      EXPECT_NE(r.status().message().find("was restored"), std::string::npos) << r.status().to_string();
    } else if (!done) {
      auto again = backup::restore_topic(env(), bak(), dir);
      ASSERT_TRUE(again.ok()) << "crash after " << ops << " changes: " << again.status().to_string();
    }
    auto q = open_queue(dir);
    ASSERT_TRUE(q);
    EXPECT_EQ(read_bucket(*q, "events", 0).size() + read_bucket(*q, "events", 1).size(), 200u);
  }
  EXPECT_TRUE(done);
}

}  // namespace

namespace {

// An Env on which the pinned version's data files are gone by the time they are opened, as when
// a version cleanup in another process removes them mid-backup.
class VanishingDataEnv : public EnvWrapper {
 public:
  using EnvWrapper::EnvWrapper;
  Result<std::unique_ptr<RandomAccessFile>> new_random_access_file(const std::string& p) override {
    if (p.find("/data.lance/data/") != std::string::npos && p.find("/source/") != std::string::npos)
      return NotFound("no such file '" + p + "'");
    return EnvWrapper::new_random_access_file(p);
  }
};

TEST(BackupCleanup, AFileRemovedMidBackupFailsItNamingTheVersion) {
  TempDir root;
  const std::string data = root.path() + "/source", bak = root.path() + "/bak";
  {
    auto q = open_queue(data);
    ASSERT_TRUE(q);
    auto w = q->writer(durable_topic("events", 1));
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->put(batch_of(0, 0, 50)).ok());
    ASSERT_TRUE((*w)->flush().ok());
  }
  VanishingDataEnv vanishing(Env::Default());
  auto r = backup::backup_topic(&vanishing, data, "events", bak);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_NE(r.status().message().find("disappeared while it was copied"), std::string::npos) << r.status().to_string();
  EXPECT_NE(r.status().message().find("Lance version 1"), std::string::npos) << r.status().to_string();
  EXPECT_FALSE(fs::exists(bak + "/backup.json"));
  // Run again once the files are there: it completes.
  auto again = backup::backup_topic(Env::Default(), data, "events", bak);
  ASSERT_TRUE(again.ok()) << again.status().to_string();
}

}  // namespace

namespace {

// A first backup (into a new directory) that crashes at any step can be run again into the same
// directory, and then verifies.
TEST_F(BackupInput, CrashAtEveryStepOfAFirstBackupCanBeRunAgain) {
  bool done = false;
  for (int ops = 0; ops < 500 && !done; ++ops) {
    const std::string dir = other_.path() + "/first" + std::to_string(ops);
    FaultEnv faults(env());
    faults.stop_after(ops);
    done = backup::backup_topic(&faults, data_.path(), "events", dir).ok();
    if (!done) {
      auto again = backup::backup_topic(env(), data_.path(), "events", dir);
      ASSERT_TRUE(again.ok()) << "crash after " << ops << " changes: " << again.status().to_string();
    }
    auto v = backup::verify_backup(env(), dir);
    ASSERT_TRUE(v.ok()) << "crash after " << ops << " changes: " << v.status().to_string();
    EXPECT_TRUE(v->ok()) << "crash after " << ops << " changes";
    EXPECT_FALSE(fs::exists(dir + "/backup.partial")) << "crash after " << ops << " changes";
  }
  EXPECT_TRUE(done);
}

}  // namespace
