// LanceDataset: appends, reads at any offset, reopen, time travel, schema evolution, commits.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include "storage/lance/dataset.h"
#include "storage/lance/format.h"
#include "storage/lance/manifest.h"
#include "storage/lance/version_builder.h"
#include "lance_test_util.h"

namespace persisting::lance {
namespace {

using testing::TempDir;
using testing::count_files;

std::unique_ptr<LanceDataset> open_with(Env* env, const std::string& path, LanceOptions opt = {}) {
  auto ds = LanceDataset::open_or_create(env, path, opt);
  EXPECT_TRUE(ds.ok()) << ds.status().to_string();
  return std::move(ds).value();
}

std::unique_ptr<LanceDataset> open(const std::string& path, LanceOptions opt = {}) {
  return open_with(Env::Default(), path, opt);
}

std::vector<Record> make_rows(int64_t from, int64_t n) {
  std::vector<Record> rows;
  for (int64_t i = from; i < from + n; ++i) {
    rows.push_back(Record{{"id", i}, {"name", "row-" + std::to_string(i)}, {"score", i * 0.5},
                          {"ok", i % 2 == 0}, {"vec", F32Vector{float(i), float(-i)}}});
  }
  return rows;
}

TEST(LanceDataset, EmptyDatasetHasNoVersion) {
  TempDir dir;
  auto ds = open(dir.path() + "/t.lance");
  EXPECT_EQ(ds->version(), 0u);
  EXPECT_EQ(ds->count_rows(), 0u);
  auto rows = ds->read(0, 10);
  ASSERT_TRUE(rows.ok());
  EXPECT_TRUE(rows->empty());
  auto v = ds->append(std::vector<Record>{});
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 0u);
}

TEST(LanceDataset, AppendThenReadEveryType) {
  TempDir dir;
  auto ds = open(dir.path() + "/t.lance");
  std::vector<Record> rows = {
      Record{{"i", int64_t{1}}, {"d", 1.5}, {"b", true}, {"s", "x"}, {"y", Bytes{"\x01"}},
             {"v", F32Vector{1, 2, 3}}, {"l", List{int64_t{1}, "a"}}, {"o", Object{{"k", List{}}}}},
      Record{{"i", nullptr}, {"d", nullptr}, {"b", nullptr}, {"s", nullptr}, {"y", nullptr},
             {"v", nullptr}, {"l", nullptr}, {"o", nullptr}},
      Record{{"i", int64_t{-3}}, {"d", int64_t{2}}, {"b", false}, {"s", ""}, {"y", Bytes{""}},
             {"v", F32Vector{0, 0, 0}}, {"l", List{}}, {"o", Object{}}}};
  auto v = ds->append(rows);
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  EXPECT_EQ(*v, 1u);
  auto got = ds->read(0, 100);
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  rows[2].set("d", 2.0);  // an int in a double column reads back as double
  EXPECT_EQ(*got, rows);
  auto schema = ds->schema();
  ASSERT_EQ(schema.size(), 8u);
  EXPECT_EQ(schema[0].lance_type, "int64");
  EXPECT_EQ(schema[1].lance_type, "double");
  EXPECT_EQ(schema[5].lance_type, "fixed_size_list:float:3");
  EXPECT_EQ(schema[6].type, "json");
}

TEST(LanceDataset, ReadsAnyOffsetAcrossFragments) {
  TempDir dir;
  auto ds = open(dir.path() + "/t.lance");
  for (int f = 0; f < 10; ++f) ASSERT_TRUE(ds->append(make_rows(f * 100, 100)).ok());
  EXPECT_EQ(ds->count_rows(), 1000u);
  EXPECT_EQ(ds->version(), 10u);
  auto got = ds->read(250, 500);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, make_rows(250, 500));
  got = ds->read(999, 10);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, make_rows(999, 1));
  got = ds->read(1000, 10);
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->empty());
}

TEST(LanceDataset, ReadsSpanningManyFragmentsReuseABoundedSetOfOpenFiles) {
  TempDir dir;
  LanceOptions opt;
  opt.file.sync = false;
  auto ds = open(dir.path() + "/t.lance", opt);
  for (int f = 0; f < 80; ++f) ASSERT_TRUE(ds->append(make_rows(f * 3, 3)).ok());
  for (int pass = 0; pass < 2; ++pass) {  // the second pass hits the reader cache
    auto got = ds->read(1, 238);
    ASSERT_TRUE(got.ok()) << got.status().to_string();
    EXPECT_EQ(*got, make_rows(1, 238));
  }
  auto got = ds->read(100, 5);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, make_rows(100, 5));
}

