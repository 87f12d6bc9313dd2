#include "storage/lance/file_reader.h"

#include <cstring>

#include "core/crc32c.h"
#include "core/status_macros.h"
#include "storage/lance/format.h"
#include "storage/lance/little_endian.h"
#include "storage/lance/page_decoder.h"
#include "storage/lance/proto/encodings.pb.h"

namespace persisting::lance {
namespace {

// Unwraps Encoding{direct{Any{url, value}}} into *out, checking the type url's message name.
Status unwrap(const pb::Encoding& e, std::string_view url, google::protobuf::Message* out,
              const std::string& where) {
  if (!e.has_direct()) return NotSupported(where + ": encoding is not stored directly");
  pb::AnyMsg any;
  if (!any.ParseFromString(e.direct().encoding())) return Corruption(where + ": bad encoding bytes");
  auto name = [](std::string_view u) { return u.substr(u.rfind('/') + 1); };
  if (name(any.type_url()) != name(url)) {
    return NotSupported(where + ": encoding '" + any.type_url() + "' (expected '" + std::string(url) + "')");
  }
  if (!out->ParseFromString(any.value())) return Corruption(where + ": bad " + std::string(name(url)));
  return Status::OK();
}

}  // namespace

Result<std::unique_ptr<DataFileReader>> DataFileReader::open(Env* env, const std::string& path,
                                                             uint64_t size_hint) {
  std::unique_ptr<DataFileReader> r(new DataFileReader());
  r->path_ = path;
  ASSIGN_OR_RETURN(r->file_, env->new_random_access_file(path));
  const uint64_t size = size_hint != 0 ? size_hint : r->file_->size();
  auto bad = [&](const std::string& what) { return Corruption("Lance file '" + path + "': " + what); };
  if (size < kFileFooterSize) return bad("too small for a footer");
  std::string footer;
  RETURN_IF_ERROR(r->file_->read(size - kFileFooterSize, kFileFooterSize, &footer));
  if (footer.size() != kFileFooterSize) return bad("short read of the footer (file size " + std::to_string(size) + ")");
  if (footer.substr(36) != kMagic) return bad("no LANC magic at the end");
  const uint64_t cm_start = load_le<uint64_t>(footer, 0);
  const uint64_t cmo_start = load_le<uint64_t>(footer, 8);
  const uint64_t gbo_start = load_le<uint64_t>(footer, 16);
  const uint32_t num_gb = load_le<uint32_t>(footer, 24);
  const uint32_t num_cols = load_le<uint32_t>(footer, 28);
  const uint16_t major = load_le<uint16_t>(footer, 32), minor = load_le<uint16_t>(footer, 34);
  const std::string version = std::to_string(major) + "." + std::to_string(minor);
  if (major == 0 && minor < 3) return NotSupported("Lance file '" + path + "': legacy v1 file (footer version " + version + ")");
  if (!((major == 0 && minor == 3) || (major == 2 && minor == 0))) {
    return NotSupported("Lance file '" + path + "': file format " + version +
                        " (only 2.0 is supported; 2.1+ files are refused)");
  }
  if (num_gb == 0) return bad("no global buffers (schema expected)");
  const uint64_t tables_end = size - kFileFooterSize;
  if (cmo_start + 16ull * num_cols > tables_end || gbo_start + 16ull * num_gb > tables_end || cm_start > cmo_start) {
    return bad("footer offsets out of range");
  }
  std::string tables;
  RETURN_IF_ERROR(r->file_->read(std::min(cmo_start, gbo_start), tables_end - std::min(cmo_start, gbo_start), &tables));
  const uint64_t base = std::min(cmo_start, gbo_start);
  // Global buffer 0: the FileDescriptor.
  const uint64_t gb0_pos = load_le<uint64_t>(tables, gbo_start - base), gb0_size = load_le<uint64_t>(tables, gbo_start - base + 8);
  if (gb0_pos + gb0_size > size) return bad("global buffer 0 out of range");
  std::string gb0;
  RETURN_IF_ERROR(r->file_->read(gb0_pos, gb0_size, &gb0));
  if (!r->descriptor_.ParseFromString(gb0)) return bad("bad FileDescriptor");
  // Column metadata.
  r->columns_.resize(num_cols);
  std::string cm;
  RETURN_IF_ERROR(r->file_->read(cm_start, cmo_start - cm_start, &cm));
  for (uint32_t c = 0; c < num_cols; ++c) {
    const uint64_t pos = load_le<uint64_t>(tables, cmo_start - base + 16ull * c);
    const uint64_t len = load_le<uint64_t>(tables, cmo_start - base + 16ull * c + 8);
    if (pos < cm_start || pos + len > cmo_start) return bad("column " + std::to_string(c) + " metadata out of range");
    if (!r->columns_[c].ParseFromArray(cm.data() + (pos - cm_start), static_cast<int>(len))) {
      return bad("bad ColumnMetadata for column " + std::to_string(c));
    }
    uint64_t rows = 0;
    for (const pb::Page& page : r->columns_[c].pages()) {
      if (page.length() > r->descriptor_.length() - rows) break;
      rows += page.length();
    }
    if (rows != r->descriptor_.length() && r->columns_[c].pages_size() > 0) {
      return bad("the pages of column " + std::to_string(c) + " do not add up to the file's " +
                 std::to_string(r->descriptor_.length()) + " rows");
    }
  }
  // Page checksums (written by Persisting since they exist; absent from older files).
  const auto& meta = r->descriptor_.schema().metadata();
  if (auto it = meta.find(std::string(kPageCrcMetaKey)); it != meta.end()) {
    uint64_t pages = 0;
    for (const auto& c : r->columns_) pages += static_cast<uint64_t>(c.pages_size());
    if (it->second.size() != 4 * pages) {
      return bad("the page checksum table holds " + std::to_string(it->second.size()) + " bytes for " +
                 std::to_string(pages) + " pages");
    }
    size_t at = 0;
    r->page_crcs_.resize(num_cols);
    for (uint32_t c = 0; c < num_cols; ++c) {
      for (int p = 0; p < r->columns_[c].pages_size(); ++p, at += 4) r->page_crcs_[c].push_back(load_le<uint32_t>(it->second, at));
    }
  }
  return r;
}

Status DataFileReader::read_column(uint32_t column, const ColumnType& type, uint64_t begin, uint64_t end,
                                   std::vector<Value>* out) const {
  if (column >= columns_.size()) {
    return Corruption("Lance file '" + path_ + "': column " + std::to_string(column) + " of " +
                      std::to_string(columns_.size()));
  }
  const pb::ColumnMetadata& meta = columns_[column];
  if (meta.buffer_offsets_size() != 0) {
    return NotSupported("Lance file '" + path_ + "' column " + std::to_string(column) + ": column-level buffers");
  }
  uint64_t page_start = 0;
  for (int p = 0; p < meta.pages_size() && page_start < end; ++p) {
    const pb::Page& page = meta.pages(p);
    const uint64_t page_end = page_start + page.length();
    if (page_end > begin) {
      const std::string where = "Lance file '" + path_ + "' column " + std::to_string(column) + " page " + std::to_string(p);
      pb::ArrayEncoding enc;
      RETURN_IF_ERROR(unwrap(page.encoding(), kArrayEncodingUrl, &enc, where));
      if (page.buffer_offsets_size() != page.buffer_sizes_size()) return Corruption(where + ": buffer table mismatch");
      std::vector<std::string> buffers(page.buffer_offsets_size());
      for (int b = 0; b < page.buffer_offsets_size(); ++b) {
        const uint64_t off = page.buffer_offsets(b), len = page.buffer_sizes(b), size = file_->size();
        if (off > size || len > size - off) {
          return Corruption(where + ": buffer " + std::to_string(b) + " [" + std::to_string(off) + ", +" +
                            std::to_string(len) + ") outside the file (" + std::to_string(size) + " bytes)");
        }
        RETURN_IF_ERROR(file_->read(page.buffer_offsets(b), page.buffer_sizes(b), &buffers[b]));
        if (buffers[b].size() != page.buffer_sizes(b)) return Corruption(where + ": buffer " + std::to_string(b) + " past the end of the file");
      }
      if (!page_crcs_.empty()) {
        uint32_t crc = 0;
        for (const std::string& buf : buffers) crc = crc32c_extend(crc, buf);
        const uint32_t stored = page_crcs_[column][static_cast<size_t>(p)];
        if (crc != stored) {
          return Corruption(where + ": page checksum mismatch (stored " + std::to_string(stored) + ", computed " +
                            std::to_string(crc) + "): the file is damaged");
        }
      }
      const uint64_t from = std::max(begin, page_start) - page_start;
      const uint64_t to = std::min(end, page_end) - page_start;
      RETURN_IF_ERROR(decode_page(enc, buffers, page.length(), type, from, to, where, out));
    }
    page_start = page_end;
  }
  if (page_start < end) {
    return Corruption("Lance file '" + path_ + "' column " + std::to_string(column) + ": pages hold " +
                      std::to_string(page_start) + " rows, " + std::to_string(end) + " requested");
  }
  return Status::OK();
}

std::vector<std::string> DataFileReader::page_encoding_names(uint32_t column) const {
  std::vector<std::string> out;
  if (column >= columns_.size()) return out;
  for (const pb::Page& page : columns_[column].pages()) {
    pb::ArrayEncoding enc;
    if (!unwrap(page.encoding(), kArrayEncodingUrl, &enc, path_).ok()) {
      out.push_back("unreadable");
      continue;
    }
    // Outer encodings down to the first non-nullable one: "nullable/fixed_size_list", ...
    std::string name;
    const pb::ArrayEncoding* e = &enc;
    while (true) {
      const auto* field = e->GetDescriptor()->FindFieldByNumber(static_cast<int>(e->array_encoding_case()));
      name += field ? field->name() : "unknown";
      if (!e->has_nullable()) break;
      const pb::Nullable& n = e->nullable();
      if (n.has_no_nulls()) e = &n.no_nulls().values();
      else if (n.has_some_nulls()) e = &n.some_nulls().values();
      else break;
      name += "/";
    }
    out.push_back(name);
  }
  return out;
}

}  // namespace persisting::lance
