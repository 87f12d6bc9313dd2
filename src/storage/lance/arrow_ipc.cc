#include "storage/lance/arrow_ipc.h"

#include <optional>

#include "core/status_macros.h"
#include "storage/lance/buffer_compression.h"
#include "storage/lance/little_endian.h"

namespace persisting::lance {
namespace {

constexpr std::string_view kArrowMagic = "ARROW1";
// Flatbuffer field numbers (Arrow's Schema.fbs, Message.fbs, File.fbs).
enum FooterField { kFooterSchema = 1, kFooterDictionaries = 2, kFooterRecordBatches = 3 };
enum SchemaField { kSchemaEndianness = 0, kSchemaFields = 1 };
enum FieldField { kFieldTypeType = 2, kFieldType = 3, kFieldDictionary = 4, kFieldChildren = 5 };
enum IntField { kIntBitWidth = 0, kIntIsSigned = 1 };
enum MessageField { kMessageHeaderType = 1, kMessageHeader = 2 };
enum BatchField { kBatchLength = 0, kBatchNodes = 1, kBatchBuffers = 2, kBatchCompression = 3 };
enum CompressionField { kCompressionCodec = 0, kCompressionMethod = 1 };
constexpr uint8_t kTypeInt = 2;            // Type union: Int
constexpr uint8_t kHeaderRecordBatch = 3;  // MessageHeader union: RecordBatch
constexpr int8_t kCodecZstd = 1;           // CompressionType (0 is LZ4_FRAME)
constexpr uint64_t kBlockSize = 24;        // Block struct: i64 offset, i32 metaDataLength, pad, i64 bodyLength
constexpr uint64_t kFieldNodeSize = 16;    // FieldNode struct: i64 length, i64 null_count
constexpr uint64_t kBufferSize = 16;       // Buffer struct: i64 offset, i64 length

// A flatbuffer in `buf` read with every access bounds-checked: a bad offset sets `bad` and
// reads as zero, so a parse runs to its end and the caller checks `bad` once per step.
struct Flat {
  std::string_view buf;
  bool bad = false;

