// Backup and compaction of a cluster's topic (docs/backup.md, "Backup of a cluster";
// docs/compaction.md, "Compaction over the network"): `persisting backup --server` while four
// producers write restores every record acknowledged before it started exactly once at its
// offset, a second backup copies only what is new, verify passes; `persisting compact --server`
// compacts the buckets on both nodes with the same records before and after; bad input is
// refused and writes nothing.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "net/connect_to.h"
#include "net/node_process.h"
#include "persisting/client.h"
#include "persisting/json.h"
#include "persisting/queue.h"
#include "util/run_process.h"
#include "util/temp_dir.h"

namespace persisting {
namespace {

using testing::Cluster;
using testing::connect_to;

WriterOptions topic_t(const std::string& backend = "persisting") {
  // batch_size 10: a bucket flushes (adds a fragment) every 10 records; no background
  // compaction, so `compact` has fragments to merge.
  return {.topic = "t", .bucket_column = "id", .num_buckets = 4, .batch_size = 10, .backend = backend,
          .backend_options = {{"compaction_min_fragments", "0"}}};
}

struct Acked {
  uint32_t bucket;
  uint64_t offset;
  int64_t id;
};

// A JSON answer of the CLI, parsed (a failure fails the test).
Object parse(const std::string& out) {
  auto v = parse_json(out);
  EXPECT_TRUE(v.ok() && v->is_object()) << out;
  return v.ok() && v->is_object() ? v->as_object() : Object{};
}
int64_t num(const Object& o, const char* key) {
  const Value* v = o.find(key);
  EXPECT_TRUE(v && v->is_int()) << key;
  return v && v->is_int() ? v->as_int() : -1;
}

// Every record of topic t in data dir `dir`: (bucket, offset) -> id.
std::map<std::pair<uint32_t, uint64_t>, int64_t> read_local(const std::string& dir) {
  std::map<std::pair<uint32_t, uint64_t>, int64_t> out;
  QueueOptions qo;
  qo.data_dir = dir;
  auto q = Queue::open(qo);
  EXPECT_TRUE(q.ok()) << q.status().to_string();
  if (!q.ok()) return out;
  auto r = (*q)->open_reader({.topic = "t"});
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  if (!r.ok()) return out;
  for (;;) {
    auto got = (*r)->get(1000);
    EXPECT_TRUE(got.ok()) << got.status().to_string();
    if (!got.ok() || got->empty()) break;
    for (const auto& m : *got) {
      bool fresh = out.emplace(std::make_pair(m.bucket.value(), m.offset.value()), m.record.find("id")->as_int()).second;
      EXPECT_TRUE(fresh) << "bucket " << m.bucket.value() << " offset " << m.offset.value() << " read twice";
    }
  }
  return out;
}

// Every record of topic t in the cluster, as read_local.
std::map<std::pair<uint32_t, uint64_t>, int64_t> read_remote(Client& c) {
  std::map<std::pair<uint32_t, uint64_t>, int64_t> out;
  auto r = c.reader({.topic = "t"});
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  if (!r.ok()) return out;
  for (;;) {
    auto got = (*r)->get(1000);
    EXPECT_TRUE(got.ok()) << got.status().to_string();
    if (!got.ok() || got->empty()) break;
    for (const auto& m : *got) out[{m.bucket.value(), m.offset.value()}] = m.record.find("id")->as_int();
  }
  return out;
}

TEST(ClusterBackup, WhileFourProducersWriteRestoresEveryAcknowledgedRecord) {
  Cluster cluster(2);
  ASSERT_TRUE(cluster.start_all()) << cluster.log(0) << cluster.log(1);
  auto c = connect_to(cluster.address(0));
  ASSERT_TRUE(c->writer(topic_t()).ok());
  auto status = c->cluster_status("t");
  ASSERT_TRUE(status.ok()) << status.status().to_string();
  std::set<std::string> owners;
  for (const auto& [bucket, owner] : status->find("ownership")->as_object()) owners.insert(owner.as_string());
  ASSERT_EQ(owners.size(), 2u) << "both nodes must own a bucket for this test";

  // A consumer group with commits: they go into the backup too.
  std::mutex mu;
  std::vector<Acked> acked;
  std::atomic<bool> stop{false};
  std::atomic<int> puts{0};
  std::vector<std::thread> producers;
  for (int p = 0; p < 4; ++p) {
    producers.emplace_back([&, p] {
      auto pc = connect_to(cluster.address(p % 2));
      auto w = pc->writer(topic_t());
      ASSERT_TRUE(w.ok()) << w.status().to_string();
      for (int64_t i = 0; i < 5000 && !stop.load(); ++i) {
        int64_t id = p * 1000000 + i;
        auto pos = (*w)->put(Record{{"id", id}, {"p", int64_t{p}}});
        ASSERT_TRUE(pos.ok()) << pos.status().to_string();
        std::lock_guard<std::mutex> lock(mu);
        acked.push_back({pos->bucket.value(), pos->offset.value(), id});
        puts.fetch_add(1);
      }
    });
  }
  // Some records before the backup starts (every bucket has fragments by then).
  while (puts.load() < 400 && !::testing::Test::HasFailure()) std::this_thread::yield();
  {
    auto g = c->reader({.topic = "t", .group = "g"});
    ASSERT_TRUE(g.ok()) << g.status().to_string();
    auto got = (*g)->get(50);
    ASSERT_TRUE(got.ok()) << got.status().to_string();
    ASSERT_TRUE((*g)->commit().ok());
    ASSERT_TRUE((*g)->close().ok());
  }
  std::vector<Acked> before;
  {
    std::lock_guard<std::mutex> lock(mu);
    before = acked;
  }
  testing::TempDir backup, restored;
  const std::string to = backup.path() + "/b";
  auto out = testing::run_process({PERSISTING_BIN, "backup", "--server", cluster.address(1), "--topic", "t", "--to", to});
  ASSERT_EQ(out.exit_code, 0) << out.out << out.err;
  Object first = parse(out.out);
  const int64_t first_bytes = num(first, "bytes_copied");
  EXPECT_GT(first_bytes, 0);
  EXPECT_EQ(num(first, "files_skipped"), 0);
  ASSERT_TRUE(first.find("groups"));
  EXPECT_EQ(to_json(*first.find("groups")), "[\"g\"]");
  // More writes, then the producers stop.
  int at_backup = puts.load();
  while (puts.load() < at_backup + 100 && !::testing::Test::HasFailure()) std::this_thread::yield();
  stop = true;
  for (auto& t : producers) t.join();

  auto verify = testing::run_process({PERSISTING_BIN, "backup", "verify", to});
  ASSERT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  EXPECT_NE(verify.out.find("\"ok\":true"), std::string::npos) << verify.out;

  // Restored: every record acknowledged before the backup started, at its offset, once.
  auto restore = testing::run_process({PERSISTING_BIN, "restore", "--from", to, "--data-dir", restored.path()});
  ASSERT_EQ(restore.exit_code, 0) << restore.out << restore.err;
  auto got = read_local(restored.path());
  ASSERT_GE(got.size(), before.size());
  std::set<int64_t> ids;
  for (const auto& [pos, id] : got) EXPECT_TRUE(ids.insert(id).second) << "id " << id << " restored twice";
  for (const auto& a : before) {
    auto it = got.find({a.bucket, a.offset});
    ASSERT_NE(it, got.end()) << "bucket " << a.bucket << " offset " << a.offset << " (id " << a.id << ") missing";
    EXPECT_EQ(it->second, a.id) << "bucket " << a.bucket << " offset " << a.offset;
  }
  // Offsets have no holes: each bucket's restored records are [0, end).
  std::map<uint32_t, uint64_t> next;
  for (const auto& [pos, id] : got) EXPECT_EQ(pos.second, next[pos.first]++) << "bucket " << pos.first;

  // A second backup into the same directory copies only what is new, and says so.
  out = testing::run_process({PERSISTING_BIN, "backup", "--server", cluster.address(0), "--topic", "t", "--to", to});
  ASSERT_EQ(out.exit_code, 0) << out.out << out.err;
  Object second = parse(out.out);
  EXPECT_GT(num(second, "files_skipped"), 0) << out.out;
  EXPECT_GT(num(second, "bytes_skipped"), 0) << out.out;
  EXPECT_LT(num(second, "bytes_copied"), first_bytes) << out.out;
  verify = testing::run_process({PERSISTING_BIN, "backup", "verify", to});
  ASSERT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  // Now everything the cluster holds is in it.
  testing::TempDir restored2;
  restore = testing::run_process({PERSISTING_BIN, "restore", "--from", to, "--data-dir", restored2.path()});
  ASSERT_EQ(restore.exit_code, 0) << restore.out << restore.err;
  EXPECT_EQ(read_local(restored2.path()), read_remote(*c));
  // A third with nothing new copies no data file (topic.json and the group file are unchanged too).
  out = testing::run_process({PERSISTING_BIN, "backup", "--server", cluster.address(0), "--topic", "t", "--to", to});
  ASSERT_EQ(out.exit_code, 0) << out.out << out.err;
  EXPECT_EQ(num(parse(out.out), "bytes_copied"), 0) << out.out;
}

TEST(ClusterCompact, CompactsTheBucketsOfEveryNodeAndReadsStayTheSame) {
  Cluster cluster(2);
  ASSERT_TRUE(cluster.start_all()) << cluster.log(0) << cluster.log(1);
  auto c = connect_to(cluster.address(0));
  auto w = c->writer(topic_t());
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  for (int round = 0; round < 6; ++round) {
    std::vector<Record> batch;
    for (int64_t i = 0; i < 80; ++i) batch.push_back(Record{{"id", round * 1000 + i}});
    ASSERT_TRUE((*w)->put(batch).ok());
    ASSERT_TRUE(c->flush("t").ok());
  }
  const auto before = read_remote(*c);
  ASSERT_EQ(before.size(), 480u);
  auto out = testing::run_process({PERSISTING_BIN, "compact", "--server", cluster.address(1), "--topic", "t",
                                   "--version-retention", "0"});
  ASSERT_EQ(out.exit_code, 0) << out.out << out.err;
  Object o = parse(out.out);
  ASSERT_TRUE(o.find("buckets") && o.find("buckets")->is_list()) << out.out;
  std::set<std::string> nodes;
  int64_t rows = 0;
  for (const Value& b : o.find("buckets")->as_list()) {
    const Object& bo = b.as_object();
    nodes.insert(bo.find("node")->as_string());
    EXPECT_FALSE(bo.find("error")) << out.out;
    EXPECT_LT(num(bo, "fragments"), num(bo, "fragments_before")) << out.out;
    EXPECT_GT(num(bo, "versions_removed"), 0) << out.out;
    rows += num(bo, "rows");
  }
  EXPECT_EQ(o.find("buckets")->as_list().size(), 4u) << out.out;
  EXPECT_EQ(nodes.size(), 2u) << out.out;
  EXPECT_EQ(rows, 480);
  EXPECT_EQ(read_remote(*c), before);
  // Writes go on at the next offsets.
  ASSERT_TRUE((*w)->put(std::vector<Record>{Record{{"id", int64_t{99999}}}}).ok());
  EXPECT_EQ(read_remote(*c).size(), 481u);
}

TEST(ClusterBackup, BadInputIsRefusedAndWritesNothing) {
  Cluster cluster(1);
  ASSERT_TRUE(cluster.start_all()) << cluster.log(0);
  auto c = connect_to(cluster.address(0));
  ASSERT_TRUE(c->writer(WriterOptions{.topic = "m", .bucket_column = "id", .num_buckets = 2}).ok());  // memory
  testing::TempDir tmp;
  const std::string to = tmp.path() + "/b";
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), PERSISTING_BIN);
    return testing::run_process(args);
  };
  auto r = run({"backup", "--server", cluster.address(0), "--topic", "nope", "--to", to});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("'nope'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("NotFound"), std::string::npos) << r.err;
  r = run({"backup", "--server", cluster.address(0), "--topic", "m", "--to", to});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("FailedPrecondition"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("memory"), std::string::npos) << r.err;
  r = run({"backup", "--server", cluster.address(0), "--data-dir", tmp.path(), "--topic", "m", "--to", to});
  EXPECT_NE(r.exit_code, 0) << r.out << r.err;
  EXPECT_FALSE(std::filesystem::exists(to));

  r = run({"compact", "--server", cluster.address(0), "--topic", "nope"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("'nope'"), std::string::npos) << r.err;
  r = run({"compact", "--server", cluster.address(0), "--topic", "m"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("FailedPrecondition"), std::string::npos) << r.err;
  r = run({"compact", "--server", cluster.address(0), "--data-dir", tmp.path(), "--topic", "m"});
  EXPECT_NE(r.exit_code, 0) << r.out << r.err;
}

}  // namespace
}  // namespace persisting
