// `persisting compact` (docs/cli.md, docs/compaction.md): merges a topic's small fragments and
// removes old versions; reads are the same before and after; bad input changes nothing.
#include <gtest/gtest.h>

#include <regex>

#include <string>

#include "cli/cli_run.h"
#include "persisting/json.h"
#include "util/run_process.h"

using namespace persisting;
using namespace persisting::testing;

namespace {

std::string lines(int from, int to) {
  std::string out;
  for (int i = from; i < to; ++i) out += "{\"id\":\"k\",\"i\":" + std::to_string(i) + ",\"s\":\"v" + std::to_string(i) + "\"}\n";
  return out;
}

// The one bucket's entry of `inspect`.
Object inspect_bucket(const std::string& dir) {
  auto r = cli({"inspect", "--data-dir", dir, "--topic", "t"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto v = parse_json(r.out);
  EXPECT_TRUE(v.ok()) << r.out;
  if (!v.ok()) return Object{};
  return v->as_object().find("buckets")->as_list()[0].as_object();
}

// Every record with its bucket and offset. Not its append time: Lance keeps times per fragment
// (a record read from Lance carries its fragment's newest), so merging fragments changes them.
std::string get_all(const std::string& dir) {
  auto r = cli({"get", "--data-dir", dir, "--topic", "t", "--from-beginning", "--with-position"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return std::regex_replace(r.out, std::regex("\"timestamp\":[0-9]+,"), "");
}

// 100 lines in batches of 10, no compaction after flushes: ten fragments of 10.
void put_ten_fragments(const std::string& dir) {
  auto put = cli({"put", "--data-dir", dir, "--topic", "t", "--num-buckets", "1", "--backend", "lance",
                  "--batch-size", "10", "--option", "compaction_min_fragments=0"},
                 lines(0, 100));
  ASSERT_EQ(put.exit_code, 0) << put.err;
}

}  // namespace

TEST(CliCompact, MergesFragmentsThenCleansUpAndReadsTheSame) {
  TempDir dir;
  put_ten_fragments(dir.path());
  ASSERT_EQ(inspect_bucket(dir.path()).find("fragments")->as_list().size(), 10u);
  const std::string before = get_all(dir.path());
  ASSERT_NE(before.find("\"offset\":99"), std::string::npos) << before;

  auto r = cli({"compact", "--data-dir", dir.path(), "--topic", "t"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto out = parse_json(r.out);
  ASSERT_TRUE(out.ok()) << r.out;
  const Object& b = out->as_object().find("buckets")->as_list()[0].as_object();
  EXPECT_EQ(b.find("fragments_before")->as_int(), 10);
  EXPECT_EQ(b.find("fragments")->as_int(), 1);
  EXPECT_EQ(b.find("fragments_compacted")->as_int(), 10);
  EXPECT_EQ(b.find("rows")->as_int(), 100);
  EXPECT_EQ(b.find("versions_removed")->as_int(), 0);  // the topic's retention: an hour
  EXPECT_EQ(get_all(dir.path()), before);
  const size_t versions = inspect_bucket(dir.path()).find("versions")->as_list().size();
  EXPECT_EQ(versions, 11u);

  // Now, with no retention: only the latest version is left; reads and puts go on.
  r = cli({"compact", "--data-dir", dir.path(), "--topic", "t", "--bucket", "0", "--version-retention", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"versions_removed\":10"), std::string::npos) << r.out;
  EXPECT_EQ(inspect_bucket(dir.path()).find("versions")->as_list().size(), 1u);
  EXPECT_EQ(get_all(dir.path()), before);
  auto put = cli({"put", "--data-dir", dir.path(), "--topic", "t"}, lines(100, 105));
  ASSERT_EQ(put.exit_code, 0) << put.err;
  EXPECT_NE(get_all(dir.path()).find("\"offset\":104,\"record\":{\"id\":\"k\",\"i\":104"), std::string::npos);
}

TEST(CliCompact, BadInputIsRefusedAndChangesNothing) {
  TempDir dir;
  put_ten_fragments(dir.path());
  const std::string before = to_json(Value(inspect_bucket(dir.path())));
  auto unknown = cli({"compact", "--data-dir", dir.path(), "--topic", "nope"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("topic 'nope' does not exist"), std::string::npos) << unknown.err;
  auto bucket = cli({"compact", "--data-dir", dir.path(), "--topic", "t", "--bucket", "1"});
  EXPECT_EQ(bucket.exit_code, 2);
  EXPECT_NE(bucket.err.find("--bucket 1: topic 't' has buckets 0 to 0"), std::string::npos) << bucket.err;
  for (const char* bad : {"-1", "soon", ""}) {
    auto r = cli({"compact", "--data-dir", dir.path(), "--topic", "t", "--version-retention", bad});
    EXPECT_EQ(r.exit_code, 2) << bad;
    EXPECT_NE(r.err.find("--version-retention"), std::string::npos) << r.err;
  }
  EXPECT_EQ(to_json(Value(inspect_bucket(dir.path()))), before);
  // A topic without Lance datasets.
  ASSERT_EQ(cli({"put", "--data-dir", dir.path(), "--topic", "m", "--backend", "memory"}, "{\"id\":1}\n").exit_code, 0);
  auto mem = cli({"compact", "--data-dir", dir.path(), "--topic", "m"});
  EXPECT_EQ(mem.exit_code, 1);
  EXPECT_NE(mem.err.find("no Lance datasets"), std::string::npos) << mem.err;
}
