// `persisting put --retention-*` and `persisting topics alter` (docs/cli.md, docs/retention.md).
#include <gtest/gtest.h>

#include <string>

#include "persisting/json.h"
#include "cli/cli_run.h"
#include "util/run_process.h"

using namespace persisting;
using namespace persisting::testing;

namespace {

std::string lines(int from, int to) {
  std::string out;
  for (int i = from; i < to; ++i) out += "{\"id\":\"k\",\"i\":" + std::to_string(i) + "}\n";
  return out;
}

int64_t first_offset(const std::string& dir) {
  auto st = cli({"stats", "--data-dir", dir, "--topic", "t"});
  EXPECT_EQ(st.exit_code, 0) << st.err;
  auto v = parse_json(st.out);
  EXPECT_TRUE(v.ok()) << st.out;
  if (!v.ok()) return -1;
  return v->as_object().find("buckets")->as_list()[0].as_object().find("first_offset")->as_int();
}

}  // namespace

TEST(CliRetention, PutSetsRetentionAndGetStartsAtTheFirstOffset) {
  TempDir dir;
  // 100 lines in batches of 10: ten fragments of the one bucket; 20 records are kept.
  auto put = cli({"put", "--data-dir", dir.path(), "--topic", "t", "--num-buckets", "1", "--backend", "lance",
                  "--batch-size", "10", "--retention-records", "20"},
                 lines(0, 100));
  ASSERT_EQ(put.exit_code, 0) << put.err;
  EXPECT_EQ(first_offset(dir.path()), 80);
  auto topics = cli({"topics", "--data-dir", dir.path()});
  ASSERT_EQ(topics.exit_code, 0) << topics.err;
  EXPECT_NE(topics.out.find("\"retention\":{\"records\":20}"), std::string::npos) << topics.out;
  auto get = cli({"get", "--data-dir", dir.path(), "--topic", "t", "--from-beginning", "--with-position"});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(get.out.find("\"i\":79}"), std::string::npos) << get.out;
  EXPECT_NE(get.out.find("\"offset\":80"), std::string::npos) << get.out;
  EXPECT_NE(get.out.find("\"i\":99"), std::string::npos) << get.out;
  // Another retention for the existing topic is refused and points at alter.
  auto again = cli({"put", "--data-dir", dir.path(), "--topic", "t", "--retention-records", "5"}, lines(100, 101));
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("topics alter"), std::string::npos) << again.err;
}

TEST(CliRetention, AlterAppliesAtOnceToAPersistingTopic) {
  TempDir dir;
  // flush_threshold 10 and --flush: each batch of 10 lines is its own fragment (without --flush a
  // put may exit before its threshold flush ran, and the next process flushes two puts as one).
  auto put = cli({"put", "--data-dir", dir.path(), "--topic", "t", "--num-buckets", "1", "--batch-size", "10",
                  "--option", "flush_threshold=10", "--flush"},
                 lines(0, 10));
  ASSERT_EQ(put.exit_code, 0) << put.err;
  for (int i = 10; i < 50; i += 10) {
    put = cli({"put", "--data-dir", dir.path(), "--topic", "t", "--batch-size", "10", "--option", "flush_threshold=10",
               "--flush"},
              lines(i, i + 10));
    ASSERT_EQ(put.exit_code, 0) << put.err;
  }
  EXPECT_EQ(first_offset(dir.path()), 0);
  // The alter process is not the writer when it starts: it becomes it to apply the limit.
  auto alter = cli({"topics", "alter", "--data-dir", dir.path(), "--topic", "t", "--retention-records", "20"});
  ASSERT_EQ(alter.exit_code, 0) << alter.err;
  EXPECT_EQ(first_offset(dir.path()), 30);
  auto get = cli({"get", "--data-dir", dir.path(), "--topic", "t", "--from-beginning"});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(get.out.find("\"i\":29}"), std::string::npos) << get.out;
  EXPECT_NE(get.out.find("\"i\":30}"), std::string::npos) << get.out;
}