TEST(LanceDataset, ProjectionKeepsTheRequestedOrder) {
  TempDir dir;
  auto ds = open(dir.path() + "/t.lance");
  ASSERT_TRUE(ds->append(make_rows(0, 5)).ok());
  ReadOptions ro;
  ro.columns = {"score", "id"};
  auto got = ds->read(1, 2, ro);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, (std::vector<Record>{Record{{"score", 0.5}, {"id", int64_t{1}}},
                                       Record{{"score", 1.0}, {"id", int64_t{2}}}}));
  ro.columns = {"nope"};
  auto bad = ds->read(0, 1, ro);
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("'nope'"), std::string::npos);
}

TEST(LanceDataset, OmitNullsGivesRecordsBackAsPut) {
  TempDir dir;
  auto ds = open(dir.path() + "/t.lance");
  std::vector<Record> rows = {Record{{"a", int64_t{1}}}, Record{{"b", "x"}}, Record{{"a", int64_t{3}}, {"b", "y"}}};
  ASSERT_TRUE(ds->append(rows).ok());
  ReadOptions ro;
  ro.omit_nulls = true;
  auto got = ds->read(0, 10, ro);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, rows);
  got = ds->read(0, 10);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ((*got)[0], (Record{{"a", int64_t{1}}, {"b", nullptr}}));
}

TEST(LanceDataset, CheckAppendValidatesWithoutWriting) {
  TempDir dir;
  const std::string path = dir.path() + "/t.lance";
  auto ds = open(path);
  ASSERT_TRUE(ds->append({Record{{"a", int64_t{1}}}}).ok());
  EXPECT_TRUE(ds->check_append({Record{{"a", 2.5}, {"new", true}}}).ok());
  Status st = ds->check_append({Record{{"a", "text"}}});
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_NE(st.message().find("'a'"), std::string::npos);
  EXPECT_EQ(ds->version(), 1u);
  EXPECT_EQ(count_files(path + "/_versions"), 2u);  // version 1 + the hint
}

// The encoded form of the checks (what the backends use on every put) agrees with the decoded one.
TEST(LanceDataset, EncodedBatchChecksAgreeWithDecodedOnes) {
  auto batch_of = [](const std::vector<Record>& rows) {
    RecordBatch b;
    for (const auto& r : rows) b.add(r);
    return b;
  };
  std::vector<std::vector<Record>> cases = {
      make_rows(0, 5),
      {Record{{"a", int64_t{1}}}, Record{{"a", 2.5}, {"b", nullptr}}, Record{{"c", List{1, "x"}}}},
      {Record{{"o", Object{{"k", 1}}}, {"v", F32Vector{1, 2, 3}}, {"by", Bytes{"\x01"}}}},
      {Record{{"a", int64_t{1}}}, Record{{"a", "text"}}},  // incompatible within the batch
      {Record{{"v", F32Vector{}}}},                        // dimension 0
      {Record{{"", int64_t{1}}}},                          // empty name
      // Runs of one shape, then a change (BatchFieldTypes skips lookups within a run):
      {Record{{"a", int64_t{1}}}, Record{{"a", int64_t{2}}}, Record{{"a", 2.5}}, Record{{"a", int64_t{3}}}},
      {Record{{"v", F32Vector{1, 2}}}, Record{{"v", F32Vector{3, 4}}}, Record{{"v", F32Vector{1, 2, 3}}}},
      {Record{{"a", int64_t{1}}, {"b", nullptr}}, Record{{"a", int64_t{1}}, {"b", nullptr}},
       Record{{"a", int64_t{1}}, {"b", "x"}}, Record{{"a", int64_t{1}}, {"b", "y"}}},
      {Record{{"a", int64_t{1}}}, Record{{"a", int64_t{1}}}, Record{{"a", "s"}}},
      {Record{{"a", int64_t{1}}, {"b", int64_t{2}}}, Record{{"a", int64_t{1}}, {"b", int64_t{2}}},
       Record{{"b", "x"}, {"a", int64_t{1}}}},
  };
  std::vector<Record> wide;  // more fields than the linear-scan threshold, in two orders
  for (int r = 0; r < 3; ++r) {
    Record rec;
    for (int f = 0; f < 40; ++f) {
      int k = r == 1 ? 39 - f : f;
      rec.append_unchecked("f" + std::to_string(k), r == 2 && k == 7 ? Value(1.5) : Value(int64_t{k}));
    }
    wide.push_back(rec);
  }
  cases.push_back(wide);
  for (size_t c = 0; c < cases.size(); ++c) {
    auto decoded = infer_batch_fields(cases[c]);
    auto encoded = infer_batch_fields(batch_of(cases[c]));
    ASSERT_EQ(decoded.ok(), encoded.ok()) << "case " << c;
    if (!decoded.ok()) {
      EXPECT_EQ(decoded.status().to_string(), encoded.status().to_string()) << "case " << c;
      continue;
    }
    ASSERT_EQ(decoded->size(), encoded->size()) << "case " << c;
    for (size_t i = 0; i < decoded->size(); ++i) {
      EXPECT_EQ((*decoded)[i].name, (*encoded)[i].name) << "case " << c;
      EXPECT_TRUE((*decoded)[i].type == (*encoded)[i].type) << "case " << c << " field " << (*decoded)[i].name;
      EXPECT_EQ((*decoded)[i].first_record, (*encoded)[i].first_record) << "case " << c;
    }
  }
  RecordBatch garbage;
  garbage.add_encoded(std::string("\x01\x05", 2));
  EXPECT_EQ(infer_batch_fields(garbage).status().code(), Code::kCorruption);

  TempDir dir;
  auto ds = open(dir.path() + "/t.lance");
  ASSERT_TRUE(ds->append({Record{{"a", int64_t{1}}}}).ok());
  for (const auto& rows : {std::vector<Record>{Record{{"a", 2.5}, {"new", true}}},
                           std::vector<Record>{Record{{"a", "text"}}}}) {
    RecordBatch b = batch_of(rows);
    auto fields = infer_batch_fields(b);
    ASSERT_TRUE(fields.ok());
    EXPECT_EQ(ds->check_append(*fields, b).to_string(), ds->check_append(rows).to_string());
  }
}

