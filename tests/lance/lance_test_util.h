// Helpers for the Lance tests: a temporary directory and a way to commit a hand-edited manifest.
#pragma once

#include <filesystem>
#include <functional>
#include <string>

#include "persisting/env.h"
#include "storage/lance/commit.h"
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

inline size_t count_files(const std::string& dir) {
  size_t n = 0;
  if (!std::filesystem::exists(dir)) return 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

}  // namespace persisting::lance::testing
