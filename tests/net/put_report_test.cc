// Issue 13, defect 10: with one owner of a topic down (killed or frozen), a put says per owner
// which input lines were stored and which were not, a put to live owners succeeds (its closing
// flush goes only to the owners it wrote to), and stats shows the live buckets plus an error.
#include <gtest/gtest.h>

#include <signal.h>

#include <map>

#include "net/node_process.h"
#include "persisting/client.h"
#include "persisting/json.h"
#include "queue/partitioning.h"
#include "util/run_process.h"

namespace persisting {
namespace {

using testing::Cluster;

constexpr uint32_t kBuckets = 12;

testing::ProcessResult cli(std::vector<std::string> args, const std::string& input = "") {
  args.insert(args.begin(), PERSISTING_BIN);
  return testing::run_process(args, input);
}

// A 3-node cluster with topic "t" (12 buckets over all three); owners[b] = node id.
struct Fixture {
  Cluster cluster{3};
  std::map<uint32_t, std::string> owners;
  TopicInfo info;

  void start() {
    ASSERT_TRUE(cluster.start_all());
    auto put = cli({"put", "--server", cluster.address(0), "--topic", "t", "--num-buckets", "12", "-"},
                   "{\"id\":0}\n");
    ASSERT_EQ(put.exit_code, 0) << put.err;
    auto c = Client::connect({.server = cluster.address(0)});
    ASSERT_TRUE(c.ok());
    auto st = (*c)->cluster_status("t");
    ASSERT_TRUE(st.ok()) << st.status().to_string();
    for (const auto& [k, v] : st->find("ownership")->as_object()) owners[std::stoul(k)] = v.as_string();
    auto t = (*c)->topic("t");
    ASSERT_TRUE(t.ok());
    info = *t;
  }
  // A record {"id": k} whose bucket node `owner` owns (or does not own, when not is set).
  std::string line_for(const std::string& owner, bool owned, int64_t from) {
    for (int64_t k = from; k < from + 10000; ++k) {
      auto b = queue::bucket_of(info, Record{{"id", k}});
      if (b.ok() && (owners[*b] == owner) == owned) return "{\"id\":" + std::to_string(k) + "}";
    }
    ADD_FAILURE() << "no key found";
    return "";
  }
};

TEST(PutReport, Defect10_KilledOwnerPutToLiveOwnerSucceedsSpanningPutNamesLines) {
  Fixture f;
  ASSERT_NO_FATAL_FAILURE(f.start());
  const int victim = 2;  // n3; the CLI talks to n1
  EXPECT_EQ(f.cluster.kill(victim, SIGKILL), -1);

  // One record for a live owner: stored, and the put says so (its flush does not go to n3).
  std::string live = f.line_for("n3", false, 1000);
  auto one = cli({"put", "--server", f.cluster.address(0), "--topic", "t", "-"}, live + "\n");
  EXPECT_EQ(one.exit_code, 0) << one.err;
  EXPECT_NE(one.err.find("wrote 1 records"), std::string::npos) << one.err;

  // Lines 1 and 3 for live owners, line 2 for n3: 1 and 3 stored, 2 not, each said.
  std::string a = f.line_for("n3", false, 2000), dead = f.line_for("n3", true, 3000), b = f.line_for("n3", false, 4000);
  auto three = cli({"put", "--server", f.cluster.address(0), "--topic", "t", "-"}, a + "\n" + dead + "\n" + b + "\n");
  EXPECT_EQ(three.exit_code, 1) << three.err;
  EXPECT_NE(three.err.find("line 2 (bucket"), std::string::npos) << three.err;
  EXPECT_NE(three.err.find("owner n3"), std::string::npos) << three.err;
  EXPECT_NE(three.err.find("not written"), std::string::npos) << three.err;
  EXPECT_NE(three.err.find("2 records acknowledged; first input line not written: 2"), std::string::npos)
      << three.err;
  EXPECT_EQ(three.err.find("lines 1-3:"), std::string::npos) << three.err;
  for (const std::string& l : {std::string("line 1 ("), std::string("line 3 (")}) {
    size_t at = three.err.find(l);
    ASSERT_NE(at, std::string::npos) << three.err;
    std::string said = three.err.substr(at, three.err.find('\n', at) - at);
    EXPECT_EQ(said.substr(said.size() - 10), "): written") << three.err;
  }

  // The live lines are readable; n3's record is nowhere.
  auto got = cli({"get", "--server", f.cluster.address(0), "--topic", "t", "--from-beginning"});
  for (const std::string& l : {live, a, b}) EXPECT_NE(got.out.find(l), std::string::npos) << l << "\n" << got.out;
  EXPECT_EQ(got.out.find(dead), std::string::npos);

  // stats: the live buckets, plus an error naming n3's buckets; exit 1 (incomplete).
  auto stats = cli({"stats", "--server", f.cluster.address(0), "--topic", "t"});
  EXPECT_EQ(stats.exit_code, 1) << stats.err;
  auto parsed = parse_json(stats.out);
  ASSERT_TRUE(parsed.ok()) << stats.out;
  size_t live_buckets = 0;
  for (const auto& [bucket, owner] : f.owners) live_buckets += owner == "n3" ? 0 : 1;
  EXPECT_EQ(parsed->as_object().find("buckets")->as_list().size(), live_buckets) << stats.out;
  const Value* errors = parsed->as_object().find("errors");
  ASSERT_NE(errors, nullptr) << stats.out;
  EXPECT_NE(to_json(*errors).find("n3"), std::string::npos) << stats.out;
  EXPECT_NE(stats.err.find("n3"), std::string::npos) << stats.err;
}

TEST(PutReport, Defect10_FrozenOwnerReportedPerOwnerAndFlushSkipsIt) {
  Fixture f;
  ASSERT_NO_FATAL_FAILURE(f.start());
  auto c = Client::connect({.server = f.cluster.address(0), .rpc_timeout = std::chrono::milliseconds(500),
                            .put_retries = 0});
  ASSERT_TRUE(c.ok());
  auto w = (*c)->writer({.topic = "t", .bucket_column = "id", .num_buckets = kBuckets, .backend = "persisting"});
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  f.cluster.signal(2, SIGSTOP);  // n3 freezes
  struct Continue {  // it gets SIGCONT whatever happens, so it can be cleaned up
    Cluster& c;
    ~Continue() { c.signal(2, SIGCONT); }
  } cont{f.cluster};

  auto rec = [](const std::string& line) {
    auto r = parse_json_record(line);
    EXPECT_TRUE(r.ok());
    return *r;
  };
  // A put to live owners, then its flush: both OK although n3 is frozen.
  ASSERT_TRUE((*w)->put({rec(f.line_for("n3", false, 1000))}).ok());
  Status flushed = (*w)->flush();
  EXPECT_TRUE(flushed.ok()) << flushed.to_string();

  // A batch spanning live owners and n3: the report says which records each owner took.
  std::vector<Record> batch{rec(f.line_for("n3", false, 2000)), rec(f.line_for("n3", true, 3000)),
                            rec(f.line_for("n3", false, 4000))};
  PutReport report;
  Status s = (*w)->put(batch, &report);
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(report.refused);
  EXPECT_EQ(report.acknowledged(), 2u);
  for (const auto& p : report.parts) {
    bool on_victim = f.owners[p.bucket.value()] == "n3";
    EXPECT_EQ(p.acknowledged, !on_victim) << p.bucket.value();
    EXPECT_NE(p.owner.find(on_victim ? "n3" : "n"), std::string::npos) << p.owner;
    if (on_victim) {
      EXPECT_FALSE(p.status.ok());
      ASSERT_EQ(p.records.size(), 1u);
      EXPECT_EQ(p.records[0], 1u);
    }
  }
  // The flush after it: only the live owners were written to since the last flush.
  flushed = (*w)->flush();
  EXPECT_TRUE(flushed.ok()) << flushed.to_string();
}

}  // namespace
}  // namespace persisting

