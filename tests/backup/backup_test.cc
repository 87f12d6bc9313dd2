// Backup and restore of a topic (docs/backup.md): a backup taken while four producers write
// restores every record up to its offsets exactly once and in order, with the group commits;
// a second backup copies only what changed; verify finds damaged and missing files.
#include <gtest/gtest.h>

#include <latch>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "persisting/backup.h"
#include "backup_util.h"
#include "lance/lance_test_util.h"
#include "storage/lance/format.h"
#include "util/open_queue.h"
#include "util/temp_dir.h"

using namespace persisting;
using namespace persisting::testing;
namespace fs = std::filesystem;

namespace {

Env* env() { return Env::Default(); }

TEST(Backup, WhileFourProducersWriteRestoresEveryRecordOnceInOrder) {
  constexpr int kProducers = 4, kBatches = 40, kBatch = 50;
  TempDir data, bak, target;
  auto q = open_queue(data.path());
  ASSERT_TRUE(q);
  auto w = q->writer(durable_topic("events"));
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  ASSERT_TRUE((*w)->put(batch_of(9, 0, 400)).ok());
  ASSERT_TRUE((*w)->flush().ok());
  // A consumer group commits part of what is there.
  {
    auto g = q->reader({.topic = "events", .group = "billing", .auto_commit = false});
    ASSERT_TRUE(g.ok()) << g.status().to_string();
    auto got = (*g)->get(100);
    ASSERT_TRUE(got.ok());
    ASSERT_FALSE(got->empty());
    ASSERT_TRUE((*g)->commit().ok());
    ASSERT_TRUE((*g)->close().ok());
  }

  std::latch started(kProducers);  // each producer has put its first batch
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p)
    producers.emplace_back([&, p] {
      for (int b = 0; b < kBatches; ++b) {
        ASSERT_TRUE((*w)->put(batch_of(p, int64_t{b} * kBatch, kBatch)).ok());
        if (b == 0) started.count_down();
      }
    });
  // Flushes and the backup run while the producers put (they put 40 batches each).
  started.wait();
  ASSERT_TRUE((*w)->flush().ok());
  auto r = backup::backup_topic(env(), data.path(), "events", bak.path());
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  ASSERT_TRUE((*w)->flush().ok());
  for (auto& t : producers) t.join();
  ASSERT_TRUE((*w)->flush().ok());

  const auto& m = r->manifest;
  ASSERT_EQ(m.buckets.size(), 4u);
  uint64_t in_backup = 0;
  for (const auto& b : m.buckets) in_backup += b.end_offset - b.first_offset;
  EXPECT_GE(in_backup, 400u + kProducers * kBatch);  // at least the first batch of each producer
  RecordProperty("records_in_backup", static_cast<int>(in_backup));
  EXPECT_EQ(m.groups, std::vector<std::string>{"billing"});
  auto v = backup::verify_backup(env(), bak.path());
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  EXPECT_TRUE(v->ok());
  EXPECT_EQ(v->files_checked, m.files.size());

  // Restore into another data dir, under the same name and under a new one.
  auto restored = backup::restore_topic(env(), bak.path(), target.path());
  ASSERT_TRUE(restored.ok()) << restored.status().to_string();
  EXPECT_NE(restored->info.incarnation, m.incarnation);
  auto renamed = backup::restore_topic(env(), bak.path(), target.path(), {.topic = "events-copy"});
  ASSERT_TRUE(renamed.ok()) << renamed.status().to_string();

  auto q2 = open_queue(target.path());
  ASSERT_TRUE(q2);
  for (const std::string topic : {"events", "events-copy"}) {
    std::set<std::pair<int64_t, int64_t>> seen;
    for (uint32_t b = 0; b < 4; ++b) {
      auto original = read_bucket(*q, "events", b);
      auto copy = read_bucket(*q2, topic, b);
      const uint64_t end = m.buckets[b].end_offset;
      ASSERT_EQ(copy.size(), end) << topic << " bucket " << b;
      ASSERT_GE(original.size(), end);
      std::map<int64_t, int64_t> last_seq;  // producer -> seq, within this bucket
      for (uint64_t i = 0; i < end; ++i) {
        EXPECT_EQ(copy[i].offset.value(), i);
        EXPECT_EQ(copy[i].record, original[i].record) << topic << " bucket " << b << " offset " << i;
        int64_t p = copy[i].record.find("producer")->as_int(), seq = copy[i].record.find("seq")->as_int();
        EXPECT_TRUE(seen.insert({p, seq}).second) << "twice: producer " << p << " seq " << seq;
        if (last_seq.count(p)) {
          EXPECT_GT(seq, last_seq[p]);
        }
        last_seq[p] = seq;
      }
    }
    EXPECT_EQ(seen.size(), in_backup);
    // The group's commits came along, at most at each bucket's end.
    auto groups = q2->groups(topic);
    ASSERT_TRUE(groups.ok()) << groups.status().to_string();
    ASSERT_EQ(groups->size(), 1u);
    EXPECT_EQ((*groups)[0].group, "billing");
    uint64_t committed = 0;
    for (const auto& lag : (*groups)[0].buckets)
      if (lag.committed) committed += lag.committed->value();
    EXPECT_EQ(committed, 100u);
  }
  // New puts continue after the restored offsets.
  auto w2 = q2->writer(durable_topic("events-copy"));
  ASSERT_TRUE(w2.ok()) << w2.status().to_string();
  ASSERT_TRUE((*w2)->put(batch_of(7, 0, 10)).ok());
  uint64_t after = 0;
  for (uint32_t b = 0; b < 4; ++b) after += read_bucket(*q2, "events-copy", b).size();
  EXPECT_EQ(after, in_backup + 10);
}

