// The node log: one WAL shared by many streams. Round trips by stream, attach past what the owner
// holds, one group commit for many streams, segments freed once no stream needs them, the
// stream that holds the log back asked to flush and named when the log is full, and a fully
// checkpointed log that keeps no copy of the records.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <optional>
#include <thread>

#include "storage/wal/node_log.h"
#include "storage/wal/wal_format.h"
#include "tests/util/fault_env.h"
#include "tests/util/manual_scheduler.h"
#include "tests/wal/node_log_test_util.h"

namespace persisting::wal {
namespace {

using testing::attach_all;
using testing::count_of;
using testing::eventually;
using testing::expect_stream_prefix;
using testing::recover_streams_copy;
using testing::ScratchDir;
using testing::stream_batch;
using testing::stream_record;
using testing::StreamRecords;

std::unique_ptr<NodeLog> open_log(const std::string& dir, NodeLogOptions o = {}, NodeLogReport* report = nullptr) {
  auto log = NodeLog::open(dir, o, report);
  EXPECT_TRUE(log.ok()) << log.status().to_string();
  return log.ok() ? std::move(*log) : nullptr;
}

ReplayFn ignore() {
  return [](Offset, std::string_view) { return Status::OK(); };
}

// Options whose log writes a group on the caller's thread (as the persisting backend's), on env.
NodeLogOptions caller_commits_on(Env* env) {
  NodeLogOptions o;
  o.wal.env = env;
  o.caller_commits = true;
  return o;
}

TEST(NodeLogTest, RecordsComeBackByStreamAfterAReopen) {
  ScratchDir d;
  {
    auto log = open_log(d.path());
    ASSERT_TRUE(log);
    for (const char* s : {"a", "b", "c"}) ASSERT_TRUE(log->attach(s, Offset(0), ignore(), {}).ok());
    uint64_t next[3] = {0, 0, 0};
    for (int round = 0; round < 5; ++round) {
      for (int i = 0; i < 3; ++i) {
        const std::string s(1, static_cast<char>('a' + i));
        const size_t n = 1 + (round + i) % 3;
        auto first = log->append(s, stream_batch(s, next[i], n));
        ASSERT_TRUE(first.ok()) << first.status().to_string();
        EXPECT_EQ(first->value(), next[i]);
        next[i] += n;
      }
    }
    EXPECT_EQ(log->stream_end("b"), Offset(next[1]));
    ASSERT_TRUE(log->close().ok());
  }
  NodeLogReport report;
  auto log = open_log(d.path(), {}, &report);
  ASSERT_TRUE(log);
  EXPECT_EQ(report.entries, 15u);
  EXPECT_EQ(log->unattached_streams(), (std::vector<std::string>{"a", "b", "c"}));
  StreamRecords got;
  ASSERT_TRUE(attach_all(log.get(), &got).ok());
  for (const char* s : {"a", "b", "c"}) {
    expect_stream_prefix(got, s, 0);
    EXPECT_EQ(count_of(got, s), report.stream_records[s]);
  }
  EXPECT_EQ(count_of(got, "a"), 1u + 2 + 3 + 1 + 2);
  // Appends continue each stream where it ended.
  auto first = log->append("a", stream_batch("a", 9, 1));
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->value(), 9u);
}

TEST(NodeLogTest, AttachReplaysOnlyWhatTheOwnerDoesNotHold) {
  ScratchDir d;
  {
    auto log = open_log(d.path());
    ASSERT_TRUE(log);
    ASSERT_TRUE(log->attach("s", Offset(0), ignore(), {}).ok());
    for (uint64_t i = 0; i < 10; i += 2) ASSERT_TRUE(log->append("s", stream_batch("s", i, 2)).ok());
  }
  auto log = open_log(d.path());
  ASSERT_TRUE(log);
  std::vector<uint64_t> offsets;
  auto end = log->attach("s", Offset(5), [&](Offset o, std::string_view r) {
    EXPECT_EQ(r, stream_record("s", o.value()));
    offsets.push_back(o.value());
    return Status::OK();
  }, {});
  ASSERT_TRUE(end.ok()) << end.status().to_string();
  EXPECT_EQ(*end, Offset(10));
  EXPECT_EQ(offsets, (std::vector<uint64_t>{5, 6, 7, 8, 9}));
  // The owner holding more than the log (its records went elsewhere directly) is no error.
  auto more = log->attach("t", Offset(42), ignore(), {});
  ASSERT_TRUE(more.ok());
  EXPECT_EQ(*more, Offset(42));
  EXPECT_EQ(log->append("t", stream_batch("t", 42, 1)).value(), Offset(42));
}

TEST(NodeLogTest, AttachCanHandTheRecordsOverAsBatches) {
  ScratchDir d;
  {
    auto log = open_log(d.path());
    ASSERT_TRUE(log);
    ASSERT_TRUE(log->attach("s", Offset(0), ignore(), {}).ok());
    for (uint64_t i = 0; i < 12; i += 3) ASSERT_TRUE(log->append("s", stream_batch("s", i, 3)).ok());
  }
  auto log = open_log(d.path());
  ASSERT_TRUE(log);
  std::vector<RecordBatch> batches;
  auto end = log->attach_batches("s", Offset(4), &batches, {});
  ASSERT_TRUE(end.ok()) << end.status().to_string();
  EXPECT_EQ(*end, Offset(12));
  uint64_t o = 4;
  for (const auto& b : batches) {
    for (size_t i = 0; i < b.size(); ++i, ++o) EXPECT_EQ(b.encoded(i), stream_record("s", o));
  }
  EXPECT_EQ(o, 12u);
  // The four small entries were replayed into one run (kMaxJoinedRunBytes): one batch, whose
  // records below 4 were dropped.
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(batches[0].size(), 8u);
}

// A process that reads a log it does not write takes each unattached stream's records out as
// they were recovered, from the stream's first entry on; nothing is checkpointed or freed, so the
// next open (the next writer) recovers the same records.
TEST(NodeLogTest, TakeParkedHandsOutWhatRecoveryFoundAndChangesNothing) {
  ScratchDir d;
  {
    auto log = open_log(d.path());
    ASSERT_TRUE(log);
    ASSERT_TRUE(log->attach("s", Offset(0), ignore(), {}).ok());
    ASSERT_TRUE(log->attach("t", Offset(0), ignore(), {}).ok());
    for (uint64_t i = 0; i < 12; i += 3) ASSERT_TRUE(log->append("s", stream_batch("s", i, 3)).ok());
    ASSERT_TRUE(log->append("t", stream_batch("t", 0, 2)).ok());
    ASSERT_TRUE(log->checkpoint("t", Offset(2)).ok());  // frees nothing: s needs the segment
  }
  for (int round = 0; round < 2; ++round) {
    auto log = open_log(d.path());
    ASSERT_TRUE(log);
    const Offset lsn = log->next_lsn();
    auto runs = log->take_parked("s");
    uint64_t o = 0;
    for (const auto& [first, records] : runs) {
      EXPECT_EQ(first, Offset(o));
      for (size_t i = 0; i < records.size(); ++i, ++o) EXPECT_EQ(records.encoded(i), stream_record("s", o));
    }
    EXPECT_EQ(o, 12u) << "round " << round;
    EXPECT_TRUE(log->take_parked("s").empty());  // moved out
    EXPECT_TRUE(log->take_parked("nosuch").empty());
    EXPECT_EQ(log->next_lsn(), lsn);
    ASSERT_TRUE(log->close().ok());
  }
}

TEST(NodeLogTest, RecordsMissingBeforeTheLogIsCorruptionNamingTheStream) {
  ScratchDir d;
  {
    auto log = open_log(d.path());
    ASSERT_TRUE(log);
    ASSERT_TRUE(log->attach("topic/3", Offset(5), ignore(), {}).ok());  // the owner holds 0..4
    ASSERT_TRUE(log->append("topic/3", stream_batch("topic/3", 5, 3)).ok());
  }
  auto log = open_log(d.path());
  ASSERT_TRUE(log);
  auto bad = log->attach("topic/3", Offset(2), ignore(), {});  // the owner lost 2..4?
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kCorruption);
  EXPECT_NE(bad.status().message().find("stream 'topic/3'"), std::string::npos) << bad.status().message();
  EXPECT_NE(bad.status().message().find("records missing"), std::string::npos) << bad.status().message();
  // Nothing was taken: an attach from the right place still gets the records.
  size_t n = 0;
  auto end = log->attach("topic/3", Offset(5), [&](Offset, std::string_view) {
    ++n;
    return Status::OK();
  }, {});
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(n, 3u);
  EXPECT_EQ(*end, Offset(8));
}