// Appending encoded records (what a backend flush does) stores exactly what appending the
// decoded records stores, through schema evolution, nesting, vectors and nulls.
TEST(LanceDataset, EncodedAppendStoresWhatDecodedAppendStores) {
  std::vector<std::vector<Record>> batches = {
      make_rows(0, 20),
      {Record{{"id", int64_t{20}}, {"name", nullptr}, {"extra", List{1, "two", Object{{"k", 3.5}}}}},
       Record{{"id", int64_t{21}}, {"blob", Bytes{std::string("\x00\x01", 2)}}}},
      {Record{{"id", 22.5}, {"vec", F32Vector{1, 2}}, {"obj", Object{{"a", List{}}}}}},  // widens id
      make_rows(23, 5),
      {Record{{"id", int64_t{28}}, {"s", nullptr}}, Record{{"id", int64_t{29}}, {"s", nullptr}},
       Record{{"id", int64_t{30}}, {"s", "now"}}, Record{{"id", int64_t{31}}, {"s", "set"}},
       Record{{"s", "swapped"}, {"id", int64_t{32}}}},
  };
  TempDir dir;
  auto decoded = open(dir.path() + "/decoded.lance");
  auto encoded = open(dir.path() + "/encoded.lance");
  for (const auto& rows : batches) {
    ASSERT_TRUE(decoded->append(rows).ok());
    RecordBatch b;
    for (const auto& r : rows) b.add(r);
    auto v = encoded->append(b);
    ASSERT_TRUE(v.ok()) << v.status().to_string();
    EXPECT_EQ(*v, decoded->version());
  }
  auto a = decoded->read(0, 100);
  auto b = encoded->read(0, 100);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->size(), 33u);
  EXPECT_EQ(*a, *b);
  // A type error is refused the same way, writing nothing.
  RecordBatch bad;
  bad.add(Record{{"name", int64_t{5}}});
  EXPECT_EQ(encoded->append(bad).status().to_string(),
            decoded->append({Record{{"name", int64_t{5}}}}).status().to_string());
  EXPECT_EQ(encoded->version(), decoded->version());
}

TEST(LanceDataset, FragmentsDescribeTheLayout) {
  TempDir dir;
  auto ds = open(dir.path() + "/t.lance");
  ASSERT_TRUE(ds->append(make_rows(0, 3)).ok());
  ASSERT_TRUE(ds->append(make_rows(3, 4)).ok());
  auto frags = ds->fragments();
  ASSERT_EQ(frags.size(), 2u);
  EXPECT_EQ(frags[1].id, 1u);
  EXPECT_EQ(frags[1].first_row, 3u);
  EXPECT_EQ(frags[1].num_rows, 4u);
  ASSERT_EQ(frags[1].files.size(), 1u);
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/t.lance/data/" + frags[1].files[0]));
}

TEST(LanceDataset, ReopenRecoversCountAndData) {
  TempDir dir;
  const std::string path = dir.path() + "/t.lance";
  {
    auto ds = open(path);
    ASSERT_TRUE(ds->append(make_rows(0, 30)).ok());
    ASSERT_TRUE(ds->append(make_rows(30, 20)).ok());
  }
  auto ds = open(path);
  EXPECT_EQ(ds->count_rows(), 50u);
  EXPECT_EQ(ds->version(), 2u);
  auto got = ds->read(25, 10);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, make_rows(25, 10));
  ASSERT_TRUE(ds->append(make_rows(50, 1)).ok());
  EXPECT_EQ(ds->count_rows(), 51u);
}

