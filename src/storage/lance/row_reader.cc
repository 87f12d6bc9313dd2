#include "storage/lance/row_reader.h"

#include <algorithm>

#include "core/status_macros.h"
#include "storage/lance/file_reader.h"
#include "storage/lance/format.h"

namespace persisting::lance {

Status read_fragment_field(Env* env, const Snapshot& s, const pb::DataFragment& frag, const SchemaField& field,
                           uint64_t begin, uint64_t end, FileReaderCache* cache, std::vector<Value>* out) {
  if (!field.type) return field.type_error;
  for (const pb::DataFile& df : frag.files()) {
    for (int j = 0; j < df.fields_size(); ++j) {
      if (df.fields(j) != field.id || df.column_indices(j) < 0) continue;
      const std::string path = join_path(join_path(s.dataset, kDataDir), df.path());
      auto& reader = (*cache)[path];
      if (!reader) {
        ASSIGN_OR_RETURN(reader, DataFileReader::open(env, path, df.file_size_bytes()));
      }
      if (reader->num_rows() < end) {
        return Corruption("Lance file '" + path + "' has " + std::to_string(reader->num_rows()) +
                          " rows; fragment " + std::to_string(frag.id()) + " needs " + std::to_string(end));
      }
      return reader->read_column(static_cast<uint32_t>(df.column_indices(j)), *field.type, begin, end, out);
    }
  }
  out->resize(out->size() + (end - begin));  // the fragment does not store this field: nulls
  return Status::OK();
}

Result<std::vector<uint64_t>> deleted_offsets(Env* env, const Snapshot& s, uint64_t offset, uint64_t limit,
                                              DeletionCache* deletions) {
  std::vector<uint64_t> out;
  const uint64_t total = s.num_rows();
  if (s.deletion_files == 0 || offset >= total || limit == 0) return out;
  const uint64_t end = offset + std::min(limit, total - offset);
  size_t frag = std::upper_bound(s.fragment_starts.begin(), s.fragment_starts.end(), offset) -
                s.fragment_starts.begin() - 1;
  const auto& fragments = s.file.manifest.fragments();
  for (; frag + 1 < s.fragment_starts.size() && s.fragment_starts[frag] < end; ++frag) {
    const pb::DataFragment& f = fragments[static_cast<int>(frag)];
    if (!f.has_deletion_file()) continue;
    const uint64_t start = s.fragment_starts[frag], rows = s.fragment_starts[frag + 1] - start;
    ASSIGN_OR_RETURN(auto deleted, read_deleted_rows(env, s.dataset, f, rows, deletions));
    const uint64_t a = std::max(offset, start) - start, b = std::min(end, start + rows) - start;
    for (auto it = std::lower_bound(deleted->begin(), deleted->end(), a); it != deleted->end() && *it < b; ++it) {
      out.push_back(start + *it);
    }
  }
  // Each entry holds a fragment's deleted rows: keep a bounded number.
  constexpr size_t kMaxDeletionFiles = 256;
  if (deletions->size() > kMaxDeletionFiles) deletions->clear();
  return out;
}

Result<std::vector<Record>> read_rows(Env* env, const Snapshot& s, uint64_t offset, uint64_t limit,
                                      const std::vector<std::string>& columns, FileReaderCache* cache,
                                      DeletionCache* deletions, bool with_deleted) {
  std::vector<const SchemaField*> fields;
  if (columns.empty()) {
    for (const SchemaField& f : s.fields) fields.push_back(&f);
  } else {
    for (const std::string& name : columns) {
      const SchemaField* f = s.find(name);
      if (!f) return InvalidArgument("Lance dataset '" + s.dataset + "': no column '" + name + "'");
      fields.push_back(f);
    }
  }
  for (const SchemaField* f : fields) {
    if (!f->type) return f->type_error;
  }
  std::vector<Record> rows;
  const uint64_t total = s.num_rows();
  if (offset >= total || limit == 0) return rows;
  const uint64_t end = offset + std::min(limit, total - offset);
  rows.resize(end - offset);
  for (Record& r : rows) r.reserve(fields.size());
  // The fragment holding `offset`: the last start <= offset.
  size_t frag = std::upper_bound(s.fragment_starts.begin(), s.fragment_starts.end(), offset) -
                s.fragment_starts.begin() - 1;
  const auto& fragments = s.file.manifest.fragments();
  std::vector<Value> column;
  for (uint64_t row = offset; row < end; ++frag) {
    const uint64_t frag_start = s.fragment_starts[frag], frag_end = s.fragment_starts[frag + 1];
    const uint64_t a = row - frag_start, b = std::min(end, frag_end) - frag_start;
    for (const SchemaField* f : fields) {
      column.clear();
      RETURN_IF_ERROR(read_fragment_field(env, s, fragments[static_cast<int>(frag)], *f, a, b, cache, &column));
      for (uint64_t i = 0; i < b - a; ++i) {
        rows[row - offset + i].append_unchecked(f->name, std::move(column[i]));
      }
    }
    row = frag_start + b;
    // Each entry holds a file descriptor and the file's column metadata: keep a bounded number.
    constexpr size_t kMaxOpenFiles = 64;
    if (cache->size() > kMaxOpenFiles) cache->clear();
  }
  if (!with_deleted && s.deletion_files > 0) {
    ASSIGN_OR_RETURN(std::vector<uint64_t> deleted, deleted_offsets(env, s, offset, end - offset, deletions));
    if (!deleted.empty()) {
      std::vector<Record> live;
      live.reserve(rows.size() - deleted.size());
      size_t d = 0;
      for (uint64_t i = 0; i < rows.size(); ++i) {
        if (d < deleted.size() && deleted[d] == offset + i) {
          ++d;
          continue;
        }
        live.push_back(std::move(rows[i]));
      }
      rows = std::move(live);
    }
  }
  return rows;
}

}  // namespace persisting::lance
