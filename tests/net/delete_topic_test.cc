// DeleteTopic over gRPC on a two-node cluster (docs/wire-protocol.md, "Deleting a topic"): every
// node's copy goes; a parked reader wakes with NotFound; writers and readers of the old topic get
// NotFound, also after the name is created again (the put carries the incarnation); the new
// topic starts empty; an unknown topic is NotFound naming it.
#include <gtest/gtest.h>

#include <filesystem>
#include <future>
#include <set>
#include <thread>

#include "net/node_process.h"
#include "net/connect_to.h"
#include "persisting/client.h"
#include "util/run_process.h"

namespace persisting {
namespace {

using namespace std::chrono_literals;
using testing::Cluster;

using testing::connect_to;

WriterOptions topic_t() {
  return {.topic = "t", .bucket_column = "id", .num_buckets = 4, .batch_size = 2, .backend = "persisting"};
}

int64_t parked_readers(Client& c, const std::string& topic) {
  auto st = c.stats(topic);
  if (!st.ok()) return -1;
  int64_t n = 0;
  for (const Value& b : st->find("buckets")->as_list()) n += b.as_object().find("parked_readers")->as_int();
  return n;
}

TEST(DeleteTopic, TwoNodesDeleteThenRecreateNoStaleDataNoStaleWriter) {
  Cluster cluster(2);
  ASSERT_TRUE(cluster.start_all()) << cluster.log(0) << cluster.log(1);
  auto c0 = connect_to(cluster.address(0));
  auto c1 = connect_to(cluster.address(1));
  auto w = c0->writer(topic_t());
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  std::vector<Record> batch;
  for (int i = 0; i < 40; ++i) batch.push_back(Record{{"id", i}, {"old", true}});
  ASSERT_TRUE((*w)->put(batch).ok());
  ASSERT_TRUE(c0->flush("t").ok());
  const uint64_t old_incarnation = (*w)->topic().incarnation;
  ASSERT_NE(old_incarnation, 0u);
  for (int i = 0; i < 2; ++i)
    ASSERT_TRUE(std::filesystem::exists(cluster.dir() + "/" + cluster.id(i) + "/t/topic.json")) << i;

  // A reader parked past the end of every bucket.
  auto parked = c1->reader({.topic = "t"});
  ASSERT_TRUE(parked.ok());
  ASSERT_TRUE((*parked)->set_offset(Offset(1000)).ok());
  auto woken = std::async(std::launch::async, [&] { return (*parked)->get(10, true, 60s); });
  for (int i = 0; i < 600 && parked_readers(*c0, "t") < 4; ++i) std::this_thread::sleep_for(20ms);
  ASSERT_EQ(parked_readers(*c0, "t"), 4) << "the reader is not parked in every bucket";
  auto old_reader = c0->reader({.topic = "t"});
  ASSERT_TRUE(old_reader.ok());

  ASSERT_TRUE(c1->delete_topic("t").ok());

  auto got = woken.get();
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), Code::kNotFound) << got.status().to_string();
  for (int i = 0; i < 2; ++i) {
    const std::string data = cluster.dir() + "/" + cluster.id(i);
    EXPECT_FALSE(std::filesystem::exists(data + "/t")) << cluster.id(i);
    for (const auto& e : std::filesystem::directory_iterator(data))
      EXPECT_NE(e.path().filename().string().rfind(".deleted.", 0), 0u) << e.path();
  }
  EXPECT_EQ(c0->topic("t").status().code(), Code::kNotFound);
  auto late = (*w)->put(Record{{"id", 1}});
  EXPECT_EQ(late.status().code(), Code::kNotFound) << late.status().to_string();

  // Created again (through the other node): new, empty, from offset 0.
  auto w2 = c1->writer(topic_t());
  ASSERT_TRUE(w2.ok()) << w2.status().to_string();
  EXPECT_NE((*w2)->topic().incarnation, old_incarnation);
  std::vector<Record> fresh;
  for (int i = 0; i < 8; ++i) fresh.push_back(Record{{"id", i}, {"old", false}});
  PutReport report;
  ASSERT_TRUE((*w2)->put(fresh, &report).ok());
  for (const auto& p : report.parts) EXPECT_EQ(p.first.value(), 0u) << p.bucket.value();

  // The old writer and reader still get NotFound: their requests carry the old incarnation.
  Status stale = (*w)->put(std::vector<Record>{Record{{"id", 1}}, Record{{"id", 2}}});
  EXPECT_EQ(stale.code(), Code::kNotFound) << stale.to_string();
  EXPECT_NE(stale.message().find("was deleted"), std::string::npos) << stale.to_string();
  auto stale_get = (*old_reader)->get(100);
  ASSERT_FALSE(stale_get.ok());
  EXPECT_EQ(stale_get.status().code(), Code::kNotFound);

  auto r = c0->reader({.topic = "t"});
  ASSERT_TRUE(r.ok());
  size_t seen = 0;
  for (int round = 0; round < 10 && seen < fresh.size(); ++round) {
    auto msgs = (*r)->get(100, true, 2s);
    ASSERT_TRUE(msgs.ok()) << msgs.status().to_string();
    for (const auto& m : *msgs) {
      EXPECT_EQ(m.record.find("old")->as_bool(), false);
      ++seen;
    }
  }
  EXPECT_EQ(seen, fresh.size());
  auto st = c0->stats("t");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->find("total_count")->as_int(), static_cast<int64_t>(fresh.size()));
}

TEST(DeleteTopic, UnknownTopicIsNotFoundNamingItAndChangesNothing) {
  Cluster cluster(2);
  ASSERT_TRUE(cluster.start_all()) << cluster.log(0) << cluster.log(1);
  auto c = connect_to(cluster.address(0));
  auto w = c->writer({.topic = "keep", .bucket_column = "id", .num_buckets = 2});
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->put(Record{{"id", 1}}).ok());
  Status s = c->delete_topic("nope");
  EXPECT_EQ(s.code(), Code::kNotFound) << s.to_string();
  EXPECT_NE(s.message().find("'nope'"), std::string::npos) << s.to_string();
  EXPECT_EQ(c->delete_topic("../keep").code(), Code::kInvalidArgument);
  ASSERT_TRUE((*w)->put(Record{{"id", 2}}).ok());
  auto st = c->stats("keep");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->find("total_count")->as_int(), 2);
}

TEST(DeleteTopic, CliDeletesOverServer) {
  Cluster cluster(1);
  ASSERT_TRUE(cluster.start_all()) << cluster.log(0);
  auto c = connect_to(cluster.address(0));
  ASSERT_TRUE(c->writer({.topic = "gone", .bucket_column = "id", .num_buckets = 2}).ok());
  auto out = testing::run_process({PERSISTING_BIN, "topics", "delete", "--topic", "gone", "--server", cluster.address(0)});
  EXPECT_EQ(out.exit_code, 0) << out.out << out.err;
  EXPECT_EQ(c->topic("gone").status().code(), Code::kNotFound);
  auto again = testing::run_process({PERSISTING_BIN, "topics", "delete", "--topic", "gone", "--server", cluster.address(0)});
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.err.find("'gone'"), std::string::npos) << again.out << again.err;
}

}  // namespace
}  // namespace persisting