namespace persisting {
namespace {

// Issue 13, defect 3 against a node: a put whose buckets one node owns is checked by every bucket
// before any appends, and errors number records by input line.
TEST(PutReport, Defect3_NodeRefusesABatchOneOfItsBucketsRefuses) {
  Cluster cluster(1);
  ASSERT_TRUE(cluster.start_all());
  auto put = cli({"put", "--server", cluster.address(0), "--topic", "q", "-"},
                 "{\"id\":\"b\",\"n\":1}\n\n{\"id\":\"a\",\"n\":1}\n{\"id\":\"a\",\"n\":\"s\"}\n");
  EXPECT_EQ(put.exit_code, 1) << put.err;
  EXPECT_NE(put.err.find("field 'n'"), std::string::npos) << put.err;
  EXPECT_NE(put.err.find("record 3"), std::string::npos) << put.err;
  EXPECT_NE(put.err.find("record 4"), std::string::npos) << put.err;
  EXPECT_NE(put.err.find("0 records acknowledged; first input line not written: 1"), std::string::npos) << put.err;
  auto get = cli({"get", "--server", cluster.address(0), "--topic", "q", "--from-beginning"});
  EXPECT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(get.out, "") << "a refused batch wrote records";
}

}  // namespace
}  // namespace persisting
