// Manifest files, naming schemes and the create-if-absent commit primitive.
#include <gtest/gtest.h>

#include "storage/lance/commit.h"
#include "storage/lance/manifest.h"
#include "lance_test_util.h"

namespace persisting::lance {
namespace {

using testing::TempDir;

TEST(LanceManifest, V2NamesCountDown) {
  EXPECT_EQ(manifest_file_name(ManifestNaming::kV2, 1), "18446744073709551614.manifest");
  EXPECT_EQ(manifest_file_name(ManifestNaming::kV2, 2), "18446744073709551613.manifest");
  EXPECT_EQ(manifest_file_name(ManifestNaming::kV1, 7), "7.manifest");
  auto p = parse_manifest_file_name("18446744073709551613.manifest");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->first, 2u);
  EXPECT_EQ(p->second, ManifestNaming::kV2);
  p = parse_manifest_file_name("12.manifest");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->first, 12u);
  EXPECT_EQ(p->second, ManifestNaming::kV1);
  EXPECT_FALSE(parse_manifest_file_name("d12.manifest"));
  EXPECT_FALSE(parse_manifest_file_name("latest_version_hint.json"));
  EXPECT_FALSE(parse_manifest_file_name("18446744073709551613.manifest#x.tmp"));
  EXPECT_FALSE(parse_manifest_file_name(".manifest"));
}

TEST(LanceManifest, EncodeAndParseWithIndexSectionAndTransaction) {
  TempDir dir;
  pb::Manifest m;
  m.set_version(3);
  m.mutable_data_format()->set_file_format("lance");
  m.mutable_data_format()->set_version("2.0");
  std::string index("\x03\x00\x00\x00\x0a\x01\x00", 7);  // u32 len 3 + 3 bytes
  std::string bytes = encode_manifest_file(&m, index, "txn-bytes");
  EXPECT_EQ(bytes.substr(0, 7), index);
  EXPECT_EQ(m.index_section(), 0u);
  EXPECT_EQ(m.transaction_section(), 7u);
  EXPECT_EQ(bytes.substr(bytes.size() - 4), "LANC");
  const std::string path = dir.path() + "/x.manifest";
  ASSERT_TRUE(Env::Default()->write_file_atomic(path, bytes).ok());
  auto f = read_manifest_file(Env::Default(), path);
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  EXPECT_EQ(f->manifest.version(), 3u);
  auto idx = index_section_bytes(*f, path);
  ASSERT_TRUE(idx.ok());
  EXPECT_EQ(*idx, index);
  // Truncating the file breaks the footer check: corruption, not a misread.
  ASSERT_TRUE(Env::Default()->write_file_atomic(path, bytes.substr(1)).ok());
  EXPECT_EQ(read_manifest_file(Env::Default(), path).status().code(), Code::kCorruption);
}

TEST(LanceManifest, UnknownFieldsSurviveARoundTrip) {
  pb::Manifest m;
  m.set_version(1);
  // Field 16 (config map) is not modelled; it must be carried over verbatim.
  std::string wire = m.SerializeAsString() + std::string("\x82\x01\x04\x0a\x01k\x00", 7);
  pb::Manifest parsed;
  ASSERT_TRUE(parsed.ParseFromString(wire));
  parsed.set_version(2);
  std::string again = parsed.SerializeAsString();
  EXPECT_NE(again.find(std::string("\x82\x01\x04\x0a\x01k\x00", 7)), std::string::npos);
}

TEST(LanceManifest, CommitIsCreateIfAbsent) {
  TempDir dir;
  Env* env = Env::Default();
  ASSERT_TRUE(commit_manifest(env, dir.path(), ManifestNaming::kV2, 1, "first", true).ok());
  Status st = commit_manifest(env, dir.path(), ManifestNaming::kV2, 1, "second", false);
  EXPECT_EQ(st.code(), Code::kAlreadyExists);
  auto content = env->read_file(dir.path() + "/_versions/18446744073709551614.manifest");
  ASSERT_TRUE(content.ok());
  EXPECT_EQ(*content, "first");
  // No temp files are left behind.
  EXPECT_EQ(testing::count_files(dir.path() + "/_versions"), 1u);
}

TEST(LanceManifest, MixedNamingIsRefused) {
  TempDir dir;
  Env* env = Env::Default();
  ASSERT_TRUE(commit_manifest(env, dir.path(), ManifestNaming::kV2, 1, "a", false).ok());
  ASSERT_TRUE(commit_manifest(env, dir.path(), ManifestNaming::kV1, 2, "b", false).ok());
  EXPECT_EQ(list_versions(env, dir.path()).status().code(), Code::kNotSupported);
}

TEST(LanceManifest, UuidsAreVersion4) {
  std::string a = new_uuid(), b = new_uuid();
  EXPECT_NE(a, b);
  ASSERT_EQ(a.size(), 36u);
  EXPECT_EQ(a[14], '4');
  EXPECT_TRUE(a[19] == '8' || a[19] == '9' || a[19] == 'a' || a[19] == 'b');
}

}  // namespace
}  // namespace persisting::lance