TEST(CliRetention, AlterChangesRetentionAndRefusesBadInput) {
  TempDir dir;
  ASSERT_EQ(cli({"put", "--data-dir", dir.path(), "--topic", "t", "--num-buckets", "1", "--backend", "lance",
                 "--batch-size", "10"},
                lines(0, 60))
                .exit_code,
            0);
  EXPECT_EQ(first_offset(dir.path()), 0);
  auto alter = cli({"topics", "alter", "--data-dir", dir.path(), "--topic", "t", "--retention-records", "30"});
  ASSERT_EQ(alter.exit_code, 0) << alter.err;
  EXPECT_NE(alter.out.find("\"retention\":{\"records\":30}"), std::string::npos) << alter.out;
  EXPECT_EQ(first_offset(dir.path()), 30);  // six fragments of 10: the newest three stay
  // Bytes too, then none: each flag changes only itself.
  alter = cli({"topics", "alter", "--data-dir", dir.path(), "--topic", "t", "--retention-bytes", "1000000000"});
  ASSERT_EQ(alter.exit_code, 0) << alter.err;
  EXPECT_NE(alter.out.find("\"retention\":{\"records\":30,\"bytes\":1000000000}"), std::string::npos) << alter.out;
  alter = cli({"topics", "alter", "--data-dir", dir.path(), "--topic", "t", "--retention-records", "none",
               "--retention-bytes", "none"});
  ASSERT_EQ(alter.exit_code, 0) << alter.err;
  EXPECT_EQ(alter.out.find("retention"), std::string::npos) << alter.out;

  // Bad input: a clear error, nothing changed.
  for (const char* bad : {"0", "-5", "ten", "1.5", ""}) {
    auto r = cli({"topics", "alter", "--data-dir", dir.path(), "--topic", "t", "--retention-records", bad});
    EXPECT_EQ(r.exit_code, 2) << bad;
    EXPECT_NE(r.err.find("--retention-records must be a positive integer or 'none'"), std::string::npos)
        << bad << ": " << r.err;
  }
  auto none = cli({"topics", "alter", "--data-dir", dir.path(), "--topic", "t"});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_NE(none.err.find("needs --retention-records, --retention-bytes, --retention-ms or --retention-policy"),
            std::string::npos)
      << none.err;
  auto unknown = cli({"topics", "alter", "--data-dir", dir.path(), "--topic", "nope", "--retention-records", "5"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("'nope'"), std::string::npos) << unknown.err;
  for (const char* bad : {"0", "-1", "x"}) {
    auto r = cli({"put", "--data-dir", dir.path(), "--topic", "u", "--retention-bytes", bad}, lines(0, 1));
    EXPECT_EQ(r.exit_code, 2) << bad << ": " << r.err;
  }
  auto topics = cli({"topics", "--data-dir", dir.path()});
  EXPECT_EQ(topics.out.find("\"u\""), std::string::npos) << topics.out;  // no topic made
  EXPECT_EQ(topics.out.find("retention"), std::string::npos) << topics.out;
}

// Append times at the CLI (docs/cli.md): --with-position prints them, --from-time starts there,
// --retention-ms is set, altered and refused when bad.
TEST(CliRetention, TimestampsFromTimeAndRetentionMs) {
  TempDir dir;
  auto put = cli({"put", "--data-dir", dir.path(), "--topic", "t", "--num-buckets", "1", "--backend", "lance",
                  "--retention-ms", "86400000"},
                 lines(0, 3));
  ASSERT_EQ(put.exit_code, 0) << put.err;
  auto topics = cli({"topics", "--data-dir", dir.path()});
  EXPECT_NE(topics.out.find("\"retention\":{\"ms\":86400000}"), std::string::npos) << topics.out;
  auto get = cli({"get", "--data-dir", dir.path(), "--topic", "t", "--from-beginning", "--with-position"});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  auto first = parse_json(get.out.substr(0, get.out.find('\n')));
  ASSERT_TRUE(first.ok()) << get.out;
  const int64_t ts = first->as_object().find("timestamp")->as_int();
  EXPECT_GT(ts, 1'700'000'000'000);  // put just now
  // From a time before the records: all of them; after: none.
  get = cli({"get", "--data-dir", dir.path(), "--topic", "t", "--from-time", "2020-01-01T00:00:00Z"});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(get.out, lines(0, 3));
  get = cli({"get", "--data-dir", dir.path(), "--topic", "t", "--from-time", std::to_string(ts + 3'600'000)});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(get.out, "");
  for (const char* bad : {"yesterday", "-5", "2026-13-01", "2026-12-05T25:00Z", "1969-12-31T00:00:00Z"}) {
    auto r = cli({"get", "--data-dir", dir.path(), "--topic", "t", "--from-time", bad});
    EXPECT_EQ(r.exit_code, 2) << bad << ": " << r.err;
    EXPECT_NE(r.err.find("is not a time"), std::string::npos) << bad << ": " << r.err;
  }
  // Alter: a bad age changes nothing; none removes it.
  for (const char* bad : {"0", "-1", "soon"}) {
    auto r = cli({"topics", "alter", "--data-dir", dir.path(), "--topic", "t", "--retention-ms", bad});
    EXPECT_EQ(r.exit_code, 2) << bad << ": " << r.err;
    EXPECT_NE(r.err.find("--retention-ms must be a positive integer or 'none'"), std::string::npos) << r.err;
  }
  auto alter = cli({"topics", "alter", "--data-dir", dir.path(), "--topic", "t", "--retention-ms", "none"});
  ASSERT_EQ(alter.exit_code, 0) << alter.err;
  EXPECT_EQ(alter.out.find("retention"), std::string::npos) << alter.out;
  auto r = cli({"put", "--data-dir", dir.path(), "--topic", "u", "--retention-ms", "-3"}, lines(0, 1));
  EXPECT_EQ(r.exit_code, 2) << r.err;
}

// --retention-policy interest (docs/retention.md, "Interest"): a group's commits, made by another
// process (`get --group`), hold what it has not read; the policy is set, altered and refused when
// bad.
TEST(CliRetention, InterestPolicyKeepsWhatAGroupHasNotCommitted) {
  TempDir dir;
  auto put = cli({"put", "--data-dir", dir.path(), "--topic", "t", "--num-buckets", "1", "--backend", "lance",
                  "--batch-size", "10", "--retention-records", "10", "--retention-policy", "interest"},
                 lines(0, 10));
  ASSERT_EQ(put.exit_code, 0) << put.err;
  auto topics = cli({"topics", "--data-dir", dir.path()});
  ASSERT_EQ(topics.exit_code, 0) << topics.err;
  EXPECT_NE(topics.out.find("\"retention\":{\"records\":10,\"policy\":\"interest\""), std::string::npos)
      << topics.out;
  EXPECT_NE(topics.out.find("with no group, the limits alone"), std::string::npos) << topics.out;
  // A group reads (and commits) 5 records in a process of its own: from then on it holds what
  // it has not read (before, with no group, the limit alone applied).
  auto get = cli({"get", "--data-dir", dir.path(), "--topic", "t", "--group", "g", "--limit", "5"});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  put = cli({"put", "--data-dir", dir.path(), "--topic", "t", "--batch-size", "10"}, lines(10, 30));
  ASSERT_EQ(put.exit_code, 0) << put.err;
  EXPECT_EQ(first_offset(dir.path()), 0);
  get = cli({"get", "--data-dir", dir.path(), "--topic", "t", "--group", "g", "--limit", "10"});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  // The next put process sees the commit (15): [0, 10) goes, [10, 20) stays though the limit
  // (10 records) would let it go.
  put = cli({"put", "--data-dir", dir.path(), "--topic", "t", "--batch-size", "10"}, lines(30, 50));
  ASSERT_EQ(put.exit_code, 0) << put.err;
  EXPECT_EQ(first_offset(dir.path()), 10);
  // The group reads the rest: the get process's closing flush (docs/retention.md, "Limits of
  // this version") applies the limit then.
  get = cli({"get", "--data-dir", dir.path(), "--topic", "t", "--group", "g"});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(first_offset(dir.path()), 40);
  // Bad input: exit 2 naming the flag and the values, nothing changed.
  for (const char* bad : {"Interest", "none", ""}) {
    auto r = cli({"topics", "alter", "--data-dir", dir.path(), "--topic", "t", "--retention-policy", bad});
    EXPECT_EQ(r.exit_code, 2) << bad << ": " << r.err;
    EXPECT_NE(r.err.find("--retention-policy must be 'limits' or 'interest'"), std::string::npos) << bad << ": " << r.err;
  }
  auto r = cli({"put", "--data-dir", dir.path(), "--topic", "u", "--backend", "lance", "--retention-policy", "all"},
               lines(0, 1));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--retention-policy must be 'limits' or 'interest', got 'all'"), std::string::npos) << r.err;
  topics = cli({"topics", "--data-dir", dir.path()});
  EXPECT_EQ(topics.out.find("\"u\""), std::string::npos) << topics.out;  // no topic made
  EXPECT_NE(topics.out.find("\"policy\":\"interest\""), std::string::npos) << topics.out;  // unchanged
  // Back to the limits alone: the policy leaves the topic's settings.
  auto alter = cli({"topics", "alter", "--data-dir", dir.path(), "--topic", "t", "--retention-policy", "limits"});
  ASSERT_EQ(alter.exit_code, 0) << alter.err;
  EXPECT_NE(alter.out.find("\"retention\":{\"records\":10}"), std::string::npos) << alter.out;
}
