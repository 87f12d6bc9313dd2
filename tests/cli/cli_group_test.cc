// `persisting get --group`, `groups`, `groups reset`, `groups delete` as a user runs them,
// including kill -9 of a consuming process (docs/groups.md).
#include <gtest/gtest.h>

#include <signal.h>

#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "net/node_process.h"
#include "persisting/json.h"
#include "cli/cli_run.h"
#include "util/run_process.h"

using namespace persisting;
using namespace persisting::testing;
using namespace std::chrono_literals;

namespace {

std::string records(int from, int to) {
  std::string s;
  for (int i = from; i < to; ++i) s += "{\"id\":\"k" + std::to_string(i) + "\",\"n\":" + std::to_string(i) + "}\n";
  return s;
}

void put(const std::string& dir, int from, int to) {
  auto r = cli({"put", "--data-dir", dir, "--topic", "t", "--num-buckets", "4"}, records(from, to));
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

// (bucket, offset) -> n of each `--with-position` line in text (other lines are skipped: a
// Process log has stderr in it too).
std::map<std::pair<int64_t, int64_t>, int64_t> positions(const std::string& text, int* lines = nullptr) {
  std::map<std::pair<int64_t, int64_t>, int64_t> out;
  std::istringstream in(text);
  std::string line;
  int count = 0;
  while (std::getline(in, line)) {
    if (line.rfind("{\"bucket\"", 0) != 0) continue;
    auto v = parse_json(line);
    EXPECT_TRUE(v.ok()) << line;
    if (!v.ok()) continue;
    const Object& o = v->as_object();
    out[{o.find("bucket")->as_int(), o.find("offset")->as_int()}] = o.find("record")->as_object().find("n")->as_int();
    ++count;
  }
  if (lines) *lines = count;
  return out;
}

std::set<int64_t> numbers(const std::string& out) {
  std::set<int64_t> s;
  for (const auto& [pos, n] : positions(out)) s.insert(n);
  return s;
}

std::set<int64_t> plain_numbers(const std::string& out) {
  std::set<int64_t> s;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    auto v = parse_json(line);
    EXPECT_TRUE(v.ok()) << line;
    if (v.ok()) s.insert(v->as_object().find("n")->as_int());
  }
  return s;
}

std::set<int64_t> range(int64_t from, int64_t to) {
  std::set<int64_t> s;
  for (int64_t i = from; i < to; ++i) s.insert(i);
  return s;
}

// `groups --topic t` parsed: group name -> its object.
std::map<std::string, Object> groups(const std::string& dir) {
  auto r = cli({"groups", "--data-dir", dir, "--topic", "t"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::map<std::string, Object> out;
  auto v = parse_json(r.out);
  EXPECT_TRUE(v.ok()) << r.out;
  if (!v.ok()) return out;
  for (const auto& g : v->as_list()) out[g.as_object().find("group")->as_string()] = g.as_object();
  return out;
}

// Committed offset per bucket (buckets never committed: 0).
std::map<int64_t, int64_t> committed(const Object& group) {
  std::map<int64_t, int64_t> out;
  for (const auto& b : group.find("buckets")->as_list()) {
    const Object& o = b.as_object();
    const Value* c = o.find("committed");
    out[o.find("bucket")->as_int()] = c->is_int() ? c->as_int() : 0;
  }
  return out;
}

// Waits (bounded: 20 s) until the process has printed at least n records.
bool wait_for_records(const Process& p, int n) {
  for (int i = 0; i < 400; ++i) {
    int lines = 0;
    positions(p.log(), &lines);
    if (lines >= n) return true;
    if (!p.running()) return false;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

class CliGroups : public ::testing::Test {
 protected:
  TempDir dir;
  TempDir logs;
  std::vector<std::string> follow(const std::string& group, const std::string& commit_interval) {
    return {PERSISTING_BIN, "get",   "--data-dir", dir.path(), "--topic", "t", "--group", group, "--follow",
            "--with-position", "--commit-interval", commit_interval};
  }
};

TEST_F(CliGroups, GetWithLimitPrintsThatManyAndTheNextRunContinuesAfterThem) {
  put(dir.path(), 0, 30);
  std::set<int64_t> seen;
  for (int run = 0; run < 3; ++run) {
    auto r = cli({"get", "--data-dir", dir.path(), "--topic", "t", "--group", "g", "--limit", "10"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto got = plain_numbers(r.out);
    EXPECT_EQ(got.size(), 10u) << r.out;
    for (int64_t n : got) EXPECT_TRUE(seen.insert(n).second) << "record " << n << " printed twice";
  }
  EXPECT_EQ(seen, range(0, 30));
  auto none = cli({"get", "--data-dir", dir.path(), "--topic", "t", "--group", "g"});
  EXPECT_EQ(none.exit_code, 0) << none.err;
  EXPECT_TRUE(none.out.empty()) << none.out;
  auto g = groups(dir.path());
  ASSERT_TRUE(g.count("g"));
  EXPECT_EQ(g["g"].find("lag")->as_int(), 0);
  EXPECT_TRUE(g["g"].find("members")->as_list().empty());
  EXPECT_EQ(g["g"].find("buckets")->as_list().size(), 4u);
}

TEST_F(CliGroups, AfterKill9TheNextRunStartsExactlyAtTheCommit) {
  put(dir.path(), 0, 200);
  Process p;
  ASSERT_TRUE(p.start(follow("g", "0.05"), logs.path() + "/follow.log"));
  ASSERT_TRUE(wait_for_records(p, 200)) << p.log();
  // The auto-commit (every 50 ms) catches up with what was printed: exactly that, per bucket.
  bool caught_up = false;
  for (int i = 0; i < 200 && !caught_up; ++i) {
    auto g = groups(dir.path());
    caught_up = g.count("g") && g["g"].find("lag")->as_int() == 0;
    if (!caught_up) std::this_thread::sleep_for(50ms);
  }
  ASSERT_TRUE(caught_up);
  std::map<int64_t, int64_t> printed_end;
  for (const auto& [pos, n] : positions(p.log())) printed_end[pos.first] = std::max(printed_end[pos.first], pos.second + 1);
  EXPECT_EQ(committed(groups(dir.path())["g"]), printed_end);
  put(dir.path(), 200, 260);
  ASSERT_TRUE(wait_for_records(p, 260)) << p.log();
  p.kill(SIGKILL);

  auto g = groups(dir.path());
  ASSERT_TRUE(g.count("g"));
  auto at = committed(g["g"]);
  auto resumed = cli({"get", "--data-dir", dir.path(), "--topic", "t", "--group", "g", "--with-position"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  auto all = positions(p.log());
  auto again = positions(resumed.out);
  // Every record at or after the commit arrives, none before it.
  for (const auto& [pos, n] : all) {
    bool after_commit = pos.second >= at[pos.first];
    EXPECT_EQ(again.count(pos), after_commit ? 1u : 0u) << "bucket " << pos.first << " offset " << pos.second
                                                          << " (committed " << at[pos.first] << ")";
  }
  EXPECT_EQ(all.size(), 260u);
  // And the commit covers only what the killed run printed (nothing is skipped).
  for (const auto& [bucket, offset] : at)
    for (int64_t o = 0; o < offset; ++o) EXPECT_TRUE(all.count({bucket, o})) << "bucket " << bucket << " offset " << o;
}

TEST_F(CliGroups, Kill9BetweenGetAndCommitDeliversThoseRecordsAgain) {
  put(dir.path(), 0, 100);
  Process p;
  ASSERT_TRUE(p.start(follow("g", "3600"), logs.path() + "/follow.log"));  // no auto-commit comes
  ASSERT_TRUE(wait_for_records(p, 100)) << p.log();
  p.kill(SIGKILL);
  EXPECT_EQ(numbers(p.log()), range(0, 100));
  auto again = cli({"get", "--data-dir", dir.path(), "--topic", "t", "--group", "g"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(plain_numbers(again.out), range(0, 100));
}

TEST_F(CliGroups, SigtermCommitsWhatWasPrinted) {
  put(dir.path(), 0, 50);
  Process p;
  ASSERT_TRUE(p.start(follow("g", "3600"), logs.path() + "/follow.log"));
  ASSERT_TRUE(wait_for_records(p, 50)) << p.log();
  EXPECT_EQ(p.kill(SIGTERM), 0) << p.log();
  auto g = groups(dir.path());
  ASSERT_TRUE(g.count("g"));
  EXPECT_EQ(g["g"].find("lag")->as_int(), 0);
  auto again = cli({"get", "--data-dir", dir.path(), "--topic", "t", "--group", "g"});
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_TRUE(again.out.empty()) << again.out;
}

TEST_F(CliGroups, ResetAndDeleteAreRefusedWhileAProcessConsumes) {
  put(dir.path(), 0, 40);
  Process p;
  ASSERT_TRUE(p.start(follow("g", "0.05"), logs.path() + "/follow.log"));
  ASSERT_TRUE(wait_for_records(p, 40)) << p.log();
  auto reset = cli({"groups", "reset", "--data-dir", dir.path(), "--topic", "t", "--group", "g", "--to", "earliest"});
  EXPECT_EQ(reset.exit_code, 1);
  EXPECT_NE(reset.err.find("live members"), std::string::npos) << reset.err;
  auto del = cli({"groups", "delete", "--data-dir", dir.path(), "--topic", "t", "--group", "g"});
  EXPECT_EQ(del.exit_code, 1);
  EXPECT_NE(del.err.find("live members"), std::string::npos) << del.err;
  auto second = cli({"get", "--data-dir", dir.path(), "--topic", "t", "--group", "g"});
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_NE(second.err.find("another process"), std::string::npos) << second.err;
  EXPECT_EQ(p.kill(SIGTERM), 0) << p.log();

  // Gone: reset works, and the group reads from where it says.
  reset = cli({"groups", "reset", "--data-dir", dir.path(), "--topic", "t", "--group", "g", "--to", "earliest"});
  ASSERT_EQ(reset.exit_code, 0) << reset.err;
  auto shown = parse_json(reset.out);
  ASSERT_TRUE(shown.ok()) << reset.out;
  EXPECT_EQ(shown->as_object().find("lag")->as_int(), 40);
  auto all = cli({"get", "--data-dir", dir.path(), "--topic", "t", "--group", "g", "--limit", "1000"});
  EXPECT_EQ(plain_numbers(all.out), range(0, 40));
  ASSERT_EQ(cli({"groups", "reset", "--data-dir", dir.path(), "--topic", "t", "--group", "g", "--to", "3"}).exit_code, 0);
  auto from3 = cli({"get", "--data-dir", dir.path(), "--topic", "t", "--group", "g", "--with-position"});
  for (const auto& [pos, n] : positions(from3.out)) EXPECT_GE(pos.second, 3);
  EXPECT_EQ(positions(from3.out).size(), 40u - 12u);
  ASSERT_EQ(cli({"groups", "reset", "--data-dir", dir.path(), "--topic", "t", "--group", "g", "--to", "latest"}).exit_code, 0);
  EXPECT_TRUE(cli({"get", "--data-dir", dir.path(), "--topic", "t", "--group", "g"}).out.empty());

  auto deleted = cli({"groups", "delete", "--data-dir", dir.path(), "--topic", "t", "--group", "g"});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.err;
  EXPECT_FALSE(groups(dir.path()).count("g"));
}

TEST_F(CliGroups, StartLatestSkipsWhatIsThereAndKeepsItsPlace) {
  put(dir.path(), 0, 10);
  auto first = cli({"get", "--data-dir", dir.path(), "--topic", "t", "--group", "late", "--start", "latest"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_TRUE(first.out.empty());
  put(dir.path(), 10, 15);
  auto next = cli({"get", "--data-dir", dir.path(), "--topic", "t", "--group", "late", "--start", "latest"});
  ASSERT_EQ(next.exit_code, 0) << next.err;
  EXPECT_EQ(plain_numbers(next.out), range(10, 15));
}

TEST_F(CliGroups, BadInputGetsClearErrors) {
  put(dir.path(), 0, 4);
  auto bad_name = cli({"get", "--data-dir", dir.path(), "--topic", "t", "--group", "../x"});
  EXPECT_EQ(bad_name.exit_code, 1);
  EXPECT_NE(bad_name.err.find("group name '../x'"), std::string::npos) << bad_name.err;
  auto unknown = cli({"groups", "reset", "--data-dir", dir.path(), "--topic", "t", "--group", "nobody", "--to", "earliest"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("'nobody'"), std::string::npos) << unknown.err;
  EXPECT_NE(unknown.err.find("does not exist"), std::string::npos) << unknown.err;
  auto unknown_delete = cli({"groups", "delete", "--data-dir", dir.path(), "--topic", "t", "--group", "nobody"});
  EXPECT_EQ(unknown_delete.exit_code, 1);
  auto no_topic = cli({"groups", "--data-dir", dir.path(), "--topic", "nosuch"});
  EXPECT_EQ(no_topic.exit_code, 1);
  EXPECT_NE(no_topic.err.find("'nosuch'"), std::string::npos) << no_topic.err;
  // Usage errors: exit 2, nothing changes.
  EXPECT_EQ(cli({"groups", "--data-dir", dir.path()}).exit_code, 2);
  EXPECT_EQ(cli({"groups", "reset", "--data-dir", dir.path(), "--topic", "t", "--group", "g", "--to", "banana"}).exit_code, 2);
  EXPECT_EQ(cli({"groups", "reset", "--data-dir", dir.path(), "--topic", "t", "--group", "g", "--to", "-1"}).exit_code, 2);
  EXPECT_EQ(cli({"get", "--data-dir", dir.path(), "--topic", "t", "--start", "latest"}).exit_code, 2);
  EXPECT_EQ(cli({"get", "--data-dir", dir.path(), "--topic", "t", "--group", "g", "--from-beginning"}).exit_code, 2);
  EXPECT_EQ(cli({"get", "--data-dir", dir.path(), "--topic", "t", "--group", "g", "--start", "middle"}).exit_code, 2);
  EXPECT_TRUE(groups(dir.path()).empty());
}

}  // namespace
