// Deletion files (docs/lance-format.md §7): both forms as LanceDB 0.31 writes them (the files in
// tests/lance/data/ come from tests/lance/interop/make_deletion_fixtures.mjs), a hand-made run
// container, damaged input (every truncation and many byte flips: an error, never a crash or a
// misread), and datasets whose fragments have deletion files: deleted rows are gaps in the
// offsets, and an append carries the deletion files over.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "lance_test_util.h"
#include "storage/lance/dataset.h"
#include "storage/lance/deletion_file.h"
#include "storage/lance/format.h"
#include "storage/lance/little_endian.h"
#include "storage/lance/roaring.h"

namespace persisting::lance {
namespace {

using testing::commit_edited_manifest;
using testing::TempDir;

std::string fixture(const std::string& name) {
  std::ifstream in(std::string(LANCE_TEST_DATA) + "/" + name, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_FALSE(ss.str().empty()) << name;
  return ss.str();
}

// What make_deletion_fixtures.mjs deleted.
std::vector<uint32_t> small_rows() {
  std::vector<uint32_t> v{0};
  for (uint32_t n = 7; n < 100; n += 10) v.push_back(n);
  return v;
}
std::vector<uint32_t> zstd_rows() {
  std::vector<uint32_t> v;
  for (uint32_t n = 0; n < 10000; n += 3) v.push_back(n);
  return v;
}
std::vector<uint32_t> bitmap_rows() {
  std::vector<uint32_t> v;
  for (uint32_t n = 0; n < 6000; ++n) v.push_back(n);
  for (uint32_t n = 65536; n < 70000; ++n)
    if (n % 3 == 0) v.push_back(n);
  return v;
}

TEST(DeletionFile, ReadsLanceDbArrowFiles) {
  auto small = parse_deletion_file(kDeletionArrowArray, fixture("deleted_small.arrow"), 100, 11, "small");
  ASSERT_TRUE(small.ok()) << small.status().to_string();
  EXPECT_EQ(*small, small_rows());
  // Its buffers are ZSTD-compressed (Arrow BodyCompression).
  auto zstd = parse_deletion_file(kDeletionArrowArray, fixture("deleted_zstd.arrow"), 10000, 3334, "zstd");
  ASSERT_TRUE(zstd.ok()) << zstd.status().to_string();
  EXPECT_EQ(*zstd, zstd_rows());
}

TEST(DeletionFile, ReadsLanceDbBitmapFile) {
  auto rows = parse_deletion_file(kDeletionBitmap, fixture("deleted_bitmap.bin"), 70000, 7488, "bitmap");
  ASSERT_TRUE(rows.ok()) << rows.status().to_string();
  EXPECT_EQ(*rows, bitmap_rows());
}

TEST(DeletionFile, ReadsRunContainers) {
  // Cookie 12347 (runs) with one container: run flag set, key 2, cardinality 10, no offset
  // header (fewer than 4 containers), then 2 runs: [5, 9] and [20, 24].
  std::string b;
  put_le<uint32_t>(&b, 12347);
  b += '\x01';
  put_le<uint16_t>(&b, 2);
  put_le<uint16_t>(&b, 9);
  put_le<uint16_t>(&b, 2);
  for (uint16_t v : {5, 4, 20, 4}) put_le<uint16_t>(&b, v);
  auto rows = read_portable_roaring(b, 1 << 20, "runs");
  ASSERT_TRUE(rows.ok()) << rows.status().to_string();
  std::vector<uint32_t> want;
  for (uint32_t v : {5, 6, 7, 8, 9, 20, 21, 22, 23, 24}) want.push_back((2u << 16) | v);
  EXPECT_EQ(*rows, want);
  // Overlapping runs are refused.
  std::string bad = b;
  bad[b.size() - 4] = 7;  // second run starts at 7
  EXPECT_EQ(read_portable_roaring(bad, 1 << 20, "runs").status().code(), Code::kCorruption);
}

TEST(DeletionFile, RefusesRowsOutsideTheFragmentAndWrongCounts) {
  auto past = parse_deletion_file(kDeletionArrowArray, fixture("deleted_small.arrow"), 90, 11, "small");
  EXPECT_EQ(past.status().code(), Code::kCorruption);
  EXPECT_NE(past.status().message().find("deletes row 97 of a fragment of 90 rows"), std::string::npos)
      << past.status().message();
  auto count = parse_deletion_file(kDeletionBitmap, fixture("deleted_bitmap.bin"), 70000, 5, "bitmap");
  EXPECT_EQ(count.status().code(), Code::kCorruption);
  EXPECT_NE(count.status().message().find("the manifest says 5"), std::string::npos);
  // More values than the fragment has rows: refused before anything is allocated for them.
  EXPECT_EQ(parse_deletion_file(kDeletionBitmap, fixture("deleted_bitmap.bin"), 100, 0, "b").status().code(),
            Code::kCorruption);
  EXPECT_EQ(parse_deletion_file(7, "x", 100, 0, "odd").status().code(), Code::kNotSupported);
}

// Every truncation and a byte flip at every position (sampled for the larger files) gives an
// error naming the file or, where the flip hits bytes the format cannot check (padding, names,
// a value changed into another valid one: neither form has a checksum), as many rows, sorted,
// distinct and inside the fragment; never a crash or out-of-range read (ASan checks that).
void damage(int32_t type, const std::string& name, uint64_t rows, const std::vector<uint32_t>& want) {
  const std::string good = fixture(name);
  auto check = [&](const std::string& bytes, const std::string& what) {
    auto r = parse_deletion_file(type, bytes, rows, want.size(), name);
    if (r.ok()) {
      ASSERT_EQ(r->size(), want.size()) << what;
      for (size_t i = 0; i < r->size(); ++i) {
        ASSERT_LT((*r)[i], rows) << what;
        if (i > 0) {
          ASSERT_LT((*r)[i - 1], (*r)[i]) << what;
        }
      }
      return;
    }
    EXPECT_TRUE(r.status().code() == Code::kCorruption || r.status().code() == Code::kNotSupported) << what;
    EXPECT_NE(r.status().message().find(name), std::string::npos) << r.status().message();
  };
  for (size_t n = 0; n < good.size(); n += 1 + n / 64) {
    check(good.substr(0, n), "truncated to " + std::to_string(n));
  }
  const size_t step = std::max<size_t>(1, good.size() / 1500);
  for (size_t i = 0; i < good.size(); i += step) {
    for (char flip : {'\x00', '\xff', '\x10'}) {
      std::string bad = good;
      if (bad[i] == flip) continue;
      bad[i] = flip;
      check(bad, "byte " + std::to_string(i) + " set to " + std::to_string(static_cast<uint8_t>(flip)));
    }
  }
}

TEST(DeletionFile, DamagedArrowFiles) {
  damage(kDeletionArrowArray, "deleted_small.arrow", 100, small_rows());
  damage(kDeletionArrowArray, "deleted_zstd.arrow", 10000, zstd_rows());
}

TEST(DeletionFile, DamagedBitmapFile) { damage(kDeletionBitmap, "deleted_bitmap.bin", 70000, bitmap_rows()); }

TEST(DeletionFile, PathNamesFragmentReadVersionAndId) {
  pb::DataFragment f;
  f.set_id(3);
  f.mutable_deletion_file()->set_read_version(12);
  f.mutable_deletion_file()->set_id(99);
  EXPECT_EQ(deletion_file_path("/d/t.lance", f), "/d/t.lance/_deletions/3-12-99.arrow");
  f.mutable_deletion_file()->set_file_type(kDeletionBitmap);
  EXPECT_EQ(deletion_file_path("/d/t.lance", f), "/d/t.lance/_deletions/3-12-99.bin");
}

// A dataset of two fragments (100 rows n = 0..99, then 70,000 rows n = 100..70099) in which
// "LanceDB" deleted rows: the small Arrow file's in fragment 0, the bitmap's in fragment 1.
class DatasetWithDeletions : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.path() + "/t.lance";
    auto ds = LanceDataset::open_or_create(Env::Default(), path_);
    ASSERT_TRUE(ds.ok());
    std::vector<Record> a, b;
    for (int64_t n = 0; n < 100; ++n) a.push_back(Record{{"n", n}});
    for (int64_t n = 100; n < 70100; ++n) b.push_back(Record{{"n", n}});
    ASSERT_TRUE((*ds)->append(a).ok());
    ASSERT_TRUE((*ds)->append(b).ok());
    std::filesystem::create_directories(path_ + "/_deletions");
    std::filesystem::copy_file(std::string(LANCE_TEST_DATA) + "/deleted_small.arrow", path_ + "/_deletions/0-2-41.arrow");
    std::filesystem::copy_file(std::string(LANCE_TEST_DATA) + "/deleted_bitmap.bin", path_ + "/_deletions/1-2-42.bin");
    commit_edited_manifest(path_, [](pb::Manifest* m) {
      m->set_reader_feature_flags(kFlagDeletionFiles);
      m->set_writer_feature_flags(kFlagDeletionFiles);
      auto* d0 = m->mutable_fragments(0)->mutable_deletion_file();
      d0->set_file_type(kDeletionArrowArray);
      d0->set_read_version(2);
      d0->set_id(41);
      d0->set_num_deleted_rows(11);
      auto* d1 = m->mutable_fragments(1)->mutable_deletion_file();
      d1->set_file_type(kDeletionBitmap);
      d1->set_read_version(2);
      d1->set_id(42);
      d1->set_num_deleted_rows(7488);
    });
    for (uint32_t r : small_rows()) deleted_.push_back(r);
    for (uint32_t r : bitmap_rows()) deleted_.push_back(100 + r);
  }
  bool is_deleted(uint64_t offset) const { return std::binary_search(deleted_.begin(), deleted_.end(), offset); }

