// The `persisting` CLI on a data directory and its connection flags, driven as a user runs it
// (issue 13: defects 2, 4, 6 and the CLI parts of 11).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "net/node_process.h"
#include "persisting/json.h"
#include "persisting/queue.h"
#include "cli/cli_run.h"
#include "util/run_process.h"

using namespace persisting;
using namespace persisting::testing;

namespace {

std::string write_file(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
  return path;
}

std::string lines(int from, int n) {
  std::string out;
  for (int i = from; i < from + n; ++i) out += "{\"id\":\"k" + std::to_string(i % 5) + "\",\"n\":" + std::to_string(i) + "}\n";
  return out;
}

size_t count_lines(const std::string& text) { return static_cast<size_t>(std::count(text.begin(), text.end(), '\n')); }

// Waits (bounded: 20 s) until the process's log holds at least n lines.
bool wait_for_lines(const Process& p, size_t n) {
  for (int i = 0; i < 400; ++i) {
    if (count_lines(p.log()) >= n) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

}  // namespace

TEST(CliLocal, Defect2_ReaderStartedFirstDoesNotBlockAWriter) {
  TempDir dir;
  ASSERT_EQ(cli({"put", "--data-dir", dir.path(), "--topic", "t"}, lines(0, 3)).exit_code, 0);
  // A following reader in another process, started before the writer.
  Process reader;
  ASSERT_TRUE(reader.start({PERSISTING_BIN, "get", "--data-dir", dir.path(), "--topic", "t", "--from-beginning", "--follow"},
                           dir.path() + "/reader.log"));
  ASSERT_TRUE(wait_for_lines(reader, 3)) << reader.log();
  auto put = cli({"put", "--data-dir", dir.path(), "--topic", "t"}, lines(3, 4));
  EXPECT_EQ(put.exit_code, 0) << put.err;
  EXPECT_NE(put.err.find("wrote 4 records"), std::string::npos) << put.err;
  // The reader keeps following: it sees the writer's records once they are flushed (at exit).
  EXPECT_TRUE(wait_for_lines(reader, 7)) << reader.log();
  EXPECT_NE(reader.log().find("\"n\":6"), std::string::npos) << reader.log();
  reader.kill(SIGTERM);
}

TEST(CliLocal, Defect2_FollowingReaderSeesEachFlushOfAWriterThatKeepsRunning) {
  TempDir dir;
  ASSERT_EQ(cli({"put", "--data-dir", dir.path(), "--topic", "t", "--num-buckets", "2"}, lines(0, 2)).exit_code, 0);
  Process reader;
  ASSERT_TRUE(reader.start({PERSISTING_BIN, "get", "--data-dir", dir.path(), "--topic", "t", "--from-beginning", "--follow"},
                           dir.path() + "/reader.log"));
  ASSERT_TRUE(wait_for_lines(reader, 2)) << reader.log();
  // A writer in this process, opened after the reader, that stays open across two flushes.
  auto q = Queue::open({.data_dir = dir.path()});
  ASSERT_TRUE(q.ok()) << q.status().to_string();
  auto w = (*q)->writer({.topic = "t", .bucket_column = "id", .num_buckets = 2, .backend = "persisting"});
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  for (int round = 0; round < 2; ++round) {
    std::vector<Record> batch;
    for (int i = 0; i < 3; ++i) batch.push_back(*parse_json_record(
        "{\"id\":\"k" + std::to_string(i) + "\",\"n\":" + std::to_string(100 + round * 10 + i) + "}"));
    ASSERT_TRUE((*w)->put(batch).ok());
    ASSERT_TRUE((*w)->flush().ok());  // a new Lance version in each bucket it wrote
    EXPECT_TRUE(wait_for_lines(reader, 2 + 3 * (round + 1))) << "round " << round << ": " << reader.log();
  }
  EXPECT_NE(reader.log().find("\"n\":112"), std::string::npos) << reader.log();
  reader.kill(SIGTERM);
}

TEST(CliLocal, Defect2_StatsInAnotherProcessDoesNotBlockAWriter) {
  TempDir dir;
  ASSERT_EQ(cli({"put", "--data-dir", dir.path(), "--topic", "t", "--num-buckets", "2"}, lines(0, 3)).exit_code, 0);
  // This process only reads (stats opens every bucket and keeps it open) ...
  auto q = Queue::open({.data_dir = dir.path()});
  ASSERT_TRUE(q.ok()) << q.status().to_string();
  auto before = (*q)->stats("t");
  ASSERT_TRUE(before.ok()) << before.status().to_string();
  EXPECT_EQ(before->find("total_count")->as_int(), 3);
  // ... so another process can write.
  auto put = cli({"put", "--data-dir", dir.path(), "--topic", "t"}, lines(3, 2));
  EXPECT_EQ(put.exit_code, 0) << put.err;
  auto after = (*q)->stats("t");
  ASSERT_TRUE(after.ok()) << after.status().to_string();
  auto get = cli({"get", "--data-dir", dir.path(), "--topic", "t", "--from-beginning"});
  EXPECT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(count_lines(get.out), 5u) << get.out;
  // A writer in the reading process takes the buckets over once the other one has gone.
  auto w = (*q)->writer({.topic = "t", .bucket_column = "id", .num_buckets = 2, .backend = "persisting"});
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  auto rec = parse_json_record("{\"id\":\"k9\",\"n\":9}");
  ASSERT_TRUE(rec.ok());
  ASSERT_TRUE((*w)->put(std::vector<Record>{*rec}).ok());
  ASSERT_TRUE((*w)->flush().ok());
  q->reset();
  auto all = cli({"get", "--data-dir", dir.path(), "--topic", "t", "--from-beginning"});
  EXPECT_EQ(count_lines(all.out), 6u) << all.out;
}

TEST(CliLocal, Defect4_PutWithABadOptionCreatesNothing) {
  TempDir dir;
  std::string in = write_file(dir.path() + "/x.jsonl", lines(0, 2));
  auto bad = cli({"put", "--data-dir", dir.path() + "/d", "--topic", "o", "--option", "wal_sync_mode=sometimes", "--", in});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("wal_sync_mode"), std::string::npos) << bad.err;
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/d/o")) << "a failed put left the topic behind";
  auto unknown = cli({"put", "--data-dir", dir.path() + "/d", "--topic", "o", "--option", "no_such_option=1", "--", in});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("no_such_option"), std::string::npos) << unknown.err;
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/d/o"));
  // The topic made afterwards works for good.
  auto good = cli({"put", "--data-dir", dir.path() + "/d", "--topic", "o", "--option", "wal_sync_mode=os", "--", in});
  EXPECT_EQ(good.exit_code, 0) << good.err;
  auto get = cli({"get", "--data-dir", dir.path() + "/d", "--topic", "o", "--from-beginning"});
  EXPECT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(count_lines(get.out), 2u);
  EXPECT_EQ(cli({"stats", "--data-dir", dir.path() + "/d", "--topic", "o"}).exit_code, 0);
}

