#include "kafka/protocol/compression.h"

#include <lz4frame.h>
#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "core/status_macros.h"

namespace persisting::kafka {

namespace {

constexpr size_t kChunk = 64 * 1024;

Status too_big(Compression c, size_t limit) {
  return ResourceExhausted("kafka: " + std::string(compression_name(c)) + " data expands past the limit of " +
                           std::to_string(limit) + " bytes");
}

Status corrupt(Compression c, std::string_view why) {
  return InvalidArgument("kafka: " + std::string(compression_name(c)) + " data: " + std::string(why));
}

// ---- gzip (zlib) ----

Status gzip_compress(std::string_view in, std::string* out) {
  z_stream z{};
  // 15 + 16: a gzip wrapper, what Kafka's GZIPOutputStream writes.
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return Internal("kafka: gzip: deflateInit2 failed");
  }
  size_t start = out->size();
  out->resize(start + deflateBound(&z, in.size()) + 32);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out->data() + start);
  z.avail_out = static_cast<uInt>(out->size() - start);
  int rc = deflate(&z, Z_FINISH);
  size_t produced = z.total_out;
  deflateEnd(&z);
  if (rc != Z_STREAM_END) {
    out->resize(start);
    return Internal("kafka: gzip: deflate failed (" + std::to_string(rc) + ")");
  }
  out->resize(start + produced);
  return Status::OK();
}

Status gzip_decompress(std::string_view in, size_t limit, std::string* out) {
  z_stream z{};
  if (inflateInit2(&z, 15 + 32) != Z_OK) return Internal("kafka: gzip: inflateInit2 failed");  // gzip or zlib
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&z, inflateEnd);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  size_t produced = 0;
  char buf[kChunk];
  for (;;) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    int rc = inflate(&z, Z_NO_FLUSH);
    size_t n = sizeof buf - z.avail_out;
    if (rc != Z_OK && rc != Z_STREAM_END && !(rc == Z_BUF_ERROR && n > 0)) {
      return corrupt(Compression::kGzip, z.msg != nullptr ? z.msg : "inflate failed");
    }
    produced += n;
    if (produced > limit) return too_big(Compression::kGzip, limit);
    out->append(buf, n);
    if (rc == Z_STREAM_END) {
      // Concatenated gzip members are legal; Kafka clients write one.
      if (z.avail_in == 0) return Status::OK();
      if (inflateReset(&z) != Z_OK) return corrupt(Compression::kGzip, "inflateReset failed");
      continue;
    }
    if (n == 0 && z.avail_in == 0) return corrupt(Compression::kGzip, "truncated stream");
  }
}

// ---- snappy (raw, and xerial framing) ----

constexpr char kXerialMagic[8] = {'\x82', 'S', 'N', 'A', 'P', 'P', 'Y', '\0'};
constexpr size_t kXerialHeader = 16;  // magic + version int32 + compatible version int32
constexpr size_t kXerialBlock = 32 * 1024;

void put_be32(std::string* out, uint32_t v) {
  char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
  out->append(b, 4);
}

uint32_t get_be32(const char* p) {
  auto b = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | uint32_t{b[3]};
}

Status snappy_raw_decompress(std::string_view in, size_t limit, size_t* produced, std::string* out) {
  size_t n = 0;
  if (!snappy::GetUncompressedLength(in.data(), in.size(), &n)) {
    return corrupt(Compression::kSnappy, "bad block length");
  }
  if (n > limit || *produced + n > limit) return too_big(Compression::kSnappy, limit);
  size_t start = out->size();
  out->resize(start + n);
  if (!snappy::RawUncompress(in.data(), in.size(), out->data() + start)) {
    out->resize(start);
    return corrupt(Compression::kSnappy, "bad block");
  }
  *produced += n;
  return Status::OK();
}

Status snappy_compress(std::string_view in, std::string* out) {
  out->append(kXerialMagic, sizeof kXerialMagic);
  put_be32(out, 1);  // version
  put_be32(out, 1);  // compatible version
  std::string block;
  for (size_t pos = 0; pos < in.size(); pos += kXerialBlock) {
    std::string_view chunk = in.substr(pos, kXerialBlock);
    block.clear();
    snappy::Compress(chunk.data(), chunk.size(), &block);
    put_be32(out, static_cast<uint32_t>(block.size()));
    out->append(block);
  }
  return Status::OK();
}

Status snappy_decompress(std::string_view in, size_t limit, std::string* out) {
  size_t produced = 0;
  if (in.size() < kXerialHeader || std::memcmp(in.data(), kXerialMagic, sizeof kXerialMagic) != 0) {
    return snappy_raw_decompress(in, limit, &produced, out);
  }
  size_t pos = kXerialHeader;
  while (pos < in.size()) {
    if (in.size() - pos < 4) return corrupt(Compression::kSnappy, "truncated xerial block length");
    uint32_t len = get_be32(in.data() + pos);
    pos += 4;
    if (len > in.size() - pos) return corrupt(Compression::kSnappy, "xerial block runs past the end");
    RETURN_IF_ERROR(snappy_raw_decompress(in.substr(pos, len), limit, &produced, out));
    pos += len;
  }
  return Status::OK();
}

// ---- lz4 (frame format) ----