TEST(LanceDataset, TimeTravelAndVersions) {
  TempDir dir;
  auto ds = open(dir.path() + "/t.lance");
  ASSERT_TRUE(ds->append(make_rows(0, 3)).ok());
  ASSERT_TRUE(ds->append(make_rows(3, 4)).ok());
  ASSERT_TRUE(ds->append(make_rows(7, 5)).ok());
  auto c = ds->count_rows(2);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, 7u);
  ReadOptions ro;
  ro.version = 1;
  auto got = ds->read(0, 100, ro);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, make_rows(0, 3));
  auto vs = ds->versions();
  ASSERT_TRUE(vs.ok());
  ASSERT_EQ(vs->size(), 3u);
  EXPECT_EQ((*vs)[1].version, 2u);
  EXPECT_EQ((*vs)[1].num_rows, 7u);
  EXPECT_EQ((*vs)[2].num_fragments, 3u);
  EXPECT_GT((*vs)[0].timestamp_seconds, 0);
  ro.version = 9;
  EXPECT_EQ(ds->read(0, 1, ro).status().code(), Code::kNotFound);
}

TEST(LanceDataset, WritesTransactionsHintAndFragmentIds) {
  TempDir dir;
  const std::string path = dir.path() + "/t.lance";
  auto ds = open(path);
  ASSERT_TRUE(ds->append(make_rows(0, 3)).ok());
  ASSERT_TRUE(ds->append(make_rows(3, 3)).ok());
  auto hint = Env::Default()->read_file(path + "/_versions/latest_version_hint.json");
  ASSERT_TRUE(hint.ok());
  EXPECT_EQ(*hint, "{\"version\":2}");
  EXPECT_EQ(count_files(path + "/_transactions"), 2u);
  const pb::Manifest& m = ds->snapshot().file.manifest;
  EXPECT_EQ(m.fragments(0).id(), 0u);
  EXPECT_EQ(m.fragments(1).id(), 1u);
  EXPECT_EQ(m.max_fragment_id(), 1u);
  EXPECT_TRUE(m.has_transaction_section());
  EXPECT_EQ(m.transaction_file().rfind("1-", 0), 0u);
  EXPECT_EQ(m.writer_version().library(), "persisting");
  EXPECT_EQ(m.fragments(1).physical_rows(), 3u);
  EXPECT_TRUE(std::filesystem::exists(path + "/_transactions/" + m.transaction_file()));
}

TEST(LanceDataset, NewFieldIsAMetadataOnlyCommit) {
  TempDir dir;
  auto ds = open(dir.path() + "/t.lance");
  ASSERT_TRUE(ds->append({Record{{"a", int64_t{1}}}}).ok());
  auto v = ds->append({Record{{"a", int64_t{2}}, {"b", "new"}}});
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  EXPECT_EQ(*v, 3u);  // version 2 added the field, version 3 the rows
  auto c = ds->count_rows(2);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, 1u);
  auto got = ds->read(0, 10);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, (std::vector<Record>{Record{{"a", int64_t{1}}, {"b", nullptr}},
                                       Record{{"a", int64_t{2}}, {"b", "new"}}}));
  // Version 2's fragments are version 1's, untouched.
  ReadOptions ro;
  ro.version = 2;
  got = ds->read(0, 10, ro);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, (std::vector<Record>{Record{{"a", int64_t{1}}, {"b", nullptr}}}));
  EXPECT_EQ(ds->schema()[1].id, 1);
}

TEST(LanceDataset, IntColumnWidensToDouble) {
  TempDir dir;
  const std::string path = dir.path() + "/t.lance";
  auto ds = open(path);
  ASSERT_TRUE(ds->append({Record{{"x", int64_t{1}}, {"k", "a"}}, Record{{"x", nullptr}, {"k", "b"}}}).ok());
  ASSERT_TRUE(ds->append({Record{{"x", int64_t{3}}, {"k", "c"}}}).ok());
  const size_t files_before = count_files(path + "/data");
  auto v = ds->append({Record{{"x", 4.5}, {"k", "d"}}});
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  auto got = ds->read(0, 10);
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  EXPECT_EQ(*got, (std::vector<Record>{Record{{"x", 1.0}, {"k", "a"}}, Record{{"x", nullptr}, {"k", "b"}},
                                       Record{{"x", 3.0}, {"k", "c"}}, Record{{"x", 4.5}, {"k", "d"}}}));
  // Old files are kept; each old fragment got one file with the widened column, plus the new rows.
  EXPECT_EQ(count_files(path + "/data"), files_before + 2 + 1);
  EXPECT_EQ(ds->schema()[0].lance_type, "double");
  EXPECT_EQ(ds->schema()[0].name, "x");
  // Time travel still sees the int column.
  ReadOptions ro;
  ro.version = 2;
  got = ds->read(0, 1, ro);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ((*got)[0], (Record{{"x", int64_t{1}}, {"k", "a"}}));
}

