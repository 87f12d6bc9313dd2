// backup_topic with a BackupSource that streams its files in chunks, as a cluster's nodes do
// (docs/backup.md, "Backup of a cluster"): the backup is the one a local backup writes, an
// incremental one is offered the files it holds and skips them, and a file that arrives short,
// out of order or not at all fails the backup naming it, with no backup.json written.
#include <gtest/gtest.h>

#include <filesystem>

#include "backup/version_files.h"
#include "backup_util.h"
#include "groups/group_store.h"
#include "persisting/backup.h"
#include "queue/topic_meta.h"
#include "storage/lance/snapshot.h"
#include "util/open_queue.h"
#include "util/temp_dir.h"

using namespace persisting;
using namespace persisting::testing;
namespace fs = std::filesystem;

namespace {

Env* env() { return Env::Default(); }

// Reads a data dir like DataDirSource but hands the files over in chunks of 5 bytes, only those
// the sink needs, as a node's stream does.
class ChunkedSource final : public backup::BackupSource {
 public:
  explicit ChunkedSource(std::string data_dir) : data_dir_(std::move(data_dir)) {}
  enum class Fault { kNone, kShort, kMissing };
  Fault fault = Fault::kNone;
  size_t held_offered = 0;  // files the sinks said the backup holds

  Result<std::string> topic_meta(const std::string& topic) override {
    return env()->read_file(queue::topic_meta_path(data_dir_, topic));
  }
  Status copy_bucket(const TopicInfo& info, uint32_t b, backup::BucketSink* sink) override {
    held_offered += sink->held().size();
    const std::string dataset = queue::bucket_dir(data_dir_, info.topic, BucketId(b)) + "/data.lance";
    auto s = lance::load_snapshot(env(), dataset, std::nullopt);
    if (!s.ok()) return s.status();
    auto files = backup::version_file_sizes(env(), *s, "bucket " + std::to_string(b));
    if (!files.ok()) return files.status();
    if (Status st = sink->pinned({b, s->version, s->first_offset, s->first_offset + s->num_rows()}, *files); !st.ok())
      return st;
    bool faulted = false;
    for (const auto& f : *files) {
      if (!sink->needs(f)) continue;
      if (fault == Fault::kMissing && !faulted) {
        faulted = true;
        continue;
      }
      auto bytes = env()->read_file(dataset + "/" + f.path);
      if (!bytes.ok()) return bytes.status();
      std::string data = *bytes;
      if (fault == Fault::kShort && !faulted && data.size() > 1) {
        faulted = true;
        data.pop_back();
      }
      if (Status st = sink->begin_file(f.path); !st.ok()) return st;
      for (size_t at = 0; at < data.size(); at += 5)
        if (Status st = sink->append(std::string_view(data).substr(at, 5)); !st.ok()) return st;
      if (Status st = sink->end_file(); !st.ok()) return st;
    }
    return Status::OK();
  }
  Result<std::vector<std::pair<std::string, std::string>>> group_files(const TopicInfo& info) override {
    groups::GroupStore store(env(), data_dir_);
    auto names = store.list(info.topic);
    if (!names.ok()) return names.status();
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& g : *names) {
      auto raw = env()->read_file(store.path(info.topic, g));
      if (!raw.ok()) return raw.status();
      out.emplace_back(g, *raw);
    }
    return out;
  }

 private:
  std::string data_dir_;
};

void fill(Queue& q, int from, int n) {
  auto w = q.writer(durable_topic("events"));
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  ASSERT_TRUE((*w)->put(batch_of(1, from, n)).ok());
  ASSERT_TRUE((*w)->flush().ok());
}

TEST(BackupSource, ChunkedBackupIsTheLocalOneAndIncremental) {
  TempDir data, local, chunked;
  auto q = open_queue(data.path());
  ASSERT_TRUE(q);
  fill(*q, 0, 300);
  {
    auto g = q->reader({.topic = "events", .group = "billing", .auto_commit = false});
    ASSERT_TRUE(g.ok());
    ASSERT_TRUE((*g)->get(50).ok());
    ASSERT_TRUE((*g)->commit().ok());
    ASSERT_TRUE((*g)->close().ok());
  }
  auto a = backup::backup_topic(env(), data.path(), "events", local.path());
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  ChunkedSource source(data.path());
  auto b = backup::backup_topic(env(), &source, "events", chunked.path());
  ASSERT_TRUE(b.ok()) << b.status().to_string();
  EXPECT_EQ(source.held_offered, 0u);
  ASSERT_EQ(a->manifest.files.size(), b->manifest.files.size());
  for (size_t i = 0; i < a->manifest.files.size(); ++i) {
    EXPECT_EQ(a->manifest.files[i].path, b->manifest.files[i].path);
    EXPECT_EQ(a->manifest.files[i].size, b->manifest.files[i].size);
    EXPECT_EQ(a->manifest.files[i].crc32c, b->manifest.files[i].crc32c) << a->manifest.files[i].path;
  }
  ASSERT_EQ(a->manifest.buckets.size(), b->manifest.buckets.size());
  for (size_t i = 0; i < a->manifest.buckets.size(); ++i) {
    EXPECT_EQ(a->manifest.buckets[i].version, b->manifest.buckets[i].version);
    EXPECT_EQ(a->manifest.buckets[i].end_offset, b->manifest.buckets[i].end_offset);
  }
  EXPECT_EQ(b->manifest.groups, std::vector<std::string>{"billing"});
  EXPECT_EQ(b->bytes_copied, a->bytes_copied);

  // Incremental: the source is offered what the backup holds and sends only the rest.
  fill(*q, 300, 40);
  ChunkedSource again(data.path());
  auto c = backup::backup_topic(env(), &again, "events", chunked.path());
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_GT(again.held_offered, 0u);
  EXPECT_GT(c->files_skipped, 0u);
  EXPECT_LT(c->bytes_copied, b->bytes_copied);
  auto v = backup::verify_backup(env(), chunked.path());
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  EXPECT_TRUE(v->ok());
}

TEST(BackupSource, AShortOrMissingFileFailsNamingItAndWritesNoManifest) {
  TempDir data, bak;
  auto q = open_queue(data.path());
  ASSERT_TRUE(q);
  fill(*q, 0, 100);
  const std::string dir = bak.path() + "/b";
  for (auto fault : {ChunkedSource::Fault::kShort, ChunkedSource::Fault::kMissing}) {
    ChunkedSource source(data.path());
    source.fault = fault;
    auto r = backup::backup_topic(env(), &source, "events", dir);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Code::kCorruption) << r.status().to_string();
    EXPECT_NE(r.status().message().find(fault == ChunkedSource::Fault::kShort ? "bytes, expected" : "never arrived"),
              std::string::npos)
        << r.status().to_string();
    EXPECT_NE(r.status().message().find("'events/bucket_"), std::string::npos) << r.status().to_string();
    EXPECT_FALSE(fs::exists(dir + "/backup.json"));
  }
  // Run again, it completes into the same directory.
  ChunkedSource source(data.path());
  auto r = backup::backup_topic(env(), &source, "events", dir);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  auto v = backup::verify_backup(env(), dir);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->ok());
}

}  // namespace