TEST(Backup, IncrementalCopiesOnlyNewFiles) {
  TempDir data, bak;
  auto q = open_queue(data.path());
  ASSERT_TRUE(q);
  auto w = q->writer(durable_topic("events", 2));
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE((*w)->put(batch_of(0, i * 100, 100)).ok());
    ASSERT_TRUE((*w)->flush().ok());
  }
  auto first = backup::backup_topic(env(), data.path(), "events", bak.path());
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  EXPECT_EQ(first->files_skipped, 0u);
  EXPECT_EQ(first->files_copied, first->manifest.files.size());
  auto data_files = [](const backup::BackupManifest& m) {
    size_t n = 0;
    for (const auto& f : m.files) n += f.path.find("/data.lance/data/") != std::string::npos;
    return n;
  };
  const size_t old_data = data_files(first->manifest);
  EXPECT_EQ(old_data, 6u);  // 3 flushes x 2 buckets

  // Nothing changed: nothing is written again.
  auto same = backup::backup_topic(env(), data.path(), "events", bak.path());
  ASSERT_TRUE(same.ok()) << same.status().to_string();
  EXPECT_EQ(same->files_copied, 0u);
  EXPECT_EQ(same->files_skipped, first->manifest.files.size());
  EXPECT_EQ(same->files_removed, 0u);

  // One more flush per bucket: its data files and the buckets' new manifests are copied, the
  // old manifests (versions no longer in the backup) are removed.
  ASSERT_TRUE((*w)->put(batch_of(1, 0, 100)).ok());
  ASSERT_TRUE((*w)->flush().ok());
  auto second = backup::backup_topic(env(), data.path(), "events", bak.path());
  ASSERT_TRUE(second.ok()) << second.status().to_string();
  const size_t new_data = data_files(second->manifest) - old_data;
  EXPECT_EQ(new_data, 2u);
  EXPECT_EQ(second->files_skipped, old_data + 1);  // and topic.json, unchanged
  EXPECT_EQ(second->files_copied, second->manifest.files.size() - old_data - 1);
  EXPECT_GE(second->files_removed, 2u);  // the two old manifests at least
  // What is in the directory is exactly what the manifest lists.
  std::vector<std::string> listed{"backup.json"};
  for (const auto& f : second->manifest.files) listed.push_back(f.path);
  std::sort(listed.begin(), listed.end());
  EXPECT_EQ(files_under(bak.path()), listed);
  auto v = backup::verify_backup(env(), bak.path());
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->ok());
}

TEST(Backup, VerifyFindsFlippedByteAndMissingFile) {
  TempDir data, bak, target;
  {
    auto q = open_queue(data.path());
    ASSERT_TRUE(q);
    auto w = q->writer(durable_topic("events", 2));
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->put(batch_of(0, 0, 200)).ok());
    ASSERT_TRUE((*w)->flush().ok());
  }
  auto r = backup::backup_topic(env(), data.path(), "events", bak.path());
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  std::vector<std::string> data_files;
  for (const auto& f : r->manifest.files)
    if (f.path.find("/data.lance/data/") != std::string::npos) data_files.push_back(f.path);
  ASSERT_EQ(data_files.size(), 2u);

  flip_byte(bak.path() + "/" + data_files[0], 100);
  fs::remove(bak.path() + "/" + data_files[1]);
  auto v = backup::verify_backup(env(), bak.path());
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  ASSERT_EQ(v->problems.size(), 2u);
  std::map<std::string, std::string> problems;
  for (const auto& p : v->problems) problems[p.path] = p.what;
  EXPECT_EQ(problems[data_files[1]], "missing");
  EXPECT_NE(problems[data_files[0]].find("crc32c"), std::string::npos) << problems[data_files[0]];

  // A damaged backup restores nothing.
  auto restored = backup::restore_topic(env(), bak.path(), target.path());
  ASSERT_FALSE(restored.ok());
  EXPECT_EQ(restored.status().code(), Code::kCorruption);
  EXPECT_NE(restored.status().message().find("missing"), std::string::npos) << restored.status().to_string();
  EXPECT_TRUE(files_under(target.path()).empty());

  // Backing up again repairs it: the files that do not match are copied again.
  auto again = backup::backup_topic(env(), data.path(), "events", bak.path());
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  v = backup::verify_backup(env(), bak.path());
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->problems.size(), 1u) << "a flipped byte keeps the size: the incremental copy skips it";
}

