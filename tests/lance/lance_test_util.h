// Helpers for the Lance tests: a temporary directory and a way to commit a hand-edited manifest.
#pragma once

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "persisting/env.h"
#include "storage/lance/commit.h"
#include "storage/lance/format.h"
#include "storage/lance/little_endian.h"
#include "storage/lance/manifest.h"
#include "storage/lance/snapshot.h"
#include "util/temp_dir.h"

namespace persisting::lance::testing {

using persisting::testing::TempDir;

// Commits the latest manifest, changed by `edit`, as the next version (what another Lance
// writer could have produced). Returns the new version.
inline uint64_t commit_edited_manifest(const std::string& dataset, const std::function<void(pb::Manifest*)>& edit) {
  Env* env = Env::Default();
  auto s = load_snapshot(env, dataset, std::nullopt);
  if (!s.ok()) throw std::runtime_error(s.status().to_string());
  pb::Manifest m = s->file.manifest;
  m.set_version(s->version + 1);
  edit(&m);
  auto idx = index_section_bytes(s->file, s->manifest_path());
  std::string bytes = encode_manifest_file(&m, *idx, "");
  Status st = commit_manifest(env, dataset, s->naming, s->version + 1, bytes, true);
  if (!st.ok()) throw std::runtime_error(st.to_string());
  return s->version + 1;
}

// Adds a nullable top-level field to a manifest (as another writer could).
inline void add_field(pb::Manifest* m, const std::string& name, int32_t id, const std::string& logical_type) {
  pb::Field* f = m->add_fields();
  f->set_name(name);
  f->set_id(id);
  f->set_parent_id(-1);
  f->set_logical_type(logical_type);
  f->set_nullable(true);
}

// Rows LanceDB deleted from a dataset of one fragment of at least kLongRunOfDeletedRows rows:
// the first 75,536 (more than a get returns gaps for: BufferedDataset::kMaxGapsPerGet), as a
// Roaring bitmap with run containers (keys 0, all 65,536, and 1, its first 10,000).
inline constexpr int64_t kLongRunOfDeletedRows = 65536 + 10000;
inline void delete_long_run_of_rows(const std::string& dataset) {
  std::string bitmap;
  put_le<uint32_t>(&bitmap, 12347 | (1u << 16));
  bitmap += '\x03';
  for (uint16_t v : {0, 65535, 1, 9999}) put_le<uint16_t>(&bitmap, v);
  for (uint16_t v : {1, 0, 65535, 1, 0, 9999}) put_le<uint16_t>(&bitmap, v);
  std::filesystem::create_directories(dataset + "/_deletions");
  std::ofstream(dataset + "/_deletions/0-1-8.bin", std::ios::binary) << bitmap;
  commit_edited_manifest(dataset, [](pb::Manifest* m) {
    if (m->fragments_size() != 1) throw std::runtime_error("expected one fragment");
    m->set_reader_feature_flags(kFlagDeletionFiles);
    auto* d = m->mutable_fragments(0)->mutable_deletion_file();
    d->set_file_type(1);
    d->set_read_version(1);
    d->set_id(8);
    d->set_num_deleted_rows(kLongRunOfDeletedRows);
  });
}

inline size_t count_files(const std::string& dir) {
  size_t n = 0;
  if (!std::filesystem::exists(dir)) return 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

}  // namespace persisting::lance::testing