TEST(CliLocal, Defect6_EachOptionFlagTakesOneValue) {
  TempDir dir;
  // The input file follows --option; its name has a '=' and stays a file.
  std::string in = write_file(dir.path() + "/in=1.jsonl", lines(0, 3));
  auto put = cli({"put", "--data-dir", dir.path(), "--topic", "t", "--option", "wal_sync_mode=os", "--option",
                  "flush_interval=2", in});
  EXPECT_EQ(put.exit_code, 0) << put.err;
  EXPECT_NE(put.err.find("wrote 3 records"), std::string::npos) << put.err;
  auto topics = cli({"topics", "--data-dir", dir.path()});
  EXPECT_NE(topics.out.find("\"wal_sync_mode\":\"os\""), std::string::npos) << topics.out;
  EXPECT_NE(topics.out.find("\"flush_interval\":\"2\""), std::string::npos) << topics.out;
  EXPECT_EQ(topics.out.find("in=1"), std::string::npos) << topics.out;
  // Two values after one flag: the second is the input, and a second input is a usage error.
  auto two = cli({"put", "--data-dir", dir.path(), "--topic", "t", "--option", "a=1", "b=2", in});
  EXPECT_EQ(two.exit_code, 2) << two.err;
  // bench takes its options the same way.
  auto bench = cli({"bench", "--backend", "persisting", "--option", "wal_sync_mode=os", "--duration", "0.2",
                    "--consumers", "0", "--json"});
  EXPECT_EQ(bench.exit_code, 0) << bench.err;
}

