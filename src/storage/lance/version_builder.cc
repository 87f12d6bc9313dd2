#include "storage/lance/version_builder.h"

#include <chrono>

#include "storage/lance/commit.h"
#include "storage/lance/format.h"

namespace persisting::lance {

pb::Manifest next_manifest(const Snapshot& s) {
  pb::Manifest m;
  if (s.version > 0) m = s.file.manifest;
  else m.mutable_data_format()->set_file_format(std::string(kDataFormatName));
  if (s.version == 0) m.mutable_data_format()->set_version(std::string(kDataFormatVersion));
  m.set_version(s.version + 1);
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(now);
  m.mutable_timestamp()->set_seconds(secs.count());
  m.mutable_timestamp()->set_nanos(static_cast<int32_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(now - secs).count()));
  m.mutable_writer_version()->set_library(std::string(kWriterLibrary));
  m.mutable_writer_version()->set_version(std::string(kWriterVersion));
  if (!m.has_max_fragment_id() && m.fragments_size() == 0) m.set_max_fragment_id(0);
  return m;
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

Result<std::string> commit_version(Env* env, const Snapshot& s, pb::Manifest m, pb::Transaction txn, bool sync) {
  txn.set_read_version(s.version);
  txn.set_uuid(new_uuid());
  const std::string txn_bytes = txn.SerializeAsString();
  const std::string txn_name = std::to_string(s.version) + "-" + txn.uuid() + ".txn";
  RETURN_IF_ERROR(write_transaction_file(env, s.dataset, txn_name, txn_bytes, sync));
  m.set_transaction_file(txn_name);
  std::string index_section;
  if (s.version > 0) {
    ASSIGN_OR_RETURN(index_section, index_section_bytes(s.file, s.manifest_path()));
  }
  const std::string bytes = encode_manifest_file(&m, index_section, txn_bytes);
  Status st = commit_manifest(env, s.dataset, s.naming, s.version + 1, bytes, sync);
  if (!st.ok()) {
    (void)env->remove_file(join_path(join_path(s.dataset, kTransactionsDir), txn_name));
    return st;
  }
  return bytes;
}

}  // namespace persisting::lance