TEST(NodeLogTest, AStreamIsAttachedOnceAndAppendsNeedAnAttach) {
  ScratchDir d;
  auto log = open_log(d.path());
  ASSERT_TRUE(log);
  auto r = log->append("x", stream_batch("x", 0, 1));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kFailedPrecondition);
  ASSERT_TRUE(log->attach("x", Offset(0), ignore(), {}).ok());
  auto again = log->attach("x", Offset(0), ignore(), {});
  EXPECT_EQ(again.status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(log->attach(std::string(2000, 'n'), Offset(0), ignore(), {}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(log->append("x", RecordBatch()).value(), Offset(0));  // empty: nothing written
  EXPECT_EQ(log->next_lsn(), Offset(0));
}

TEST(NodeLogTest, ADetachedStreamGetsItsUnflushedRecordsBackAtTheNextAttach) {
  ScratchDir d;
  auto log = open_log(d.path());
  ASSERT_TRUE(log);
  ASSERT_TRUE(log->attach("s", Offset(0), ignore(), {}).ok());
  ASSERT_TRUE(log->append("s", stream_batch("s", 0, 6)).ok());
  ASSERT_TRUE(log->checkpoint("s", Offset(2)).ok());
  // A clean close without a flush: the owner hands back what is not held elsewhere yet.
  RecordBatch unflushed;
  for (uint64_t o = 2; o < 6; ++o) unflushed.add_encoded(stream_record("s", o));
  log->detach("s", Offset(2), std::move(unflushed));
  EXPECT_EQ(log->unattached_streams(), (std::vector<std::string>{"s"}));
  std::vector<uint64_t> got;
  auto end = log->attach("s", Offset(2), [&](Offset o, std::string_view r) {
    EXPECT_EQ(r, stream_record("s", o.value()));
    got.push_back(o.value());
    return Status::OK();
  }, {});
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(*end, Offset(6));
  EXPECT_EQ(got, (std::vector<uint64_t>{2, 3, 4, 5}));
}

// A pinned stream is appended to without its name, and the pin outlives a detach: appends
// through it are refused until the stream is attached again, and pinned anew.
TEST(NodeLogTest, AStreamRefAppendsWithoutTheNameAndIsRefusedOnceDetached) {
  ScratchDir d;
  auto log = open_log(d.path());
  ASSERT_TRUE(log);
  EXPECT_FALSE(log->pin("s"));  // not attached: nothing to pin
  ASSERT_TRUE(log->attach("s", Offset(0), ignore(), {}).ok());
  auto ref = log->pin("s");
  ASSERT_TRUE(ref);
  auto append = [&](NodeLog::StreamRef to, uint64_t from, size_t n) {
    std::promise<Result<Offset>> done;
    log->append_async(to, stream_batch("s", from, n), [&done](Result<Offset> r, const RecordBatch&) { done.set_value(r); });
    return done.get_future().get();
  };
  EXPECT_EQ(append(ref, 0, 3).value(), Offset(0));
  EXPECT_EQ(log->append("s", stream_batch("s", 3, 1)).value(), Offset(3));  // the name still works
  EXPECT_EQ(append(ref, 4, 1).value(), Offset(4));
  log->detach("s", Offset(5), RecordBatch());
  auto refused = append(ref, 5, 1);
  EXPECT_EQ(refused.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("not attached"), std::string::npos) << refused.status().to_string();
  EXPECT_EQ(append(NodeLog::StreamRef(), 5, 1).status().code(), Code::kFailedPrecondition);  // empty ref
  log->unpin(ref);
  ASSERT_TRUE(log->attach("s", Offset(5), ignore(), {}).ok());
  auto again = log->pin("s");
  EXPECT_EQ(append(again, 5, 2).value(), Offset(5));
  EXPECT_EQ(log->stream_end("s"), Offset(7));
  log->unpin(again);
}

// An append queued under a Plug holds its stream's entry: the stream forgotten meanwhile (its
// topic deleted) answers the append "not attached" when the Plug goes, and is gone after it.
TEST(NodeLogTest, AnAppendQueuedWhenItsStreamIsForgottenIsRefusedAndTheStreamGoes) {
  ScratchDir d;
  auto log = open_log(d.path());
  ASSERT_TRUE(log);
  for (SyncMode mode : {SyncMode::kOs, SyncMode::kAlways}) {
    const std::string s = mode == SyncMode::kOs ? "os" : "always";
    ASSERT_TRUE(log->attach(s, Offset(0), ignore(), {.sync_mode = mode}).ok());
    std::promise<Result<Offset>> done;
    auto acked = done.get_future();
    {
      NodeLog::Plug plug(log.get());
      log->append_async(s, stream_batch(s, 0, 2), [&done](Result<Offset> r) { done.set_value(r); });
      log->forget(s);
      EXPECT_EQ(acked.wait_for(std::chrono::seconds(0)), std::future_status::timeout);  // still queued
    }
    auto r = acked.get();
    EXPECT_EQ(r.status().code(), Code::kFailedPrecondition) << s;
    EXPECT_FALSE(log->holds_unattached(s));
    EXPECT_EQ(log->stream_end(s), Offset(0));
    // The name is free again: a new attach starts it from scratch.
    ASSERT_TRUE(log->attach(s, Offset(0), ignore(), {.sync_mode = mode}).ok()) << s;
    EXPECT_EQ(log->append(s, stream_batch(s, 0, 1)).value(), Offset(0));
  }
}

TEST(NodeLogTest, OneGroupCommitSyncsTheAppendsOfManyStreams) {
  ScratchDir d;
  testing::SyncGateEnv env(Env::Default());
  NodeLogOptions o;
  o.wal.env = &env;
  auto log = open_log(d.path(), o);
  ASSERT_TRUE(log);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(log->attach("s" + std::to_string(i), Offset(0), ignore(), {}).ok());
  const int before = env.syncs();
  const uint64_t groups_before = log->groups();
  env.close_gate();
  std::vector<std::promise<Result<Offset>>> done(5);
  log->append_async("s0", stream_batch("s0", 0, 1), [&](Result<Offset> r) { done[0].set_value(r); });
  ASSERT_TRUE(eventually([&] { return env.waiting() == 1; }));  // s0's group is in its sync
  // A put spanning four buckets: four streams, queued while that sync runs.
  for (int i = 1; i < 5; ++i) {
    const std::string s = "s" + std::to_string(i);
    log->append_async(s, stream_batch(s, 0, 2), [&done, i](Result<Offset> r) { done[i].set_value(r); });
  }
  env.open_gate();
  for (auto& p : done) {
    auto r = p.get_future().get();
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(*r, Offset(0));
  }
  EXPECT_EQ(env.syncs() - before, 2);  // s0's group, then one for the four others
  EXPECT_EQ(log->groups() - groups_before, 2u);
  EXPECT_EQ(log->next_lsn(), Offset(5));
}

TEST(NodeLogTest, APluggedPutSpanningFourStreamsWaitsForOneSync) {
  ScratchDir d;
  testing::SyncGateEnv env(Env::Default());  // counts syncs; its gate stays open here
  NodeLogOptions o;
  o.wal.env = &env;
  auto log = open_log(d.path(), o);
  ASSERT_TRUE(log);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(log->attach("b" + std::to_string(i), Offset(0), ignore(), {}).ok());
  for (int round = 0; round < 3; ++round) {
    const int before = env.syncs();
    const uint64_t groups_before = log->groups();
    std::vector<std::promise<Result<Offset>>> done(4);
    {
      NodeLog::Plug plug(log.get());  // the writer hands out the put's four parts
      for (int i = 0; i < 4; ++i) {
        const std::string s = "b" + std::to_string(i);
        log->append_async(s, stream_batch(s, round, 1), [&done, i](Result<Offset> r) { done[i].set_value(r); });
      }
    }
    for (auto& p : done) {
      auto r = p.get_future().get();
      ASSERT_TRUE(r.ok()) << r.status().to_string();
      EXPECT_EQ(*r, Offset(round));
    }
    EXPECT_EQ(env.syncs() - before, 1);
    EXPECT_EQ(log->groups() - groups_before, 1u);
  }
}

// caller_commits: the append that finds no group being written writes and syncs its own, and
// hears of it before append_async returns, on its own thread.
TEST(NodeLogTest, WithCallerCommitsALoneAppendIsSyncedOnTheCallersThread) {
  ScratchDir d;
  testing::SyncGateEnv env(Env::Default());  // counts syncs; its gate stays open here
  NodeLogOptions o = caller_commits_on(&env);
  auto log = open_log(d.path(), o);
  ASSERT_TRUE(log);
  ASSERT_TRUE(log->attach("s", Offset(0), ignore(), {}).ok());
  for (int round = 0; round < 3; ++round) {
    const int before = env.syncs();
    std::optional<Result<Offset>> got;
    std::thread::id where;
    log->append_async("s", stream_batch("s", round * 2, 2), [&](Result<Offset> r) {
      got = std::move(r);
      where = std::this_thread::get_id();
    });
    ASSERT_TRUE(got.has_value()) << "round " << round;  // answered before append_async returned
    ASSERT_TRUE(got->ok()) << got->status().to_string();
    EXPECT_EQ(**got, Offset(round * 2));
    EXPECT_EQ(where, std::this_thread::get_id());
    EXPECT_EQ(env.syncs() - before, 1);  // acknowledged after its fdatasync
  }
  EXPECT_EQ(log->groups(), 3u);
  EXPECT_EQ(log->stream_end("s"), Offset(6));
}

TEST(NodeLogTest, WithCallerCommitsAppendsQueuedDuringACallersSyncShareTheNextOne) {
  ScratchDir d;
  testing::SyncGateEnv env(Env::Default());
  NodeLogOptions o = caller_commits_on(&env);
  auto log = open_log(d.path(), o);
  ASSERT_TRUE(log);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(log->attach("s" + std::to_string(i), Offset(0), ignore(), {}).ok());
  const int before = env.syncs();
  env.close_gate();
  std::promise<Result<Offset>> lead;
  std::thread leader([&] {  // writes its own group: held in its sync by the gate
    log->append_async("s0", stream_batch("s0", 0, 1), [&](Result<Offset> r) { lead.set_value(r); });
  });
  ASSERT_TRUE(eventually([&] { return env.waiting() == 1; }));
  // Queued while that sync runs: they return at once (the caller is not the one writing) and
  // the group-commit task writes them as one group once the leader's is done.
  std::vector<std::promise<Result<Offset>>> done(4);
  std::vector<std::future<Result<Offset>>> answers;
  for (auto& p : done) answers.push_back(p.get_future());
  for (int i = 1; i < 5; ++i) {
    const std::string s = "s" + std::to_string(i);
    log->append_async(s, stream_batch(s, 0, 2), [&done, i](Result<Offset> r) { done[i - 1].set_value(r); });
  }
  for (auto& f : answers) EXPECT_NE(f.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  env.open_gate();
  leader.join();
  auto r0 = lead.get_future().get();
  ASSERT_TRUE(r0.ok()) << r0.status().to_string();
  for (auto& f : answers) {
    auto r = f.get();
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(*r, Offset(0));
  }
  EXPECT_EQ(env.syncs() - before, 2);  // the leader's group, then one for the four others
  EXPECT_EQ(log->groups(), 2u);
  EXPECT_EQ(log->next_lsn(), Offset(5));
}

TEST(NodeLogTest, WithCallerCommitsALastPlugWritesThePutsGroup) {
  ScratchDir d;
  testing::SyncGateEnv env(Env::Default());
  NodeLogOptions o = caller_commits_on(&env);
  auto log = open_log(d.path(), o);
  ASSERT_TRUE(log);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(log->attach("b" + std::to_string(i), Offset(0), ignore(), {}).ok());
  const int before = env.syncs();
  std::vector<std::optional<Result<Offset>>> got(4);
  {
    NodeLog::Plug plug(log.get());
    for (int i = 0; i < 4; ++i) {
      const std::string s = "b" + std::to_string(i);
      log->append_async(s, stream_batch(s, 0, 1), [&got, i](Result<Offset> r) { got[i] = std::move(r); });
    }
    for (const auto& g : got) EXPECT_FALSE(g.has_value());  // plugged: nothing written yet
  }
  for (const auto& g : got) {  // the plug's end wrote and synced them, here
    ASSERT_TRUE(g.has_value());
    ASSERT_TRUE(g->ok()) << g->status().to_string();
  }
  EXPECT_EQ(env.syncs() - before, 1);
  EXPECT_EQ(log->groups(), 1u);
}

// The group commit counts writers, not appends: a lone writer whose put reached eight streams
// and whose next put reaches two is still one writer, so that put's last Plug writes its group
// at once (no wait for six more "writers" that are only the first put's other parts).
TEST(NodeLogTest, APutSpreadOverManyStreamsCountsAsOneWriter) {
  ScratchDir d;
  NodeLogOptions o;
  o.caller_commits = true;
  o.group_wait = std::chrono::microseconds(100000);
  auto log = open_log(d.path(), o);
  ASSERT_TRUE(log);
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(log->attach("b" + std::to_string(i), Offset(0), ignore(), {}).ok());
  uint64_t next[8] = {};
  for (int spread : {8, 2, 5, 1, 8, 3}) {
    SCOPED_TRACE("a put reaching " + std::to_string(spread) + " streams");
    std::vector<std::optional<Result<Offset>>> got(spread);
    {
      NodeLog::Plug plug(log.get());
      for (int i = 0; i < spread; ++i) {
        const std::string s = "b" + std::to_string(i);
        log->append_async(s, stream_batch(s, next[i]++, 1), [&got, i](Result<Offset> r) { got[i] = std::move(r); });
      }
    }
    for (const auto& g : got) {  // written and synced by the Plug's end, on this thread
      ASSERT_TRUE(g.has_value());
      ASSERT_TRUE(g->ok()) << g->status().to_string();
    }
  }
  EXPECT_EQ(log->groups(), 6u);
  EXPECT_EQ(log->group_waits(), 0u);
}

// Writers still count one by one: after a group of three writers' puts (each plugged, over two
// streams), a writer that comes alone finds the group commit waiting for the other two.
TEST(NodeLogTest, AfterAGroupOfSeveralPluggedWritersALoneOneWaitsForThem) {
  ScratchDir d;
  testing::SyncGateEnv env(Env::Default());
  NodeLogOptions o = caller_commits_on(&env);
  o.group_wait = std::chrono::microseconds(1000);
  auto log = open_log(d.path(), o);
  ASSERT_TRUE(log);
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(log->attach("b" + std::to_string(i), Offset(0), ignore(), {}).ok());
  auto plugged_put = [&](uint64_t at, std::vector<std::promise<Result<Offset>>>& done) {
    NodeLog::Plug plug(log.get());
    for (int i = 0; i < 2; ++i) {
      const std::string s = "b" + std::to_string(i);
      log->append_async(s, stream_batch(s, at, 1), [&done, i](Result<Offset> r) { done[i].set_value(r); });
    }
  };
  env.close_gate();
  std::vector<std::promise<Result<Offset>>> first(2);
  std::thread leader([&] { plugged_put(0, first); });  // writes its own group: held in its sync
  ASSERT_TRUE(eventually([&] { return env.waiting() == 1; }));
  std::vector<std::vector<std::promise<Result<Offset>>>> three(3);
  for (int w = 0; w < 3; ++w) {
    three[w].resize(2);
    plugged_put(1 + w, three[w]);  // queued behind that sync: one group of three writers
  }
  env.open_gate();
  leader.join();
  for (auto& p : first) ASSERT_TRUE(p.get_future().get().ok());
  for (auto& w : three)
    for (auto& p : w) ASSERT_TRUE(p.get_future().get().ok());
  EXPECT_EQ(log->groups(), 2u);
  EXPECT_EQ(log->group_waits(), 0u);
  std::vector<std::promise<Result<Offset>>> alone(2);
  plugged_put(4, alone);
  for (auto& p : alone) ASSERT_TRUE(p.get_future().get().ok());
  EXPECT_EQ(log->groups(), 3u);
  EXPECT_EQ(log->group_waits(), 1u);  // waited for the two others, which did not come
}
// A caller writing its own group and the group-commit task can both be past the write at once:
// the groups are still answered in LSN order, so a stream's callbacks see its offsets in order
// (the persisting backend refuses an acknowledgement that does not continue its buffer).
TEST(NodeLogTest, WithCallerCommitsAStreamsAppendsAreAnsweredInOrder) {
  ScratchDir d;
  NodeLogOptions o;
  o.caller_commits = true;
  auto log = open_log(d.path(), o);
  ASSERT_TRUE(log);
  ASSERT_TRUE(log->attach("s", Offset(0), ignore(), {}).ok());
  constexpr int kThreads = 4, kAppends = 150;
  std::mutex mu;
  std::vector<uint64_t> answered;  // first offsets, in the order the callbacks ran
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kAppends; ++i) {
        std::promise<void> p;
        RecordBatch b;
        b.add_encoded("x");
        log->append_async("s", b, [&](Result<Offset> r) {
          {
            std::lock_guard l(mu);
            if (r.ok()) answered.push_back(r->value()); else ++failed;
          }
          p.set_value();
        });
        p.get_future().get();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  ASSERT_EQ(answered.size(), static_cast<size_t>(kThreads * kAppends));
  for (size_t i = 0; i < answered.size(); ++i) ASSERT_EQ(answered[i], i) << "callback " << i;
}

TEST(NodeLogTest, WithCallerCommitsAFullLogStillWaitsForTheHolderToFlush) {
  // A caller never stalls for room on its own thread: the group-commit task waits instead, and
  // the appends complete once the holder's checkpoint frees a segment.
  ScratchDir d;
  NodeLogOptions o;
  o.wal.max_segment_size = 400;
  o.max_size = 2000;
  o.stall = std::chrono::hours(1);  // never reached: a refusal instead of a wait would show
  o.caller_commits = true;
  auto log = open_log(d.sub("log"), o);
  ASSERT_TRUE(log);
  ASSERT_TRUE(log->attach("t/slow", Offset(0), ignore(), {}).ok());
  ASSERT_TRUE(log->attach("t/ok", Offset(0), ignore(), {}).ok());
  ASSERT_TRUE(log->append("t/slow", stream_batch("t/slow", 0, 1)).ok());
  std::thread flusher([&] {
    ASSERT_TRUE(eventually([&] { return log->stalls() > 0; }));
    ASSERT_TRUE(log->checkpoint("t/slow", Offset(1)).ok());
  });
  uint64_t ok = 0;
  for (int i = 0; i < 100; ++i, ok += 2) {
    ASSERT_TRUE(log->append("t/ok", stream_batch("t/ok", ok, 2, 30)).ok()) << "append " << i;
    if (ok >= 4) {
      ASSERT_TRUE(log->checkpoint("t/ok", Offset(ok - 4)).ok());
    }
  }
  flusher.join();
  EXPECT_GT(log->stalls(), 0u);
  EXPECT_EQ(log->stream_end("t/ok"), Offset(200));
}

// Under interval sync each caller writes its own append; plugged, the four parts of a put queue
// and the Plug's end writes them as one frame (and only then are they acknowledged).
TEST(NodeLogTest, APluggedIntervalPutSpanningFourStreamsIsOneFrame) {
  ScratchDir d;
  auto log = open_log(d.path());
  ASSERT_TRUE(log);
  const StreamOptions interval{.sync_mode = SyncMode::kInterval, .sync_interval_s = 60};
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(log->attach("b" + std::to_string(i), Offset(0), ignore(), interval).ok());
  for (int round = 0; round < 3; ++round) {
    const uint64_t groups_before = log->groups();
    std::vector<std::promise<Result<Offset>>> done(4);
    std::vector<std::future<Result<Offset>>> acked;
    for (auto& p : done) acked.push_back(p.get_future());
    {
      NodeLog::Plug plug(log.get());
      for (int i = 0; i < 4; ++i) {
        const std::string s = "b" + std::to_string(i);
        log->append_async(s, stream_batch(s, round, 1), [&done, i](Result<Offset> r) { done[i].set_value(r); });
      }
      for (auto& f : acked)  // queued, not written: the Plug lives
        EXPECT_EQ(f.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
      EXPECT_EQ(log->groups(), groups_before);
    }
    for (auto& f : acked) {  // written by the Plug's end, on this thread
      ASSERT_EQ(f.wait_for(std::chrono::seconds(0)), std::future_status::ready);
      auto r = f.get();
      ASSERT_TRUE(r.ok()) << r.status().to_string();
      EXPECT_EQ(*r, Offset(round));
    }
    EXPECT_EQ(log->groups() - groups_before, 1u);
  }
  // An unplugged append is written by its caller at once, as before.
  auto r = log->append("b0", stream_batch("b0", 3, 1));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(*r, Offset(3));
}

// A close while a Plug lives writes what queued under it: nothing acknowledged is lost.
TEST(NodeLogTest, CloseWritesTheAppendsAPlugHeldBack) {
  ScratchDir d;
  {
    auto log = open_log(d.path());
    ASSERT_TRUE(log);
    ASSERT_TRUE(log->attach("s", Offset(0), ignore(), {.sync_mode = SyncMode::kOs}).ok());
    std::promise<Result<Offset>> done;
    auto acked = done.get_future();
    auto plug = std::make_unique<NodeLog::Plug>(log.get());
    log->append_async("s", stream_batch("s", 0, 2), [&done](Result<Offset> r) { done.set_value(r); });
    ASSERT_TRUE(log->close().ok());
    ASSERT_EQ(acked.wait_for(std::chrono::seconds(0)), std::future_status::ready);
    auto r = acked.get();
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    plug.reset();  // after the close: nothing left to write
  }
  NodeLogReport report;
  auto log = open_log(d.path(), {}, &report);
  ASSERT_TRUE(log);
  EXPECT_EQ(report.stream_records["s"], 2u);
}

// The oldest segment holds entries of two quiet streams: once the first asked has flushed, the
// other one holds it and is asked at the next group, not a second later.
TEST(NodeLogTest, EveryHolderOfTheOldestSegmentIsAskedAtOnce) {
  // A segment holds entries of many streams: all of them are asked to flush together, so their
  // flushes run side by side (asking one after another would free it only after as many
  // flushes in a row). A stream with nothing in the oldest segment is not asked.
  ScratchDir d;
  NodeLogOptions o;
  o.wal.max_segment_size = 400;
  auto log = open_log(d.sub("log"), o);
  ASSERT_TRUE(log);
  std::atomic<int> a_asked{0}, b_asked{0}, busy_asked{0};
  ASSERT_TRUE(log->attach("a", Offset(0), ignore(), {.flush_request = [&] { ++a_asked; }}).ok());
  ASSERT_TRUE(log->attach("b", Offset(0), ignore(), {.flush_request = [&] { ++b_asked; }}).ok());
  ASSERT_TRUE(log->attach("busy", Offset(0), ignore(), {.flush_request = [&] { ++busy_asked; }}).ok());
  ASSERT_TRUE(log->append("a", stream_batch("a", 0, 1)).ok());
  ASSERT_TRUE(log->append("b", stream_batch("b", 0, 1)).ok());
  uint64_t busy = 0;
  while (log->segment_count() < 3) {
    ASSERT_TRUE(log->append("busy", stream_batch("busy", busy, 3, 20)).ok());
    ASSERT_TRUE(log->checkpoint("busy", Offset(busy + 3)).ok());
    busy += 3;
  }
  ASSERT_EQ(log->holding_stream(), std::optional<std::string>("a"));
  EXPECT_EQ(a_asked.load(), 1);  // once per segment (again only after a second)
  EXPECT_EQ(b_asked.load(), 1);
  EXPECT_EQ(busy_asked.load(), 0);
}

// Streams "quiet" (one record, then nothing; counts the flushes the log asks of it) and "busy"
// (each append checkpointed at once) of log.
struct QuietAndBusy {
  NodeLog* log;
  std::atomic<int> quiet_asked{0};
  uint64_t busy = 0;
  void start() {
    ASSERT_TRUE(log->attach("quiet", Offset(0), ignore(), {.flush_request = [this] { ++quiet_asked; }}).ok());
    ASSERT_TRUE(log->attach("busy", Offset(0), ignore(), {}).ok());
    ASSERT_TRUE(log->append("quiet", stream_batch("quiet", 0, 1)).ok());
  }
  void append_busy() {
    ASSERT_TRUE(log->append("busy", stream_batch("busy", busy, 3, 20)).ok());
    ASSERT_TRUE(log->checkpoint("busy", Offset(busy + 3)).ok());
    busy += 3;
  }
};

// With a max_size, the holders are asked once the log is half full, not at its second segment:
// a put spread over many buckets would otherwise flush every one of them each segment.
TEST(NodeLogTest, WithAMaxSizeHoldersAreAskedOnceTheLogIsHalfFull) {
  ScratchDir d;
  NodeLogOptions o;
  o.wal.max_segment_size = 400;
  o.max_size = 4000;
  auto log = open_log(d.sub("log"), o);
  ASSERT_TRUE(log);
  QuietAndBusy streams{log.get()};
  ASSERT_NO_FATAL_FAILURE(streams.start());
  while (log->segment_count() < 3) ASSERT_NO_FATAL_FAILURE(streams.append_busy());
  ASSERT_LT(log->size_bytes(), o.max_size / 2);
  EXPECT_EQ(streams.quiet_asked.load(), 0) << "asked at " << log->size_bytes() << " bytes of " << o.max_size;
  while (log->size_bytes() < o.max_size / 2) ASSERT_NO_FATAL_FAILURE(streams.append_busy());
  // The writer of a group asks after answering its appends: maybe after append() returned here.
  ASSERT_TRUE(eventually([&] { return streams.quiet_asked.load() > 0; })) << "not asked at " << log->size_bytes() << " bytes";
  EXPECT_EQ(streams.quiet_asked.load(), 1);  // once per segment
  EXPECT_EQ(log->holding_stream(), std::optional<std::string>("quiet"));
}

// With a limit per stream, the limit grows as streams attach (up to the cap) and shrinks as
// they go, and the holders are asked at half of the grown limit: many buckets flush bigger parts.
TEST(NodeLogTest, TheLimitGrowsWithTheAttachedStreams) {
  ScratchDir d;
  NodeLogOptions o;
  o.wal.max_segment_size = 400;
  o.max_size = 2000;
  o.max_size_per_stream = 1500;
  o.max_size_cap = 5000;
  auto log = open_log(d.sub("log"), o);
  ASSERT_TRUE(log);
  EXPECT_EQ(log->limit(), 2000u);
  ASSERT_TRUE(log->attach("one", Offset(0), ignore(), {}).ok());
  EXPECT_EQ(log->limit(), 2000u);  // 1 x 1,500 is below max_size
  log->forget("one");
  QuietAndBusy streams{log.get()};
  ASSERT_NO_FATAL_FAILURE(streams.start());
  EXPECT_EQ(log->limit(), 3000u);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(log->attach("more" + std::to_string(i), Offset(0), ignore(), {}).ok());
  EXPECT_EQ(log->limit(), 5000u);  // 5 x 1,500 capped
  log->forget("more0");
  log->detach("more1", Offset(0), RecordBatch());
  EXPECT_EQ(log->limit(), 4500u);
  log->detach("more1", Offset(0), RecordBatch());  // not attached any more: no change
  EXPECT_EQ(log->limit(), 4500u);
  log->detach("more2", Offset(0), RecordBatch());
  EXPECT_EQ(log->limit(), 3000u);

  // Past half of max_size (1,000) but below half of the grown limit (1,500): nobody is asked.
  while (log->size_bytes() < 1100) ASSERT_NO_FATAL_FAILURE(streams.append_busy());
  ASSERT_LT(log->size_bytes(), 1500u);
  EXPECT_EQ(streams.quiet_asked.load(), 0) << "asked at " << log->size_bytes() << " bytes";
  while (log->size_bytes() < 1500) ASSERT_NO_FATAL_FAILURE(streams.append_busy());
  ASSERT_TRUE(eventually([&] { return streams.quiet_asked.load() > 0; })) << "not asked at " << log->size_bytes() << " bytes";
}

TEST(NodeLogTest, SegmentsAreFreedOnlyOnceNoStreamNeedsThemAndTheHolderIsAskedToFlush) {
  ScratchDir d;
  NodeLogOptions o;
  o.wal.max_segment_size = 400;
  auto log = open_log(d.sub("log"), o);
  ASSERT_TRUE(log);
  std::atomic<int> quiet_asked{0}, busy_asked{0};
  ASSERT_TRUE(log->attach("quiet", Offset(0), ignore(), {.flush_request = [&] { ++quiet_asked; }}).ok());
  ASSERT_TRUE(log->attach("busy", Offset(0), ignore(), {.flush_request = [&] { ++busy_asked; }}).ok());
  ASSERT_TRUE(log->append("quiet", stream_batch("quiet", 0, 2)).ok());
  uint64_t busy = 0;
  for (int i = 0; i < 20; ++i, busy += 3) {
    ASSERT_TRUE(log->append("busy", stream_batch("busy", busy, 3, 20)).ok());
    ASSERT_TRUE(log->checkpoint("busy", Offset(busy + 3)).ok());  // busy keeps flushing
  }
  EXPECT_GT(log->segment_count(), 3u);  // quiet's first entry holds them all
  EXPECT_EQ(log->holding_stream(), std::optional<std::string>("quiet"));
  EXPECT_GT(quiet_asked.load(), 0);
  EXPECT_EQ(busy_asked.load(), 0);
  // After a crash, quiet's records are there; busy's flushed ones are not replayed.
  auto crash = recover_streams_copy(d.sub("log"), d.sub("copy"));
  ASSERT_TRUE(crash.status.ok()) << crash.status.to_string();
  EXPECT_EQ(count_of(crash.streams, "quiet"), 2u);
  expect_stream_prefix(crash.streams, "quiet", 0);

  // quiet flushes: nothing is needed any more, and no copy of the records stays on disk.
  ASSERT_TRUE(log->checkpoint("quiet", Offset(2)).ok());
  EXPECT_FALSE(log->holding_stream().has_value());
  EXPECT_EQ(log->segment_count(), 1u);
  EXPECT_EQ(log->size_bytes(), kSegmentHeaderSize);
  auto files = testing::segment_files(d.sub("log"));
  ASSERT_EQ(files.size(), 1u);
  // A header, then nothing but the zeros written ahead of the appends (docs/wal-format.md).
  EXPECT_EQ(testing::read_all(files[0]).find_first_not_of('\0', kSegmentHeaderSize), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(d.sub("log/" + std::string(kSpareFileName))));
  ASSERT_TRUE(log->close().ok());
  NodeLogReport report;
  auto again = open_log(d.sub("log"), {}, &report);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->unattached_streams().empty());
  EXPECT_EQ(report.entries, 0u);
}

TEST(NodeLogTest, AFullLogMakesAppendsWaitWhileTheHolderFlushes) {
  // Flushes that work but lag behind the puts are backpressure, not an error: at max_size an
  // append waits until the holder's checkpoint frees a segment.
  ScratchDir d;
  NodeLogOptions o;
  o.wal.max_segment_size = 400;
  o.max_size = 2000;
  o.stall = std::chrono::hours(1);  // never reached: a refusal instead of a wait would show
  auto log = open_log(d.sub("log"), o);
  ASSERT_TRUE(log);
  std::atomic<int> slow_asked{0};
  ASSERT_TRUE(log->attach("t/slow", Offset(0), ignore(), {.flush_request = [&] { ++slow_asked; }}).ok());
  ASSERT_TRUE(log->attach("t/ok", Offset(0), ignore(), {.sync_mode = SyncMode::kOs}).ok());
  ASSERT_TRUE(log->append("t/slow", stream_batch("t/slow", 0, 1)).ok());
  // The slow stream's flush ends only once an append waits for it.
  std::thread flusher([&] {
    ASSERT_TRUE(eventually([&] { return log->stalls() > 0; }));
    ASSERT_TRUE(log->checkpoint("t/slow", Offset(1)).ok());
  });
  uint64_t ok = 0;
  for (int i = 0; i < 100; ++i, ok += 2) {
    ASSERT_TRUE(log->append("t/ok", stream_batch("t/ok", ok, 2, 30)).ok()) << "append " << i;
    if (ok >= 4) {
      ASSERT_TRUE(log->checkpoint("t/ok", Offset(ok - 4)).ok());  // flushed but the last 4
    }
  }
  flusher.join();
  EXPECT_GT(log->stalls(), 0u);
  EXPECT_GT(slow_asked.load(), 0);
  EXPECT_EQ(log->stream_end("t/ok"), Offset(200));
}

TEST(NodeLogTest, AFullLogRefusesAtOnceWhenTheHoldersFlushFailed) {
  ScratchDir d;
  NodeLogOptions o;
  o.wal.max_segment_size = 400;
  o.max_size = 2000;
  o.stall = std::chrono::hours(1);  // a wait instead of the refusal would hang the test
  auto log = open_log(d.sub("log"), o);
  ASSERT_TRUE(log);
  NodeLog* raw = log.get();
  ASSERT_TRUE(log->attach("t/stuck", Offset(0), ignore(), {.flush_request = [raw] {
    raw->note_flush_failure("t/stuck", IOError("flush of t/stuck: no space left on device"));
  }}).ok());
  ASSERT_TRUE(log->attach("t/ok", Offset(0), ignore(), {.sync_mode = SyncMode::kOs}).ok());
  ASSERT_TRUE(log->append("t/stuck", stream_batch("t/stuck", 0, 1)).ok());
  EXPECT_TRUE(log->admission().ok());
  uint64_t ok = 0;
  Status refused;
  for (int i = 0; i < 100 && refused.ok(); ++i, ok += 2) {
    refused = log->append("t/ok", stream_batch("t/ok", ok, 2, 30)).status();
    if (refused.ok() && ok >= 4) {
      ASSERT_TRUE(log->checkpoint("t/ok", Offset(ok - 4)).ok());
    }
  }
  ASSERT_EQ(refused.code(), Code::kResourceExhausted) << refused.to_string();
  EXPECT_NE(refused.message().find("stream 't/stuck'"), std::string::npos) << refused.message();
  EXPECT_NE(refused.message().find("its flush failed"), std::string::npos) << refused.message();
  EXPECT_NE(refused.message().find("no space left on device"), std::string::npos) << refused.message();
  EXPECT_EQ(log->admission().code(), Code::kResourceExhausted);  // a writer's early word
  // Once the stream flushes again (its checkpoint), the log has room.
  ASSERT_TRUE(log->checkpoint("t/stuck", Offset(1)).ok());
  EXPECT_TRUE(log->admission().ok());
  EXPECT_TRUE(log->append("t/ok", stream_batch("t/ok", ok - 2, 2, 30)).ok());
}

TEST(NodeLogTest, UnsyncedAppendsAreWrittenByTheirCallersAndQueuedOnesJoinOneFrame) {
  ScratchDir d;
  auto log = open_log(d.sub("log"));
  ASSERT_TRUE(log);
  for (const char* s : {"a", "b", "c", "d"})
    ASSERT_TRUE(log->attach(s, Offset(0), ignore(), {.sync_mode = SyncMode::kInterval, .sync_interval_s = 5}).ok());
  std::vector<Result<Offset>> got(4, Status(Internal("not done")));
  const std::thread::id caller = std::this_thread::get_id();
  std::atomic<int> on_caller{0};
  // While the caller completes "a", three more appends arrive: they queue, and the caller (still
  // the writer) writes them as one frame before append_async returns.
  log->append_async("a", stream_batch("a", 0, 2), [&](Result<Offset> r, const RecordBatch& b) {
    got[0] = r;
    EXPECT_EQ(b.size(), 2u);  // the batch written
    on_caller += std::this_thread::get_id() == caller;
    const char* more[] = {"b", "c", "d"};
    for (int i = 0; i < 3; ++i) {
      log->append_async(more[i], stream_batch(more[i], 0, 1), [&, i](Result<Offset> r2, const RecordBatch&) {
        got[i + 1] = r2;
        on_caller += std::this_thread::get_id() == caller;
      });
    }
  });
  for (auto& r : got) ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(on_caller.load(), 4);
  EXPECT_EQ(log->groups(), 2u);
  auto crash = recover_streams_copy(d.sub("log"), d.sub("copy"));
  ASSERT_TRUE(crash.status.ok()) << crash.status.to_string();
  EXPECT_EQ(count_of(crash.streams, "a"), 2u);
  for (const char* s : {"b", "c", "d"}) EXPECT_EQ(count_of(crash.streams, s), 1u) << s;
  for (const char* s : {"a", "b", "c", "d"}) expect_stream_prefix(crash.streams, s, 0);
}

TEST(NodeLogTest, ConcurrentUnsyncedAppendsKeepEveryStreamInOrder) {
  ScratchDir d;
  auto log = open_log(d.sub("log"));
  ASSERT_TRUE(log);
  constexpr int kThreads = 4, kStreams = 2, kAppends = 200;
  auto name = [](int t, int s) { return "t" + std::to_string(t) + "/" + std::to_string(s); };
  for (int t = 0; t < kThreads; ++t)
    for (int s = 0; s < kStreams; ++s)
      ASSERT_TRUE(log->attach(name(t, s), Offset(0), ignore(), {.sync_mode = SyncMode::kOs}).ok());
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kAppends; ++i) {
        const std::string s = name(t, i % kStreams);
        const uint64_t first = 2 * static_cast<uint64_t>(i / kStreams);
        auto r = log->append(s, stream_batch(s, first, 2));
        ASSERT_TRUE(r.ok()) << r.status().to_string();
        ASSERT_EQ(r->value(), first) << s;
      }
    });
  }
  for (auto& th : threads) th.join();
  auto crash = recover_streams_copy(d.sub("log"), d.sub("copy"));
  ASSERT_TRUE(crash.status.ok()) << crash.status.to_string();
  for (int t = 0; t < kThreads; ++t) {
    for (int s = 0; s < kStreams; ++s) {
      EXPECT_EQ(count_of(crash.streams, name(t, s)), static_cast<size_t>(kAppends));
      expect_stream_prefix(crash.streams, name(t, s), 0);
    }
  }
}