TEST(CliLocal, Defect11_UnreadableInputFailsAndCreatesNothing) {
  TempDir dir;
  auto d = cli({"put", "--data-dir", dir.path() + "/d", "--topic", "t", "/tmp"});
  EXPECT_EQ(d.exit_code, 1);
  EXPECT_NE(d.err.find("cannot read input '/tmp': is a directory"), std::string::npos) << d.err;
  auto missing = cli({"put", "--data-dir", dir.path() + "/d", "--topic", "t", dir.path() + "/nope.jsonl"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("nope.jsonl"), std::string::npos) << missing.err;
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/d/t"));
}

TEST(CliLocal, Defect11_TokenFileAndTimeout) {
  TempDir dir;
  int port = free_port();
  std::string addr = "127.0.0.1:" + std::to_string(port);
  Process node;
  ASSERT_TRUE(node.start({PERSISTINGD_BIN, "--id", "n1", "--listen", addr, "--data-dir", dir.path() + "/node", "--token",
                          "s3cret"},
                         dir.path() + "/node.log"));
  ASSERT_TRUE(wait_for_port(port, node)) << node.log();
  std::string good = write_file(dir.path() + "/good", "s3cret\n");
  std::string wrong = write_file(dir.path() + "/wrong", "other\n");
  std::string empty = write_file(dir.path() + "/empty", "\n");
  auto ok = cli({"topics", "--server", addr, "--token-file", good, "--timeout", "5"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  auto put = cli({"put", "--server", addr, "--token-file", good, "--topic", "t"}, lines(0, 2));
  EXPECT_EQ(put.exit_code, 0) << put.err;
  auto stats = cli({"stats", "--server", addr, "--token-file", good, "--topic", "t", "--timeout", "2.5"});
  EXPECT_EQ(stats.exit_code, 0) << stats.err;
  auto status = cli({"cluster", "status", "--server", addr, "--token-file", good});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_EQ(cli({"topics", "--server", addr, "--token-file", wrong}).exit_code, 1);
  // Usage errors: an empty token, both flags, an unreadable file, a timeout that is not > 0.
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"topics", "--server", addr, "--token-file", empty},
           {"topics", "--server", addr, "--token", ""},
           {"topics", "--server", addr, "--token", "s3cret", "--token-file", good},
           {"topics", "--server", addr, "--token-file", dir.path() + "/none"},
           {"topics", "--server", addr, "--timeout", "0"},
           {"topics", "--server", addr, "--timeout", "-1"},
           {"cluster", "status", "--server", addr, "--token", ""},
           {"cluster", "rebalance", "--server", addr, "--topic", "t", "--token-file", empty},
           {"topics", "--data-dir", dir.path(), "--token-file", good}}) {
    auto r = cli(args);
    EXPECT_EQ(r.exit_code, 2) << args[1] << " " << args.back() << ": " << r.err;
  }
  node.kill(SIGTERM);
}

namespace {

// Buckets of a topic that hold a Lance dataset.
int datasets_of(const std::string& topic_dir) {
  int n = 0;
  std::error_code ec;
  for (const auto& b : std::filesystem::directory_iterator(topic_dir, ec))
    n += std::filesystem::exists(b.path() / "data.lance" / "_versions");
  return n;
}

}  // namespace

// `put` leaves acknowledged records in the data dir's log at exit (no fragment per bucket); the
// next process that opens the topic flushes them. `put --flush` flushes before exiting.
TEST(CliLocal, PutLeavesRecordsInTheLogUnlessAskedToFlush) {
  TempDir dir;
  auto put = cli({"put", "--data-dir", dir.path(), "--topic", "t", "--num-buckets", "4"}, lines(0, 20));
  ASSERT_EQ(put.exit_code, 0) << put.err;
  EXPECT_EQ(datasets_of(dir.path() + "/t"), 0);
  auto get = cli({"get", "--data-dir", dir.path(), "--topic", "t", "--from-beginning"});
  EXPECT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(count_lines(get.out), 20u) << get.out;

  // The same records into another topic, flushed at exit: a dataset in every bucket they reach.
  auto flushed = cli({"put", "--data-dir", dir.path(), "--topic", "u", "--num-buckets", "4", "--flush"}, lines(0, 20));
  ASSERT_EQ(flushed.exit_code, 0) << flushed.err;
  const int reached = datasets_of(dir.path() + "/u");
  EXPECT_GT(reached, 0);
  // The reader of t served what the log held from memory and flushed nothing; the writer of u
  // left t's records in the log, so a later reader still gets every one.
  EXPECT_EQ(datasets_of(dir.path() + "/t"), 0);
  auto again = cli({"get", "--data-dir", dir.path(), "--topic", "t", "--from-beginning"});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(count_lines(again.out), 20u) << again.out;
}