TEST(LanceDataset, IncompatibleTypeWritesNothing) {
  TempDir dir;
  const std::string path = dir.path() + "/t.lance";
  auto ds = open(path);
  ASSERT_TRUE(ds->append({Record{{"a", int64_t{1}}, {"v", F32Vector{1, 2}}}}).ok());
  const size_t data = count_files(path + "/data"), versions = count_files(path + "/_versions");
  auto v = ds->append({Record{{"a", int64_t{2}}}, Record{{"a", "text"}, {"new", true}}});
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), Code::kInvalidArgument);
  EXPECT_NE(v.status().message().find("'a'"), std::string::npos) << v.status().message();
  EXPECT_NE(v.status().message().find("int64"), std::string::npos);
  EXPECT_NE(v.status().message().find("string"), std::string::npos);
  v = ds->append({Record{{"v", F32Vector{1, 2, 3}}}});
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("vector[2]"), std::string::npos) << v.status().message();
  // Inside one batch too.
  v = ds->append({Record{{"z", true}}, Record{{"z", int64_t{1}}}});
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("record 1"), std::string::npos) << v.status().message();
  EXPECT_EQ(count_files(path + "/data"), data);
  EXPECT_EQ(count_files(path + "/_versions"), versions);
  EXPECT_EQ(ds->version(), 1u);
}

TEST(LanceDataset, StaleWriterRetriesAfterLosingTheRace) {
  TempDir dir;
  const std::string path = dir.path() + "/t.lance";
  auto a = open(path);
  ASSERT_TRUE(a->append(make_rows(0, 2)).ok());
  auto b = open(path);  // sees version 1
  ASSERT_TRUE(a->append(make_rows(2, 2)).ok());  // version 2
  auto v = b->append(make_rows(4, 2));  // b's link of version 2 fails with EEXIST; it retries as 3
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  EXPECT_EQ(*v, 3u);
  EXPECT_EQ(b->count_rows(), 6u);
  auto got = b->read(0, 10);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, make_rows(0, 6));
  EXPECT_EQ(b->snapshot().file.manifest.fragments(2).id(), 2u);
  // No orphans: one data file per fragment.
  EXPECT_EQ(count_files(path + "/data"), 3u);
  // The same with encoded records: the retry builds its columns again (the lost attempt's file
  // took the first ones).
  ASSERT_TRUE(a->append(make_rows(6, 2)).ok());  // version 4; b still sees 3
  RecordBatch encoded;
  for (const Record& r : make_rows(8, 2)) encoded.add(r);
  v = b->append(encoded);
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  EXPECT_EQ(*v, 5u);
  got = b->read(0, 20);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, make_rows(0, 10));
  EXPECT_EQ(count_files(path + "/data"), 5u);
}

