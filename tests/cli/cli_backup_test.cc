// `persisting backup`, `backup verify` and `restore` as a user runs them (docs/backup.md).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "cli/cli_run.h"
#include "persisting/queue.h"
#include "util/temp_dir.h"

using namespace persisting;
using namespace persisting::testing;
namespace fs = std::filesystem;

namespace {

std::string lines(int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += "{\"id\":\"k" + std::to_string(i % 5) + "\",\"n\":" + std::to_string(i) + "}\n";
  return out;
}

size_t count_lines(const std::string& text) { return static_cast<size_t>(std::count(text.begin(), text.end(), '\n')); }

std::string first_data_file(const std::string& dir) {
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file() && e.path().parent_path().filename() == "data" && e.path().extension() == ".lance")
      return e.path().string();
  return "";
}

}  // namespace

TEST(CliBackup, BackupVerifyRestoreAndTheirErrors) {
  TempDir data, bak, target;
  const std::string to = bak.path() + "/b";
  ASSERT_EQ(cli({"put", "--data-dir", data.path(), "--topic", "t", "--num-buckets", "2"}, lines(30)).exit_code, 0);

  auto b = cli({"backup", "--data-dir", data.path(), "--topic", "t", "--to", to});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_NE(b.out.find("\"files_copied\""), std::string::npos) << b.out;
  EXPECT_NE(b.out.find("\"end_offset\""), std::string::npos) << b.out;

  auto v = cli({"backup", "verify", to});
  ASSERT_EQ(v.exit_code, 0) << v.err;
  EXPECT_NE(v.out.find("\"ok\":true"), std::string::npos) << v.out;

  auto r = cli({"restore", "--from", to, "--data-dir", target.path()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto g = cli({"get", "--data-dir", target.path(), "--topic", "t", "--from-beginning"});
  ASSERT_EQ(g.exit_code, 0) << g.err;
  EXPECT_EQ(count_lines(g.out), 30u);

  // Restoring over the topic: refused, exit 1.
  auto again = cli({"restore", "--from", to, "--data-dir", target.path()});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("already exists"), std::string::npos) << again.err;

  // A flipped byte: verify names the file and exits 1.
  std::string file = first_data_file(to);
  ASSERT_FALSE(file.empty());
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(10);
    f.put('\x7f');
  }
  auto bad = cli({"backup", "verify", to});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("crc32c"), std::string::npos) << bad.err;
  EXPECT_NE(bad.out.find("\"ok\":false"), std::string::npos) << bad.out;

  // Usage and input errors.
  EXPECT_EQ(cli({"backup", "--data-dir", data.path(), "--topic", "t"}).exit_code, 2);
  auto unknown = cli({"backup", "--data-dir", data.path(), "--topic", "nope", "--to", bak.path() + "/c"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("topic 'nope' does not exist"), std::string::npos) << unknown.err;
  EXPECT_FALSE(fs::exists(bak.path() + "/c"));
  auto no_dir = cli({"backup", "--data-dir", data.path() + "/missing", "--topic", "t", "--to", bak.path() + "/c"});
  EXPECT_EQ(no_dir.exit_code, 1);
  EXPECT_FALSE(fs::exists(data.path() + "/missing")) << "a backup must not create the data dir it reads";
  // A node that does not answer: the error says so, and nothing is written.
  auto remote = cli({"backup", "--server", "127.0.0.1:1", "--topic", "t", "--to", bak.path() + "/d"});
  EXPECT_EQ(remote.exit_code, 1);
  EXPECT_NE(remote.err.find("Unavailable"), std::string::npos) << remote.err;
  EXPECT_FALSE(fs::exists(bak.path() + "/d"));
  auto none = cli({"backup", "verify", bak.path() + "/nowhere"});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.err.find("backup.json is missing"), std::string::npos) << none.err;
}

// A writer killed before its flush: its acknowledged records are only in the node log. The backup
// replays them into Lance first (it opens the buckets), so the backup holds all of them.
TEST(CliBackup, IncludesTheRecordsOfAKilledWriter) {
  TempDir data, bak, target;
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto q = Queue::open({.data_dir = data.path()});
    if (!q.ok()) std::_Exit(10);
    WriterOptions wo;
    wo.topic = "t";
    wo.bucket_column = "id";
    wo.num_buckets = 2;
    wo.backend = "persisting";
    wo.backend_options = {{"flush_threshold", "1000000"}, {"flush_interval", "0"}};
    auto w = (*q)->writer(wo);
    if (!w.ok()) std::_Exit(11);
    for (int i = 0; i < 50; i += 10) {
      std::vector<Record> batch;
      for (int j = i; j < i + 10; ++j) batch.push_back(Record{{"id", "k" + std::to_string(j % 3)}, {"n", j}});
      if (!(*w)->put(batch).ok()) std::_Exit(12);
    }
    std::_Exit(0);  // as SIGKILL: no flush, no close
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);

  auto b = cli({"backup", "--data-dir", data.path(), "--topic", "t", "--to", bak.path() + "/b"});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  ASSERT_EQ(cli({"restore", "--from", bak.path() + "/b", "--data-dir", target.path()}).exit_code, 0);
  auto g = cli({"get", "--data-dir", target.path(), "--topic", "t", "--from-beginning"});
  ASSERT_EQ(g.exit_code, 0) << g.err;
  EXPECT_EQ(count_lines(g.out), 50u) << b.out;
}