Status lz4_compress(std::string_view in, std::string* out) {
  LZ4F_preferences_t prefs;
  std::memset(&prefs, 0, sizeof prefs);
  prefs.frameInfo.blockSizeID = LZ4F_max64KB;
  prefs.frameInfo.blockMode = LZ4F_blockIndependent;
  size_t start = out->size();
  out->resize(start + LZ4F_compressFrameBound(in.size(), &prefs));
  size_t n = LZ4F_compressFrame(out->data() + start, out->size() - start, in.data(), in.size(), &prefs);
  if (LZ4F_isError(n)) {
    out->resize(start);
    return Internal(std::string("kafka: lz4: ") + LZ4F_getErrorName(n));
  }
  out->resize(start + n);
  return Status::OK();
}

Status lz4_decompress(std::string_view in, size_t limit, std::string* out) {
  LZ4F_dctx* ctx = nullptr;
  if (LZ4F_isError(LZ4F_createDecompressionContext(&ctx, LZ4F_VERSION))) {
    return Internal("kafka: lz4: cannot create a decompression context");
  }
  std::unique_ptr<LZ4F_dctx, LZ4F_errorCode_t (*)(LZ4F_dctx*)> guard(ctx, LZ4F_freeDecompressionContext);
  size_t pos = 0;
  size_t produced = 0;
  char buf[kChunk];
  for (;;) {
    size_t dst = sizeof buf;
    size_t src = in.size() - pos;
    size_t hint = LZ4F_decompress(ctx, buf, &dst, in.data() + pos, &src, nullptr);
    if (LZ4F_isError(hint)) return corrupt(Compression::kLz4, LZ4F_getErrorName(hint));
    pos += src;
    produced += dst;
    if (produced > limit) return too_big(Compression::kLz4, limit);
    out->append(buf, dst);
    if (hint == 0) {
      // End of a frame; another frame may follow.
      if (pos == in.size()) return Status::OK();
      continue;
    }
    if (pos == in.size() && dst == 0) return corrupt(Compression::kLz4, "truncated frame");
  }
}

// ---- zstd ----

Status zstd_compress(std::string_view in, std::string* out) {
  size_t start = out->size();
  out->resize(start + ZSTD_compressBound(in.size()));
  size_t n = ZSTD_compress(out->data() + start, out->size() - start, in.data(), in.size(), 3);
  if (ZSTD_isError(n)) {
    out->resize(start);
    return Internal(std::string("kafka: zstd: ") + ZSTD_getErrorName(n));
  }
  out->resize(start + n);
  return Status::OK();
}

Status zstd_decompress(std::string_view in, size_t limit, std::string* out) {
  ZSTD_DStream* ds = ZSTD_createDStream();
  if (ds == nullptr) return Internal("kafka: zstd: cannot create a stream");
  std::unique_ptr<ZSTD_DStream, size_t (*)(ZSTD_DStream*)> guard(ds, ZSTD_freeDStream);
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  size_t produced = 0;
  char buf[kChunk];
  size_t last = 1;
  for (;;) {
    ZSTD_outBuffer output{buf, sizeof buf, 0};
    last = ZSTD_decompressStream(ds, &output, &input);
    if (ZSTD_isError(last)) return corrupt(Compression::kZstd, ZSTD_getErrorName(last));
    produced += output.pos;
    if (produced > limit) return too_big(Compression::kZstd, limit);
    out->append(buf, output.pos);
    if (input.pos == input.size && output.pos < sizeof buf) break;
  }
  if (last != 0) return corrupt(Compression::kZstd, "truncated frame");
  return Status::OK();
}

}  // namespace

std::string_view compression_name(Compression c) {
  switch (c) {
    case Compression::kNone: return "none";
    case Compression::kGzip: return "gzip";
    case Compression::kSnappy: return "snappy";
    case Compression::kLz4: return "lz4";
    case Compression::kZstd: return "zstd";
  }
  return "unknown";
}

Result<Compression> compression_from_attributes(int16_t attributes) {
  int codec = attributes & 0x07;
  if (codec > 4) return InvalidArgument("kafka: unknown compression codec " + std::to_string(codec));
  return static_cast<Compression>(codec);
}

Status compress(Compression c, std::string_view in, std::string* out) {
  switch (c) {
    case Compression::kNone: out->append(in); return Status::OK();
    case Compression::kGzip: return gzip_compress(in, out);
    case Compression::kSnappy: return snappy_compress(in, out);
    case Compression::kLz4: return lz4_compress(in, out);
    case Compression::kZstd: return zstd_compress(in, out);
  }
  return InvalidArgument("kafka: unknown compression codec " + std::to_string(static_cast<int>(c)));
}

Status decompress(Compression c, std::string_view in, size_t max_output_bytes, std::string* out) {
  size_t start = out->size();
  Status st;
  switch (c) {
    case Compression::kNone:
      if (in.size() > max_output_bytes) return too_big(c, max_output_bytes);
      out->append(in);
      return Status::OK();
    case Compression::kGzip: st = gzip_decompress(in, max_output_bytes, out); break;
    case Compression::kSnappy: st = snappy_decompress(in, max_output_bytes, out); break;
    case Compression::kLz4: st = lz4_decompress(in, max_output_bytes, out); break;
    case Compression::kZstd: st = zstd_decompress(in, max_output_bytes, out); break;
    default: return InvalidArgument("kafka: unknown compression codec " + std::to_string(static_cast<int>(c)));
  }
  if (!st.ok()) out->resize(start);
  return st;
}

}  // namespace persisting::kafka