TEST(LanceDataset, ConcurrentWritersAllLand) {
  TempDir dir;
  const std::string path = dir.path() + "/t.lance";
  { auto ds = open(path); ASSERT_TRUE(ds->append(make_rows(0, 1)).ok()); }
  constexpr int kWriters = 4, kAppends = 15;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      auto ds = LanceDataset::open_or_create(Env::Default(), path);
      if (!ds.ok()) { ++failures; return; }
      for (int i = 0; i < kAppends; ++i) {
        if (!(*ds)->append({Record{{"id", int64_t{1000 * (w + 1) + i}}}}).ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto ds = open(path);
  EXPECT_EQ(ds->count_rows(), 1u + kWriters * kAppends);
  EXPECT_EQ(ds->version(), 1u + kWriters * kAppends);
  auto got = ds->read(0, 1000);
  ASSERT_TRUE(got.ok());
  std::set<int64_t> ids;
  for (const Record& r : *got) ids.insert(r.find("id")->as_int());
  EXPECT_EQ(ids.size(), 1u + kWriters * kAppends);
  // Fragment ids are unique.
  std::set<uint64_t> frag_ids;
  for (const auto& f : ds->snapshot().file.manifest.fragments()) frag_ids.insert(f.id());
  EXPECT_EQ(frag_ids.size(), 1u + kWriters * kAppends);
}

TEST(LanceDataset, IndexSectionIsCarriedOver) {
  TempDir dir;
  const std::string path = dir.path() + "/t.lance";
  auto ds = open(path);
  ASSERT_TRUE(ds->append(make_rows(0, 2)).ok());
  // Pretend LanceDB built an index in version 2.
  const std::string index("\x05\x00\x00\x00\x0a\x03\x0a\x01x", 9);
  std::string raw;
  {
    auto s = load_snapshot(Env::Default(), path, std::nullopt);
    ASSERT_TRUE(s.ok());
    pb::Manifest m = s->file.manifest;
    m.set_version(2);
    ASSERT_TRUE(commit_manifest(Env::Default(), path, s->naming, 2, encode_manifest_file(&m, index, ""), true).ok());
  }
  ASSERT_TRUE(ds->refresh().ok());
  ASSERT_TRUE(ds->append(make_rows(2, 2)).ok());
  const ManifestFile& mf = ds->snapshot().file;
  ASSERT_TRUE(mf.manifest.has_index_section());
  auto bytes = index_section_bytes(mf, "m");
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(*bytes, index);
}

// Counts the manifests read and the version listings made through it.
class ManifestReadCounter : public EnvWrapper {
 public:
  using EnvWrapper::EnvWrapper;
  Result<std::string> read_file(const std::string& path) override {
    if (path.size() > 9 && path.compare(path.size() - 9, 9, ".manifest") == 0) ++manifests_read;
    return EnvWrapper::read_file(path);
  }
  Result<std::vector<std::string>> get_children(const std::string& dir) override {
    if (dir.size() > 9 && dir.compare(dir.size() - 9, 9, "_versions") == 0) ++listings;
    return EnvWrapper::get_children(dir);
  }
  int manifests_read = 0;
  int listings = 0;
};

// A reader that counts what its refreshes read, and a writer, on one new dataset.
struct CountedReader {
  TempDir dir;
  std::string path = dir.path() + "/t.lance";
  ManifestReadCounter env{Env::Default()};
  std::unique_ptr<LanceDataset> reader = open_with(&env, path);
  std::unique_ptr<LanceDataset> writer = open(path);
};

TEST(LanceDataset, RefreshReadsNoManifestWhileNothingWasCommittedAndTheNextOneOnceCommitted) {
  CountedReader c;
  auto& [dir, path, env, reader, writer] = c;
  ASSERT_TRUE(writer->append(make_rows(0, 3)).ok());
  ASSERT_TRUE(reader->refresh().ok());
  EXPECT_EQ(reader->count_rows(), 3u);
  const int after_first = env.manifests_read;
  EXPECT_GE(after_first, 1);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(reader->refresh().ok());
  EXPECT_EQ(env.manifests_read, after_first);  // version 1 is still the latest: nothing read
  ASSERT_TRUE(writer->append(make_rows(3, 2)).ok());
  ASSERT_TRUE(reader->refresh().ok());
  EXPECT_EQ(env.manifests_read, after_first + 1);
  EXPECT_EQ(*reader->read(0, 100), make_rows(0, 5));
}

TEST(LanceDataset, RefreshOnlyLooksAtTheStampOfVersionsThatHaveNotChangedForAWhile) {
  CountedReader c;
  auto& [dir, path, env, reader, writer] = c;
  ASSERT_TRUE(writer->append(make_rows(0, 3)).ok());
  // Its last change an hour ago: older than any file system's clock can blur.
  std::filesystem::last_write_time(path + "/_versions",
                                   std::filesystem::file_time_type::clock::now() - std::chrono::hours(1));
  ASSERT_TRUE(reader->refresh().ok());
  EXPECT_EQ(reader->count_rows(), 3u);
  const int listings = env.listings;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(reader->refresh().ok());
  EXPECT_EQ(env.listings, listings);  // the stamp alone said nothing was committed
  ASSERT_TRUE(writer->append(make_rows(3, 2)).ok());  // a commit changes the stamp
  ASSERT_TRUE(reader->refresh().ok());
  EXPECT_EQ(env.listings, listings + 1);
  EXPECT_EQ(*reader->read(0, 100), make_rows(0, 5));
  // A commit just now: its stamp is not trusted yet, so the next refresh lists again.
  ASSERT_TRUE(reader->refresh().ok());
  EXPECT_EQ(env.listings, listings + 2);
}

TEST(LanceDataset, RefreshSeesADatasetWrittenAfreshUpToTheSameVersion) {
  TempDir dir;
  const std::string path = dir.path() + "/t.lance";
  auto reader = open(path);
  {
    auto writer = open(path);
    ASSERT_TRUE(writer->append(make_rows(0, 2)).ok());
  }
  ASSERT_TRUE(reader->refresh().ok());
  ASSERT_EQ(reader->snapshot().version, 1u);
  std::filesystem::remove_all(path);
  auto writer = open(path);
  // Version 1 again, with a manifest of another size (the guard compares sizes).
  ASSERT_TRUE(writer->append(make_rows(100, 2000)).ok());
  ASSERT_TRUE(reader->refresh().ok());
  EXPECT_EQ(reader->count_rows(), 2000u);
  EXPECT_EQ(*reader->read(0, 3), make_rows(100, 3));
}

TEST(LanceDataset, KeepsV1ManifestNaming) {
  TempDir dir;
  const std::string path = dir.path() + "/t.lance";
  auto ds = open(path);
  ASSERT_TRUE(ds->append(make_rows(0, 1)).ok());
  // Rename version 1 to the V1 scheme, as a LanceDB table made with V1 paths would have it.
  std::filesystem::rename(path + "/_versions/18446744073709551614.manifest", path + "/_versions/1.manifest");
  ASSERT_TRUE(ds->refresh().ok());
  ASSERT_TRUE(ds->append(make_rows(1, 1)).ok());
  EXPECT_TRUE(std::filesystem::exists(path + "/_versions/2.manifest"));
  EXPECT_EQ(ds->count_rows(), 2u);
}

// Counts directory syncs: with sync on, the data, _transactions and _versions directories are
// synced on every append; with sync off (LanceDB's own behaviour) nothing is. The commit syncs
// concurrently, one thread per file or directory, hence the mutex.
class CountingEnv : public EnvWrapper {
 public:
  CountingEnv() : EnvWrapper(Env::Default()) {}
  Status sync_dir(const std::string& d) override {
    {
      std::lock_guard<std::mutex> lock(mu);
      dirs.insert(d.substr(d.rfind('/') + 1));
      ++count;
    }
    return EnvWrapper::sync_dir(d);
  }
  std::mutex mu;
  std::set<std::string> dirs;
  int count = 0;
};

TEST(LanceDataset, SyncOptionGovernsDurabilityWork) {
  TempDir dir;
  for (bool sync : {true, false}) {
    CountingEnv env;
    LanceOptions opt;
    opt.file.sync = sync;
    auto ds = LanceDataset::open_or_create(&env, dir.path() + (sync ? "/a.lance" : "/b.lance"), opt);
    ASSERT_TRUE(ds.ok());
    ASSERT_TRUE((*ds)->append(make_rows(0, 10)).ok());
    ASSERT_TRUE((*ds)->append(make_rows(10, 10)).ok());
    if (sync) {
      EXPECT_EQ(env.dirs, (std::set<std::string>{"data", "_transactions", "_versions"}));
    } else {
      EXPECT_EQ(env.count, 0);
    }
    EXPECT_EQ((*ds)->count_rows(), 20u);
  }
}

TEST(LanceDataset, LargeFlushUsesSeveralPages) {
  TempDir dir;
  LanceOptions opt;
  opt.file.max_page_bytes = 4096;
  auto ds = open(dir.path() + "/t.lance", opt);
  std::vector<Record> rows = make_rows(0, 5000);
  ASSERT_TRUE(ds->append(rows).ok());
  auto got = ds->read(1234, 2000);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, make_rows(1234, 2000));
}

// The data files of a dataset, by path.
std::vector<std::string> data_files(const std::string& dataset) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dataset + "/" + std::string(kDataDir)))
    out.push_back(e.path().string());
  return out;
}