  template <typename T>
  T load(uint64_t pos) {
    if (pos > buf.size() || buf.size() - pos < sizeof(T)) {
      bad = true;
      return T{};
    }
    return load_le<T>(buf, pos);
  }
};

// A table: its position and its vtable's.
struct Table {
  uint64_t pos = 0, vtable = 0;
  uint16_t vtable_size = 0;
  bool present = false;
};

Table table_at(Flat& f, uint64_t pos) {
  Table t;
  const int64_t vt = static_cast<int64_t>(pos) - f.load<int32_t>(pos);
  if (f.bad || vt < 0) {
    f.bad = true;
    return t;
  }
  t.pos = pos;
  t.vtable = static_cast<uint64_t>(vt);
  t.vtable_size = f.load<uint16_t>(t.vtable);
  if (f.bad || t.vtable_size < 4 || t.vtable + t.vtable_size > f.buf.size()) {
    f.bad = true;
    return Table{};
  }
  t.present = true;
  return t;
}

Table root(Flat& f) { return table_at(f, f.load<uint32_t>(0)); }

// Where field i's value lies, or 0 when absent.
uint64_t field_pos(Flat& f, const Table& t, int i) {
  if (!t.present) return 0;
  const uint64_t entry = 4 + 2 * static_cast<uint64_t>(i);
  if (entry + 2 > t.vtable_size) return 0;
  const uint16_t off = f.load<uint16_t>(t.vtable + entry);
  return off == 0 ? 0 : t.pos + off;
}

template <typename T>
T scalar(Flat& f, const Table& t, int i, T absent) {
  const uint64_t p = field_pos(f, t, i);
  return p == 0 ? absent : f.load<T>(p);
}

// The target of the uoffset at p.
uint64_t follow(Flat& f, uint64_t p) { return p + f.load<uint32_t>(p); }

Table sub_table(Flat& f, const Table& t, int i) {
  const uint64_t p = field_pos(f, t, i);
  return p == 0 ? Table{} : table_at(f, follow(f, p));
}

// A vector: where its first element lies and how many there are (elements of elem_size bytes
// checked to lie inside the buffer). An absent vector is empty.
struct Vector {
  uint64_t first = 0, size = 0;
};

Vector vector(Flat& f, const Table& t, int i, uint64_t elem_size) {
  const uint64_t p = field_pos(f, t, i);
  if (p == 0) return {};
  const uint64_t at = follow(f, p);
  const uint64_t n = f.load<uint32_t>(at);
  if (f.bad || (f.buf.size() - at - 4) / elem_size < n) {
    f.bad = true;
    return {};
  }
  return {at + 4, n};
}

Table vector_table(Flat& f, const Vector& v, uint64_t k) { return table_at(f, follow(f, v.first + 4 * k)); }

// Checks the schema: one field, a non-dictionary UInt32 without children, little-endian.
Status check_schema(Flat& f, const Table& schema, const std::string& where) {
  if (!schema.present) return Corruption(where + ": no schema in the footer");
  if (scalar<int16_t>(f, schema, kSchemaEndianness, 0) != 0) return NotSupported(where + ": big-endian Arrow data");
  const Vector fields = vector(f, schema, kSchemaFields, 4);
  if (fields.size != 1) return Corruption(where + ": expected one column, found " + std::to_string(fields.size));
  const Table field = vector_table(f, fields, 0);
  const uint8_t type = scalar<uint8_t>(f, field, kFieldTypeType, 0);
  const Table int_type = sub_table(f, field, kFieldType);
  const bool dictionary = field_pos(f, field, kFieldDictionary) != 0;
  const uint64_t children = vector(f, field, kFieldChildren, 4).size;
  if (f.bad) return Corruption(where + ": malformed schema");
  if (type != kTypeInt || dictionary || children != 0 || scalar<int32_t>(f, int_type, kIntBitWidth, 0) != 32 ||
      scalar<uint8_t>(f, int_type, kIntIsSigned, 0) != 0) {
    return Corruption(where + ": the column is not a UInt32 column");
  }
  return f.bad ? Corruption(where + ": malformed schema") : Status::OK();
}

// Buffer `b` of the body: its bytes, decompressed when the batch is compressed.
Result<std::string> body_buffer(Flat& meta, const Vector& buffers, uint64_t b, std::string_view body,
                                std::optional<int8_t> codec, uint64_t max_bytes, const std::string& where) {
  const uint64_t at = buffers.first + b * kBufferSize;
  const int64_t off = meta.load<int64_t>(at), len = meta.load<int64_t>(at + 8);
  if (meta.bad || off < 0 || len < 0 || static_cast<uint64_t>(off) > body.size() ||
      body.size() - static_cast<uint64_t>(off) < static_cast<uint64_t>(len)) {
    return Corruption(where + ": buffer " + std::to_string(b) + " lies outside the record batch body");
  }
  std::string_view bytes = body.substr(static_cast<size_t>(off), static_cast<size_t>(len));
  if (!codec || bytes.empty()) return std::string(bytes);
  if (bytes.size() < 8) return Corruption(where + ": compressed buffer shorter than its length prefix");
  const int64_t raw = load_le<int64_t>(bytes);
  if (raw == -1) return std::string(bytes.substr(8));  // stored uncompressed
  if (raw < 0 || static_cast<uint64_t>(raw) > max_bytes) {
    return Corruption(where + ": compressed buffer claims " + std::to_string(raw) + " bytes");
  }
  if (*codec != kCodecZstd) return NotSupported(where + ": Arrow buffers compressed with LZ4 (only ZSTD is read)");
  return decompress_buffer("zstd", bytes, where);  // u64 length prefix + one frame: the same layout
}

}  // namespace

Result<std::vector<uint32_t>> read_arrow_uint32_column(std::string_view file, uint64_t max_values,
                                                       const std::string& path) {
  const std::string where = "Arrow IPC file '" + path + "'";
  // "ARROW1" + 2 bytes of padding, ..., footer, i32 footer length, "ARROW1".
  if (file.size() < 8 + 4 + kArrowMagic.size() || file.substr(0, kArrowMagic.size()) != kArrowMagic ||
      file.substr(file.size() - kArrowMagic.size()) != kArrowMagic) {
    return Corruption(where + ": no ARROW1 magic at both ends");
  }
  const uint64_t footer_len_pos = file.size() - kArrowMagic.size() - 4;
  const int32_t footer_len = load_le<int32_t>(file, footer_len_pos);
  if (footer_len < 4 || static_cast<uint64_t>(footer_len) > footer_len_pos - 8) {
    return Corruption(where + ": footer length " + std::to_string(footer_len) + " out of range");
  }
  Flat footer{file.substr(footer_len_pos - static_cast<uint64_t>(footer_len), static_cast<uint64_t>(footer_len))};
  const Table ft = root(footer);
  RETURN_IF_ERROR(check_schema(footer, sub_table(footer, ft, kFooterSchema), where));
  if (vector(footer, ft, kFooterDictionaries, kBlockSize).size != 0) return Corruption(where + ": has dictionaries");
  const Vector batches = vector(footer, ft, kFooterRecordBatches, kBlockSize);
  if (footer.bad) return Corruption(where + ": malformed footer");
  if (batches.size != 1) return Corruption(where + ": expected one record batch, found " + std::to_string(batches.size));
  const int64_t block_off = footer.load<int64_t>(batches.first);
  const int32_t meta_len = footer.load<int32_t>(batches.first + 8);
  const int64_t body_len = footer.load<int64_t>(batches.first + 16);
  const uint64_t limit = footer_len_pos - static_cast<uint64_t>(footer_len);  // messages end where the footer starts
  if (block_off < 8 || meta_len < 8 || body_len < 0 || static_cast<uint64_t>(block_off) > limit ||
      limit - static_cast<uint64_t>(block_off) < static_cast<uint64_t>(meta_len) ||
      limit - static_cast<uint64_t>(block_off) - static_cast<uint64_t>(meta_len) < static_cast<uint64_t>(body_len)) {
    return Corruption(where + ": record batch block out of range");
  }
  // The message: 0xFFFFFFFF, i32 flatbuffer length, the Message flatbuffer, padding; then the body.
  std::string_view message = file.substr(static_cast<size_t>(block_off), static_cast<size_t>(meta_len));
  uint64_t fb_start = 4;
  if (load_le<uint32_t>(message) == 0xFFFFFFFFu) fb_start = 8;  // (pre-1.0 files have no continuation marker)
  const uint32_t fb_len = load_le<uint32_t>(message, fb_start - 4);
  if (fb_len > message.size() - fb_start) return Corruption(where + ": message length out of range");
  Flat meta{message.substr(fb_start, fb_len)};
  const Table msg = root(meta);
  if (scalar<uint8_t>(meta, msg, kMessageHeaderType, 0) != kHeaderRecordBatch) {
    return Corruption(where + ": the record batch block holds another kind of message");
  }
  const Table batch = sub_table(meta, msg, kMessageHeader);
  const int64_t length = scalar<int64_t>(meta, batch, kBatchLength, 0);
  const Vector nodes = vector(meta, batch, kBatchNodes, kFieldNodeSize);
  const Vector buffers = vector(meta, batch, kBatchBuffers, kBufferSize);
  const Table compression = sub_table(meta, batch, kBatchCompression);
  if (meta.bad || !batch.present) return Corruption(where + ": malformed record batch message");
  if (length < 0 || static_cast<uint64_t>(length) > max_values) {
    return Corruption(where + ": " + std::to_string(length) + " values, more than the " + std::to_string(max_values) +
                      " possible");
  }
  if (nodes.size != 1 || buffers.size != 2) return Corruption(where + ": not the layout of one UInt32 column");
  const int64_t node_length = meta.load<int64_t>(nodes.first), null_count = meta.load<int64_t>(nodes.first + 8);
  if (node_length != length) return Corruption(where + ": column length differs from the batch's");
  if (null_count != 0) return Corruption(where + ": null values in the column");
  std::optional<int8_t> codec;
  if (compression.present) {
    codec = scalar<int8_t>(meta, compression, kCompressionCodec, 0);
    if (scalar<int8_t>(meta, compression, kCompressionMethod, 0) != 0) {
      return NotSupported(where + ": unknown Arrow body compression method");
    }
  }
  const std::string_view body =
      file.substr(static_cast<size_t>(block_off) + static_cast<size_t>(meta_len), static_cast<size_t>(body_len));
  const uint64_t n = static_cast<uint64_t>(length);
  // Buffer 0 (validity) is irrelevant with no nulls; buffer 1 holds the values.
  ASSIGN_OR_RETURN(std::string values, body_buffer(meta, buffers, 1, body, codec, 4 * n + 64, where));
  if (values.size() < 4 * n) return Corruption(where + ": values buffer shorter than the column");
  std::vector<uint32_t> out(n);
  for (uint64_t i = 0; i < n; ++i) out[i] = load_le<uint32_t>(values, 4 * i);
  return out;
}

}  // namespace persisting::lance