  TempDir dir_;
  std::string path_;
  std::vector<uint64_t> deleted_;  // offsets, ascending
};

TEST_F(DatasetWithDeletions, DeletedRowsAreGapsThatKeepEveryOffset) {
  auto ds = LanceDataset::open_or_create(Env::Default(), path_);
  ASSERT_TRUE(ds.ok()) << ds.status().to_string();
  EXPECT_EQ((*ds)->count_rows(), 70100u);  // offsets: deleted rows keep theirs
  EXPECT_EQ((*ds)->count_deleted(), 11u + 7488u);
  // The deleted offsets of a range spanning both fragments.
  auto del = (*ds)->deleted_offsets(90, 20);
  ASSERT_TRUE(del.ok()) << del.status().to_string();
  EXPECT_EQ(*del, (std::vector<uint64_t>{97, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109}));
  // LanceDB's view (the default): deleted rows left out, the others in offset order.
  auto live = (*ds)->read(0, 70100);
  ASSERT_TRUE(live.ok()) << live.status().to_string();
  ASSERT_EQ(live->size(), 70100u - deleted_.size());
  size_t k = 0;
  for (uint64_t off = 0; off < 70100; ++off) {
    if (is_deleted(off)) continue;
    ASSERT_EQ((*live)[k++].find("n")->as_int(), static_cast<int64_t>(off)) << off;
  }
  // with_deleted: every row, so record i is at offset + i.
  ReadOptions all;
  all.with_deleted = true;
  auto rows = (*ds)->read(95, 10, all);
  ASSERT_EQ(rows->size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ((*rows)[i].find("n")->as_int(), 95 + i);
  // LanceDB counts the rows left.
  EXPECT_EQ((*ds)->fragments()[1].num_deleted, 7488u);
}

TEST_F(DatasetWithDeletions, AppendKeepsTheDeletionFiles) {
  auto ds = LanceDataset::open_or_create(Env::Default(), path_);
  ASSERT_TRUE(ds.ok()) << ds.status().to_string();
  const pb::Manifest before = (*ds)->snapshot().file.manifest;
  auto v = (*ds)->append({Record{{"n", int64_t{70100}}}, Record{{"n", int64_t{70101}}}});
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  auto again = LanceDataset::open_or_create(Env::Default(), path_);
  ASSERT_TRUE(again.ok());
  const pb::Manifest& m = (*again)->snapshot().file.manifest;
  ASSERT_EQ(m.fragments_size(), 3);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(m.fragments(i).deletion_file().SerializeAsString(), before.fragments(i).deletion_file().SerializeAsString());
  }
  EXPECT_FALSE(m.fragments(2).has_deletion_file());
  EXPECT_EQ(m.reader_feature_flags() & kFlagDeletionFiles, kFlagDeletionFiles);
  EXPECT_EQ((*again)->count_rows(), 70102u);
  EXPECT_EQ((*again)->count_deleted(), 11u + 7488u);
  auto tail = (*again)->read(70098, 10);  // 70099 is deleted (69999 % 3 == 0 in the bitmap)
  ASSERT_EQ(tail->size(), 3u);
  EXPECT_EQ((*tail)[0].find("n")->as_int(), 70098);
  EXPECT_EQ((*tail)[1].find("n")->as_int(), 70100);
  EXPECT_EQ((*tail)[2].find("n")->as_int(), 70101);
  EXPECT_EQ((*again)->read(0, 8)->size(), 6u);  // rows 0 and 7 deleted
}

TEST_F(DatasetWithDeletions, MissingOrDamagedDeletionFileIsAnErrorOnRead) {
  std::filesystem::resize_file(path_ + "/_deletions/1-2-42.bin", 100);
  auto ds = LanceDataset::open_or_create(Env::Default(), path_);
  ASSERT_TRUE(ds.ok()) << ds.status().to_string();
  EXPECT_TRUE((*ds)->read(0, 50).ok());  // fragment 0 is fine
  auto bad = (*ds)->read(0, 200);
  EXPECT_EQ(bad.status().code(), Code::kCorruption);
  EXPECT_NE(bad.status().message().find("1-2-42.bin"), std::string::npos) << bad.status().message();
  std::filesystem::remove(path_ + "/_deletions/0-2-41.arrow");
  auto reopened = LanceDataset::open_or_create(Env::Default(), path_);  // opens: files are read lazily
  ASSERT_TRUE(reopened.ok()) << reopened.status().to_string();
  auto missing = (*reopened)->read(0, 50);
  EXPECT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("0-2-41.arrow"), std::string::npos) << missing.status().message();
}

}  // namespace
}  // namespace persisting::lance