// Bit rot in a value buffer comes back as a Corruption naming the file, not as other data.
TEST(LanceDataset, Defect11_FlippedValueByteIsCorruptionNamingTheFile) {
  for (const char* needle : {"row-1234", "row-1500"}) {
    SCOPED_TRACE(needle);
    TempDir dir;
    const std::string path = dir.path() + "/t.lance";
    auto ds = open(path);
    ASSERT_TRUE(ds->append(make_rows(1000, 1000)).ok());
    const auto files = data_files(path);
    ASSERT_EQ(files.size(), 1u);
    std::string bytes = *Env::Default()->read_file(files[0]);
    const size_t at = bytes.find(needle);
    ASSERT_NE(at, std::string::npos);
    bytes[at] ^= 0x01;  // "row-1234" becomes "sow-1234": still a valid string
    ASSERT_TRUE(Env::Default()->write_file_atomic(files[0], bytes).ok());

    auto reopened = open(path);
    auto got = reopened->read(0, 1000);
    ASSERT_FALSE(got.ok()) << "damaged data came back as records";
    EXPECT_EQ(got.status().code(), Code::kCorruption) << got.status().to_string();
    EXPECT_NE(got.status().message().find(files[0]), std::string::npos) << got.status().to_string();
    EXPECT_NE(got.status().message().find("checksum"), std::string::npos) << got.status().to_string();
    // The pages that are intact still read.
    auto first = reopened->read(0, 1, ReadOptions{.columns = {"id"}});
    ASSERT_TRUE(first.ok()) << first.status().to_string();
  }
}

// Files written before page checksums (no checksum table) still read.
TEST(LanceDataset, Defect11_FilesWithoutPageChecksumsStillRead) {
  TempDir dir;
  const std::string path = dir.path() + "/t.lance";
  LanceOptions old_files;
  old_files.file.page_checksums = false;
  ASSERT_TRUE(open(path, old_files)->append(make_rows(0, 100)).ok());
  ASSERT_TRUE(open(path)->append(make_rows(100, 100)).ok());  // a checksummed file next to it
  auto got = open(path)->read(0, 200);
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  EXPECT_EQ(*got, make_rows(0, 200));
}

}  // namespace
}  // namespace persisting::lance

