#include "storage/lance/file_writer.h"

#include <cstring>

#include "core/crc32c.h"
#include "core/cleanup.h"
#include "core/status_macros.h"
#include "storage/lance/format.h"
#include "storage/lance/little_endian.h"
#include "storage/lance/page_encoder.h"
#include "storage/lance/proto/encodings.pb.h"

namespace persisting::lance {
namespace {

// Encoding{direct{Any{type_url, value}}}
void set_direct(pb::Encoding* e, std::string_view url, const std::string& value) {
  pb::AnyMsg any;
  any.set_type_url(std::string(url));
  any.set_value(value);
  e->mutable_direct()->set_encoding(any.SerializeAsString());
}

class Writer {
 public:
  explicit Writer(WritableFile* file) : file_(file) {}

  Status write(std::string_view data) {
    RETURN_IF_ERROR(file_->append(data));
    pos_ += data.size();
    return Status::OK();
  }
  Status pad_to(uint64_t alignment) {
    const uint64_t rem = pos_ % alignment;
    if (rem == 0) return Status::OK();
    return write(std::string(alignment - rem, '\0'));
  }
  uint64_t pos() const { return pos_; }

 private:
  WritableFile* file_;
  uint64_t pos_ = 0;
};

Status write_column(Writer* w, const FileColumn& col, uint64_t num_rows, const FileWriteOptions& opt,
                    pb::ColumnMetadata* meta, std::string* page_crcs) {
  pb::ColumnEncoding column_encoding;
  column_encoding.mutable_values();
  set_direct(meta->mutable_encoding(), kColumnEncodingUrl, column_encoding.SerializeAsString());
  uint64_t row = 0;
  while (row < num_rows) {
    // Cut a page at the size budget (at least one row per page).
    uint64_t end = row, bytes = 0;
    while (end < num_rows && (end == row || bytes + encoded_size_estimate(col.values[end], col.type) <= opt.max_page_bytes)) {
      bytes += encoded_size_estimate(col.values[end], col.type);
      ++end;
    }
    std::span<const Cell> slice(col.values.data() + row, end - row);
    ASSIGN_OR_RETURN(EncodedPage page, encode_page(slice, col.type, col.field.name(), opt.compression));
    pb::Page* p = meta->add_pages();
    uint32_t crc = 0;
    for (const std::string& buf : page.buffers) {
      RETURN_IF_ERROR(w->pad_to(kBufferAlignment));
      p->add_buffer_offsets(w->pos());
      p->add_buffer_sizes(buf.size());
      RETURN_IF_ERROR(w->write(buf));
      crc = crc32c_extend(crc, buf);
    }
    put_le<uint32_t>(page_crcs, crc);
    p->set_length(end - row);
    p->set_priority(row);
    set_direct(p->mutable_encoding(), kArrayEncodingUrl, page.encoding.SerializeAsString());
    row = end;
  }
  return Status::OK();
}

Status write_all(Writer* w, const std::vector<FileColumn>& columns, uint64_t num_rows,
                 const FileWriteOptions& opt) {
  std::vector<pb::ColumnMetadata> metas(columns.size());
  std::string page_crcs;
  for (size_t c = 0; c < columns.size(); ++c) {
    if (columns[c].values.size() != num_rows) return Internal("column '" + columns[c].field.name() + "' has the wrong row count");
    RETURN_IF_ERROR(write_column(w, columns[c], num_rows, opt, &metas[c], &page_crcs));
  }
  pb::FileDescriptor fd;
  for (const FileColumn& col : columns) *fd.mutable_schema()->add_fields() = col.field;
  if (opt.page_checksums) (*fd.mutable_schema()->mutable_metadata())[std::string(kPageCrcMetaKey)] = page_crcs;
  fd.set_length(num_rows);
  RETURN_IF_ERROR(w->pad_to(kBufferAlignment));
  const uint64_t gb0_pos = w->pos();
  const std::string gb0 = fd.SerializeAsString();
  RETURN_IF_ERROR(w->write(gb0));

  const uint64_t column_meta_start = w->pos();
  std::string cmo;
  for (const pb::ColumnMetadata& m : metas) {
    const std::string bytes = m.SerializeAsString();
    put_le<uint64_t>(&cmo, w->pos());
    put_le<uint64_t>(&cmo, bytes.size());
    RETURN_IF_ERROR(w->write(bytes));
  }
  const uint64_t cmo_start = w->pos();
  RETURN_IF_ERROR(w->write(cmo));
  const uint64_t gbo_start = w->pos();
  std::string tail;
  put_le<uint64_t>(&tail, gb0_pos);
  put_le<uint64_t>(&tail, gb0.size());
  put_le<uint64_t>(&tail, column_meta_start);
  put_le<uint64_t>(&tail, cmo_start);
  put_le<uint64_t>(&tail, gbo_start);
  put_le<uint32_t>(&tail, 1);
  put_le<uint32_t>(&tail, static_cast<uint32_t>(columns.size()));
  put_le<uint16_t>(&tail, kFooterMajor);
  put_le<uint16_t>(&tail, kFooterMinor);
  tail += kMagic;
  return w->write(tail);
}

}  // namespace

Result<uint64_t> write_data_file(Env* env, const std::string& path, const std::vector<FileColumn>& columns,
                                 uint64_t num_rows, const FileWriteOptions& options) {
  ASSIGN_OR_RETURN(auto file, options.unbuffered ? env->new_unbuffered_file(path) : env->new_writable_file(path, /*truncate=*/true));
  Writer w(file.get());
  Status st = write_all(&w, columns, num_rows, options);
  if (st.ok() && options.sync) st = file->sync();
  Status closed = file->close();
  if (st.ok()) st = closed;
  if (!st.ok())
    return with_cleanup(st.with_context("writing Lance data file '" + path + "'"), "removing it",
                        env->remove_file(path));
  return w.pos();
}

}  // namespace persisting::lance