TEST(NodeLogTest, AFullLogRefusesAppendsNamingTheStreamThatHoldsItBack) {
  ScratchDir d;
  NodeLogOptions o;
  o.wal.max_segment_size = 400;
  o.max_size = 2000;
  auto log = open_log(d.sub("log"), o);
  ASSERT_TRUE(log);
  ASSERT_TRUE(log->attach("t/stuck", Offset(0), ignore(), {}).ok());
  ASSERT_TRUE(log->attach("t/ok", Offset(0), ignore(), {}).ok());
  ASSERT_TRUE(log->append("t/stuck", stream_batch("t/stuck", 0, 1)).ok());  // its flushes fail
  uint64_t ok = 0;
  Status refused;
  for (int i = 0; i < 100 && refused.ok(); ++i) {
    auto r = log->append("t/ok", stream_batch("t/ok", ok, 2, 30));
    if (!r.ok()) {
      refused = r.status();
      break;
    }
    ok += 2;
    if (ok >= 4) {
      ASSERT_TRUE(log->checkpoint("t/ok", Offset(ok - 4)).ok());  // flushed but the last 4
    }
  }
  ASSERT_FALSE(refused.ok()) << "the log never filled up";
  EXPECT_EQ(refused.code(), Code::kResourceExhausted);
  EXPECT_NE(refused.message().find("stream 't/stuck' (its records from offset 0 on"), std::string::npos)
      << refused.message();
  EXPECT_NE(refused.message().find("max_wal_size"), std::string::npos) << refused.message();
  // The stuck stream itself is refused too, and nothing refused is in the log.
  EXPECT_EQ(log->append("t/stuck", stream_batch("t/stuck", 1, 1)).status().code(), Code::kResourceExhausted);
  // A crash now: every acknowledged record not checkpointed is there, of both streams.
  auto crash = recover_streams_copy(d.sub("log"), d.sub("copy"));
  ASSERT_TRUE(crash.status.ok()) << crash.status.to_string();
  ASSERT_EQ(count_of(crash.streams, "t/stuck"), 1u);
  expect_stream_prefix(crash.streams, "t/stuck", 0);
  const auto& got = crash.streams["t/ok"];
  ASSERT_GE(got.size(), 4u);
  EXPECT_EQ(got.back().first, ok - 1);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].second, stream_record("t/ok", got[i].first, 30));
  for (size_t i = 1; i < got.size(); ++i) EXPECT_EQ(got[i].first, got[i - 1].first + 1);
  // Once the stuck stream flushes, appends are taken again.
  ASSERT_TRUE(log->checkpoint("t/stuck", Offset(1)).ok());
  EXPECT_TRUE(log->append("t/ok", stream_batch("t/ok", ok, 2, 30)).ok());
}