namespace persisting::lance {
namespace {

TEST(LanceDatasetRetention, RemovesFrontFragmentsInOneCommitAndKeepsFiles) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/t.lance";
  auto ds = open(path);
  for (int f = 0; f < 5; ++f) ASSERT_TRUE(ds->append(make_rows(f * 10, 10)).ok());
  const size_t data_files = testing::count_files(path + "/data");
  auto removed = ds->remove_front_fragments([](const Snapshot& s) {
    EXPECT_EQ(s.first_offset, 0u);
    return size_t{3};
  });
  ASSERT_TRUE(removed.ok()) << removed.status().to_string();
  EXPECT_EQ(*removed, 30u);
  EXPECT_EQ(ds->version(), 6u);
  EXPECT_EQ(ds->first_offset(), 30u);
  EXPECT_EQ(ds->count_rows(), 20u);
  EXPECT_EQ(*ds->read(0, 100), make_rows(30, 20));  // rows are relative to the first offset
  EXPECT_EQ(testing::count_files(path + "/data"), data_files);  // nothing deleted or written
  // The transaction is a Delete of the three fragments; the old version still reads every row.
  const pb::Transaction* txn = nullptr;
  pb::Transaction parsed;
  {
    auto mf = read_manifest_file(Env::Default(), ds->snapshot().manifest_path());
    ASSERT_TRUE(mf.ok());
    auto bytes = Env::Default()->read_file(path + "/_transactions/" + mf->manifest.transaction_file());
    ASSERT_TRUE(bytes.ok());
    ASSERT_TRUE(parsed.ParseFromString(*bytes));
    txn = &parsed;
  }
  ASSERT_TRUE(txn->has_delete_());
  EXPECT_EQ(txn->delete_().deleted_fragment_ids_size(), 3);
  EXPECT_EQ(txn->read_version(), 5u);
  EXPECT_EQ(*ds->count_rows(5), 50u);
  // A reopen reads the first offset back; zero fragments commits nothing; the last may go too
  // at this level (the caller's policy keeps it).
  auto again = open(path);
  EXPECT_EQ(again->first_offset(), 30u);
  ASSERT_EQ(*again->remove_front_fragments([](const Snapshot&) { return size_t{0}; }), 0u);
  EXPECT_EQ(again->version(), 6u);
  ASSERT_EQ(*again->remove_front_fragments([](const Snapshot&) { return size_t{1}; }), 10u);
  EXPECT_EQ(again->first_offset(), 40u);
  // Appending afterwards: the new rows follow.
  ASSERT_TRUE(again->append(make_rows(50, 5)).ok());
  EXPECT_EQ(*again->read(0, 100), [] {
    auto rows = make_rows(40, 10);
    for (auto& r : make_rows(50, 5)) rows.push_back(r);
    return rows;
  }());
  EXPECT_EQ(again->first_offset(), 40u);
}

TEST(LanceDatasetRetention, LostRaceDecidesAgainOnTheLatestVersion) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/t.lance";
  auto a = open(path);
  auto b = open(path);
  for (int f = 0; f < 4; ++f) ASSERT_TRUE(a->append(make_rows(f * 10, 10)).ok());
  ASSERT_TRUE(b->refresh().ok());
  ASSERT_TRUE(a->append(make_rows(40, 10)).ok());  // b's snapshot is now stale
  std::vector<uint64_t> seen;
  auto removed = b->remove_front_fragments([&](const Snapshot& s) {
    seen.push_back(s.version);
    return size_t{2};
  });
  ASSERT_TRUE(removed.ok()) << removed.status().to_string();
  EXPECT_EQ(seen, (std::vector<uint64_t>{4, 5}));  // asked again after re-reading version 5
  EXPECT_EQ(b->first_offset(), 20u);
  EXPECT_EQ(*b->read(0, 100), make_rows(20, 30));
}

TEST(LanceDatasetRetention, AFirstOffsetThatIsNotANumberIsCorruption) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/t.lance";
  auto ds = open(path);
  ASSERT_TRUE(ds->append(make_rows(0, 3)).ok());
  // Version 2 written by hand with a bad value, through the normal commit path.
  Snapshot s = ds->snapshot();
  auto next = take_next_version(&s);
  ASSERT_TRUE(next.ok());
  (*next->manifest.mutable_table_metadata())[kFirstOffsetKey] = "12x";
  pb::Transaction txn;
  txn.mutable_delete_()->set_predicate("false");
  ASSERT_TRUE(commit_version(Env::Default(), ds->snapshot(), std::move(*next), txn, false, {}).ok());
  Status st = ds->refresh();
  EXPECT_EQ(st.code(), Code::kCorruption) << st.to_string();
  EXPECT_NE(st.message().find("persisting.first_offset"), std::string::npos) << st.to_string();
}

}  // namespace
}  // namespace persisting::lance
