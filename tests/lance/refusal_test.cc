// Everything the reader or writer does not implement is refused with a clear error, never
// misread; failed commits leave nothing behind.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "storage/lance/dataset.h"
#include "storage/lance/format.h"
#include "lance_test_util.h"

namespace persisting::lance {
namespace {

using testing::TempDir;
using testing::commit_edited_manifest;
using testing::count_files;

class LanceRefusal : public ::testing::Test {
 protected:
  // Appends one row to ds, which must fail with IOError mentioning `words`; then checks
  // that no data, transaction or manifest file was left behind.
  void expect_failed_append_leaves_nothing(LanceDataset* ds, const std::string& words) {
    const size_t data = count_files(path_ + "/data"), txns = count_files(path_ + "/_transactions"),
                 versions = count_files(path_ + "/_versions");
    auto v = ds->append({Record{{"id", int64_t{3}}}});
    EXPECT_EQ(v.status().code(), Code::kIOError);
    EXPECT_NE(v.status().message().find(words), std::string::npos) << v.status().message();
    EXPECT_EQ(count_files(path_ + "/data"), data);
    EXPECT_EQ(count_files(path_ + "/_transactions"), txns);
    EXPECT_EQ(count_files(path_ + "/_versions"), versions);
  }
  void SetUp() override {
    path_ = dir_.path() + "/t.lance";
    auto ds = LanceDataset::open_or_create(Env::Default(), path_);
    ASSERT_TRUE(ds.ok());
    ASSERT_TRUE((*ds)->append({Record{{"id", int64_t{1}}, {"s", "a"}}, Record{{"id", int64_t{2}}, {"s", "b"}}}).ok());
  }
  Status open_status() { return LanceDataset::open_or_create(Env::Default(), path_).status(); }
  void expect_refused(const std::string& words) {
    Status st = open_status();
    EXPECT_EQ(st.code(), Code::kNotSupported) << st.to_string();
    EXPECT_NE(st.message().find(words), std::string::npos) << st.message();
  }
  TempDir dir_;
  std::string path_;
};

TEST_F(LanceRefusal, DataFormat21) {
  commit_edited_manifest(path_, [](pb::Manifest* m) { m->mutable_data_format()->set_version("2.1"); });
  expect_refused("2.1");
}

TEST_F(LanceRefusal, LegacyDatasetWithoutDataFormat) {
  commit_edited_manifest(path_, [](pb::Manifest* m) { m->clear_data_format(); });
  expect_refused("legacy");
}

TEST_F(LanceRefusal, UnknownReaderFeatureFlag) {
  commit_edited_manifest(path_, [](pb::Manifest* m) { m->set_reader_feature_flags(64); });
  expect_refused("unknown bits 0x40");
}

// Deletion files are read (deletion_test.cc); only those this reader cannot place are refused.
TEST_F(LanceRefusal, DeletionFileInAnotherBasePath) {
  commit_edited_manifest(path_, [](pb::Manifest* m) {
    m->set_reader_feature_flags(kFlagDeletionFiles);
    m->mutable_fragments(0)->mutable_deletion_file()->set_num_deleted_rows(1);
    m->mutable_fragments(0)->mutable_deletion_file()->set_base_id(1);
  });
  expect_refused("deletion file lives in another base path");
}

TEST_F(LanceRefusal, DeletionFileOfUnknownType) {
  commit_edited_manifest(path_, [](pb::Manifest* m) {
    m->set_reader_feature_flags(kFlagDeletionFiles);
    m->mutable_fragments(0)->mutable_deletion_file()->set_file_type(5);
  });
  expect_refused("deletion file of unknown type 5");
}

TEST_F(LanceRefusal, AppendUnderStableRowIds) {
  commit_edited_manifest(path_, [](pb::Manifest* m) { m->set_writer_feature_flags(kFlagStableRowIds); });
  auto ds = LanceDataset::open_or_create(Env::Default(), path_);
  ASSERT_TRUE(ds.ok()) << ds.status().to_string();  // readable
  EXPECT_EQ((*ds)->count_rows(), 2u);
  auto v = (*ds)->append({Record{{"id", int64_t{3}}}});
  EXPECT_EQ(v.status().code(), Code::kNotSupported);
  EXPECT_NE(v.status().message().find("stable row ids"), std::string::npos) << v.status().message();
}

TEST_F(LanceRefusal, DataFileOfVersion21InTheManifest) {
  commit_edited_manifest(path_, [](pb::Manifest* m) { m->mutable_fragments(0)->mutable_files(0)->set_file_minor_version(1); });
  expect_refused("2.1");
}

TEST_F(LanceRefusal, DataFileInAnotherBasePath) {
  commit_edited_manifest(path_, [](pb::Manifest* m) { m->mutable_fragments(0)->mutable_files(0)->set_base_id(1); });
  expect_refused("base path");
}

TEST_F(LanceRefusal, DataFileFooterSays21) {
  const std::string data_dir = path_ + "/data";
  std::string file;
  for (auto& e : std::filesystem::directory_iterator(data_dir)) file = e.path().string();
  auto bytes = Env::Default()->read_file(file);
  ASSERT_TRUE(bytes.ok());
  std::string b = *bytes;
  const uint16_t two = 2, one = 1;
  std::memcpy(b.data() + b.size() - 8, &two, 2);
  std::memcpy(b.data() + b.size() - 6, &one, 2);
  ASSERT_TRUE(Env::Default()->write_file_atomic(file, b).ok());
  auto ds = LanceDataset::open_or_create(Env::Default(), path_);
  ASSERT_TRUE(ds.ok());
  auto rows = (*ds)->read(0, 2);
  EXPECT_EQ(rows.status().code(), Code::kNotSupported);
  EXPECT_NE(rows.status().message().find("2.1"), std::string::npos) << rows.status().message();
}

TEST_F(LanceRefusal, DamagedDataFileIsCorruption) {
  std::string file;
  for (auto& e : std::filesystem::directory_iterator(path_ + "/data")) file = e.path().string();
  auto bytes = Env::Default()->read_file(file);
  ASSERT_TRUE(bytes.ok());
  std::string b = *bytes;
  b[b.size() - 1] = 'X';  // magic
  ASSERT_TRUE(Env::Default()->write_file_atomic(file, b).ok());
  auto ds = LanceDataset::open_or_create(Env::Default(), path_);
  ASSERT_TRUE(ds.ok());
  EXPECT_EQ((*ds)->read(0, 2).status().code(), Code::kCorruption);
}

// Flipping any byte of a data file's tail (metadata, tables, footer) must give an error or some
// rows (Lance has no checksums: a flipped value reads as another value), never a crash, an
// exception or a huge allocation (this also runs under ASan/UBSan).
TEST_F(LanceRefusal, DamagedMetadataNeverCrashes) {
  std::string file;
  for (auto& e : std::filesystem::directory_iterator(path_ + "/data")) file = e.path().string();
  auto original = Env::Default()->read_file(file);
  ASSERT_TRUE(original.ok());
  const std::string& b = *original;
  size_t errors = 0;
  for (size_t pos = b.size() > 400 ? b.size() - 400 : 0; pos < b.size(); ++pos) {
    for (uint8_t flip : {0x01, 0xff}) {
      std::string damaged = b;
      damaged[pos] = static_cast<char>(damaged[pos] ^ flip);
      std::ofstream(file, std::ios::binary | std::ios::trunc) << damaged;
      auto ds = LanceDataset::open_or_create(Env::Default(), path_);
      ASSERT_TRUE(ds.ok());
      auto rows = (*ds)->read(0, 2);
      if (!rows.ok()) {
        ++errors;
        EXPECT_TRUE(rows.status().code() == Code::kCorruption || rows.status().code() == Code::kNotSupported)
            << "byte " << pos << ": " << rows.status().to_string();
      }
    }
  }
  EXPECT_GT(errors, 100u);  // the footer and tables are checked
}

TEST_F(LanceRefusal, FragmentClaimingMoreRowsThanItsFile) {
  commit_edited_manifest(path_, [](pb::Manifest* m) { m->mutable_fragments(0)->set_physical_rows(5); });
  auto ds = LanceDataset::open_or_create(Env::Default(), path_);
  ASSERT_TRUE(ds.ok());
  EXPECT_EQ((*ds)->read(0, 10).status().code(), Code::kCorruption);
  commit_edited_manifest(path_, [](pb::Manifest* m) { m->mutable_fragments(0)->set_physical_rows(~uint64_t{0}); });
  EXPECT_EQ(LanceDataset::open_or_create(Env::Default(), path_).status().code(), Code::kCorruption);
}

TEST_F(LanceRefusal, UnsupportedColumnTypeIsRefusedOnlyWhenUsed) {
  commit_edited_manifest(path_, [](pb::Manifest* m) { testing::add_field(m, "ts", 2, "timestamp:us:-"); });
  auto ds = LanceDataset::open_or_create(Env::Default(), path_);
  ASSERT_TRUE(ds.ok()) << ds.status().to_string();
  auto all = (*ds)->read(0, 2);
  EXPECT_EQ(all.status().code(), Code::kNotSupported);
  EXPECT_NE(all.status().message().find("'ts'"), std::string::npos) << all.status().message();
  ReadOptions ro;
  ro.columns = {"id"};
  EXPECT_TRUE((*ds)->read(0, 2, ro).ok());
  // Appending without the column works (it reads as null there); writing it is refused.
  EXPECT_TRUE((*ds)->append({Record{{"id", int64_t{3}}}}).ok());
  auto v = (*ds)->append({Record{{"ts", int64_t{3}}}});
  EXPECT_EQ(v.status().code(), Code::kNotSupported);
  EXPECT_NE(v.status().message().find("timestamp"), std::string::npos) << v.status().message();
}

TEST_F(LanceRefusal, NarrowIntegerOutOfRangeWritesNothing) {
  commit_edited_manifest(path_, [](pb::Manifest* m) { testing::add_field(m, "small", 2, "int8"); });
  auto ds = LanceDataset::open_or_create(Env::Default(), path_);
  ASSERT_TRUE(ds.ok());
  const uint64_t version = (*ds)->version();
  // A new field and an out-of-range value in one batch: refused before the schema commit.
  auto v = (*ds)->append({Record{{"small", int64_t{5}}}, Record{{"small", int64_t{300}}, {"extra", true}}});
  EXPECT_EQ(v.status().code(), Code::kInvalidArgument);
  EXPECT_NE(v.status().message().find("record 1 has 300"), std::string::npos) << v.status().message();
  EXPECT_EQ((*ds)->check_append({Record{{"small", int64_t{-129}}}}).code(), Code::kInvalidArgument);
  {  // the encoded form (what backends check puts with) decodes to check the range
    RecordBatch b;
    b.add(Record{{"small", int64_t{-129}}});
    auto fields = infer_batch_fields(b);
    ASSERT_TRUE(fields.ok());
    EXPECT_EQ((*ds)->check_append(*fields, b).code(), Code::kInvalidArgument);
    RecordBatch fits;
    fits.add(Record{{"small", int64_t{-128}}});
    EXPECT_TRUE((*ds)->check_append(*infer_batch_fields(fits), fits).ok());
    EXPECT_EQ((*ds)->append(b).status().code(), Code::kInvalidArgument);  // and the encoded append
  }
  ASSERT_TRUE((*ds)->refresh().ok());
  EXPECT_EQ((*ds)->version(), version);
  ASSERT_TRUE((*ds)->append({Record{{"small", int64_t{-128}}}}).ok());
  ReadOptions ro;
  ro.columns = {"small"};
  auto rows = (*ds)->read(2, 1, ro);
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ((*rows)[0], (Record{{"small", int64_t{-128}}}));
}

// An Env whose link() fails: the commit fails and leaves no data, transaction or temp files.
class FailingLinkEnv : public EnvWrapper {
 public:
  FailingLinkEnv() : EnvWrapper(Env::Default()) {}
  Status link_file(const std::string& from, const std::string& to) override {
    if (fail) return IOError("injected link failure for '" + to + "'");
    return EnvWrapper::link_file(from, to);
  }
  Status rename_no_replace(const std::string& from, const std::string& to) override {
    if (fail) return IOError("injected link failure for '" + to + "'");
    return EnvWrapper::rename_no_replace(from, to);
  }
  bool fail = true;
};

// An Env whose directory syncs fail (a dying disk): the commit stops before the link.
class FailingSyncEnv : public EnvWrapper {
 public:
  FailingSyncEnv() : EnvWrapper(Env::Default()) {}
  Status sync_dir(const std::string& d) override { return IOError("injected fsync failure on '" + d + "'"); }
};

TEST_F(LanceRefusal, FailedSyncLeavesNothing) {
  FailingSyncEnv env;
  auto ds = LanceDataset::open_or_create(&env, path_);
  ASSERT_TRUE(ds.ok());
  expect_failed_append_leaves_nothing(ds->get(), "injected fsync failure");
  auto fresh = LanceDataset::open_or_create(Env::Default(), path_);
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ((*fresh)->version(), 1u);
}

TEST_F(LanceRefusal, FailedCommitLeavesNothingAndCanBeRetried) {
  FailingLinkEnv env;
  auto ds = LanceDataset::open_or_create(&env, path_);
  ASSERT_TRUE(ds.ok());
  expect_failed_append_leaves_nothing(ds->get(), "injected link failure");
  EXPECT_EQ((*ds)->count_rows(), 2u);
  // The dataset's view is intact after the failed attempt (its manifest was restored).
  auto rows = (*ds)->read(0, 10);
  ASSERT_TRUE(rows.ok()) << rows.status().to_string();
  EXPECT_EQ(rows->size(), 2u);
  EXPECT_EQ((*ds)->snapshot().file.manifest.fragments_size(), 1);
  env.fail = false;
  auto v = (*ds)->append({Record{{"id", int64_t{3}}}});
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  EXPECT_EQ((*ds)->count_rows(), 3u);
}

}  // namespace
}  // namespace persisting::lance