TEST(NodeLogTest, AnUnattachedStreamThatHoldsTheLogBackIsReportedToTheOwner) {
  ScratchDir d;
  NodeLogOptions o;
  o.wal.max_segment_size = 400;
  {
    auto log = open_log(d.path(), o);
    ASSERT_TRUE(log);
    ASSERT_TRUE(log->attach("old", Offset(0), ignore(), {}).ok());
    ASSERT_TRUE(log->append("old", stream_batch("old", 0, 1)).ok());
  }
  std::vector<std::string> asked;
  std::mutex mu;
  o.on_hold_back = [&](const std::string& s) {
    std::lock_guard l(mu);
    asked.push_back(s);
  };
  auto log = open_log(d.path(), o);
  ASSERT_TRUE(log);
  ASSERT_TRUE(log->attach("new", Offset(0), ignore(), {}).ok());
  for (uint64_t i = 0; i < 30; i += 3) {
    ASSERT_TRUE(log->append("new", stream_batch("new", i, 3, 20)).ok());
    ASSERT_TRUE(log->checkpoint("new", Offset(i + 3)).ok());
  }
  std::lock_guard l(mu);
  ASSERT_FALSE(asked.empty());
  EXPECT_EQ(asked[0], "old");
}

TEST(NodeLogTest, IntervalStreamsAreSyncedByTheSchedulerAndAlwaysStreamsAtOnce) {
  ScratchDir d;
  persisting::testing::ManualScheduler sched;
  persisting::testing::FaultEnv env(Env::Default());
  NodeLogOptions o;
  o.wal.scheduler = &sched;
  o.wal.env = &env;
  auto log = open_log(d.sub("log"), o);
  ASSERT_TRUE(log);
  ASSERT_TRUE(log->attach("i", Offset(0), ignore(), {.sync_mode = SyncMode::kInterval, .sync_interval_s = 5}).ok());
  ASSERT_TRUE(log->attach("a", Offset(0), ignore(), {.sync_mode = SyncMode::kAlways}).ok());
  ASSERT_TRUE(log->attach("o", Offset(0), ignore(), {.sync_mode = SyncMode::kOs}).ok());
  ASSERT_TRUE(log->append("i", stream_batch("i", 0, 1)).ok());
  sched.advance(std::chrono::seconds(5));  // the interval sync: i@0 is durable
  ASSERT_TRUE(log->append("o", stream_batch("o", 0, 1)).ok());
  ASSERT_TRUE(log->append("a", stream_batch("a", 0, 1)).ok());  // synced before the ack, o@0 with it
  ASSERT_TRUE(log->append("i", stream_batch("i", 1, 1)).ok());
  ASSERT_TRUE(log->append("o", stream_batch("o", 1, 1)).ok());
  sched.advance(std::chrono::seconds(4));  // i@1's sync is not due yet
  ASSERT_TRUE(env.drop_unsynced().ok());   // a power loss
  auto got = recover_streams_copy(d.sub("log"), d.sub("copy"));
  ASSERT_TRUE(got.status.ok()) << got.status.to_string();
  EXPECT_EQ(count_of(got.streams, "i"), 1u);
  EXPECT_EQ(count_of(got.streams, "a"), 1u);
  EXPECT_EQ(count_of(got.streams, "o"), 1u);
}

}  // namespace
}  // namespace persisting::wal