TEST(Backup, KeepsFirstOffsetAfterRetention) {
  TempDir data, bak, target;
  {
    auto q = open_queue(data.path());
    ASSERT_TRUE(q);
    WriterOptions o = durable_topic("events", 1);
    o.retention.records = 100;
    auto w = q->writer(o);
    ASSERT_TRUE(w.ok()) << w.status().to_string();
    for (int i = 0; i < 5; ++i) {
      ASSERT_TRUE((*w)->put(batch_of(0, i * 100, 100)).ok());
      ASSERT_TRUE((*w)->flush().ok());
    }
  }
  auto r = backup::backup_topic(env(), data.path(), "events", bak.path());
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->manifest.buckets[0].end_offset, 500u);
  EXPECT_GT(r->manifest.buckets[0].first_offset, 0u);
  ASSERT_TRUE(backup::restore_topic(env(), bak.path(), target.path()).ok());
  auto q2 = open_queue(target.path());
  ASSERT_TRUE(q2);
  auto msgs = read_bucket(*q2, "events", 0);
  ASSERT_FALSE(msgs.empty());
  EXPECT_EQ(msgs.front().offset.value(), r->manifest.buckets[0].first_offset);
  EXPECT_EQ(msgs.back().offset.value(), 499u);
  auto info = q2->topic("events");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->retention.records, std::optional<uint64_t>(100));
}

// Rows LanceDB deleted (a deletion file, docs/lance-format.md §10) come along: the restored
// topic has the same gaps at the same offsets.
TEST(Backup, KeepsLanceDBDeletions) {
  TempDir data, bak, target;
  {
    auto q = open_queue(data.path());
    ASSERT_TRUE(q);
    auto w = q->writer({.topic = "t", .bucket_column = "id", .num_buckets = 1, .batch_size = 1000, .backend = "lance"});
    ASSERT_TRUE(w.ok()) << w.status().to_string();
    std::vector<Record> rs;
    for (int64_t n = 0; n < 100; ++n) rs.push_back(Record{{"id", "k"}, {"n", n}});
    ASSERT_TRUE((*w)->put(rs).ok());
    ASSERT_TRUE((*w)->flush().ok());
  }
  // What LanceDB's `table.delete("n = 0 OR n % 10 = 7")` writes (tests/lance/data).
  const std::string ds = data.path() + "/t/bucket_0/data.lance";
  fs::create_directories(ds + "/_deletions");
  fs::copy_file(std::string(LANCE_TEST_DATA) + "/deleted_small.arrow", ds + "/_deletions/0-1-5.arrow");
  lance::testing::commit_edited_manifest(ds, [](lance::pb::Manifest* m) {
    m->set_reader_feature_flags(lance::kFlagDeletionFiles);
    auto* d = m->mutable_fragments(0)->mutable_deletion_file();
    d->set_read_version(1);
    d->set_id(5);
    d->set_num_deleted_rows(11);
  });

  auto r = backup::backup_topic(env(), data.path(), "t", bak.path());
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_TRUE(r->manifest.find("t/bucket_0/data.lance/_deletions/0-1-5.arrow"));
  ASSERT_TRUE(backup::restore_topic(env(), bak.path(), target.path()).ok());
  auto q = open_queue(target.path());
  ASSERT_TRUE(q);
  auto msgs = read_bucket(*q, "t", 0);
  ASSERT_EQ(msgs.size(), 89u);
  for (const Message& m : msgs) {
    int64_t n = m.record.find("n")->as_int();
    EXPECT_FALSE(n == 0 || n % 10 == 7) << n;
    EXPECT_EQ(m.offset.value(), static_cast<uint64_t>(n));
  }
}

}  // namespace
