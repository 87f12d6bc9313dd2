#include "storage/lance/version_builder.h"

#include <chrono>

#include "core/cleanup.h"
#include "core/status_macros.h"
#include "storage/lance/commit.h"
#include "storage/lance/format.h"

namespace persisting::lance {

Result<NextVersion> take_next_version(Snapshot* s) {
  NextVersion next;
  pb::Manifest& m = next.manifest;
  if (s->version > 0) {
    ASSIGN_OR_RETURN(next.index_section, index_section_bytes(s->file, s->manifest_path()));
    m = std::move(s->file.manifest);
    s->file.manifest.Clear();
  } else {
    m.mutable_data_format()->set_file_format(std::string(kDataFormatName));
    m.mutable_data_format()->set_version(std::string(kDataFormatVersion));
  }
  m.set_version(s->version + 1);
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(now);
  m.mutable_timestamp()->set_seconds(secs.count());
  m.mutable_timestamp()->set_nanos(static_cast<int32_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(now - secs).count()));
  m.mutable_writer_version()->set_library(std::string(kWriterLibrary));
  m.mutable_writer_version()->set_version(std::string(kWriterVersion));
  if (!m.has_max_fragment_id() && m.fragments_size() == 0) m.set_max_fragment_id(0);
  return next;
}

Status restore_manifest(Snapshot* s) {
  if (s->version == 0) return Status::OK();
  ASSIGN_OR_RETURN(ManifestFile f, parse_manifest_file(std::move(s->file.raw), s->manifest_path()));
  s->file = std::move(f);
  return Status::OK();
}

uint64_t next_fragment_id(const pb::Manifest& m) {
  if (m.fragments_size() == 0 && (!m.has_max_fragment_id() || m.max_fragment_id() == 0)) {
    // An empty dataset: fragment 0 (a max_fragment_id of 0 with no fragments is the default).
    return 0;
  }
  if (m.has_max_fragment_id()) return uint64_t{m.max_fragment_id()} + 1;
  uint64_t max_id = 0;
  for (const auto& f : m.fragments()) max_id = std::max<uint64_t>(max_id, f.id());
  return max_id + 1;
}

Result<ManifestFile> commit_version(Env* env, const Snapshot& s, NextVersion next, pb::Transaction txn, bool sync,
                                    const std::vector<std::string>& data_files) {
  txn.set_read_version(s.version);
  txn.set_uuid(new_uuid());
  const std::string txn_bytes = txn.SerializeAsString();
  const std::string txn_name = std::to_string(s.version) + "-" + txn.uuid() + ".txn";
  ASSIGN_OR_RETURN(std::string txn_path, write_transaction_file(env, s.dataset, txn_name, txn_bytes));
  ManifestFile out;
  out.manifest = std::move(next.manifest);
  out.manifest.set_transaction_file(txn_name);
  out.raw = encode_manifest_file(&out.manifest, next.index_section, txn_bytes);
  auto tmp = write_manifest_temp(env, s.dataset, s.naming, s.version + 1, out.raw);
  Status st = tmp.status();
  if (st.ok() && sync) {
    std::vector<std::string> files = data_files;
    files.push_back(txn_path);
    files.push_back(*tmp);
    std::vector<std::string> dirs = {join_path(s.dataset, kTransactionsDir)};
    if (!data_files.empty()) dirs.push_back(join_path(s.dataset, kDataDir));
    st = sync_concurrently(env, files, dirs);
    if (!st.ok()) st = with_cleanup(st, "removing '" + *tmp + "'", env->remove_file(*tmp));
  }
  if (st.ok()) st = link_manifest(env, s.dataset, s.naming, s.version + 1, *tmp, sync);
  if (!st.ok()) return with_cleanup(st, "removing '" + txn_path + "'", env->remove_file(txn_path));
  return out;
}

}  // namespace persisting::lance
