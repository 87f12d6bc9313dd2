// The operator rebalance (docs/cluster.md, "Rebalance"): persistingd processes on loopback, a
// topic placed over n1 and n2, then n3 added and `persisting cluster rebalance` run: buckets move
// to n3 with the same per-bucket offsets; a dry run, a rehearsal, a refused run (member down) and
// a run without the token change nothing; a fenced bucket refuses puts and serves reads.
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <thread>

#include "net/node_process.h"
#include "persisting/client.h"
#include "persisting/json.h"
#include "persisting/v1/queue.grpc.pb.h"
#include "queue/partitioning.h"
#include "util/run_process.h"

namespace persisting {
namespace {

using testing::Cluster;
using testing::run_process;
namespace fs = std::filesystem;

constexpr uint32_t kBuckets = 12;

std::unique_ptr<Client> connect_to(const std::string& address, const std::string& token = "") {
  auto c = Client::connect({.server = address, .token = token});
  EXPECT_TRUE(c.ok()) << c.status().to_string();
  return std::move(c).value();
}

std::map<uint32_t, std::string> ownership(const std::string& address, const std::string& topic,
                                          const std::string& token = "") {
  auto st = connect_to(address, token)->cluster_status(topic);
  EXPECT_TRUE(st.ok()) << st.status().to_string();
  std::map<uint32_t, std::string> out;
  if (!st.ok()) return out;
  for (const auto& [k, v] : st->find("ownership")->as_object()) out[std::stoul(k)] = v.as_string();
  return out;
}

// (bucket, offset) -> record id, read from offset 0 of every bucket through a fresh client.
using Contents = std::map<std::pair<uint32_t, uint64_t>, int64_t>;
Contents contents(const std::string& address, const std::string& topic, const std::string& token = "") {
  Contents out;
  auto c = connect_to(address, token);
  auto r = c->reader({.topic = topic});
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  if (!r.ok()) return out;
  for (int i = 0; i < 1000; ++i) {  // bounded
    auto msgs = (*r)->get(500);
    EXPECT_TRUE(msgs.ok()) << msgs.status().to_string();
    if (!msgs.ok() || msgs->empty()) break;
    for (const auto& m : *msgs)
      EXPECT_TRUE(out.emplace(std::make_pair(m.bucket.value(), m.offset.value()), m.record.find("id")->as_int()).second)
          << "bucket " << m.bucket.value() << " offset " << m.offset.value() << " read twice";
  }
  return out;
}

std::map<uint32_t, uint64_t> counts(const Contents& c) {
  std::map<uint32_t, uint64_t> out;
  for (const auto& [pos, id] : c) ++out[pos.first];
  return out;
}

void put_records(const std::string& address, const std::string& topic, const std::string& backend, int64_t from,
                 int64_t to, const std::string& token = "") {
  auto w = connect_to(address, token)->writer(
      {.topic = topic, .bucket_column = "id", .num_buckets = kBuckets, .backend = backend});
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  std::vector<Record> batch;
  for (int64_t k = from; k < to; ++k) batch.push_back(Record{{"id", k}, {"v", "x" + std::to_string(k)}});
  ASSERT_TRUE((*w)->put(batch).ok());
  ASSERT_TRUE((*w)->flush().ok());
}

std::unique_ptr<v1::QueueService::Stub> stub(const std::string& address) {
  return v1::QueueService::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
}

void prepare(grpc::ClientContext* ctx, const std::string& token) {
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  if (!token.empty()) ctx->AddMetadata("authorization", "Bearer " + token);
}

// Creates a topic whose placement is n1 and n2 only, as if it had been created before n3
// joined (the memory backend does not survive the restart that adds a member).
void create_on_two(const std::string& address, const std::string& topic, const std::string& backend,
                   const std::string& token = "") {
  v1::CreateTopicRequest req;
  auto* spec = req.mutable_spec();
  spec->set_topic(topic);
  spec->set_bucket_column("id");
  spec->set_num_buckets(kBuckets);
  spec->set_batch_size(100);
  spec->set_backend(backend);
  spec->add_placement("n1");
  spec->add_placement("n2");
  v1::CreateTopicResponse resp;
  grpc::ClientContext ctx;
  prepare(&ctx, token);
  auto s = stub(address)->CreateTopic(&ctx, req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
}

std::set<uint32_t> bucket_dirs(const std::string& data_dir, const std::string& topic) {
  std::set<uint32_t> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(data_dir + "/" + topic, ec)) {
    std::string n = e.path().filename().string();
    if (n.rfind("bucket_", 0) == 0) out.insert(std::stoul(n.substr(7)));
  }
  return out;
}

Object parse_object(const std::string& json) {
  auto v = parse_json(json);
  EXPECT_TRUE(v.ok() && v->is_object()) << json;
  return v.ok() && v->is_object() ? v->as_object() : Object();
}

// bucket -> {from, to, records} from a rebalance answer.
struct Planned {
  std::string from, to;
  int64_t records;
  bool operator==(const Planned&) const = default;
};
std::map<uint32_t, Planned> moves_of(const Object& o) {
  std::map<uint32_t, Planned> out;
  const Value* moves = o.find("moves");
  if (!moves || !moves->is_list()) return out;
  for (const auto& m : moves->as_list()) {
    const Object& mo = m.as_object();
    out[static_cast<uint32_t>(mo.find("bucket")->as_int())] = {mo.find("from")->as_string(), mo.find("to")->as_string(),
                                                               mo.find("records")->as_int()};
  }
  return out;
}

// A record id (from 100000 up) that routes to bucket b.
int64_t id_for_bucket(const TopicInfo& info, uint32_t b) {
  for (int64_t k = 100000; k < 200000; ++k) {
    auto got = queue::bucket_of(info, Record{{"id", k}});
    if (got.ok() && *got == b) return k;
  }
  ADD_FAILURE() << "no id for bucket " << b;
  return -1;
}

// Waits (bounded) until the node at address sees every member alive: its channels to a
// restarted node reconnect within about a second.
bool all_alive(const std::string& address) {
  for (int i = 0; i < 100; ++i) {
    auto st = connect_to(address)->cluster_status();
    if (!st.ok()) return false;
    bool alive = true;
    for (const auto& m : st->find("members")->as_list()) alive = alive && m.as_object().find("alive")->as_bool();
    if (alive) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

TEST(Rebalance, MovesBucketsOntoAnAddedNodeWithTheSameOffsetsDurableAndMemory) {
  Cluster cluster(3);
  cluster.use_members(2);
  ASSERT_TRUE(cluster.start(0) && cluster.start(1));
  put_records(cluster.address(0), "d", "persisting", 0, 1200);

  // n3 joins: every node now lists three members; "d" keeps its placement over n1, n2. Its
  // placement files are put back in format 1, as a version before rebalancing wrote them.
  EXPECT_EQ(cluster.kill(0, SIGTERM), 0);
  EXPECT_EQ(cluster.kill(1, SIGTERM), 0);
  for (const char* n : {"n1", "n2"}) {
    std::string path = cluster.dir() + "/" + n + "/d/placement.json";
    EXPECT_NE(testing::slurp(path).find("\"format\":2,\"epoch\":1"), std::string::npos) << testing::slurp(path);
    std::ofstream(path, std::ios::trunc) << "{\"format\":1,\"members\":[\"n1\",\"n2\"]}\n";
  }
  cluster.use_members(3);
  ASSERT_TRUE(cluster.start_all());
  create_on_two(cluster.address(0), "m", "memory");
  put_records(cluster.address(1), "m", "memory", 0, 1200);

  const Contents before_d = contents(cluster.address(0), "d");
  const Contents before_m = contents(cluster.address(0), "m");
  ASSERT_EQ(before_d.size(), 1200u);
  ASSERT_EQ(before_m.size(), 1200u);
  const auto owners_d = ownership(cluster.address(0), "d");
  for (const auto& [b, n] : owners_d) ASSERT_NE(n, "n3");
  {
    auto st = connect_to(cluster.address(1))->cluster_status("d");
    ASSERT_TRUE(st.ok()) << st.status().to_string();
    EXPECT_EQ(to_json(*st->find("placement")), "{\"epoch\":1,\"members\":[\"n1\",\"n2\"]}");
  }
  const std::string n3_dir = cluster.dir() + "/n3";

  // Dry run: the plan, and nothing changes.
  auto dry = run_process({PERSISTING_BIN, "cluster", "rebalance", "--server", cluster.address(0), "--topic", "d",
                          "--dry-run"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  Object plan = parse_object(dry.out);
  EXPECT_EQ(plan.find("result")->as_string(), "planned");
  auto planned = moves_of(plan);
  ASSERT_FALSE(planned.empty()) << dry.out;
  auto before_counts = counts(before_d);
  for (const auto& [b, mv] : planned) {
    EXPECT_EQ(mv.to, "n3") << dry.out;
    EXPECT_EQ(mv.from, owners_d.at(b)) << dry.out;
    EXPECT_EQ(mv.records, int64_t(before_counts[b])) << "bucket " << b;
  }
  EXPECT_EQ(ownership(cluster.address(2), "d"), owners_d);
  EXPECT_TRUE(bucket_dirs(n3_dir, "d").empty());

  // The real run, through another node.
  auto run = run_process({PERSISTING_BIN, "cluster", "rebalance", "--server", cluster.address(1), "--topic", "d"});
  ASSERT_EQ(run.exit_code, 0) << run.err << cluster.log(0) << cluster.log(1) << cluster.log(2);
  Object done = parse_object(run.out);
  EXPECT_EQ(done.find("result")->as_string(), "moved") << run.out;
  EXPECT_EQ(moves_of(done), planned) << run.out;
  EXPECT_EQ(done.find("placement")->as_object().find("epoch")->as_int(), 2) << run.out;
  EXPECT_EQ(done.find("dropped")->as_list().size(), planned.size()) << run.out;

  // Every node agrees on the new owners; every record is read once, at its old offset, via any node.
  for (int via = 0; via < 3; ++via) {
    auto owners = ownership(cluster.address(via), "d");
    for (const auto& [b, n] : owners) EXPECT_EQ(n, planned.count(b) ? "n3" : owners_d.at(b)) << "bucket " << b;
    EXPECT_EQ(contents(cluster.address(via), "d"), before_d) << "via " << cluster.id(via);
  }
  // The moved buckets' files are on n3 and no longer on the old owners.
  std::set<uint32_t> moved;
  for (const auto& [b, mv] : planned) moved.insert(b);
  EXPECT_EQ(bucket_dirs(n3_dir, "d"), moved);
  for (int i = 0; i < 2; ++i)
    for (uint32_t b : bucket_dirs(cluster.dir() + "/" + cluster.id(i), "d")) EXPECT_FALSE(moved.count(b)) << b;

  // A new put to a moved bucket lands on n3 with the next offset.
  const uint32_t mb = *moved.begin();
  auto w = connect_to(cluster.address(0))->writer({.topic = "d", .bucket_column = "id", .num_buckets = kBuckets,
                                                   .backend = "persisting"});
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  const int64_t new_id = id_for_bucket((*w)->topic(), mb);
  auto pos = (*w)->put(Record{{"id", new_id}});
  ASSERT_TRUE(pos.ok()) << pos.status().to_string();
  EXPECT_EQ(pos->bucket.value(), mb);
  EXPECT_EQ(pos->offset.value(), before_counts[mb]);
  auto stats = connect_to(cluster.address(2))->stats("d");
  ASSERT_TRUE(stats.ok()) << stats.status().to_string();
  for (const auto& bs : stats->find("buckets")->as_list()) {
    const Object& o = bs.as_object();
    if (o.find("bucket")->as_int() == mb) {
      EXPECT_EQ(o.find("node")->as_string(), "n3");
      EXPECT_EQ(o.find("total_count")->as_int(), int64_t(before_counts[mb] + 1));
    }
  }
  Contents after_d = before_d;
  after_d[{mb, before_counts[mb]}] = new_id;

  // Again: nothing to move.
  auto again = run_process({PERSISTING_BIN, "cluster", "rebalance", "--server", cluster.address(2), "--topic", "d"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  Object second = parse_object(again.out);
  EXPECT_EQ(second.find("result")->as_string(), "nothing to move") << again.out;
  EXPECT_TRUE(moves_of(second).empty());
  EXPECT_EQ(second.find("placement")->as_object().find("epoch")->as_int(), 2) << again.out;

  // The memory backend moves the same way (through the client API).
  auto c = connect_to(cluster.address(0));
  auto mem = c->rebalance("m");
  ASSERT_TRUE(mem.ok()) << mem.status().to_string();
  EXPECT_EQ(mem->find("result")->as_string(), "moved");
  auto mem_moves = moves_of(*mem);
  ASSERT_FALSE(mem_moves.empty());
  for (const auto& [b, mv] : mem_moves) EXPECT_EQ(mv.to, "n3");
  for (int via = 0; via < 3; ++via) EXPECT_EQ(contents(cluster.address(via), "m"), before_m) << "via " << cluster.id(via);

  // Restarted, every node keeps the new placement of the durable topic (placement.json).
  for (int i = 0; i < 3; ++i) EXPECT_EQ(cluster.kill(i, SIGTERM), 0) << cluster.log(i);
  ASSERT_TRUE(cluster.start_all());
  for (int via = 0; via < 3; ++via) {
    auto owners = ownership(cluster.address(via), "d");
    for (const auto& [b, n] : owners) EXPECT_EQ(n, planned.count(b) ? "n3" : owners_d.at(b)) << "bucket " << b;
  }
  EXPECT_EQ(contents(cluster.address(1), "d"), after_d);
  std::string placement = testing::slurp(cluster.dir() + "/n1/d/placement.json");
  EXPECT_NE(placement.find("\"format\":2"), std::string::npos) << placement;
  EXPECT_NE(placement.find("\"epoch\":2"), std::string::npos) << placement;
}

// Producers and a consumer keep going while the buckets move: a put refused by a fence
// (retryable UNAVAILABLE) was not applied and is sent again; in the end every record is in the
// topic exactly once, at dense offsets, and the consumer saw each once, in bucket order.
TEST(Rebalance, ProducersAndAConsumerKeepGoingWhileBucketsMove) {
  Cluster cluster(3);
  ASSERT_TRUE(cluster.start_all());
  create_on_two(cluster.address(0), "live", "persisting");
  constexpr int kProducers = 2, kPerProducer = 600;
  std::atomic<int> written{0};
  std::vector<Status> producer_status(kProducers);
  std::vector<int> refused(kProducers, 0);
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      auto c = connect_to(cluster.address(p));
      auto w = c->writer({.topic = "live", .bucket_column = "id", .num_buckets = kBuckets, .backend = "persisting"});
      if (!w.ok()) {
        producer_status[p] = w.status();
        return;
      }
      for (int i = 0; i < kPerProducer; ++i) {
        // One record per put: a refused put names one bucket, so sending it again cannot
        // duplicate another bucket's part.
        Record r{{"id", int64_t(p) * 1000000 + i}};
        Status s;
        for (int attempt = 0; attempt < 100; ++attempt) {  // bounded
          auto pos = (*w)->put(r);
          s = pos.status();
          if (s.ok() || s.code() != Code::kUnavailable) break;
          ++refused[p];
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        if (!s.ok()) {
          producer_status[p] = s;
          return;
        }
        ++written;
      }
    });
  }
  std::map<uint32_t, uint64_t> next;
  std::set<int64_t> consumed;
  Status consumer_status;
  std::atomic<bool> producing{true};
  std::thread consumer([&] {
    auto c = connect_to(cluster.address(2));
    auto r = c->reader({.topic = "live"});
    if (!r.ok()) {
      consumer_status = r.status();
      return;
    }
    int idle = 0, errors = 0;
    while ((producing || idle < 3) && errors < 100) {  // bounded: 100 errors, or 3 empty reads after the producers
      auto msgs = (*r)->get(200, /*wait=*/true, std::chrono::milliseconds(500));
      if (!msgs.ok()) {
        ++errors;  // a read may fail while an owner switches: the reader asks again
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        continue;
      }
      idle = msgs->empty() ? idle + 1 : 0;
      for (const auto& m : *msgs) {
        if (m.offset.value() != next[m.bucket.value()]++)
          consumer_status = Internal("bucket " + std::to_string(m.bucket.value()) + " offset " +
                                     std::to_string(m.offset.value()) + " out of order");
        if (!consumed.insert(m.record.find("id")->as_int()).second)
          consumer_status = Internal("id " + std::to_string(m.record.find("id")->as_int()) + " read twice");
      }
    }
  });

  for (int i = 0; i < 400 && written < kProducers * kPerProducer / 4; ++i)  // bounded
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const int written_before = written;
  auto moved = connect_to(cluster.address(0))->rebalance("live");
  const int written_after = written;
  for (auto& t : producers) t.join();
  producing = false;
  consumer.join();
  ASSERT_TRUE(moved.ok()) << moved.status().to_string();
  EXPECT_EQ(moved->find("result")->as_string(), "moved");
  for (const auto& s : producer_status) ASSERT_TRUE(s.ok()) << s.to_string();
  EXPECT_TRUE(consumer_status.ok()) << consumer_status.to_string();
  // Not an assertion (timing): how much the move overlapped the writes.
  std::cout << "records written before the rebalance: " << written_before << ", during it: "
            << written_after - written_before << ", puts refused by fences: " << refused[0] + refused[1] << "\n";

  std::set<int64_t> all;
  for (int p = 0; p < kProducers; ++p)
    for (int i = 0; i < kPerProducer; ++i) all.insert(int64_t(p) * 1000000 + i);
  EXPECT_EQ(consumed, all);
  for (int via = 0; via < 3; ++via) {
    Contents got = contents(cluster.address(via), "live");
    std::set<int64_t> ids;
    for (const auto& [pos, id] : got) ids.insert(id);
    EXPECT_EQ(got.size(), all.size()) << "via " << cluster.id(via);
    EXPECT_EQ(ids, all) << "via " << cluster.id(via);
  }
}

// A switch that reached the old owners but not the new one (as when the coordinator dies between
// the SetPlacement calls), done here step by step with the step RPCs: the next run finds the
// higher epoch, brings n3 up to it, has nothing to move, and deletes the old copies.
TEST(Rebalance, AnInterruptedSwitchIsFinishedByTheNextRun) {
  Cluster cluster(3);
  ASSERT_TRUE(cluster.start_all());
  create_on_two(cluster.address(0), "s", "persisting");
  put_records(cluster.address(0), "s", "persisting", 0, 600);
  const Contents before = contents(cluster.address(0), "s");
  auto c = connect_to(cluster.address(0));
  auto plan = c->rebalance("s", {.dry_run = true});
  ASSERT_TRUE(plan.ok()) << plan.status().to_string();
  auto planned = moves_of(*plan);
  ASSERT_FALSE(planned.empty());

  std::map<std::string, std::map<uint32_t, uint64_t>> expect;  // old owner -> bucket -> records
  for (const auto& [b, mv] : planned) {
    v1::FenceBucketRequest f;
    f.set_topic("s");
    f.set_bucket(b);
    f.set_target("n3");
    v1::FenceBucketResponse fresp;
    {
      grpc::ClientContext ctx;
      prepare(&ctx, "");
      auto st = stub(cluster.address(cluster.index_of(mv.from)))->FenceBucket(&ctx, f, &fresp);
      ASSERT_TRUE(st.ok()) << st.error_message();
    }
    v1::CopyBucketRequest cp;
    cp.set_topic("s");
    cp.set_bucket(b);
    cp.mutable_source()->set_id(mv.from);
    cp.mutable_source()->set_address(cluster.address(cluster.index_of(mv.from)));
    cp.set_restart(true);
    cp.set_until(fresp.records());
    v1::CopyBucketResponse cresp;
    grpc::ClientContext ctx;
    prepare(&ctx, "");
    auto st = stub(cluster.address(2))->CopyBucket(&ctx, cp, &cresp);
    ASSERT_TRUE(st.ok()) << st.error_message();
    ASSERT_EQ(cresp.records(), fresp.records());
    expect[mv.from][b] = fresp.records();
  }
  // Fences are stored: an old owner restarted now still refuses puts to its moving bucket.
  {
    const auto& [fb, fmv] = *planned.begin();
    const int oi = cluster.index_of(fmv.from);
    EXPECT_EQ(cluster.kill(oi, SIGTERM), 0);
    EXPECT_NE(testing::slurp(cluster.dir() + "/" + fmv.from + "/s/fences.json").find("\"" + std::to_string(fb) + "\":\"n3\""),
              std::string::npos);
    ASSERT_TRUE(cluster.start(oi)) << cluster.log(oi);
    auto w = connect_to(cluster.address(oi))->writer(
        {.topic = "s", .bucket_column = "id", .num_buckets = kBuckets, .backend = "persisting"});
    ASSERT_TRUE(w.ok()) << w.status().to_string();
    auto refused = (*w)->put(Record{{"id", id_for_bucket((*w)->topic(), fb)}});
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.status().code(), Code::kUnavailable) << refused.status().to_string();
    EXPECT_NE(refused.status().message().find("is moving to n3"), std::string::npos) << refused.status().to_string();
    ASSERT_TRUE(all_alive(cluster.address(0)));
  }
  for (const auto& [node, buckets] : expect) {
    v1::SetPlacementRequest sp;
    sp.set_topic("s");
    sp.set_epoch(2);
    for (const char* id : {"n1", "n2", "n3"}) sp.add_members(id);
    for (const auto& [b, n] : buckets) {
      auto* e = sp.add_expect();
      e->set_bucket(b);
      e->set_offset(n);
    }
    v1::SetPlacementResponse spr;
    grpc::ClientContext ctx;
    prepare(&ctx, "");
    auto st = stub(cluster.address(cluster.index_of(node)))->SetPlacement(&ctx, sp, &spr);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  // n3 has not switched: it still sends the moved buckets' clients to the old owners.
  for (const auto& [b, n] : ownership(cluster.address(2), "s")) EXPECT_NE(n, "n3");

  auto finished = c->rebalance("s");
  ASSERT_TRUE(finished.ok()) << finished.status().to_string();
  EXPECT_EQ(finished->find("result")->as_string(), "nothing to move");
  EXPECT_EQ(finished->find("placement")->as_object().find("epoch")->as_int(), 2);
  EXPECT_EQ(finished->find("dropped")->as_list().size(), planned.size()) << to_json(*finished);
  std::set<uint32_t> moved;
  for (const auto& [b, mv] : planned) moved.insert(b);
  for (int via = 0; via < 3; ++via) {
    for (const auto& [b, n] : ownership(cluster.address(via), "s"))
      if (moved.count(b)) {
        EXPECT_EQ(n, "n3") << "bucket " << b << " via " << cluster.id(via);
      }
    EXPECT_EQ(contents(cluster.address(via), "s"), before) << "via " << cluster.id(via);
  }
  EXPECT_EQ(bucket_dirs(cluster.dir() + "/n3", "s"), moved);
  for (int i = 0; i < 2; ++i) {
    for (uint32_t b : bucket_dirs(cluster.dir() + "/" + cluster.id(i), "s")) EXPECT_FALSE(moved.count(b)) << b;
    EXPECT_FALSE(fs::exists(cluster.dir() + "/" + cluster.id(i) + "/s/fences.json"));  // lifted with the copies
  }
}

TEST(Rebalance, RefusedWithAMemberDownRehearsalUndoesAndAPartialCopyIsReplaced) {
  Cluster cluster(3);
  ASSERT_TRUE(cluster.start_all());
  create_on_two(cluster.address(0), "r", "persisting");
  put_records(cluster.address(0), "r", "persisting", 0, 1200);
  const Contents before = contents(cluster.address(0), "r");
  ASSERT_EQ(before.size(), 1200u);
  const auto owners = ownership(cluster.address(0), "r");
  const std::string n3_dir = cluster.dir() + "/n3";

  // n3 down: refused, naming it; nothing changes.
  EXPECT_EQ(cluster.kill(2, SIGKILL), -1);
  auto refused = run_process({PERSISTING_BIN, "cluster", "rebalance", "--server", cluster.address(0), "--topic", "r"});
  EXPECT_EQ(refused.exit_code, 1) << refused.out;
  EXPECT_NE(refused.err.find("member n3"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("is down"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("nothing was changed"), std::string::npos) << refused.err;
  EXPECT_EQ(ownership(cluster.address(1), "r"), owners);
  EXPECT_EQ(contents(cluster.address(1), "r"), before);
  ASSERT_TRUE(cluster.start(2)) << cluster.log(2);
  ASSERT_TRUE(all_alive(cluster.address(0)));

  // A rehearsal fences, copies and verifies, then undoes it all: owners unchanged, no fence
  // left (puts to every moving bucket land at the next offset on the old owner), no copy left.
  auto c = connect_to(cluster.address(0));
  auto rehearsal = c->rebalance("r", {.rehearse = true});
  ASSERT_TRUE(rehearsal.ok()) << rehearsal.status().to_string();
  EXPECT_EQ(rehearsal->find("result")->as_string(), "rehearsed");
  auto planned = moves_of(*rehearsal);
  ASSERT_FALSE(planned.empty());
  auto before_counts = counts(before);
  for (const auto& [b, mv] : planned) EXPECT_EQ(mv.records, int64_t(before_counts[b])) << "bucket " << b;
  EXPECT_EQ(ownership(cluster.address(2), "r"), owners);
  EXPECT_TRUE(bucket_dirs(n3_dir, "r").empty());
  auto w = c->writer({.topic = "r", .bucket_column = "id", .num_buckets = kBuckets, .backend = "persisting"});
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  Contents expected = before;
  for (const auto& [b, mv] : planned) {
    int64_t id = id_for_bucket((*w)->topic(), b);
    auto pos = (*w)->put(Record{{"id", id}});
    ASSERT_TRUE(pos.ok()) << pos.status().to_string();
    EXPECT_EQ(pos->offset.value(), before_counts[b]);
    expected[{b, before_counts[b]}] = id;
  }
  EXPECT_EQ(contents(cluster.address(2), "r"), expected);

  // A partial copy left on n3 (as by a rebalance that died mid-copy) is replaced by the next run.
  const uint32_t pb = planned.begin()->first;
  {
    v1::CopyBucketRequest req;
    req.set_topic("r");
    req.set_bucket(pb);
    req.mutable_source()->set_id(planned.begin()->second.from);
    req.mutable_source()->set_address(cluster.address(cluster.index_of(planned.begin()->second.from)));
    req.set_restart(true);
    req.set_until(3);
    v1::CopyBucketResponse resp;
    grpc::ClientContext ctx;
    prepare(&ctx, "");
    auto s = stub(cluster.address(2))->CopyBucket(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.records(), 3u);
    EXPECT_EQ(bucket_dirs(n3_dir, "r"), std::set<uint32_t>{pb});
  }
  auto moved = c->rebalance("r");
  ASSERT_TRUE(moved.ok()) << moved.status().to_string();
  EXPECT_EQ(moved->find("result")->as_string(), "moved");
  for (int via = 0; via < 3; ++via) EXPECT_EQ(contents(cluster.address(via), "r"), expected) << "via " << cluster.id(via);
  std::set<uint32_t> moved_buckets;
  for (const auto& [b, mv] : moves_of(*moved)) moved_buckets.insert(b);
  EXPECT_EQ(bucket_dirs(n3_dir, "r"), moved_buckets);
}

TEST(Rebalance, FencedBucketRefusesPutsServesReadsAndAdminRpcsNeedTheToken) {
  const std::string token = "s3cret";
  Cluster cluster(3, {"--token", token});
  ASSERT_TRUE(cluster.start_all());
  create_on_two(cluster.address(0), "f", "memory", token);
  put_records(cluster.address(0), "f", "memory", 0, 600, token);
  const Contents before = contents(cluster.address(0), "f", token);
  const auto owners = ownership(cluster.address(0), "f", token);

  // Without the token every admin RPC is refused and nothing changes.
  auto st = stub(cluster.address(0));
  auto unauthenticated = [&](auto call) {
    grpc::ClientContext ctx;
    prepare(&ctx, "");
    grpc::Status s = call(&ctx);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  };
  {
    v1::RebalanceRequest r;
    r.set_topic("f");
    v1::RebalanceResponse resp;
    unauthenticated([&](grpc::ClientContext* ctx) { return st->Rebalance(ctx, r, &resp); });
    v1::FenceBucketRequest f;
    f.set_topic("f");
    f.set_target("n3");
    v1::FenceBucketResponse fresp;
    unauthenticated([&](grpc::ClientContext* ctx) { return st->FenceBucket(ctx, f, &fresp); });
    v1::CopyBucketRequest c;
    c.set_topic("f");
    v1::CopyBucketResponse cresp;
    unauthenticated([&](grpc::ClientContext* ctx) { return st->CopyBucket(ctx, c, &cresp); });
    v1::SetPlacementRequest p;
    p.set_topic("f");
    p.set_epoch(9);
    p.add_members("n1");
    v1::SetPlacementResponse presp;
    unauthenticated([&](grpc::ClientContext* ctx) { return st->SetPlacement(ctx, p, &presp); });
    v1::DropBucketsRequest d;
    d.set_topic("f");
    d.set_not_owned(true);
    v1::DropBucketsResponse dresp;
    unauthenticated([&](grpc::ClientContext* ctx) { return st->DropBuckets(ctx, d, &dresp); });
  }
  // Usage errors exit 2: no topic; --dry-run with --rehearse.
  EXPECT_EQ(run_process({PERSISTING_BIN, "cluster", "rebalance", "--server", cluster.address(0)}).exit_code, 2);
  EXPECT_EQ(run_process({PERSISTING_BIN, "cluster", "rebalance", "--server", cluster.address(0), "--topic", "f",
                         "--dry-run", "--rehearse"})
                .exit_code,
            2);
  auto no_token = run_process({PERSISTING_BIN, "cluster", "rebalance", "--server", cluster.address(0), "--topic", "f"});
  EXPECT_EQ(no_token.exit_code, 1);
  EXPECT_NE(no_token.err.find("token"), std::string::npos) << no_token.err;
  EXPECT_EQ(ownership(cluster.address(2), "f", token), owners);
  EXPECT_EQ(contents(cluster.address(2), "f", token), before);

  // A fenced bucket: puts get a retryable Unavailable naming the new owner; reads go on.
  const uint32_t b = 0;
  const std::string& owner = owners.at(b);
  auto owner_stub = stub(cluster.address(cluster.index_of(owner)));
  {
    v1::FenceBucketRequest f;
    f.set_topic("f");
    f.set_bucket(b);
    f.set_target("n3");
    v1::FenceBucketResponse resp;
    grpc::ClientContext ctx;
    prepare(&ctx, token);
    auto s = owner_stub->FenceBucket(&ctx, f, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.records(), counts(before)[b]);
  }
  auto c = connect_to(cluster.address(1), token);
  auto w = c->writer({.topic = "f", .bucket_column = "id", .num_buckets = kBuckets, .backend = "memory"});
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  const int64_t id = id_for_bucket((*w)->topic(), b);
  auto refused = (*w)->put(Record{{"id", id}});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kUnavailable) << refused.status().to_string();
  EXPECT_NE(refused.status().message().find("bucket 0 is moving to n3"), std::string::npos)
      << refused.status().to_string();
  auto r = c->reader({.topic = "f", .buckets = {b}});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  auto msgs = (*r)->get(10000);
  ASSERT_TRUE(msgs.ok()) << msgs.status().to_string();
  EXPECT_EQ(msgs->size(), counts(before)[b]);
  {
    v1::FenceBucketRequest f;
    f.set_topic("f");
    f.set_bucket(b);
    f.set_lift(true);
    v1::FenceBucketResponse resp;
    grpc::ClientContext ctx;
    prepare(&ctx, token);
    ASSERT_TRUE(owner_stub->FenceBucket(&ctx, f, &resp).ok());
  }
  auto pos = (*w)->put(Record{{"id", id}});
  ASSERT_TRUE(pos.ok()) << pos.status().to_string();
  EXPECT_EQ(pos->offset.value(), counts(before)[b]);

  // An old owner refuses to switch when its bucket does not hold what was copied, and stays the
  // owner, unfenced.
  {
    v1::SetPlacementRequest p;
    p.set_topic("f");
    p.set_epoch(2);
    for (const char* id : {"n1", "n2", "n3"}) p.add_members(id);
    auto* e = p.add_expect();
    e->set_bucket(b);
    e->set_offset(counts(before)[b]);  // one put has landed since
    v1::SetPlacementResponse resp;
    grpc::ClientContext ctx;
    prepare(&ctx, token);
    auto s = owner_stub->SetPlacement(&ctx, p, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
    EXPECT_NE(s.error_message().find("the switch is refused"), std::string::npos) << s.error_message();
  }
  EXPECT_EQ(ownership(cluster.address(cluster.index_of(owner)), "f", token), owners);
  auto pos2 = (*w)->put(Record{{"id", id + 1000000}});  // any record: just check puts go on
  ASSERT_TRUE(pos2.ok()) << pos2.status().to_string();
  const int64_t id2 = id + 1000000;
  const Position where2 = *pos2;

  // A put applied by an old owner just before the move, retried (same producer and sequence)
  // after it, is answered by the new owner as a duplicate: the deduplication entries move too.
  auto plan = connect_to(cluster.address(0), token)->rebalance("f", {.dry_run = true});
  ASSERT_TRUE(plan.ok()) << plan.status().to_string();
  auto planned = moves_of(*plan);
  ASSERT_FALSE(planned.empty());
  const uint32_t mb = planned.begin()->first;
  // A record of bucket mb other than the one id_for_bucket gives (that one is put above).
  int64_t dedup_id = -1;
  for (int64_t k = id_for_bucket((*w)->topic(), mb) + 1; k < 300000 && dedup_id < 0; ++k) {
    auto got = queue::bucket_of((*w)->topic(), Record{{"id", k}});
    if (got.ok() && *got == mb) dedup_id = k;
  }
  ASSERT_GE(dedup_id, 0);
  v1::PutRequest retried;
  retried.set_topic("f");
  retried.set_producer_id(77);
  {
    auto* br = retried.add_buckets();
    br->set_bucket(mb);
    br->set_sequence(1);
    RecordBatch batch;
    batch.add(Record{{"id", dedup_id}});
    br->mutable_run()->set_records(std::string(batch.data()));
    for (uint32_t e : batch.ends()) br->mutable_run()->add_ends(e);
  }
  uint64_t first_offset = 0;
  {
    v1::PutResponse resp;
    grpc::ClientContext ctx;
    prepare(&ctx, token);
    auto s = stub(cluster.address(cluster.index_of(owners.at(mb))))->Put(&ctx, retried, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_EQ(resp.buckets_size(), 1);
    EXPECT_FALSE(resp.buckets(0).duplicate());
    first_offset = resp.buckets(0).first_offset();
  }

  // With the token the CLI moves the buckets.
  auto with_token = run_process(
      {PERSISTING_BIN, "cluster", "rebalance", "--server", cluster.address(0), "--topic", "f", "--token", token});
  ASSERT_EQ(with_token.exit_code, 0) << with_token.err;
  Object done = parse_object(with_token.out);
  EXPECT_EQ(done.find("result")->as_string(), "moved") << with_token.out;
  Contents expected = before;
  expected[{b, counts(before)[b]}] = id;
  expected[{where2.bucket.value(), where2.offset.value()}] = id2;
  expected[{mb, first_offset}] = dedup_id;
  EXPECT_EQ(moves_of(done).count(mb), 1u);
  {
    v1::PutResponse resp;
    grpc::ClientContext ctx;
    prepare(&ctx, token);
    auto s = stub(cluster.address(2))->Put(&ctx, retried, &resp);  // n3 owns mb now
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_EQ(resp.buckets_size(), 1);
    EXPECT_TRUE(resp.buckets(0).duplicate());
    EXPECT_EQ(resp.buckets(0).first_offset(), first_offset);
  }
  EXPECT_EQ(contents(cluster.address(2), "f", token), expected);

  // A fence left behind (as by a coordinator that died after fencing) is lifted by the next run,
  // even with nothing to move.
  const auto now_owners = ownership(cluster.address(0), "f", token);
  {
    v1::FenceBucketRequest f;
    f.set_topic("f");
    f.set_bucket(b);
    f.set_target("n9");
    v1::FenceBucketResponse resp;
    grpc::ClientContext ctx;
    prepare(&ctx, token);
    ASSERT_TRUE(stub(cluster.address(cluster.index_of(now_owners.at(b))))->FenceBucket(&ctx, f, &resp).ok());
  }
  auto stuck = (*w)->put(Record{{"id", id}});
  ASSERT_FALSE(stuck.ok());
  EXPECT_NE(stuck.status().message().find("is moving to n9"), std::string::npos) << stuck.status().to_string();
  auto again = connect_to(cluster.address(1), token)->rebalance("f");
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  EXPECT_EQ(again->find("result")->as_string(), "nothing to move");
  auto unstuck = (*w)->put(Record{{"id", id}});
  ASSERT_TRUE(unstuck.ok()) << unstuck.status().to_string();
}

}  // namespace
}  // namespace persisting
